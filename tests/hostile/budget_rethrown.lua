-- expect: exceeds its budget of 10000000 instructions
-- the budget error is re-raised by the script's own handler chain: still stopped
local function run() while true do end end
local ok, e = pcall(run)
local ok2, e2 = xpcall(error, function(m) return m end, e)
while true do end
