-- expect: too many results to unpack
local n = select("#", table.unpack({}, 1, 1e8))
