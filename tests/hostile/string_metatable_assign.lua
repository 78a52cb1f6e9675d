-- expect: attempt to index a string value
local s = "x"
s.upper = function() while true do end end
