-- expect: 'dofile' is not available in rule files
dofile("/etc/passwd")
