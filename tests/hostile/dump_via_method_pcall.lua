-- expect: 'string.dump' is not available in rule files
-- reaching string.dump through a string's methods, under pcall
local ok, e = pcall(function() return ("").dump(tostring) end)
error(e, 0)
