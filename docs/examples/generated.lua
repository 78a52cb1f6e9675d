-- docs/examples/generated.lua: terms generated with a loop. Every outer product of a
-- postsynaptic signal with a presynaptic one, named after its factors. Use arrays and ipairs
-- (not pairs over string keys): the order of the terms must be the same at every run.
local post_side = { { "post", post }, { "epost", e_post }, { "one", ones_post } }
local pre_side = { { "pre", pre }, { "epre", e_pre }, { "one", ones_pre } }

local terms = {}
for _, u in ipairs(post_side) do
  for _, v in ipairs(pre_side) do
    if not (u[1] == "one" and v[1] == "one") then -- a constant matrix is no plasticity rule
      terms[#terms + 1] = {
        name = u[1] .. "_" .. v[1],
        desc = string.format("outer product of %s and %s", u[1], v[1]),
        expr = outer(u[2], v[2]),
      }
    end
  end
end
return terms
