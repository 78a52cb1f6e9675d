#!/usr/bin/env python3
"""metaplast: the tables of results/paper/README.md, from the runs' own files (standard library only).

  tools.py compact RUN ...   RUN/trials.csv: every trial's per-episode accuracy, loss, status and theta
                             (the committed stand-in for the trials' full log.csv files, which are large)
  tools.py clean-rule TRIAL OUT
                             OUT/rule.json: TRIAL's rule.json with the clean task sampler (metaplast eval
                             takes the sampler from the rule's configuration and has no flag for it)
  tools.py tables            results/paper/tables.md: accuracy windows with 98% bootstrap bands over
                             trials, collapse counts, term survival, held-out evaluation

Definitions (README.md): a trial is COLLAPSED when it was stopped by --max-failures or its mean query
accuracy over episodes 501-600 is <= 0.22, i.e. chance (0.20) plus two points, or at least half of
those episodes failed (dead or diverged). Bands: percentile bootstrap of the mean over
trials, 500 resamples, 98%, seeded (the same numbers on every run).
"""
import csv
import glob
import io
import json
import math
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WINDOWS = ((1, 100), (201, 300), (501, 600))
CHANCE_PLUS = 0.22

# run folder -> (label, what the paper reports for it)
RUNS = [
    ("fa", "FA (F0, fixed feedback)", "≈ 0.25 after convergence (~100 episodes)"),
    ("bp", "BP (F0, symmetric feedback)", "≈ 0.70 after convergence"),
    ("pool", "Pool F0..F9, proximal L1", "approaches BP (≈ 0.70) by ~300 episodes"),
    ("pool-penalty", "Pool F0..F9, plain L1 penalty (reference)", "approaches BP (≈ 0.70) by ~300 episodes"),
    ("ehebb", "FA + eHebb (F0, F2)", "clearly above FA, below F^bio (value not stated)"),
    ("oja", "FA + Oja (F0, F9), no guards", "clearly above FA (value not stated)"),
    ("oja-guard", "FA + Oja, --dead-guard on --clip-grad 10", "-"),
    ("oja-sign", "FA + Oja, --sign F9=+", "-"),
    ("oja-default", "FA + Oja, metaplast's defaults (--sign F9=+ --clip-rms 5)", "-"),
]
EXTRA_RUNS = []   # filled by main() from extra-*/ folders


def num(s):
    try:
        return float(s)
    except ValueError:
        return float("nan")


def mean(v):
    v = [x for x in v if not math.isnan(x)]
    return sum(v) / len(v) if v else float("nan")


def bootstrap(v, resamples=500, level=0.98, seed=1):
    """Percentile bootstrap interval of the mean of v (NaNs dropped)."""
    v = [x for x in v if not math.isnan(x)]
    if len(v) < 2:
        return (mean(v), mean(v))
    rng = random.Random(seed)
    means = sorted(mean([rng.choice(v) for _ in v]) for _ in range(resamples))
    a = (1 - level) / 2
    return means[int(math.floor(a * (resamples - 1)))], means[int(math.ceil((1 - a) * (resamples - 1)))]


