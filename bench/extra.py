#!/usr/bin/python3
"""extra.py -- metaplast's own scaling figures (issue 7, item 2), beside bench.py's PyTorch table.

Measures, with build/bench/episode (one episode timed alone: task sampling excluded, inner loop,
meta-gradient and per-episode statistics included) and the metaplast command:

  primal     the full episode (exact meta-gradient) against the primal inner loop alone, R = 10
  terms      cost against the number of terms R: the first 3, 10, 40 (and all 44) terms of
             rules/quadratic.lua, random draws of 10 and 40 of its terms (instructions), and across
             term families: paper:F0,F2,F9, paper, rules/quadratic.lua; every theta 0, which costs
             the same work as any other value
  width      FA+eHebb+Oja at the paper's widths and with every hidden layer twice as wide
  trials     2 searches on 2 cores against the same 2 one after the other (throughput), and their
             logs compared with the one-by-one runs (all columns but `seconds`)
  callgrind  instructions per episode (valgrind --tool=callgrind; the difference between 3 and 1
             timed episodes, halved), a figure that does not move with the machine's load
  rss        peak RSS of a whole search in the paper's configuration (EMNIST ByMerge, 400 images
             per class, 784-170-130-100-70-47)

Medians over --episodes timed episodes after --warmup; CPU time (CLOCK_PROCESS_CPUTIME_ID) is quoted
beside wall time because these machines are shared. Writes --md (results/bench/extra.md).

Usage: /usr/bin/python3 bench/extra.py [--episodes 20] [--only primal,terms,...] [--md FILE]
"""
import argparse
import csv
import json
import os
import platform
import random
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.path.join(ROOT, "build")
EPISODE = os.path.join(BUILD, "bench", "episode")
METAPLAST = os.path.join(BUILD, "metaplast")
EMNIST = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "emnist"))
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")
COMMANDS = []


def run(cmd, **kw):
    COMMANDS.append(shlex.join(cmd))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT, **kw)
    if p.returncode != 0:
        sys.exit(f"extra.py: command failed ({p.returncode}): {shlex.join(cmd)}\n{p.stderr[-2000:]}")
    return p


def episode(terms, episodes, warmup, *extra):
    cmd = [EPISODE, "--terms", terms, "--episodes", str(episodes), "--warmup", str(warmup)] + list(extra)
    return json.loads(run(cmd).stdout.strip().splitlines()[-1])


def primal(a):
    rows = []
    for name, terms in (("FA", "paper:F0"), ("FA+eHebb+Oja", "paper:F0,F2,F9"), ("pool (R=10)", "paper")):
        full = episode(terms, a.episodes, a.warmup)
        prim = episode(terms, a.episodes, a.warmup, "--primal")
        rows.append(f"| {name} | {full['wall_ms']:.1f} | {full['cpu_ms']:.1f} | {prim['wall_ms']:.1f} | "
                    f"{prim['cpu_ms']:.1f} | {full['cpu_ms'] / prim['cpu_ms']:.2f}x |")
    return ("### Full episode vs the primal loop alone (target: ≤ 4× at R = 10)\n\n"
            "| config | full ms (wall) | full ms (CPU) | primal ms (wall) | primal ms (CPU) | full / primal (CPU) |\n"
            "|---|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n")


def quadratic_names():
    """rules/quadratic.lua's term names in file order (the unindented lines of `metaplast terms`
    before the blank line that precedes its `compiled:` summary)."""
    out = run([METAPLAST, "terms", "rules/quadratic.lua"]).stdout.split("\n\n")[0]
    return [ln.split()[0] for ln in out.splitlines() if ln and not ln[0].isspace()]


