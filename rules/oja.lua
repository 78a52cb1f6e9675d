-- F^Oja (PAPER.md §4.2, Eq. 10): the pseudo-gradient plus Oja's rule,
--   F^Oja = -θ0 e_ℓ y_{ℓ-1}ᵀ + θ9 (y_ℓ y_{ℓ-1}ᵀ - (y_ℓ y_ℓᵀ) W),
-- which makes the weights increasingly orthonormal (the paper's Fig. 8). Names and formulas as
-- in rules/paper_pool.lua.
return {
  { name = "F0", desc = "pseudo-gradient (FA/BP term)", expr = -outer(e_post, pre) },
  { name = "F9", desc = "Oja's rule",                   expr = outer(post, pre) - post % post.T % W, sign = "+" },
}
