-- docs/examples/hebbian.lua: three classic local rules as candidate terms.
--   metaplast terms docs/examples/hebbian.lua
--   metaplast search --terms "paper:F0;docs/examples/hebbian.lua" --lambda 10 --episodes 20
return {
  { name = "hebb",  desc = "plain Hebbian: post times pre",          expr = outer(post, pre) },
  { name = "decay", desc = "weight decay",                           expr = -W },
  { name = "oja",   desc = "Oja's rule, the paper's F9",             expr = post % pre.T - post % post.T % W },
}
