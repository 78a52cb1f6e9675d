#!/usr/bin/env python3
"""The module import graph of core/, core/cli and lua/, from their #include "..." lines (issue 21).

A module is a file's stem (net.c and net.h are one module, and so is a public header
core/include/metaplast/X.h with core/.../X.c). Each module belongs to a layer: the folder it
lives in under core/ (base, data, ir, plan, front, engine, results, search, readout, cli), lua/ for the Lua
layer, or, for the flat layout before the restructuring and for the public headers, the table
below. Layers are ordered from the bottom (base) to the top (lua); inside a layer, the order of
the table's list is the order from the bottom too (dist is below search, config below
checkpoint). An include is *upward* when it points to a module ranked above its own.

Reports: the include edges between modules, the circles (strongly connected components of more
than one module), the upward includes, the struct with most fields (declarators: `int a, *b;`
is two) and the longest function (lines from its header to its closing brace).

  python3 tests/include_graph.py [ROOT]     (ROOT: a checkout, default .)
  python3 tests/include_graph.py --edges    (also list every edge)
Exit status 1 when there is a circle or an upward include.
"""
import os
import re
import sys

# layer -> modules, each list from the bottom up (modules at one rank share a tuple)
LAYERS = [
    ("base", ["status", "version", "util", "parallel", "stats"]),
    ("data", ["data", "dataio", "idx", "npy", "csv", "dataset", "task"]),
    ("ir", ["native", "expr", "ops", "expr_parse"]),
    ("plan", [("rule", "plan")]),
    ("front", ["terms", "front", "source", "plugin", ("rules", "rulefile"), "selection"]),
    ("engine", [("net", "episode"), "check"]),
    ("results", ["report", "rule_sources"]),
    ("search", [("comm", "dist"), "optim", "config", "checkpoint", "discover", "search", "trials"]),
    ("readout", ["eval", "train", "plot"]),
    ("cli", [("cli", "args", "main", "mpi_glue", "cmd_data", "cmd_eval", "cmd_gradcheck", "cmd_plot",
              "cmd_report", "cmd_search", "cmd_terms", "cmd_train")]),
    ("lua", [("lmetaplast", "lrun")]),
]
# Private headers that are the other half of a module whose public header has another name:
# ir/internal.h is expr.c's (the IR's nodes and term sets), results/results.h is the results
# layer's (report.c, rule_sources.c), readout/readout.h is eval.c's (a rule loaded back, for eval and train);
# ir/lower.c is the lowering machinery of the table of operations (ir/ops.h, ops.c), one module with it.
ALIASES = {"internal": "expr", "results": "report", "readout": "eval", "lower": "ops"}
LAYER_NAMES = [name for name, _ in LAYERS]
TABLE = {}   # module -> (layer, position)
for _, (_layer, mods) in enumerate(LAYERS):
    for pos, m in enumerate(mods):
        for name in (m if isinstance(m, tuple) else (m,)):
            TABLE[name] = (_layer, pos)

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(root):
    for top in ("core", "lua"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(d, f)


def module(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return ALIASES.get(stem, stem)


def layer_of(root, path):
    rel = os.path.relpath(path, root).split(os.sep)
    mod = module(path)
    if rel[0] == "lua":
        return "lua"
    if len(rel) >= 3 and rel[1] in LAYER_NAMES:
        return rel[1]
    if mod in TABLE:
        return TABLE[mod][0]
    return "?"


def rank(layer, mod):
    pos = TABLE[mod][1] if mod in TABLE and TABLE[mod][0] == layer else 0
    return (LAYER_NAMES.index(layer) if layer in LAYER_NAMES else -1, pos)


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)
    return re.sub(r"//[^\n]*", "", text)


def count_declarators(decl):
    depth, n = 0, 1
    for ch in decl:
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            n += 1
    return n


def structs(path, text):
    """(fields, name, path, line) of every struct definition."""
    out = []
    for m in re.finditer(r"\bstruct\s+(\w+)\s*\{", text):
        i, depth, start = m.end(), 1, m.end()
        fields, decl = 0, ""
        while i < len(text) and depth:
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
            elif ch == ";" and depth == 1:
                if decl.strip():
                    fields += count_declarators(decl)
                decl = ""
                i += 1
                continue
            if depth == 1:
                decl += ch
            i += 1
        out.append((fields, m.group(1), path, text.count("\n", 0, start) + 1))
    return out


FUNC = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(\w+)\s*\([^;{}]*\)\s*\{", re.M)


def functions(path, text):
    """(lines, name, path, line) of every function defined at the top level."""
    out = []
    for m in FUNC.finditer(text):
        if m.group(1) in ("if", "for", "while", "switch", "return", "sizeof"):
            continue
        i, depth = m.end(), 1
        while i < len(text) and depth:
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
            i += 1
        first = text.count("\n", 0, m.start()) + 1
        last = text.count("\n", 0, i) + 1
        out.append((last - first + 1, m.group(1), path, first))
    return out


def tarjan(nodes, edges):
    index, low, stack, on, comps, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return comps


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = args[0] if args else "."
    files = list(sources(root))
    byname = {}   # include text's basename -> module
    layers = {}   # module -> layer
    for f in files:
        layers[module(f)] = layer_of(root, f)
    edges, why = {}, {}
    all_structs, all_funcs = [], []
    for f in files:
        text = open(f, encoding="utf-8", errors="replace").read()
        src = module(f)
        for inc in INCLUDE.findall(text):
            dst = module(inc)
            if dst == src or dst not in layers:
                continue
            edges.setdefault(src, set()).add(dst)
            why.setdefault((src, dst), []).append(f"{os.path.relpath(f, root)} -> {inc}")
        clean = strip_comments(text)
        all_structs += structs(os.path.relpath(f, root), clean)
        if f.endswith(".c"):
            all_funcs += functions(os.path.relpath(f, root), clean)
    nodes = set(layers)
    circles = tarjan(nodes, edges)
    upward = []
    for (src, dst), where in sorted(why.items()):
        if rank(layers[dst], dst) > rank(layers[src], src):
            upward.append((src, dst, where))
    n_edges = sum(len(v) for v in edges.values())
    print(f"modules {len(nodes)}, include edges between modules {n_edges}")
    per_layer = {}
    for m, l in layers.items():
        per_layer.setdefault(l, []).append(m)
    for l in LAYER_NAMES + ["?"]:
        if l in per_layer:
            print(f"  {l:8s} {' '.join(sorted(per_layer[l]))}")
    print(f"circles: {len(circles)}")
    for c in circles:
        print("  " + " <-> ".join(c))
    print(f"upward includes: {len(upward)}")
    for src, dst, where in upward:
        print(f"  {layers[src]}/{src} -> {layers[dst]}/{dst}: {'; '.join(where)}")
    all_structs.sort(key=lambda s: (-s[0], s[2], s[3]))
    all_funcs.sort(key=lambda s: (-s[0], s[2], s[3]))
    print("largest structs (fields):")
    for n, name, path, line in all_structs[:3]:
        print(f"  {n:4d}  struct {name}  {path}:{line}")
    lens = sorted(f[0] for f in all_funcs)
    print(f"functions {len(lens)}, median {lens[len(lens) // 2]} lines; longest:")
    for n, name, path, line in all_funcs[:3]:
        print(f"  {n:4d}  {name}  {path}:{line}")
    if "--edges" in sys.argv:
        print("edges:")
        for src in sorted(edges):
            print(f"  {src} -> {' '.join(sorted(edges[src]))}")
    return 1 if circles or upward else 0


if __name__ == "__main__":
    sys.exit(main())