def read_log(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def trials(run):
    return sorted(glob.glob(os.path.join(HERE, run, "trial-*")))


def trial_rows(run):
    """[(trial name, rows)] from log.csv, or from the committed trials.csv."""
    out = []
    for d in trials(run):
        p = os.path.join(d, "log.csv")
        if os.path.exists(p):
            out.append((os.path.basename(d), read_log(p)))
    if out:
        return out
    path = os.path.join(HERE, run, "trials.csv")
    if not os.path.exists(path):
        return []
    by = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            by.setdefault(r["trial"], []).append(r)
    return sorted(by.items())


def compact(run):
    rows = trial_rows(run)
    if not rows:
        sys.exit("tools.py compact: no trial-*/log.csv in " + run)
    thetas = [k for k in rows[0][1][0] if k.startswith("theta_")]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["trial", "episode", "accuracy", "loss", "status"] + thetas)
    for name, rs in rows:
        for r in rs:
            w.writerow([name, r["episode"], "%.4g" % num(r["accuracy"]), "%.5g" % num(r["loss"]), r["status"]]
                       + ["%.6g" % num(r[k]) for k in thetas])
    with open(os.path.join(HERE, run, "trials.csv"), "w") as f:
        f.write(buf.getvalue())
    # alignment.csv: per trial and window, the mean alignment angle and the geometric-mean
    # orthonormality error per layer over the window's ok episodes (log.csv's alpha_*, ortho_*)
    cols = [k for k in rows[0][1][0] if k.startswith("alpha_") or k.startswith("ortho_")]
    with open(os.path.join(HERE, run, "alignment.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["trial", "episodes"] + cols)
        for name, rs in rows:
            for a, b in WINDOWS:
                ok = [r for r in rs if a <= int(r["episode"]) <= b and r["status"] == "ok"]
                vals = []
                for c in cols:
                    v = [num(r[c]) for r in ok]
                    v = [x for x in v if not math.isnan(x) and (c.startswith("alpha_") or x > 0)]
                    if not v:
                        vals.append("nan")
                    elif c.startswith("alpha_"):
                        vals.append("%.2f" % mean(v))
                    else:
                        vals.append("%.4g" % math.exp(mean([math.log(x) for x in v])))
                w.writerow([name, "%d-%d" % (a, b)] + vals)


def window(rs, a, b):
    return mean([num(r["accuracy"]) for r in rs if a <= int(r["episode"]) <= b])


def fmt_band(v):
    if not v or all(math.isnan(x) for x in v):
        return "-"
    lo, hi = bootstrap(v)
    return "%.3f [%.3f, %.3f]" % (mean(v), lo, hi)


def theta_final(run):
    """{trial: {term: theta}} from each trial's theta.tsv."""
    out = {}
    for d in trials(run):
        p = os.path.join(d, "theta.tsv")
        if os.path.exists(p):
            with open(p, newline="") as f:
                out[os.path.basename(d)] = {r["name"]: float(r["theta"]) for r in csv.DictReader(f, delimiter="\t")}
    return out


def tables():
    out = []
    runs = RUNS + EXTRA_RUNS
    present = [(k, lab, pap) for k, lab, pap in runs if trial_rows(k)]

    out.append("## Meta-accuracy (query accuracy after the inner loop)\n")
    out.append("Mean over trials of each trial's mean accuracy in the window; [98% bootstrap band over trials]. "
               "Diverged episodes (NaN) are left out of a trial's window mean.\n")
    out.append("| run | trials | ep. 1-100 | ep. 201-300 | ep. 501-600 | paper |")
    out.append("|---|---|---|---|---|---|")
    for k, lab, pap in present:
        rows = trial_rows(k)
        cols = [fmt_band([window(rs, a, b) for _, rs in rows]) for a, b in ((1, 100), (201, 300), (501, 600))]
        out.append("| %s (`%s`) | %d | %s | %s | %s | %s |" % (lab, k, len(rows), cols[0], cols[1], cols[2], pap))

    out.append("\n## Collapse and failures per trial\n")
    out.append("A trial is **collapsed** when at the end it is at chance or dead: it was stopped by `--max-failures` "
               "(20 consecutive failed episodes: it never recovered), or over episodes 501-600 its mean accuracy is "
               "<= %.2f (chance 0.20 + 2 points) or at least half of the episodes failed (`dead` or `diverged`; "
               "a dead network scores 0.2-0.4 on a task whose classes repeat, which the reference sampler allows). "
               "It **broke down** when it logged >= 10 failed episodes (`dead` or `diverged` in log.csv; the "
               "dead-network probe of docs/reliability.md) after episode 100. Per trial: mean accuracy over "
               "episodes 501-600 / 551-600 (over the episodes it logged; † = stopped early at the episode given).\n"
               % CHANCE_PLUS)
    out.append("| run | collapsed | broke down | stopped early | dead episodes | diverged episodes | per trial |")
    out.append("|---|---|---|---|---|---|---|")
    for k, lab, pap in present:
        rows = trial_rows(k)
        col, brk, stop, dead, div, per = 0, 0, 0, 0, 0, []
        for _, rs in rows:
            last = int(rs[-1]["episode"]) if rs else 0
            a100, a50 = window(rs, 501, 600), window(rs, 551, 600)
            stopped = last < 600
            failed = sum(r["status"] != "ok" for r in rs if int(r["episode"]) > 500)
            col += stopped or not (a100 > CHANCE_PLUS) or failed >= 50
            brk += sum(r["status"] != "ok" for r in rs if int(r["episode"]) > 100) >= 10
            stop += stopped
            dead += sum(r["status"] == "dead" for r in rs)
            div += sum(r["status"] == "diverged" for r in rs)
            per.append("%.2f/%.2f%s" % (a100, a50, "†%d" % last if stopped else ""))
        out.append("| %s | %d/%d | %d | %d | %d | %d | %s |" % (k, col, len(rows), brk, stop, dead, div, " ".join(per)))
    out.append("\n## Alignment angles and orthonormality error, episodes 201-300 (alignment.csv)\n")
    out.append("α_ℓ: angle in degrees between the query-batch mean of e_ℓ fed back by B and by Wᵀ (90 = "
               "orthogonal, 0 = BP's direction; ℓ = 0 is the synthetic input error), mean over ok episodes, "
               "then over trials. E_ℓ: Σ over query images of ‖z_ℓ − W Wᵀ y_ℓ‖² (the paper's Fig. 8), geometric "
               "mean over ok episodes, then over trials. BP's angles are 0 by definition (not shown).\n")
    hdr = None
    for k, lab, pap in present:
        p = os.path.join(HERE, k, "alignment.csv")
        if k == "bp" or not os.path.exists(p):
            continue
        with open(p, newline="") as f:
            rs = [r for r in csv.DictReader(f) if r["episodes"] == "201-300"]
        cols = [c for c in rs[0] if c.startswith("alpha_") or c.startswith("ortho_")]
        if hdr is None:
            hdr = cols
            out.append("| run | " + " | ".join(c.replace("alpha_", "α_").replace("ortho_", "E_") for c in cols) + " |")
            out.append("|---" * (len(cols) + 1) + "|")
        cell = []
        for c in hdr:
            v = [num(r.get(c, "nan")) for r in rs]
            if c.startswith("ortho_"):
                v = [x for x in v if x > 0]
                cell.append("%.3g" % math.exp(mean([math.log(x) for x in v])) if v else "-")
            else:
                cell.append("%.1f" % mean(v))
        out.append("| %s | %s |" % (k, " | ".join(cell)))

    out.append("\n## Final coefficients (theta.tsv of each trial)\n")
    out.append("Survived: theta != 0 exactly (proximal L1 gives exact zeros); |θ| > 1e-4 in brackets (the plain "
               "penalty never gives exact zeros). Mean θ and 98% bootstrap band over trials.\n")
    for k, lab, pap in present:
        th = theta_final(k)
        if not th:
            continue
        names = list(next(iter(th.values())).keys())
        out.append("**%s** (`%s`, %d trials)\n" % (lab, k, len(th)))
        out.append("| term | survived (θ≠0) [abs>1e-4] | mean θ [98%] | θ>0 / θ<0 |")
        out.append("|---|---|---|---|")
        for n in names:
            v = [t[n] for t in th.values()]
            lo, hi = bootstrap(v)
            out.append("| %s | %d [%d] | %.3g [%.3g, %.3g] | %d / %d |" % (
                n, sum(x != 0 for x in v), sum(abs(x) > 1e-4 for x in v), mean(v), lo, hi,
                sum(x > 0 for x in v), sum(x < 0 for x in v)))
        out.append("")

    for sub, what in (("eval", "the clean sampler (M distinct classes, images drawn afresh, train and query "
                                "disjoint)"),
                      ("eval-paper", "the rule's own (reference) sampler: classes with replacement, each class's "
                                     "first K+Q = 60 test images")):
        evs = sorted(glob.glob(os.path.join(HERE, sub, "*", "trial-*", "eval.json")))
        if not evs:
            continue
        out.append("## Held-out evaluation: Fashion-MNIST test tasks, %s (`%s/`)\n" % (what.split(" (")[0].split(":")[0], sub))
        out.append("Each trial's frozen rule (`metaplast eval`) on 5-way 50+10 tasks drawn with %s, beside FA and "
                   "BP (F0 alone with fixed or symmetric feedback) at the rate θ_F0 meta-learned by the FA run of "
                   "the same seed (`--fa fa/trial-NNN`), all on the same tasks and initial weights. Per trial: mean "
                   "query accuracy over the tasks; here the mean over trials [98%% bootstrap band over trials].\n"
                   % what)
        out.append("| rule | trials | tasks | rule | FA | BP | rule - FA |")
        out.append("|---|---|---|---|---|---|---|")
        by = {}
        for p in evs:
            with open(p) as f:
                by.setdefault(os.path.basename(os.path.dirname(os.path.dirname(p))), []).append(json.load(f))
        order = [k for k, _, _ in runs]
        for k, js in sorted(by.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99):
            def acc(j, m):
                return next((float("nan") if x["mean"] is None else float(x["mean"])
                             for x in j.get("methods", []) if x["method"] == m), float("nan"))
            r, fa, bp = ([acc(j, m) for j in js] for m in ("rule", "FA", "BP"))
            lost = sum(math.isnan(x) for x in r)  # every task diverged: no mean, left out of the band
            n = "%d (%d diverged on every task, left out)" % (len(js), lost) if lost else "%d" % len(js)
            out.append("| %s | %s | %s | %s | %s | %s | %s |" % (k, n, js[0].get("tasks", "?"), fmt_band(r),
                       fmt_band(fa), fmt_band(bp), fmt_band([a - b for a, b in zip(r, fa)])))
        out.append("")
    with open(os.path.join(HERE, "tables.md"), "w") as f:
        f.write("# Tables (made by `results/paper/run.sh report`; do not edit)\n\n" + "\n".join(out) + "\n")


def main():
    for d in sorted(glob.glob(os.path.join(HERE, "extra-*"))):
        k = os.path.basename(d)
        cfg = os.path.join(d, "label.txt")
        EXTRA_RUNS.append((k, open(cfg).read().strip() if os.path.exists(cfg) else k, "-"))
    if len(sys.argv) >= 3 and sys.argv[1] == "compact":
        for run in sys.argv[2:]:
            compact(run)
    elif len(sys.argv) == 4 and sys.argv[1] == "clean-rule":
        with open(os.path.join(sys.argv[2], "rule.json")) as f:
            rule = json.load(f)
        rule["config"]["sampling"] = "clean"
        os.makedirs(sys.argv[3], exist_ok=True)
        with open(os.path.join(sys.argv[3], "rule.json"), "w") as f:
            json.dump(rule, f, ensure_ascii=False, indent=2)
            f.write("\n")
    elif len(sys.argv) == 2 and sys.argv[1] == "tables":
        tables()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
