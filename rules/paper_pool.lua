-- The paper's candidate pool F0..F9 (Shervani-Tabar & Rosenbaum 2023, Eqs. 14-23), written as
-- the `paper` plugin builds it (plugins/paper_pool/paper_pool.c): the same expression trees, so
-- a search with `--terms rules/paper_pool.lua` logs exactly what `--terms paper` logs.
-- F5-F8 follow the literal matrix reading (docs/method.md), as left-associated products:
-- matmul(a, b, c, ...) = ((a b) c) ..., like `a % b % c`, but it takes its factors before it
-- multiplies, as the plugin does; with the signals named once, in the plugin's order, the
-- file creates the very nodes of the plugin in the very same order.
local pre, post, e_pre, e_post, W, one = pre, post, e_pre, e_post, W, ones_post

return {
  { name = "F0", desc = "pseudo-gradient (FA/BP term)",            expr = -outer(e_post, pre) },
  { name = "F1", desc = "activation times presynaptic error",      expr = -outer(post, e_pre) },
  { name = "F2", desc = "error-based Hebbian (eHebb)",             expr = -outer(e_post, e_pre) },
  { name = "F3", desc = "weight decay",                            expr = -W },
  { name = "F4", desc = "every row equals the presynaptic error",  expr = -outer(one, e_pre) },
  { name = "F5", desc = "higher-order, literal matrix reading",    expr = -matmul(e_post, one.T, post, pre.T) },
  { name = "F6", desc = "higher-order, literal matrix reading",    expr = -matmul(post, post.T, W, e_pre, e_pre.T) },
  { name = "F7", desc = "higher-order, literal matrix reading",    expr = -matmul(e_post, post.T, W, e_pre, pre.T) },
  { name = "F8", desc = "higher-order, literal matrix reading",    expr = -matmul(post, pre.T, W.T, e_post, e_pre.T) },
  { name = "F9", desc = "Oja's rule",                              expr = outer(post, pre) - matmul(post, post.T, W), sign = "+" },
}
