#!/usr/bin/python3
"""bench.py -- time metaplast against PyTorch implementations of the same method (torch_metaplast.py)
on identical configurations, each on a single thread.

The headline: metaplast against the efficient PyTorch implementation (`torch_metaplast.py --grouped`:
a layer's terms grouped into one addmm per step, Oja factored), in float64 and float32, interleaved:
--rounds rounds in which metaplast, torch float64 and torch float32 each run --warmup + --episodes
episodes, the order rotated every round. Reported: the median over all timed episodes and the
fastest round's median, per side, and the ratios of the medians.

Then (unless --no-term-by-term) the reference written term by term, as before: for every
configuration
    build/metaplast search --paper-exact --terms ... --episodes W+N --seed S --quiet --out <tmp>
    /usr/bin/python3 bench/torch_metaplast.py --terms ... --warmup W --episodes N --seed S --json
one after the other, under `/usr/bin/time -f %M` (peak RSS of the whole process, KiB), with the
median wall time per meta-training episode over the N episodes after W warm-up episodes (metaplast:
the `seconds` column of log.csv; torch: its own per-episode timer; both time task sampling + inner
loop + meta-gradient, not data loading). Each such torch configuration runs twice: as an ordinary
user gets it, and with glibc's heap trimming disabled ("heap kept", see HEAP_KEPT); configurations
with Oja's term also run with --oja-factored. A configuration whose last warm-up episode takes more
than --max-seconds (3 s) is cut to 20 timed episodes, and metaplast then runs the same number.

Threads: OPENBLAS_NUM_THREADS=1 for metaplast (it forces one anyway); OMP/MKL/OPENBLAS_NUM_THREADS=1
and torch.set_num_threads(1) for PyTorch. The tables are printed and written, with the machine, the
versions and the exact commands, to --md (default results/bench/last-run.md).

Usage: /usr/bin/python3 bench/bench.py [--episodes 20] [--warmup 2] [--rounds 3] [--seed 1] [--md FILE]
                                       [--configs FA,BP,...] [--no-term-by-term] [--no-factored]
                                       [--no-heap-kept]
"""
import argparse
import csv
import datetime
import json
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"

# The ten-term pool diverges within ~20 episodes of meta-training at lambda = 0 in both implementations
# (theta drifts until the weights overflow); metaplast then abandons each episode early and torch skips
# the backward pass, so its timings would be of broken episodes. It is therefore timed at a fixed,
# hand-set theta with every coefficient non-zero (lr 1e-12: Adam still runs, theta does not move);
# the per-episode work is the same as in meta-training.
POOL_THETA = "F0=0.003,F1=0.001,F2=-0.001,F3=1e-4,F4=1e-4,F5=1e-4,F6=1e-4,F7=1e-4,F8=1e-4,F9=0.002"

# name, metaplast/torch options, and whether torch runs it a second time with --oja-factored
CONFIGS = [
    ("FA", ["--terms", "paper:F0"], False),
    ("FA+Oja", ["--terms", "paper:F0,F9"], True),
    ("FA+eHebb+Oja", ["--terms", "paper:F0,F2,F9"], True),
    ("pool (10 terms)", ["--terms", "paper", "--init", POOL_THETA, "--lr", "1e-12"], True),
    ("BP", ["--terms", "paper:F0", "--feedback", "symmetric"], False),
]
SHORT = {"FA": "FA", "FA+Oja": "FA+Oja", "FA+eHebb+Oja": "FA+eHebb+Oja", "pool (10 terms)": "pool", "BP": "BP"}


def timed_run(cmd, env_extra, cwd):
    """Run cmd under /usr/bin/time; return (stdout, peak RSS in MiB, wall seconds)."""
    env = dict(os.environ, **env_extra)
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-o", tf.name, "-f", "%M"] + cmd, cwd=cwd, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise RuntimeError(f"command failed ({p.returncode}): {shlex.join(cmd)}\n{p.stderr[-2000:]}")
        rss_kib = int(tf.read().strip().splitlines()[-1])
    return p.stdout, rss_kib / 1024.0, wall


