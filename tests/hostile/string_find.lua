-- expect: 'string.find' is not available in rule files
string.find(string.rep("a", 30), "(a*)*b")
