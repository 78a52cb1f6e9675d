-- test_lua: `metaplast run` passes the arguments as ... and in arg, as lua5.4 does.
local n = select("#", ...)
assert(n == 2 and select(1, ...) == "a=1" and select(2, ...) == "b", "varargs")
assert(arg[0]:match("args%.lua$") and arg[1] == "a=1" and arg[2] == "b" and arg[-1], "arg table")
local o = require("metaplast").options(arg, {a = 5, b = false, c = "x"})
assert(o.a == 1 and o.b == true and o.c == "x", "options")
print("args: ok")