def run_metaplast(binary, opts, warmup, episodes, seed):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "run")
        # --sign none --clip-rms 0: the torch implementation's coefficients are unconstrained and its
        # Adam is PyTorch's (metaplast's defaults keep Oja's F9 >= 0 and clip outlier gradients, work
        # that costs nothing next to an episode)
        cmd = [binary, "search", "--paper-exact"] + opts + ["--episodes", str(warmup + episodes), "--seed", str(seed),
                                          "--quiet", "--out", out]
        stdout, rss, wall = timed_run(cmd, {"OPENBLAS_NUM_THREADS": "1"}, ROOT)
        with open(os.path.join(out, "log.csv")) as f:
            rows = list(csv.DictReader(f))
    timed = rows[warmup:]
    secs = [float(r["seconds"]) for r in timed]
    acc = [float(r["accuracy"]) for r in timed]
    diverged = sum(not math.isfinite(float(r["loss"])) for r in timed)
    shown = [a if a != out else "$TMPDIR/run" for a in cmd]  # the command as reported
    return dict(median=statistics.median(secs), secs=secs, episodes=len(secs), rss=rss, wall=wall, diverged=diverged,
                acc=statistics.fmean(acc), summary=stdout.strip().splitlines()[0], cmd=shown)


# glibc malloc settings that keep freed memory in the heap instead of returning it to the kernel.
# By default glibc trims the heap after each episode frees its autograd graph (GBs), so every episode
# page-faults all of it in again; on this VM that costs ~7 us per 4 KiB page and dominates the
# large-graph configurations. The "heap kept" column shows torch without that cost.
HEAP_KEPT = {"MALLOC_TRIM_THRESHOLD_": str(10**12), "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20)}


def run_torch(opts, warmup, episodes, seed, max_seconds, factored, heap_kept=False, grouped=False, dtype="float64"):
    cmd = [PY, os.path.join(HERE, "torch_metaplast.py")] + opts + [
        "--warmup", str(warmup), "--episodes", str(episodes), "--seed", str(seed), "--threads", "1",
        "--max-seconds", str(max_seconds), "--json", "--dtype", dtype] + (["--oja-factored"] if factored else []) + (
        ["--grouped"] if grouped else [])
    env = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    if heap_kept:
        env.update(HEAP_KEPT)
    stdout, rss, wall = timed_run(cmd, env, ROOT)
    r = json.loads(stdout.strip().splitlines()[-1])
    diverged = sum(not math.isfinite(row["loss"]) for row in r["rows"][warmup:])
    return dict(median=r["median_seconds"], secs=[row["seconds"] for row in r["rows"][warmup:]], episodes=r["episodes"], capped=r["capped_to_20"], rss=rss,
                diverged=diverged,
                wall=wall, acc=r["mean_accuracy"], torch_version=r["torch_version"], cmd=cmd)


def headline(args, configs, t_start):
    """metaplast against torch --grouped (float64 and float32), interleaved: in round k the three
    sides run in an order rotated by k, so drift of the machine's load falls on all of them."""
    out, cmds = [], []
    for name, opts, _ in configs:
        sides = {"metaplast": [], "torch64": [], "torch32": []}
        rss = {}
        for k in range(args.rounds):
            order = ["metaplast", "torch64", "torch32"]
            order = order[k % 3:] + order[:k % 3]
            for side in order:
                print(f"[{time.perf_counter() - t_start:6.0f} s] {name}: round {k + 1}, {side} ...", flush=True)
                if side == "metaplast":
                    r = run_metaplast(args.metaplast, opts, args.warmup, args.episodes, args.seed)
                else:
                    r = run_torch(opts, args.warmup, args.episodes, args.seed, 0, False, grouped=True,
                                  dtype="float64" if side == "torch64" else "float32")
                sides[side].append(r)
                rss[side] = max(rss.get(side, 0), r["rss"])
                if k == 0:
                    cmds.append(shlex.join(r["cmd"]))
        out.append((name, sides, rss))
    return out, cmds


def headline_table(rows):
    lines = ["| config | metaplast s/ep median (min) | torch float64 s/ep median (min) | ratio | "
             "torch float32 s/ep median (min) | ratio | RSS metaplast / torch64 / torch32 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, sides, rss in rows:
        med = {k: statistics.median([x for r in v for x in r["secs"]]) for k, v in sides.items()}
        mn = {k: min(r["median"] for r in v) for k, v in sides.items()}
        lines.append(f"| {name} | {med['metaplast']:.4f} ({mn['metaplast']:.4f}) | {med['torch64']:.4f} "
                     f"({mn['torch64']:.4f}) | {med['torch64'] / med['metaplast']:.1f}x | {med['torch32']:.4f} "
                     f"({mn['torch32']:.4f}) | {med['torch32'] / med['metaplast']:.1f}x | "
                     f"{fmt_rss(rss['metaplast'])} / {fmt_rss(rss['torch64'])} / {fmt_rss(rss['torch32'])} |")
    return "\n".join(lines)


def machine_description():
    lscpu = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
    info = {k.strip(): v.strip() for k, _, v in (ln.partition(":") for ln in lscpu.splitlines())}
    with open("/proc/meminfo") as f:
        mem_kib = int(next(ln for ln in f if ln.startswith("MemTotal")).split()[1])
    return (f"{info.get('Model name', '?')}, {info.get('CPU(s)', '?')} CPUs "
            f"({info.get('Thread(s) per core', '?')} thread(s) per core), {mem_kib / 2**20:.1f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}")


def fmt_rss(mib):
    return f"{mib / 1024:.2f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=20, help="timed episodes per configuration (>= 20; 20)")
    ap.add_argument("--warmup", type=int, default=2, help="warm-up episodes, not timed (2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=3.0,
                    help="torch configurations slower than this per episode run only 20 timed episodes (3)")
    ap.add_argument("--metaplast", default=os.path.join(ROOT, "build", "metaplast"))
    ap.add_argument("--configs", default="", help="comma-separated subset of: " + ",".join(SHORT.values()))
    ap.add_argument("--no-factored", action="store_true", help="skip the torch --oja-factored rows")
    ap.add_argument("--no-heap-kept", action="store_true",
                    help="skip the torch runs with glibc's heap trimming disabled (the 'heap kept' column)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds of the headline comparison (3)")
    ap.add_argument("--term-by-term", action=argparse.BooleanOptionalAction, default=True,
                    help="also time the reference written term by term (default on)")
    ap.add_argument("--md", default=os.path.join(ROOT, "results", "bench", "last-run.md"), help="markdown report (results/bench/last-run.md)")
    args = ap.parse_args()
    if args.episodes < 20:
        ap.error("--episodes must be >= 20")
    if not os.access(args.metaplast, os.X_OK):
        sys.exit(f"{args.metaplast} not found: build it first with\n  cd {ROOT} && cmake -S . -B build "
                 "-DCMAKE_BUILD_TYPE=Release && cmake --build build -j2")
    wanted = set(filter(None, args.configs.split(",")))
    configs = [c for c in CONFIGS if not wanted or SHORT[c[0]] in wanted]

    t_start = time.perf_counter()
    head_rows, cmds = headline(args, configs, t_start)
    rows, notes = [], []
    for name, opts, has_oja in (configs if args.term_by_term else []):
        print(f"[{time.perf_counter() - t_start:6.0f} s] {name}: torch ...", flush=True)
        tr = run_torch(opts, args.warmup, args.episodes, args.seed, args.max_seconds, False)
        n = tr["episodes"]  # metaplast runs exactly as many timed episodes as torch did
        if tr["capped"]:
            notes.append(f"{name}: torch took > {args.max_seconds:g} s/episode in warm-up, so both sides "
                         f"timed only {n} episodes (after {args.warmup} warm-up).")
        print(f"[{time.perf_counter() - t_start:6.0f} s] {name}: metaplast ...", flush=True)
        mp = run_metaplast(args.metaplast, opts, args.warmup, n, args.seed)
        cmds += [shlex.join(mp["cmd"]), shlex.join(tr["cmd"])]
        variants = [(name, tr, False)]
        if has_oja and not args.no_factored:
            print(f"[{time.perf_counter() - t_start:6.0f} s] {name}: torch --oja-factored ...", flush=True)
            tf = run_torch(opts, args.warmup, n, args.seed, 0, True)
            variants.append((name + " [torch: factored Oja]", tf, True))
            cmds.append(shlex.join(tf["cmd"]))
        for label, t, factored in variants:
            hk = None
            if not args.no_heap_kept:
                print(f"[{time.perf_counter() - t_start:6.0f} s] {label}: torch, heap kept ...", flush=True)
                hk = run_torch(opts, args.warmup, n, args.seed, 0, factored, heap_kept=True)
            rows.append((label, mp, t, hk))
    total = time.perf_counter() - t_start

    head = ("| config | metaplast s/ep | torch s/ep | ratio torch/metaplast | torch s/ep, heap kept | ratio "
            "| metaplast RSS | torch RSS | timed episodes | diverged | mean query acc. |")
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, mp, tr, hk in rows:
        hk_cells = f"{hk['median']:.4f} | {hk['median'] / mp['median']:.1f}x" if hk else "- | -"
        lines.append(f"| {name} | {mp['median']:.4f} | {tr['median']:.4f} | {tr['median'] / mp['median']:.1f}x "
                     f"| {hk_cells} | {fmt_rss(mp['rss'])} | {fmt_rss(tr['rss'])} "
                     f"| {mp['episodes']} / {tr['episodes']} | {mp['diverged']} / {tr['diverged']} "
                     f"| {mp['acc']:.2f} / {tr['acc']:.2f} |")
    table = "\n".join(lines) if rows else "(not run: --term-by-term)"
    htable = headline_table(head_rows)
    print("\n" + htable + "\n\n" + table + "\n")
    for n_ in notes:
        print("note:", n_)

    mp_version = subprocess.run([args.metaplast, "--version"], stdout=subprocess.PIPE, text=True).stdout.strip()
    git = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%h %s"], stdout=subprocess.PIPE,
                         text=True).stdout.strip()
    torch_version = head_rows[0][1]["torch64"][0]["torch_version"] if head_rows else "?"
    md = [
        f"# metaplast vs PyTorch: benchmark run of {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        "",
        f"Command: `{shlex.join([PY] + sys.argv)}` (run from `{os.getcwd()}`), total {total:.0f} s.",
        "",
        "## Against the efficient PyTorch implementation (the headline)",
        "",
        "`torch_metaplast.py --grouped`: what an experienced PyTorch user writes: a layer's terms grouped by "
        "their presynaptic factor into one `addmm` per step (W <- (1 - theta_3) W + U V^T, F5-F8's scalars "
        "folded into U, Oja factored), no weight-sized tensor per term; its meta-gradient equals the "
        "term-by-term one's (`torch_metaplast.py --gradcheck`). metaplast (`--paper-exact`, float64) and "
        f"torch float64 and float32 run interleaved, {args.rounds} rounds of metaplast, torch64, torch32 "
        f"(the order rotating each round), {args.episodes} timed episodes each after {args.warmup} warm-up, "
        "one thread each. *median*: over all timed episodes of all rounds; *min*: the fastest round's "
        "median. Ratios: torch median / metaplast median.",
        "",
        htable,
        "",
        "## Against the reference written term by term",
        "",
        "`torch_metaplast.py` as first written (one weight-sized tensor per term, per layer and step; Oja "
        "naive unless marked factored), run once per configuration after metaplast's own run:",
        "",
        f"Median wall time per meta-training episode over the timed episodes after {args.warmup} warm-up "
        f"episodes (seed {args.seed}), single thread each; peak RSS of the whole process from "
        "`/usr/bin/time -f %M`. Both sides: Fashion-MNIST, 5 distinct classes per task, K=50, Q=10, "
        "784-170-130-100-70-10, double precision, Adam lr 1e-3, theta0 = 1e-3 others 0. The torch rows "
        "use the naive Oja product `(y y^T) W` unless marked *factored* (`y (W^T y)^T`). Query accuracy "
        "is over the timed episodes of a short meta-training run: a sanity check, not a result (the "
        "two sides draw different tasks and weights, so their meta-training trajectories differ). The last "
        "three columns read metaplast / torch. The 10-term pool is timed at a fixed hand-set theta "
        f"(`--init {POOL_THETA} --lr 1e-12`) because it diverges within ~20 episodes of meta-training at "
        "lambda = 0 on both sides; its per-episode work is unchanged. *heap kept*: the same torch run with "
        + " ".join(f"`{k}={v}`" for k, v in HEAP_KEPT.items()) + ", so glibc keeps the memory the previous "
        "episode's autograd graph freed instead of returning it to the kernel and page-faulting it in again.",
        "",
        table,
        "",
        *(f"- {n_}" for n_ in notes),
        "",
        "## Machine and versions",
        "",
        f"- machine: {machine_description()}",
        f"- metaplast: `{mp_version.splitlines()[0] if mp_version else '?'}` "
        f"({'; '.join(mp_version.splitlines()[1:])}), repository at `{git}`",
        f"- torch: {torch_version} (Debian python3-torch), numpy {__import__('numpy').__version__}",
        "",
        "## Commands run",
        "",
        "```",
        *cmds,
        "```",
        "",
    ]
    os.makedirs(os.path.dirname(os.path.abspath(args.md)), exist_ok=True)
    with open(args.md, "w") as f:
        f.write("\n".join(md))
    print(f"report written to {args.md} ({total:.0f} s in all)")


if __name__ == "__main__":
    main()
