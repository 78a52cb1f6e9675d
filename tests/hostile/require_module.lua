-- expect: 'require' is not available in rule files
require("os")
