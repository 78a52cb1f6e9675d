-- A shape error: the product on line 6 multiplies an n_post x n_pre matrix by an n_post vector.
local hebb = outer(post, pre)
return {
  { name = "fine", expr = hebb },
  { name = "wrong",
    expr = hebb % post + W },
}
