-- A generated library of quadratic candidate terms, for searches larger than the paper's pool:
-- every product of two local signals (y_ℓ = post, e_ℓ = e_post on the postsynaptic side;
-- y_{ℓ-1} = pre, e_{ℓ-1} = e_pre on the presynaptic side) that makes an n_post x n_pre update,
-- alone or through W, plus the one-signal outer products with a ones vector. The terms the
-- pool already has (F0, F1, F2, F4) are left out, so `--terms "paper;quadratic"` has no
-- duplicates. Every form is one the engine compiles to rank-1 and weight-proportional pieces.
--
-- Names: signals are post, epost, pre, epre and one (a ones vector); U, V below are signals.
--   U_V           U Vᵀ                  outer products (pure Hebbian post_pre among them)
--   U_V_W         U Vᵀ W                U, V postsynaptic (post_post_W is half of Oja's rule)
--   W_U_V         W U Vᵀ                U, V presynaptic
--   had_U_V       (U ⊙ V) 1ᵀ or 1 (U ⊙ V)ᵀ   two signals of one side, elementwise
--   dot_U_V_W     (Uᵀ V) W              a global quadratic scalar times W
--   row_U_WV      (U ⊙ W V) 1ᵀ          U postsynaptic, V presynaptic
--   col_V_WtU     1 (V ⊙ Wᵀ U)ᵀ         idem, through Wᵀ
--   form_U_V_W    (Uᵀ W V) W            the bilinear form of W times W
--   sum_U_one_V   (Σ U) 1 Vᵀ            a sum over the postsynaptic layer
--   sum_V_U_one   (Σ V) U 1ᵀ            a sum over the presynaptic layer
local POST = { { "post", post }, { "epost", e_post } }
local PRE = { { "pre", pre }, { "epre", e_pre } }

local terms = {}
local function add(name, desc, expr)
  terms[#terms + 1] = { name = name, desc = desc, expr = expr }
end

-- Ordered and unordered pairs of one side's signals.
local function ordered(side)
  local r = {}
  for _, a in ipairs(side) do
    for _, b in ipairs(side) do r[#r + 1] = { a, b } end
  end
  return r
end
local function unordered(side)
  local r = {}
  for i = 1, #side do
    for j = i, #side do r[#r + 1] = { side[i], side[j] } end
  end
  return r
end

-- Outer products not in the pool.
add("post_pre", "pure Hebbian", outer(post, pre))
add("post_one", "every column equals the postsynaptic activity", outer(post, ones_pre))
add("epost_one", "every column equals the postsynaptic error", outer(e_post, ones_pre))
add("one_pre", "every row equals the presynaptic activity", outer(ones_post, pre))

-- Two signals of one side, through W, elementwise, or as a dot product.
for _, p in ipairs(ordered(POST)) do
  local u, v = p[1], p[2]
  add(u[1] .. "_" .. v[1] .. "_W", "postsynaptic product through W", u[2] % v[2].T % W)
end
for _, p in ipairs(ordered(PRE)) do
  local u, v = p[1], p[2]
  add("W_" .. u[1] .. "_" .. v[1], "presynaptic product through W", W % u[2] % v[2].T)
end
for _, p in ipairs(unordered(POST)) do
  local u, v = p[1], p[2]
  add("had_" .. u[1] .. "_" .. v[1], "elementwise postsynaptic product, on every column", outer(u[2] * v[2], ones_pre))
end
for _, p in ipairs(unordered(PRE)) do
  local u, v = p[1], p[2]
  add("had_" .. u[1] .. "_" .. v[1], "elementwise presynaptic product, on every row", outer(ones_post, u[2] * v[2]))
end
for _, side in ipairs({ POST, PRE }) do
  for _, p in ipairs(unordered(side)) do
    local u, v = p[1], p[2]
    add("dot_" .. u[1] .. "_" .. v[1] .. "_W", "weight decay scaled by a dot product", dot(u[2], v[2]) * W)
  end
end

-- A postsynaptic and a presynaptic signal, through W or a layer sum.
for _, u in ipairs(POST) do
  for _, v in ipairs(PRE) do
    local U, V, a, b = u[1], v[1], u[2], v[2]
    add("row_" .. U .. "_W" .. V, "postsynaptic signal times W's drive, on every column", outer(a * (W % b), ones_pre))
    add("col_" .. V .. "_Wt" .. U, "presynaptic signal times Wᵀ's feedback, on every row", outer(ones_post, b * (W.T % a)))
    add("form_" .. U .. "_" .. V .. "_W", "weight decay scaled by the bilinear form", (a.T % W % b) * W)
    add("sum_" .. U .. "_one_" .. V, "postsynaptic layer sum times a presynaptic signal", sum(a) * outer(ones_post, b))
    add("sum_" .. V .. "_" .. U .. "_one", "presynaptic layer sum times a postsynaptic signal", sum(b) * outer(a, ones_pre))
  end
end

return terms
