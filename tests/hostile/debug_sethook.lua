-- expect: 'debug' is not available in rule files
debug.sethook()
