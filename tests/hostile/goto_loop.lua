-- expect: exceeds its budget of 10000000 instructions
::top:: goto top
