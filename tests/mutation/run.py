#!/usr/bin/env python3
"""Mutation testing of core/ (issue 20). Not part of ctest.

Each line of mutants.tsv is one mutation: a file under core/, an exact text that must occur
exactly once in it, and its replacement (a sign flip, an off-by-one, swapped arguments, a dropped
term, an inverted comparison, a skipped check). The script exports the commit under test
(`git archive`, default HEAD) into a private directory, builds it once, checks that the suite
passes there, then for each mutation in turn: applies it, rebuilds (one job), runs the whole
suite (ctest, stopping at the first failure) under a time limit, records "killed" (a test
failed, or the suite timed out) or "survived", and restores the file. A mutation that does not
compile is "stillborn" and left out of the score. Nothing is written to the working tree but the
report (--out).

    nice -n 15 python3 tests/mutation/run.py [--commit REV] [--only id,id] [--out FILE] [--keep]

The report lists every mutation with its fate and the first failing test, the score, and the
survivors; equivalent mutants are explained by hand in RESULT.md (EQUIVALENT below marks them).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def unescape(s):
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"n": "\n", "t": "\t", "\\": "\\"}.get(s[i + 1], "\\" + s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def load_mutants(path):
    muts = []
    for ln, line in enumerate(open(path, encoding="utf-8"), 1):
        if not line.strip() or line.startswith("#"):
            continue
        f = line.rstrip("\n").split("\t")
        if len(f) != 5:
            sys.exit(f"{path}:{ln}: expected 5 tab-separated fields, got {len(f)}")
        muts.append(dict(id=f[0], file=f[1], pattern=unescape(f[2]), replacement=unescape(f[3]), what=f[4]))
    ids = [m["id"] for m in muts]
    if len(set(ids)) != len(ids):
        sys.exit("duplicate mutant ids")
    return muts


def run(cmd, cwd, timeout, log):
    t0 = time.time()
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout)
        out, rc = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out, rc = (e.stdout or b"").decode(errors="replace") + "\n[timeout]\n", -999
    with open(log, "a") as f:
        f.write(f"$ {' '.join(cmd)}  (rc {rc}, {time.time() - t0:.1f} s)\n{out}\n")
    return rc, out


def first_failure(out):
    for line in out.splitlines():
        if "***Failed" in line or "***Timeout" in line or "***Exception" in line or "(Failed)" in line:
            parts = line.split()
            for i, p in enumerate(parts):
                if p == "Test" and i + 2 < len(parts):
                    return parts[i + 2]
            return line.strip()
    return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--commit", default="HEAD")
    ap.add_argument("--only", default="")
    ap.add_argument("--mutants", default=os.path.join(HERE, "mutants.tsv"))
    ap.add_argument("--out", default=os.path.join(HERE, "last-run.md"))
    ap.add_argument("--workdir", default="")
    ap.add_argument("--keep", action="store_true", help="keep the private tree")
    ap.add_argument("--suite-timeout", type=int, default=420)
    ap.add_argument("--exclude", default="", help="ctest -E regex: tests left out (say why in RESULT.md)")
    ap.add_argument("--shared", default=os.path.abspath(os.path.join(REPO, "..", "shared")))
    a = ap.parse_args()

    muts = load_mutants(a.mutants)
    if a.only:
        want = set(a.only.split(","))
        muts = [m for m in muts if m["id"] in want]
    commit = subprocess.check_output(["git", "rev-parse", a.commit], cwd=REPO).decode().strip()
    work = a.workdir or tempfile.mkdtemp(prefix="mut-")
    src, build = os.path.join(work, "src"), os.path.join(work, "build")
    log = os.path.join(work, "log.txt")
    if not os.path.isdir(src):
        os.makedirs(src)
        tar = subprocess.Popen(["git", "archive", commit], cwd=REPO, stdout=subprocess.PIPE)
        subprocess.check_call(["tar", "-x", "-C", src], stdin=tar.stdout)
        tar.wait()
    print(f"commit {commit}, private tree {work}, {len(muts)} mutations", flush=True)

    # Every pattern must occur exactly once in the pristine tree.
    for m in muts:
        n = open(os.path.join(src, m["file"]), encoding="utf-8").read().count(m["pattern"])
        if n != 1:
            sys.exit(f"mutant {m['id']}: pattern occurs {n} times in {m['file']} at {commit}")

    rc, _ = run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release", f"-DMPL_SHARED_DIR={a.shared}"],
                work, 600, log)
    rc2, _ = run(["cmake", "--build", build, "-j1"], work, 3600, log) if rc == 0 else (rc, "")
    if rc2 != 0:
        sys.exit(f"the pristine tree does not build (see {log})")
    ctest = ["ctest", "--test-dir", build, "-j2", "--stop-on-failure", "--timeout", "300"]
    if a.exclude:
        ctest += ["-E", a.exclude]
    t0 = time.time()
    rc, out = run(ctest, work, a.suite_timeout, log)
    base = time.time() - t0
    if rc != 0:
        sys.exit(f"the suite fails on the pristine tree ({first_failure(out)}; see {log})")
    print(f"pristine suite passes in {base:.1f} s", flush=True)

    results = []
    for i, m in enumerate(muts, 1):
        path = os.path.join(src, m["file"])
        orig = open(path, encoding="utf-8").read()
        open(path, "w", encoding="utf-8").write(orig.replace(m["pattern"], m["replacement"], 1))
        t0 = time.time()
        with open(log, "a") as f:
            f.write(f"\n==== mutant {m['id']}: {m['what']}\n")
        brc, _ = run(["cmake", "--build", build, "-j1"], work, 1800, log)
        if brc != 0:
            fate, test = "stillborn", "(does not compile)"
        else:
            rc, out = run(ctest, work, a.suite_timeout, log)
            fate = "killed" if rc != 0 else "survived"
            test = ("(suite timed out)" if rc == -999 else first_failure(out)) if rc != 0 else ""
        open(path, "w", encoding="utf-8").write(orig)
        results.append(dict(m, fate=fate, test=test, secs=time.time() - t0))
        print(f"[{i}/{len(muts)}] {m['id']}: {fate} {test} ({time.time() - t0:.0f} s)", flush=True)
    # rebuild the pristine tree so that --keep leaves it usable
    run(["cmake", "--build", build, "-j1"], work, 1800, log)

    scored = [r for r in results if r["fate"] != "stillborn"]
    killed = [r for r in scored if r["fate"] == "killed"]
    surv = [r for r in scored if r["fate"] == "survived"]
    score = 100.0 * len(killed) / len(scored) if scored else 0.0
    lines = [f"# Mutation run", "",
             f"- commit: {commit}",
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"- command: `nice -n 15 python3 tests/mutation/run.py{' --only ' + a.only if a.only else ''}"
             f"{' --exclude ' + repr(a.exclude) if a.exclude else ''}`",
             f"- pristine suite: {base:.1f} s (`ctest -j2 --stop-on-failure`)",
             f"- score: **{len(killed)}/{len(scored)} killed ({score:.1f}%)**, "
             f"{len(results) - len(scored)} stillborn (do not compile, not scored)", "",
             "| mutant | file | what | fate | first failing test |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['id']} | {r['file']} | {r['what']} | {r['fate']} | {r['test']} |")
    lines += ["", "## Survivors", ""] + [f"- {r['id']} ({r['file']}): {r['what']}" for r in surv]
    open(a.out, "w").write("\n".join(lines) + "\n")
    print(f"score {len(killed)}/{len(scored)} = {score:.1f}%; survivors: {', '.join(r['id'] for r in surv) or 'none'}")
    print(f"report: {a.out}; log: {log}")
    if not a.keep and not a.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
