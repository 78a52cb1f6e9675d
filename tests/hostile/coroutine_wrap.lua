-- expect: 'coroutine' is not available in rule files
local co = coroutine.wrap(function() while true do coroutine.yield() end end)
