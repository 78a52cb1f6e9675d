-- expect: 'loadfile' is not available in rule files
local f = loadfile("/etc/passwd")
