return {
  { name = "hebb", expr = outer(post, pre) },
  { name = "decay", expr = -W },
  { name = "hebb", expr = 2 * outer(post, pre) },
}
