-- docs/examples/weights.lua: weight-dependent terms g(W) ⊙ (u vᵀ), as in rules/local.lua.
--   metaplast terms docs/examples/weights.lua
local y, x, e = post, pre, e_post
return {
  { name = "soft_hebb", desc = "soft-bounded Hebbian", expr = (1 - W) * outer(y, x) },
  { name = "w_err", desc = "diag(e) W diag(x)", expr = W * outer(e, x) },
  { name = "w2_err", desc = "diag(e) (W * W) diag(x)", expr = square(W) * outer(e, x) },
  { name = "cubic_decay", desc = "-W * W * W", expr = -(square(W) * W) },
}
