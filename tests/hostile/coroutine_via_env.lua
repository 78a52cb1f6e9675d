-- expect: 'coroutine' is not available in rule files
local c = _ENV["corou" .. "tine"]
