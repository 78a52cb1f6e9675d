-- expect: '_G' is not available in rule files
local g = _G
g.os.execute("touch /tmp/metaplast-hostile-escaped")
