#!/usr/bin/python3
"""threads.py -- both cores (issue 22, item 3): `metaplast eval --jobs J` and a single search whose
meta-batch runs on `--jobs J` threads, against the same commands on one thread.

Interleaved (ABAB...: 1 thread, then J threads, --reps times each), whole commands timed (data loading
included) with their CPU time; medians over the repetitions. Throughput = work / wall time: tasks
per second for eval, episodes per second for the search (whose log.csv also gives the median
meta-step time, validation excluded). Every run's outputs are compared with the first one-thread
run's: eval.csv and eval.json; log.csv without its `seconds` column, theta.tsv, validation.csv,
rule.txt, rule.json without the command it records, checkpoint.final. The load average is taken
before and after: the machine is shared, so wall-time ratios are only as good as the cores were free.

Targets (issue 22): eval on 2 jobs >= 1.8x the throughput of 1; a search with --meta-batch 2 on 2
threads >= 1.7x; results bit-identical.

Usage: /usr/bin/python3 bench/threads.py [--jobs 2] [--reps 3] [--tasks 200] [--episodes 40]
                                         [--metaplast build/metaplast] [--md results/bench/threads.md]
"""
import argparse
import csv
import os
import platform
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")
COMMANDS = []
RULE = os.path.join("results", "engine", "fa-oja")   # a shipped rule (Fashion-MNIST, FA+Oja)


def timed(cmd):
    """Run cmd from the repository root; (wall seconds, CPU seconds of the child)."""
    COMMANDS.append(shlex.join(cmd))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"threads.py: command failed ({p.returncode}): {shlex.join(cmd)}\n{p.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def read(path, drop_seconds=False, drop_command=False):
    with open(path) as f:
        if drop_seconds:
            rows = list(csv.reader(f))
            k = rows[0].index("seconds")
            return [r[:k] + r[k + 1:] for r in rows]
        text = f.read()
    if drop_command:
        text = "\n".join(ln for ln in text.splitlines() if '"command"' not in ln)
    return text


def median_seconds(log):
    with open(log) as f:
        return statistics.median(float(r["seconds"]) for r in csv.DictReader(f))


def interleave(a, make_cmd, outputs, same):
    """Run make_cmd(j, out) for j = 1, J, 1, J, ...; per-side walls, CPU times, extras; identical?"""
    rows = {1: [], a.jobs: []}
    ref = None
    identical = True
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.reps):
            for j in (1, a.jobs):
                out = os.path.join(tmp, f"j{j}-r{r}")
                wall, cpu = timed(make_cmd(j, out))
                rows[j].append((wall, cpu, outputs(out)))
                got = same(out)
                if ref is None:
                    ref = got
                identical = identical and got == ref
    return rows, identical


