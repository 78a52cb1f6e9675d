-- The paper's candidate pool F0..F9 (Shervani-Tabar & Rosenbaum 2023, Eqs. 14-23), written as
-- the `paper` plugin builds it (plugins/paper_pool/paper_pool.c): the same expression trees, so
-- a search with `--terms rules/paper_pool.lua` logs exactly what `--terms paper` logs.
-- F5-F8 follow the literal matrix reading (docs/method.md), as left-associated products.
-- The signals are named once, in the plugin's order, so the nodes are also created in its order.
local pre, post, e_pre, e_post, W, one = pre, post, e_pre, e_post, W, ones_post

return {
  { name = "F0", desc = "pseudo-gradient (FA/BP term)",            expr = -outer(e_post, pre) },
  { name = "F1", desc = "activation times presynaptic error",      expr = -outer(post, e_pre) },
  { name = "F2", desc = "error-based Hebbian (eHebb)",             expr = -outer(e_post, e_pre) },
  { name = "F3", desc = "weight decay",                            expr = -W },
  { name = "F4", desc = "every row equals the presynaptic error",  expr = -outer(one, e_pre) },
  { name = "F5", desc = "higher-order, literal matrix reading",    expr = -(e_post % one.T % post % pre.T) },
  { name = "F6", desc = "higher-order, literal matrix reading",    expr = -(post % post.T % W % e_pre % e_pre.T) },
  { name = "F7", desc = "higher-order, literal matrix reading",    expr = -(e_post % post.T % W % e_pre % pre.T) },
  { name = "F8", desc = "higher-order, literal matrix reading",    expr = -(post % pre.T % W.T % e_post % e_pre.T) },
  { name = "F9", desc = "Oja's rule",                              expr = outer(post, pre) - post % post.T % W },
}
