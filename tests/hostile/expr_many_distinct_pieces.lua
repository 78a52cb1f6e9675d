-- expect: too large to compile
local function sum(lo, hi)
  if lo == hi then return outer(post + lo, pre + lo) end
  local m = (lo + hi) // 2
  return sum(lo, m) + sum(m + 1, hi)
end
local A = sum(1, 300)
return {{name = "many", expr = A % A.T % A}}
