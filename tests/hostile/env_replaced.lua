-- expect: exceeds its budget of 10000000 instructions
-- a local _ENV hides the sandbox's names; what is left can still only loop
local _ENV = {}
while true do end
