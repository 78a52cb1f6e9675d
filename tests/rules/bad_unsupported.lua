-- The IR can write tanh(W + y xᵀ), but the engine cannot compile it: a function of W plus a rank-1 matrix.
return {
  { name = "gated", expr = tanh(W + outer(post, pre)) },
}
