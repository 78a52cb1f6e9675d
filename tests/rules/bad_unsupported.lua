-- The IR can write W ⊙ (y yᵀ), but the engine cannot compile it (not rank-1 pieces).
return {
  { name = "gated", expr = W * outer(post, pre) },
}
