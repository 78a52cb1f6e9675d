return {
  { name = "a", expr = outer(post, pre) },
  { name = "b", expr = sigmiod(W) },
}
