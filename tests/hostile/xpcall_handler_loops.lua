-- expect: exceeds its budget of 10000000 instructions
-- Lua runs a message handler of an error raised by the budget hook with hooks off.
xpcall(error, function(e) while true do end end)
