-- expect: exceeds its budget of 10000000 instructions
for i = 1, math.maxinteger do end
