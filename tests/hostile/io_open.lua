-- expect: 'io' is not available in rule files
io.open("/etc/passwd")
