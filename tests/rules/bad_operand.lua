local decay = W
return {
  { name = "a", expr = "0.1" + decay },
}
