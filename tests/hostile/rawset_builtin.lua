-- expect: 'rawset' is not available in rule files
rawset(_ENV, "pcall", nil)
