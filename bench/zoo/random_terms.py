#!/usr/bin/env python3
"""Write a rule file of N random well-formed candidate terms (issue 19's zoo), from a seed.

Each term is sign * c * [s] * f(u) g(v)^T or sign * c * [s] * (u v^T W | W u v^T | W): u a postsynaptic
vector (post, e_post, W pre, W e_pre), v a presynaptic one (pre, e_pre, W^T post, W^T e_post), f, g an
elementwise function or none, s an optional scalar factor (a sum or a dot product), c = 10^U(-3, 3), so
that the terms' magnitudes relative to F0 span at least 1e-3 to 1e3. Usage:
    random_terms.py SEED [N] > lib.lua
"""
import random
import sys

POST = ["post", "e_post", "W % pre", "W % e_pre"]
PRE = ["pre", "e_pre", "W.T % post", "W.T % e_post"]
FNS = [None, None, "tanh", "sigmoid", "square"]
SCALARS = [None, None, None, "sum(post)", "dot(pre, pre)", "dot(e_post, e_post)", "sum(e_pre)"]


def vec(rng, side):
    v = rng.choice(side)
    f = rng.choice(FNS)
    return f"{f}({v})" if f else f"({v})"


def term(rng):
    c = 10 ** rng.uniform(-3, 3)
    sign = rng.choice(["", "-"])
    s = rng.choice(SCALARS)
    kind = rng.random()
    if kind < 0.7:
        body = f"outer({vec(rng, POST)}, {vec(rng, PRE)})"
    elif kind < 0.8:
        body = f"matmul({vec(rng, POST)}, t({vec(rng, POST)}), W)"
    elif kind < 0.9:
        body = f"matmul(W, {vec(rng, PRE)}, t({vec(rng, PRE)}))"
    else:
        body = "W"
    scal = f"{s} * " if s else ""
    return f"{sign}({c:.6g} * {scal}{body})" if not s else f"{sign}(({c:.6g} * {s}) * {body})"


def main():
    seed = int(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20
    rng = random.Random(seed)
    print(f"-- {n} random candidate terms, bench/zoo/random_terms.py {seed} {n} (generated; do not edit)")
    print("return {")
    for i in range(n):
        print(f'  {{ name = "R{i:02d}", desc = "random term {i}", expr = {term(rng)} }},')
    print("}")


if __name__ == "__main__":
    main()
