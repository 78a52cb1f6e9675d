-- docs/examples/nonlinear.lua: elementwise functions and scalars. Functions apply to vectors
-- and scalars; the n_post x n_pre term is then made by an outer or a matrix product.
local y, x = post, pre
return {
  { name = "tanh_hebb", desc = "Hebbian on squashed activities",
    expr = outer(tanh(y), tanh(x)) },
  { name = "gated_err", desc = "error term gated by the presynaptic activity's energy",
    expr = -sigmoid(dot(x, x) - 1) * outer(e_post, x) },
  { name = "bcm_like", desc = "BCM-style: post (post - a fixed fraction of its sum) times pre",
    expr = outer(y * (y - sum(y) * (1 / 16)), x) },
}
