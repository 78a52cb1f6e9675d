-- expect: 'os' is not available in rule files
os.execute("touch /tmp/metaplast-hostile-escaped")
