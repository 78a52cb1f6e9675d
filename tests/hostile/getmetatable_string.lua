-- expect: 'getmetatable' is not available in rule files
getmetatable("").__index = {}
