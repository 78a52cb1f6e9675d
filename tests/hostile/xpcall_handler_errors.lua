-- expect: exceeds its budget of 10000000 instructions
-- a handler that raises, caught in a loop forever
while true do xpcall(error, function(e) error(e) end) end