def summary(name, unit, work, rows, jobs, extra=None):
    med = {j: statistics.median(w for w, _, _ in rows[j]) for j in rows}
    cpu = {j: statistics.median(c for _, c, _ in rows[j]) for j in rows}
    lines = [f"| {name}, {j} thread{'s' if j > 1 else ''} | " + " ".join(f"{w:.2f}" for w, _, _ in rows[j]) +
             f" | {med[j]:.2f} | {cpu[j]:.2f} | {work / med[j]:.2f} {unit}/s |" +
             (f" {statistics.median(x for _, _, x in rows[j]) * 1000:.0f} |" if extra else "")
             for j in rows]
    return lines, med[1] / med[jobs]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tasks", type=int, default=200, help="eval tasks per run")
    ap.add_argument("--episodes", type=int, default=40, help="search episodes per run")
    ap.add_argument("--metaplast", default=os.path.join(ROOT, "build", "metaplast"))
    ap.add_argument("--md", default=os.path.join(ROOT, "results", "bench", "threads.md"))
    ap.add_argument("--only", default="eval,search")
    a = ap.parse_args()
    mp = os.path.abspath(a.metaplast)
    load0 = os.getloadavg()
    version = subprocess.run([mp, "--version"], stdout=subprocess.PIPE, text=True, env=ENV).stdout.strip()
    sections = []
    verdicts = []
    if "eval" in a.only:
        def cmd(j, out):
            return [mp, "eval", RULE, "--tasks", str(a.tasks), "--seed", "1", "--jobs", str(j), "--quiet", "--out", out]
        rows, ident = interleave(a, cmd, lambda out: None,
                                 lambda out: (read(os.path.join(out, "eval.csv")), read(os.path.join(out, "eval.json"))))
        lines, ratio = summary("eval", "tasks", a.tasks, rows, a.jobs)
        verdicts.append(f"eval: **{ratio:.2f}×** the throughput on {a.jobs} threads (target ≥ 1.8×), "
                        f"eval.csv and eval.json identical: **{'yes' if ident else 'NO'}**")
        sections.append(f"### eval, {a.tasks} tasks of {RULE} (FA+Oja, Fashion-MNIST), seed 1\n\n"
                        "| run | wall s (each repetition, in run order) | median wall s | median CPU s | throughput |\n"
                        "|---|---|---:|---:|---:|\n" + "\n".join(lines) + "\n")
    if "search" in a.only:
        def cmd(j, out):
            return [mp, "search", "--terms", "paper:F0,F2,F9", "--meta-batch", "2", "--episodes", str(a.episodes),
                    "--seed", "1", "--jobs", str(j), "--quiet", "--force", "--out", out]
        files = ("theta.tsv", "validation.csv", "rule.txt", "checkpoint.final")
        rows, ident = interleave(a, cmd, lambda out: median_seconds(os.path.join(out, "log.csv")),
                                 lambda out: (read(os.path.join(out, "log.csv"), drop_seconds=True),
                                              read(os.path.join(out, "rule.json"), drop_command=True),
                                              tuple(read(os.path.join(out, f)) for f in files)))
        lines, ratio = summary("search", "episodes", a.episodes, rows, a.jobs, extra=True)
        step = {j: statistics.median(x for _, _, x in rows[j]) for j in rows}
        verdicts.append(f"search --meta-batch 2: **{ratio:.2f}×** the throughput on {a.jobs} threads (target ≥ 1.7×; "
                        f"the meta-step alone, log.csv's median `seconds`: {step[1] / step[a.jobs]:.2f}×), "
                        f"log.csv (but `seconds`), theta.tsv, validation.csv, rule.txt, rule.json (but the command) "
                        f"and checkpoint.final identical: **{'yes' if ident else 'NO'}**")
        sections.append(f"### search --terms paper:F0,F2,F9 --meta-batch 2 --episodes {a.episodes} (robust method, "
                        "16 validation tasks every 5 episodes, Fashion-MNIST), seed 1\n\n"
                        "| run | wall s (each repetition, in run order) | median wall s | median CPU s | throughput | "
                        "median meta-step ms (log.csv) |\n|---|---|---:|---:|---:|---:|\n" + "\n".join(lines) + "\n")
    load1 = os.getloadavg()
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            autogroup = f.read().strip() == "1"
    except OSError:
        autogroup = False
    md = ("# Both cores: eval --jobs and a meta-batch on threads (bench/threads.py)\n\n"
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, {os.cpu_count()} CPUs, "
          f"{platform.system()} {platform.release()}; `{version.splitlines()[0] if version else mp}`"
          f"{' (' + version.splitlines()[1] + ')' if len(version.splitlines()) > 1 else ''}.\n"
          f"Interleaved runs (1 thread, then {a.jobs}; {a.reps} repetitions each), whole commands with data "
          f"loading; medians. Load average (1/5/15 min) before: {load0[0]:.2f} / {load0[1]:.2f} / {load0[2]:.2f}, "
          f"after: {load1[0]:.2f} / {load1[1]:.2f} / {load1[2]:.2f}. The machine is shared with other jobs: with "
          "a load near or above its CPU count a second thread finds no free core, and the wall-time ratios "
          "understate what the code does on a quiet machine (CPU time shows the work stayed the same)."
          + (" This kernel schedules by session (sched_autogroup_enabled = 1): every busy session gets an equal "
             "share of the CPUs however many threads it runs, so while another session keeps a core busy a "
             "second thread here gains nothing." if autogroup else "") + "\n\n"
          + "\n".join(f"- {v}" for v in verdicts) + "\n\n" + "\n".join(sections) +
          "\n## Commands run\n\n```\n" + shlex.join([sys.executable] + sys.argv) + "   # from the repository root\n"
          + "\n".join(COMMANDS) + "\n```\n")
    os.makedirs(os.path.dirname(os.path.abspath(a.md)), exist_ok=True)
    with open(a.md, "w") as f:
        f.write(md)
    print(md)
    print(f"written {a.md}", file=sys.stderr)


if __name__ == "__main__":
    main()
