-- F^bio (PAPER.md §4.2, Eq. 7): the three terms that survive the paper's sparse search over the
-- pool, F^bio = θ0 F0 + θ2 F2 + θ9 F9 =
--   -θ0 e_ℓ y_{ℓ-1}ᵀ - θ2 e_ℓ e_{ℓ-1}ᵀ + θ9 (y_ℓ y_{ℓ-1}ᵀ - (y_ℓ y_ℓᵀ) W).
-- The names and formulas are the pool's (rules/paper_pool.lua), so θ keeps the paper's indices
-- and F0 starts at 1e-3 like every search. Expected signs after meta-training: θ0, θ9 > 0, θ2 < 0.
return {
  { name = "F0", desc = "pseudo-gradient (FA/BP term)", expr = -outer(e_post, pre) },
  { name = "F2", desc = "error-based Hebbian (eHebb)",  expr = -outer(e_post, e_pre) },
  { name = "F9", desc = "Oja's rule",                   expr = outer(post, pre) - post % post.T % W, sign = "+" },
}
