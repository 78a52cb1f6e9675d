-- expect: 'coroutine' is not available in rule files
-- a coroutine would let the budget error be caught inside it
local co = _ENV.coroutine.create(function() while true do end end)
