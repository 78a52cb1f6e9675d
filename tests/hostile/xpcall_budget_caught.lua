-- expect: exceeds its budget of 10000000 instructions
-- the body exhausts the budget; the handler tries to carry on
local ok = xpcall(function() while true do end end, function(e) local n = 0 while true do n = n + 1 end end)
return {{name = "after", expr = outer(post, pre)}}
