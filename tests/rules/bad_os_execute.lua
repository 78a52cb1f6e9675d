-- A rule file may not run programs.
os.execute("touch /tmp/metaplast-rule-file-escaped")
return { { name = "a", expr = W } }
