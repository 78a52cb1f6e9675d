-- expect: rule file exceeds its
-- a handler that raises, caught in a loop forever
while true do xpcall(error, function(e) error(e) end) end
