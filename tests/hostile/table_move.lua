-- expect: 'table.move' is not available in rule files
table.move({1}, 1, math.maxinteger, 2)
