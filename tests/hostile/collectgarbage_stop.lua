-- expect: 'collectgarbage' is not available in rule files
collectgarbage("stop")
