-- F^eHebb (PAPER.md §4.2, Eq. 8): the pseudo-gradient plus the error-based Hebbian term,
--   F^eHebb = -θ0 e_ℓ y_{ℓ-1}ᵀ - θ2 e_ℓ e_{ℓ-1}ᵀ.
-- In a linear network E[e_ℓ e_{ℓ-1}ᵀ] ∝ Bᵀ (Eq. 9), so this term pulls W towards the feedback
-- matrix's transpose: θ2 < 0 is expected. Names and formulas as in rules/paper_pool.lua.
return {
  { name = "F0", desc = "pseudo-gradient (FA/BP term)", expr = -outer(e_post, pre) },
  { name = "F2", desc = "error-based Hebbian (eHebb)",  expr = -outer(e_post, e_pre) },
}
