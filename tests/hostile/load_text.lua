-- expect: 'load' is not available in rule files
load("os.exit(3)")()
