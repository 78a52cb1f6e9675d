-- expect: ok
-- the sandbox's xpcall (the handler runs after the error unwound) keeps Lua's results
local a, b, c = xpcall(function(x, y) return x + y, "two" end, function(e) return "H:" .. e end, 1, 2)
assert(a == true and b == 3 and c == "two", "ok path")
local d, e = xpcall(function() error("boom", 0) end, function(m) return "H:" .. m end)
assert(d == false and e == "H:boom", "error path " .. tostring(e))
local f, g = xpcall(function() error("boom", 0) end, function(m) error("again", 0) end)
assert(f == false and g == "again", "handler error " .. tostring(g))
local t = {}
for i = 1, 10000 do t[i] = i end
local r = table.pack(xpcall(function() return table.unpack(t) end, error))
assert(r.n == 10001 and r[1] == true and r[10001] == 10000, "many results")
return {{name = "hebb", expr = outer(post, pre)}}
