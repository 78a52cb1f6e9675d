-- rules/rectified.lua: rectified and normalised terms (issue 27): the nonlinear vector
-- functions relu and abs and the reductions mean and norm, on a layer's signals. Each term is an
-- outer product of vectors, so it runs on the engine's rank-1 path; formulas and conventions in docs/rules.md.
--   metaplast terms rules/rectified.lua
--   metaplast gradcheck --terms "paper:F0;rules/rectified.lua"
-- relu and abs are not differentiable at 0: their derivative there is the subgradient 0, and norm's
-- gradient at the zero vector is 0. post is positive (softplus, softmax), so relu(post) = post in
-- these networks; relu matters for a signed argument (docs/rules.md shows one, and why it is not here).
local y, x, e = post, pre, e_post
return {
  { name = "bcm_inst", desc = "BCM with an instantaneous threshold: y (y - mean(y^2)) x^T",
    expr = outer(y * (y - mean(square(y))), x) },
  { name = "relu_hebb", desc = "rectified Hebbian: relu(y) x^T",
    expr = outer(relu(y), x) },
  { name = "abs_err", desc = "Hebbian gated by the error's magnitude: (|e| * y) x^T",
    expr = outer(abs(e) * y, x) },
  { name = "norm_err", desc = "the pseudo-gradient normalised by the error's norm: -e x^T / (norm(e) + 0.01)",
    expr = -recip(norm(e) + 0.01) * outer(e, x) },
}
