-- rules/local.lua: weight-dependent local terms (issue 27): an elementwise function of the weights
-- times an outer product of the layer's signals, g(W) ⊙ (u vᵀ) = diag(u) g(W) diag(v). Such a term
-- touches every weight at every step, so a rule with one keeps its weights dense and applies all
-- of them in one pass over W per step (docs/rules.md, "Elementwise functions of W").
--   metaplast terms rules/local.lua
--   metaplast check rules/local.lua
--   metaplast gradcheck --terms "paper:F0;rules/local.lua"
local y, x, e = post, pre, e_post
return {
  { name = "soft_hebb", desc = "soft-bounded Hebbian: (1 - W) * y x^T, growth that stops at w_max = 1",
    expr = (1 - W) * outer(y, x) },
  { name = "mult_ltd", desc = "multiplicative depression: -W * y x^T",
    expr = -(W * outer(y, x)) },
  { name = "w_err", desc = "the pseudo-gradient scaled by each weight: W * e x^T",
    expr = W * outer(e, x) },
  { name = "w2_err", desc = "the pseudo-gradient scaled by each weight's square: diag(e) (W * W) diag(x)",
    expr = square(W) * outer(e, x) },
  { name = "tanh_err", desc = "the pseudo-gradient with saturating weights: -(1 - tanh(W)^2) * e x^T",
    expr = -((1 - square(tanh(W))) * outer(e, x)) },
  { name = "cubic_decay", desc = "cubic weight decay: -W * W * W",
    expr = -(square(W) * W) },
}
