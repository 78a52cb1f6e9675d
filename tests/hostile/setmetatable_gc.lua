-- expect: 'setmetatable' is not available in rule files
setmetatable({}, {__gc = function() while true do end end})
