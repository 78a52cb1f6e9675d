-- expect: 'string.dump' is not available in rule files
local s = ("x").dump
