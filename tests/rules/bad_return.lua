-- Returns one term instead of a list of terms.
return { name = "hebb", expr = outer(post, pre) }
