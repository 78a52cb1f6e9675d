-- docs/rules.md: elementwise functions and scalars. Functions apply to vectors (and scalars);
-- the products that make the n_post x n_pre term are outer products or matrix products.
local y, x = post, pre
return {
  { name = "tanh_hebb", desc = "Hebbian on squashed activities",
    expr = outer(tanh(y), tanh(x)) },
  { name = "gated_err", desc = "error term gated by the presynaptic activity's energy",
    expr = -sigmoid(dot(x, x) - 1) * outer(e_post, x) },
  { name = "bcm_like", desc = "BCM-style: post (post - its mean) times pre",
    expr = outer(y * (y - sum(y) * (1 / 16)), x) },
}