def episode_ir(terms_, n=2):
    """Instructions of mpl_episode_run per episode (callgrind, n episodes at theta 0, no warm-up),
    and bench/episode's result (with what the terms compile to)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        p = run(["valgrind", "--tool=callgrind", "--toggle-collect=mpl_episode_run", f"--callgrind-out-file={out}",
                 EPISODE, "--terms", terms_, "--data", "fashion-mnist-test", "--episodes", str(n), "--warmup", "0",
                 "--theta", "0", "--others", "0"])
        with open(out) as f:
            ir = next(int(ln.split()[1]) for ln in f if ln.startswith("summary:")) / n
        return ir, json.loads(p.stdout.strip().splitlines()[-1])


def plan(e):
    """What the terms compile to, from bench/episode's result: "rows + products", the update's
    rank-1 rows that cost a pass over W (its rank less its row or column sums) and the products
    with W besides W pre."""
    return f"{e['rank'] - e['rank_sums']} + {e['wproducts']}"


def terms(a):
    names = quadratic_names()
    quad = lambda sel: "rules/quadratic.lua:" + ",".join(sel)
    # The figure: R = 3, 10, 40 terms of rules/quadratic.lua, the first R in file order.
    cost = {}  # terms -> (bench/episode result, instructions per episode), each measured once

    def table(items):
        for _, t in items:
            if t not in cost:
                cost[t] = (episode(t, a.episodes, a.warmup, "--theta", "0", "--others", "0"), episode_ir(t)[0])
        b = next(cost[t] for _, t in items if cost[t][0]["R"] == 10)
        return "\n".join(f"| {label} | {cost[t][0]['R']} | {plan(cost[t][0])} | {cost[t][0]['cpu_ms']:.1f} | "
                         f"{cost[t][0]['cpu_ms'] / b[0]['cpu_ms']:.2f}x | {cost[t][1] / 1e6:.0f} | {cost[t][1] / b[1]:.2f}x |"
                         for label, t in items)

    rows = table([(f"first {r} of rules/quadratic.lua", quad(names[:r]) if r < len(names) else "rules/quadratic.lua")
                  for r in (3, 10, 40, len(names))])
    # The same at random: --draws seeded draws of 10 and of 40 terms (instruction counts only).
    draws = {10: [], 40: []}
    for d in range(1, a.draws + 1):
        rng = random.Random(d)
        for r in draws:
            draws[r].append(episode_ir(quad(rng.sample(names, r)), 1))
    med = statistics.median(d[0] for d in draws[40]) / statistics.median(d[0] for d in draws[10])
    listed = lambda r: ", ".join(f"{ir / 1e6:.0f} ({plan(e)})" for ir, e in sorted(draws[r], key=lambda d: d[0]))
    # Across term families: the paper's three, the paper's pool, the whole quadratic library.
    frows = table([(t, t) for t in ("paper:F0,F2,F9", "paper", "rules/quadratic.lua")])
    head = ("| terms | R | rows + W products | ms (CPU) | CPU vs R = 10 | M instr. / episode | instr. vs R = 10 |\n"
            "|---|---:|---:|---:|---:|---:|---:|\n")
    return ("### Cost against the number of terms R (target: R = 40 ≤ 1.5× R = 10)\n\n"
            "Every θ is 0, which costs the same work as any other value. Instructions: callgrind, "
            "`mpl_episode_run` over 2 episodes, halved. *Rows + W products*: what the terms compile to "
            "(`metaplast terms` prints it): the rank-1 rows of each layer's update that cost a pass over W "
            "(its rank less its row or column sums) + the products with W besides W pre; each costs passes "
            "over W at every step, forward and reverse, and the cost follows them, not R.\n\n"
            "**R terms of rules/quadratic.lua** (the first R in file order):\n\n" + head + rows + "\n\n"
            f"**Random draws** ({a.draws} seeded draws of 10 and of 40 terms of rules/quadratic.lua, "
            f"`random.Random(d).sample`, d = 1..{a.draws}; one episode each): million instructions per episode "
            "(rows + W products), R = 10: " + listed(10) + "; R = 40: " + listed(40)
            + f"; median R = 40 / median R = 10: **{med:.2f}×**.\n\n"
            "**Across term families** (the paper's three terms, its ten-term pool, and all of rules/quadratic.lua, "
            "whose terms read twice the pool's distinct vectors and products with W):\n\n" + head + frows + "\n")


def width(a):
    rows = []
    for hidden in ("170,130,100,70", "340,260,200,140"):
        r = episode("paper:F0,F2,F9", a.episodes, a.warmup, "--hidden", hidden)
        rows.append((hidden, r))
    b = rows[0][1]["cpu_ms"]
    return ("### Cost against width (FA+eHebb+Oja)\n\n| hidden layers | ms (wall) | ms (CPU) | CPU vs paper widths |\n"
            "|---|---:|---:|---:|\n" + "\n".join(f"| {h} | {r['wall_ms']:.1f} | {r['cpu_ms']:.1f} | {r['cpu_ms'] / b:.2f}x |"
                                             for h, r in rows) + "\n")


def strip_seconds(path):
    with open(path) as f:
        rows = list(csv.reader(f))
    k = rows[0].index("seconds")
    return [r[:k] + r[k + 1:] for r in rows]


def trials(a):
    n = max(5 * a.episodes, 100)
    base = [METAPLAST, "search", "--method", "plain", "--terms", "paper:F0,F2,F9", "--episodes", str(n), "--quiet", "--force"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        for s in (1, 2):
            run(base + ["--seed", str(s), "--out", os.path.join(tmp, f"seq{s}")])
        seq = time.perf_counter() - t0
        t0 = time.perf_counter()
        procs = []
        for s in (1, 2):
            cmd = base + ["--seed", str(s), "--out", os.path.join(tmp, f"par{s}")]
            COMMANDS.append(shlex.join(cmd) + " &")
            procs.append(subprocess.Popen(cmd, env=ENV, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        for p in procs:
            if p.wait() != 0:
                sys.exit("extra.py: a concurrent search failed: " + p.stderr.read().decode()[-2000:])
        par = time.perf_counter() - t0
        same = all(strip_seconds(os.path.join(tmp, f"seq{s}", "log.csv")) ==
                   strip_seconds(os.path.join(tmp, f"par{s}", "log.csv")) for s in (1, 2))
    return ("### Two trials on two cores (target: ≥ 1.8× the throughput of one, bit-identical)\n\n"
            f"Two searches of {n} episodes (FA+eHebb+Oja, seeds 1 and 2, whole commands incl. data loading): "
            f"one after the other {seq:.1f} s, both at once {par:.1f} s: **{seq / par:.2f}×** the throughput; "
            f"logs identical to the one-by-one runs (all columns but `seconds`): **{'yes' if same else 'NO'}**.\n")


def callgrind(a):
    rows = []
    for name, terms_ in (("FA", "paper:F0"), ("FA+eHebb+Oja", "paper:F0,F2,F9"), ("pool (R=10)", "paper")):
        ir = {}
        for n in (1, 3):
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "cg.out")
                run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", EPISODE, "--terms", terms_,
                     "--data", "fashion-mnist-test", "--episodes", str(n), "--warmup", "0"])
                with open(out) as f:
                    ir[n] = next(int(ln.split()[1]) for ln in f if ln.startswith("summary:"))
        rows.append(f"| {name} | {(ir[3] - ir[1]) / 2 / 1e6:.1f} |")
    return ("### Instructions per episode (callgrind)\n\n| config | million instructions per episode |\n|---|---:|\n"
            + "\n".join(rows) + "\n")


def rss(a):
    if not os.path.isdir(EMNIST):
        return f"### Peak RSS\n\nskipped: {EMNIST} not found\n"
    rows = []
    for name, terms_ in (("FA+eHebb+Oja", "paper:F0,F2,F9"), ("pool (R=10)", "paper")):
        with tempfile.TemporaryDirectory() as tmp:
            tf = os.path.join(tmp, "time")
            run(["/usr/bin/time", "-o", tf, "-f", "%M", METAPLAST, "search", "--method", "plain", "--data", "emnist-bymerge:" + EMNIST,
                 "--per-class", "400", "--terms", terms_, "--episodes", "5", "--quiet", "--out", os.path.join(tmp, "r")])
            with open(tf) as f:
                kib = int(f.read().split()[-1])
        rows.append(f"| {name} | {kib / 1024:.0f} MiB |")
    return ("### Peak RSS of a search in the paper's configuration (target: ≤ 100 MB)\n\n"
            "EMNIST ByMerge test split, 400 images per class, 784-170-130-100-70-47, 5 episodes, "
            "`/usr/bin/time -f %M`.\n\n| config | peak RSS |\n|---|---:|\n" + "\n".join(rows) + "\n")


PARTS = {"primal": primal, "terms": terms, "width": width, "trials": trials, "callgrind": callgrind, "rss": rss}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=20, help="timed episodes (20)")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up episodes (2)")
    ap.add_argument("--draws", type=int, default=11, help="random term draws in the terms part (11)")
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ",".join(PARTS))
    ap.add_argument("--md", default=os.path.join(ROOT, "results", "bench", "extra.md"))
    a = ap.parse_args()
    for exe in (EPISODE, METAPLAST):
        if not os.access(exe, os.X_OK):
            sys.exit(f"extra.py: {exe} not found: build first (cmake -S . -B build -DCMAKE_BUILD_TYPE=Release && "
                     "cmake --build build -j2)")
    parts = [p for p in a.only.split(",") if p] or list(PARTS)
    t0 = time.time()
    sections = []
    for p in parts:
        if p not in PARTS:
            sys.exit(f"extra.py: unknown part '{p}' (one of {', '.join(PARTS)})")
        print(f"== {p}", file=sys.stderr, flush=True)
        sections.append(PARTS[p](a))
        print(sections[-1], flush=True)
    commit = subprocess.run(["git", "log", "-1", "--format=%h %s"], cwd=ROOT, stdout=subprocess.PIPE, text=True).stdout.strip()
    load = os.getloadavg()
    md = (f"# metaplast scaling figures, {time.strftime('%Y-%m-%d %H:%M')}\n\n"
          f"Command: `/usr/bin/python3 bench/extra.py {' '.join(sys.argv[1:])}` ({time.time() - t0:.0f} s), "
          f"repository at `{commit}`; {platform.node()}, {os.cpu_count()} CPUs, load average at the end "
          f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (the machine is shared: CPU times are steadier than wall times).\n\n"
          + "\n".join(sections) + "\n## Commands run\n\n```\n" + "\n".join(COMMANDS) + "\n```\n")
    os.makedirs(os.path.dirname(a.md), exist_ok=True)
    with open(a.md, "w") as f:
        f.write(md)
    print(f"written {a.md}", file=sys.stderr)


if __name__ == "__main__":
    main()
