#!/usr/bin/env python3
"""The docs test (issue 24): every fenced command and Lua snippet of the documentation, run.

Usage:
  run.py --cli BUILD/metaplast --build BUILD --src SOURCE --work DIR [--list] [--full] [--only PAGE]
         [--timeout SECONDS]

Pages: README.md, docs/*.md, plugins/README.md, results/README.md, bench/README.md.

What counts as a command (a "fence"):
  ```sh / ```bash   each logical line (backslash continuations joined, '&&' chains split) is a command;
  ```lua            a Lua snippet: a script run with `metaplast run`, or, when its first line names a
                    file (`-- docs/examples/x.lua: ...`), a rule file that must equal that file and pass
                    `metaplast terms` and `metaplast check`;
  ``` (no language) with lines starting with '$ ': sample output; the commands after '$ ' are run and
                    their output is compared with the sample's lines (numbers do not count; '...' in the
                    sample stands for lines left out, and without it every printed line must be shown).
  Other fences (c, cmake, json, plain output) are not commands; they are counted and listed.

Each page runs in a scratch copy of the repository's layout (WORK/<page>/repo: symlinks to the source
tree's folders, `build` -> the build tree, `../shared` -> the source's ../shared, HOME = WORK/<page>/home),
so relative paths such as ./build/metaplast, rules/oja.lua and runs/x behave as in a clone. `metaplast`
and `./build/metaplast` are the built command. Commands of one page run in order and see each other's
files (a `report runs/x` after the `search --out runs/x`).

Annotations: an HTML comment right before a fence (blank lines allowed between them), one directive per
line or several on one line separated by ' ; ':

  <!-- docs-test: episodes=20 trials=2 -->
  <!-- docs-test: skip=needs a cluster -->

  KEY=VALUE       a reduction: `--KEY VALUE` is set (replaced, or added) on every `metaplast search` of
                  the fence that is not a --resume (keys: episodes trials jobs hidden data per-class
                  lambda-path val-tasks validate-every meta-batch), and on `metaplast eval` (tasks
                  resamples); a run that is reduced counts as "reduced".
  lua:KEY=VALUE   a reduction of `metaplast run SCRIPT key=value` arguments (replaced, or added).
  skip=REASON     the fence is not run (a cluster, root, the network, a 10-minute benchmark): each
                  command is checked for syntax instead (metaplast commands: the subcommand and every
                  --flag against `metaplast CMD --help`; cmake/ctest: options, presets and test names
                  that exist; scripts: the file exists and, for Python scripts, --help lists the flags).
  setup=COMMAND   run before the fence (not counted): a file a sample needs.
  expect=SUB => CLAIM, CLAIM...   claims about the command containing SUB ('*': every command):
                  `exit N`, `out TEXT` (stdout+stderr contain TEXT), `noout TEXT`, `file PATH`
                  (exists after the command), `nofile PATH`.
  requires=[SUB =>] PATH   run the fence (or the commands containing SUB) only where PATH exists
                  (relative to the clone: ../shared/data/emnist); elsewhere they are checked as with
                  skip=, and the log says why.
  stop=SECONDS    the command is interrupted with SIGINT after SECONDS (a documented Ctrl-C).

Claims checked without an annotation (what the docs say of every such command):
  every command exits 0; `metaplast search --out D` writes D/config.txt, log.csv, theta.tsv, rule.txt,
  rule.json and prints a `health:` line and a `discovered rule`/`rule (not a discovery)` line (with
  --trials N: D/trial-001..N, summary.csv, terms.csv, summary.md; with --lambda-path: path.csv, path.md);
  `report` prints its verdict before the rule; `run` (the lua/ scripts) prints no `FAILED` run;
  `eval` prints its verdict line and the rule/FA/BP table (with --out: eval.csv, eval.json); `plot D`
  writes D/plots/accuracy.png (train.png when every D is a `train --out` directory); `train --out D`
  writes D/train.csv and D/config.json and prints its `whole test set:` line; `terms` ends with its `compiled:` line. A sample fence's lines must be
  printed (stdout), numbers aside; without '...' in it, every printed line must be in the sample.

--list prints the fences and their classification without running anything. --full ignores the
reductions (runs as written; minutes to hours) and also requires every single search to end
`health: healthy` (the tour must show commands that are healthy, not only that run). Exit status 0 when every claim holds, 1 otherwise.
The last lines printed are the coverage: fences found, run, reduced, syntax-checked only, then the
same per command.
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time

PAGES = ["README.md", "docs/*.md", "plugins/README.md", "results/README.md", "bench/README.md"]
SEARCH_KEYS = {"episodes", "trials", "jobs", "hidden", "data", "per-class", "lambda-path", "val-tasks",
               "validate-every", "meta-batch", "lambda"}
EVAL_KEYS = {"tasks", "resamples"}
TIMEOUT = 600
FULL = False


class Fence:
    def __init__(self, page, line, lang, text, notes):
        self.page, self.line, self.lang, self.text, self.notes = page, line, lang, text, notes
        self.kind = None          # sh, lua, rulefile, sample, other
        self.status = None        # run, reduced, syntax, other
        self.failures = []
        self.commands = 0
        self.tally = {"run": 0, "reduced": 0, "syntax": 0}

    def where(self):
        return f"{self.page}:{self.line}"


# ---------------------------------------------------------------------------------------------
# Extraction

def parse_notes(comment):
    """The directives of a <!-- docs-test: ... --> comment."""
    notes = {"reduce": {}, "lua": {}, "skip": None, "setup": [], "expect": [], "stop": None, "requires": []}
    body = comment.strip()
    body = re.sub(r"^<!--\s*docs-test:?", "", body)
    body = re.sub(r"-->\s*$", "", body)
    items = []
    for line in body.splitlines():
        line = line.strip()
        if not line:
            continue
        # skip=, setup= and expect= take the rest of their line; key=value pairs may share one
        if re.match(r"^(skip|setup|expect|requires)=", line):
            items.append(line)
        else:
            items.extend(p.strip() for p in line.split(" ; ") if p.strip())
    for it in items:
        if it.startswith("skip="):
            notes["skip"] = it[5:].strip()
        elif it.startswith("setup="):
            notes["setup"].append(it[6:].strip())
        elif it.startswith("expect="):
            sub, _, claims = it[7:].partition("=>")
            notes["expect"].append((sub.strip(), [c.strip() for c in claims.split(",") if c.strip()]))
        elif it.startswith("requires="):
            sub, arrow, req = it[9:].partition("=>")
            notes["requires"].append((sub.strip(), req.strip()) if arrow else ("*", sub.strip()))
        elif it.startswith("stop="):
            notes["stop"] = float(it[5:])
        else:
            for tok in shlex.split(it):
                k, eq, v = tok.partition("=")
                if not eq:
                    raise ValueError(f"bad docs-test directive {tok!r}")
                if k == "stop":
                    notes["stop"] = float(v)
                elif k.startswith("lua:"):
                    notes["lua"][k[4:]] = v
                elif k in SEARCH_KEYS or k in EVAL_KEYS:
                    notes["reduce"][k] = v
                else:
                    raise ValueError(f"unknown docs-test key {k!r}")
    return notes


def extract(src, page):
    path = os.path.join(src, page)
    lines = open(path, encoding="utf-8").read().split("\n")
    fences, i, pending, pending_line = [], 0, None, 0
    while i < len(lines):
        ln = lines[i]
        if ln.strip().startswith("<!-- docs-test"):
            start, buf = i, [ln]
            while "-->" not in lines[i]:
                i += 1
                buf.append(lines[i])
            pending, pending_line = "\n".join(buf), start + 1
            i += 1
            continue
        m = re.match(r"^(\s*)```(\S*)\s*$", ln)
        if m:
            indent, lang = len(m.group(1)), m.group(2)
            body, j = [], i + 1
            while j < len(lines) and not re.match(r"^\s*```\s*$", lines[j]):
                body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
                j += 1
            try:
                notes = parse_notes(pending) if pending else parse_notes("")
            except ValueError as e:
                raise SystemExit(f"{page}:{pending_line}: {e}")
            fences.append(Fence(page, i + 1, lang, "\n".join(body), notes))
            pending = None
            i = j + 1
            continue
        if ln.strip() and pending is not None:
            raise SystemExit(f"{page}:{pending_line}: a docs-test annotation must come right before a fence")
        i += 1
    return fences


def classify(f):
    if f.lang in ("sh", "bash", "console"):
        f.kind = "sh"
    elif f.lang == "lua":
        first = f.text.split("\n", 1)[0]
        f.kind = "rulefile" if re.match(r"^--\s*\S+\.lua:", first) else "lua"
    elif f.lang == "" and any(l.startswith("$ ") for l in f.text.split("\n")):
        f.kind = "sample"
    else:
        f.kind = "other"


def logical_lines(text):
    """Commands of a shell fence: continuations joined, comment lines dropped."""
    out, cur = [], ""
    for ln in text.split("\n"):
        if cur == "" and (ln.strip() == "" or ln.lstrip().startswith("#")):
            continue
        if ln.rstrip().endswith("\\"):
            cur += ln.rstrip()[:-1] + " "
            continue
        cur += ln
        out.append(cur.strip())
        cur = ""
    if cur.strip():
        out.append(cur.strip())
    return out


def strip_comment(cmd):
    """The command without its trailing '# comment' (a '#' outside quotes after a blank)."""
    q, prev = None, " "
    for k, ch in enumerate(cmd):
        if q:
            if ch == q:
                q = None
        elif ch in "'\"":
            q = ch
        elif ch == "#" and prev in " \t":
            return cmd[:k].rstrip()
        prev = ch
    return cmd


def split_and(cmd):
    """'a && b && c' -> [a, b, c] (outside quotes and $(...))."""
    parts, cur, q, depth, k = [], "", None, 0, 0
    while k < len(cmd):
        ch = cmd[k]
        if q:
            if ch == q:
                q = None
        elif ch in "'\"":
            q = ch
        elif cmd.startswith("$(", k):
            depth += 1
        elif ch == ")" and depth:
            depth -= 1
        elif cmd.startswith("&&", k) and depth == 0:
            parts.append(cur.strip())
            cur, k = "", k + 2
            continue
        cur += ch
        k += 1
    parts.append(cur.strip())
    return [p for p in parts if p]


# ---------------------------------------------------------------------------------------------
# Commands: recognising metaplast, reducing, syntax checks

def words(cmd):
    try:
        return shlex.split(cmd)
    except ValueError:
        return cmd.split()


def metaplast_at(ws):
    """Index of the metaplast command word in ws (after env assignments, mpirun/srun and their
    options), or -1."""
    for k, w in enumerate(ws):
        if w in ("metaplast", "./build/metaplast", "build/metaplast") or w.endswith("/bin/metaplast"):
            return k
    return -1


_help_cache = {}


def help_flags(cli, sub):
    key = sub or ""
    if key not in _help_cache:
        args = [cli] + ([sub] if sub else []) + ["--help"]
        p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        _help_cache[key] = (p.returncode, p.stdout)
    return _help_cache[key]


def subcommands(cli):
    rc, text = help_flags(cli, None)
    return set(re.findall(r"^  ([a-z]+) ", text, re.M))


def check_metaplast_syntax(cli, ws, k):
    """Problems with ws[k:] as a metaplast command line: an unknown subcommand or flag."""
    errs = []
    if k + 1 >= len(ws):
        return errs
    sub = ws[k + 1]
    if sub in ("--help", "-h"):
        return errs
    if sub not in subcommands(cli):
        return [f"'{sub}' is not a metaplast command"]
    rc, text = help_flags(cli, sub)
    known = set(re.findall(r"(--[a-z][a-z0-9-]*)", text))
    for w in ws[k + 2:]:
        if w.startswith("--"):
            flag = w.split("=", 1)[0]
            if flag not in known:
                errs.append(f"metaplast {sub}: {flag} is not in `metaplast {sub} --help`")
    return errs


def set_flag(ws, flag, value):
    if flag in ws:
        i = ws.index(flag)
        if i + 1 < len(ws):
            ws[i + 1] = value
        return
    ws += [flag, value]


def reduce_command(ws, k, notes):
    """Apply the fence's reductions to a metaplast command; True if it changed."""
    if k + 1 >= len(ws):
        return False
    sub, before = ws[k + 1], list(ws)
    if sub == "search" and "--resume" not in ws:
        for key, v in notes["reduce"].items():
            multi = "--trials" in ws or "--lambda-path" in ws
            if key in SEARCH_KEYS and not (key == "trials" and "--trials" not in ws) \
                    and not (key == "lambda-path" and "--lambda-path" not in ws) \
                    and not (key == "jobs" and not multi):
                set_flag(ws, "--" + key, v)
    elif sub == "eval":
        for key, v in notes["reduce"].items():
            if key in EVAL_KEYS:
                set_flag(ws, "--" + key, v)
    elif sub == "run" and notes["lua"]:
        add_lua_args(ws, k + 3, notes)
    return ws != before


def add_lua_args(ws, start, notes):
    if True:
        for key, v in notes["lua"].items():
            for i in range(start, len(ws)):
                if ws[i].split("=", 1)[0] == key:
                    ws[i] = f"{key}={v}"
                    break
            else:
                ws.append(f"{key}={v}")


def syntax_check(cmd, ctx):
    """Syntax and names of a command that is not run."""
    ws = words(cmd)
    if not ws:
        return []
    k = metaplast_at(ws)
    if k >= 0:
        return check_metaplast_syntax(ctx.cli, ws, k)
    # skip leading sudo / $(command -v sudo) / env assignments
    while ws and (ws[0] in ("sudo", "$(command", "-v", "sudo)") or re.match(r"^[A-Z_]+=", ws[0])):
        ws = ws[1:]
    if not ws:
        return []
    prog = ws[0]
    errs = []
    if prog == "apt-get":
        if "install" in ws:
            pkgs = {w for w in ws[ws.index("install") + 1:] if not w.startswith("-")}
            ci = open(os.path.join(ctx.src, ".ci/run")).read().replace("\\\n", " ")
            m = re.search(r"apt-get install ([^\n]*)", ci)
            listed = {w for w in (m.group(1).split() if m else []) if re.match(r"^[a-z0-9][a-z0-9.+-]+$", w)}
            missing = sorted(p for p in pkgs if p not in listed)
            if missing:
                errs.append(f"apt-get installs {missing}, which .ci/run does not")
        return errs
    if prog == "cmake":
        text = " ".join(ws)
        for opt in re.findall(r"-D([A-Z_]+)=", text):
            if opt.startswith("CMAKE_"):
                continue
            if not any(opt in open(p).read() for p in glob.glob(os.path.join(ctx.src, "CMakeLists.txt"))):
                errs.append(f"cmake option {opt} is not defined in CMakeLists.txt")
        for preset in re.findall(r"--preset[= ](\S+)", text):
            if f'"name": "{preset}"' not in open(os.path.join(ctx.src, "CMakePresets.json")).read():
                errs.append(f"no preset {preset} in CMakePresets.json")
        return errs
    if prog == "ctest":
        text = " ".join(ws)
        for preset in re.findall(r"--preset[= ](\S+)", text):
            if f'"name": "{preset}"' not in open(os.path.join(ctx.src, "CMakePresets.json")).read():
                errs.append(f"no preset {preset} in CMakePresets.json")
        m = re.search(r"-R\s+'?([^' ]+)'?", text)
        lab = re.search(r"-L\s+(\S+)", text)
        if m or lab:
            args = ["ctest", "--test-dir", ctx.build, "-N"] + (["-R", m.group(1)] if m else []) + \
                   (["-L", lab.group(1)] if lab else [])
            p = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if not re.search(r"Total Tests: [1-9]", p.stdout):
                errs.append(f"no ctest test matches {' '.join(args[4:])}")
        return errs
    if prog in ("/usr/bin/python3", "python3"):
        script = ws[1]
        if not os.path.exists(os.path.join(ctx.src, script)):
            return [f"{script}: no such file"]
        text = open(os.path.join(ctx.src, script)).read()
        for w in ws[2:]:
            if w.startswith("--") and f'"{w.split("=")[0]}"' not in text:
                errs.append(f"{script} has no option {w}")
        return errs
    if prog.startswith("tests/") or prog.startswith("results/") or prog.startswith("bench/"):
        if not os.path.exists(os.path.join(ctx.src, prog)):
            errs.append(f"{prog}: no such file")
        return errs
    if prog in ("mpirun", "srun"):
        return []     # a launcher without metaplast after it: nothing to check
    if prog in ("cc", "export", "lua5.4", "gnuplot"):
        return []
    return []


# ---------------------------------------------------------------------------------------------
# Running

class Ctx:
    pass


def prepare_scratch(ctx, page):
    base = os.path.join(ctx.work, re.sub(r"[^A-Za-z0-9]+", "_", page))
    shutil.rmtree(base, ignore_errors=True)
    repo = os.path.join(base, "repo")
    os.makedirs(repo)
    os.makedirs(os.path.join(base, "home"))
    os.makedirs(os.path.join(base, "tmp"))
    for name in os.listdir(ctx.src):
        if name.startswith(".") and name != ".ci":
            continue
        if name in ("build", "runs"):
            continue
        os.symlink(os.path.join(ctx.src, name), os.path.join(repo, name))
    os.symlink(ctx.build, os.path.join(repo, "build"))
    shared = os.path.normpath(os.path.join(ctx.src, "..", "shared"))
    if os.path.isdir(shared):
        os.symlink(shared, os.path.join(base, "shared"))
    shim = os.path.join(base, "bin")
    os.makedirs(shim)
    os.symlink(ctx.cli, os.path.join(shim, "metaplast"))
    env = dict(os.environ)
    env.update(HOME=os.path.join(base, "home"), TMPDIR=os.path.join(base, "tmp"),
               PATH=shim + ":" + env.get("PATH", ""), OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return repo, env


def run_shell(cmd, cwd, env, stop=None, timeout=None, stderr_to=None):
    """(exit status, output, seconds); stderr joins the output unless stderr_to (a file) takes it."""
    timeout = timeout or TIMEOUT
    t0 = time.time()
    p = subprocess.Popen(["bash", "-c", cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=stderr_to or subprocess.STDOUT, text=True, start_new_session=True)
    try:
        if stop:
            try:
                out, _ = p.communicate(timeout=stop)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGINT)
                out, _ = p.communicate(timeout=timeout)
        else:
            out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return 124, out + f"\n[docs test: timed out after {timeout} s]", time.time() - t0
    return p.returncode, out, time.time() - t0


def flag_value(ws, flag):
    return ws[ws.index(flag) + 1] if flag in ws and ws.index(flag) + 1 < len(ws) else None


def implicit_claims(ws, k, cwd="."):
    """(files, lines) the docs promise for this metaplast command."""
    files, lines, first = [], [], None
    if k < 0 or k + 1 >= len(ws) or "--help" in ws or "-h" in ws:
        return files, lines, first
    sub = ws[k + 1]
    if sub == "search":
        d = flag_value(ws, "--out") or flag_value(ws, "--resume")
        trials = flag_value(ws, "--trials")
        if "--lambda-path" in ws:
            if d:
                files += [f"{d}/path.csv", f"{d}/path.md"]
        elif trials:
            if d:
                files += [f"{d}/summary.csv", f"{d}/terms.csv", f"{d}/summary.md"]
                files += [f"{d}/trial-{i:03d}/rule.json" for i in range(1, int(trials) + 1)]
            lines += [r"healthy"]
        else:
            if d:
                files += [f"{d}/{n}" for n in ("config.txt", "log.csv", "theta.tsv", "rule.txt", "rule.json")]
            lines += [r"^health: ", r"^(discovered rule|rule \(not a discovery\))"]
            if FULL:
                lines += [r"^health: healthy"]     # as written, a documented search must be healthy
    elif sub == "report":
        first = "verdict"
    elif sub == "eval":
        lines += [r"^method\s+accuracy", r"^rule\s", r"^FA\s", r"^BP\s"]
        d = flag_value(ws, "--out")
        if d:
            files += [f"{d}/eval.csv", f"{d}/eval.json"]
    elif sub == "plot":
        out = flag_value(ws, "--out")
        dirs = [w for w in ws[k + 2:] if not w.startswith("-") and w not in (out or "",)]
        lab = flag_value(ws, "--labels")
        fmt = flag_value(ws, "--format")
        dirs = [d for d in dirs if d not in (lab, fmt)]
        ext = (fmt or "png").split(",")[0]
        trains = dirs and all(os.path.isfile(os.path.join(cwd, d, "train.csv")) for d in dirs)
        fig = "train" if trains else "accuracy"    # `train --out` directories: the train figure
        if out:
            files.append(f"{out}{fig}.{ext}")
        elif len(dirs) == 1:
            files.append(f"{dirs[0]}/plots/{fig}.{ext}")
    elif sub == "train":
        d = flag_value(ws, "--out") or flag_value(ws, "--resume")
        if d:
            files += [f"{d}/train.csv", f"{d}/config.json"]
        lines += [r"^whole test set: accuracy"]
    elif sub == "terms":
        lines += [r"^compiled: "]
    elif sub == "run":
        lines += [r"!FAILED"]      # the lua/ scripts print 'FAILED: ...' for a run that failed, and go on
    return files, lines, first


def check_claims(f, cmd, rc, out, cwd, ws, k, expects, reduced):
    errs = []
    want_rc = 0
    extra_files, extra_nofiles, extra_out, extra_noout = [], [], [], []
    for sub, claims in expects:
        if sub != "*" and sub not in cmd:
            continue
        for c in claims:
            verb, _, arg = c.partition(" ")
            arg = arg.strip().strip('"')
            if verb == "exit":
                want_rc = int(arg)
            elif verb == "file":
                extra_files.append(arg)
            elif verb == "nofile":
                extra_nofiles.append(arg)
            elif verb == "out":
                extra_out.append(arg)
            elif verb == "noout":
                extra_noout.append(arg)
            else:
                errs.append(f"unknown claim {c!r}")
    if rc != want_rc:
        errs.append(f"exit status {rc}, the docs say {want_rc}")
    files, lines, first = implicit_claims(ws, k, cwd) if want_rc == 0 else ([], [], None)
    if ">" in ws and ws.index(">") + 1 < len(ws):    # output redirected: the claims are about the file
        target = os.path.join(cwd, ws[ws.index(">") + 1])
        if not os.path.isfile(target):
            errs.append(f"{ws[ws.index('>') + 1]} was not written")
        else:
            out = open(target, encoding="utf-8", errors="replace").read()
    for p in files + extra_files:
        if not glob.glob(os.path.join(cwd, p)):
            errs.append(f"{p} was not written")
    for p in extra_nofiles:
        if glob.glob(os.path.join(cwd, p)):
            errs.append(f"{p} exists")
    for pat in lines:
        if pat.startswith("!"):
            if re.search(pat[1:], out, re.M):
                errs.append(f"the output has /{pat[1:]}/: " + next(l for l in out.split("\n") if re.search(pat[1:], l))[:200])
            continue
        if not re.search(pat, out, re.M):
            errs.append(f"no output line matching /{pat}/")
    if first == "verdict":
        # docs/readout.md: every format starts with the run's verdict (LaTeX as comments, Markdown in a
        # code block, JSON as "health"): the verdict comes before the rule itself
        h = re.search(r"health", out)
        r = re.search(r"ΔW =|\\begin\{equation|\$\$|\"terms\"", out)
        if not h:
            errs.append("the report has no verdict (no 'health')")
        elif r and r.start() < h.start():
            errs.append("the report prints the rule before its verdict")
    for t in extra_out:
        if t not in out:
            errs.append(f"the output lacks {t!r}")
    for t in extra_noout:
        if t in out:
            errs.append(f"the output has {t!r}")
    return errs


def shape(line):
    """A line with its numbers blanked, for sample comparisons; of a verdict line ('health: ...',
    'verdict: ...') and of an equation ('ΔW = ...') only the start counts: their words and terms
    depend on the run (which terms survive), not on the format the sample shows."""
    m = re.match(r"^\s*(%\s*)?(health:|verdict:|ΔW =|discovered rule:|rule \(not a discovery\):)", line)
    if m:
        return m.group(0).strip()
    s = re.sub(r"[-+]?\d+(\.\d+)?(e[-+]?\d+)?", "#", line.strip())
    return re.sub(r"\s+", " ", s)


def run_fence(f, ctx, repo, env, log):
    notes = f.notes
    if f.kind == "other":
        f.status = "other"
        return
    if f.kind == "rulefile":
        f.commands = 1
        f.tally["run"] += 1
        first = f.text.split("\n", 1)[0]
        rel = re.match(r"^--\s*(\S+\.lua):", first).group(1)
        path = os.path.join(ctx.src, rel)
        if not os.path.exists(path):
            f.failures.append(f"{rel}: the file the snippet names does not exist")
        elif open(path).read().rstrip("\n") != f.text.rstrip("\n"):
            f.failures.append(f"{rel} differs from the snippet (the page and the file drifted apart)")
        for sub in ("terms", "check"):
            rc, out, dt = run_shell(f"metaplast {sub} {shlex.quote(rel)}", repo, env)
            log.write(f"$ metaplast {sub} {rel}  [{rc}, {dt:.1f} s]\n{out}\n")
            if rc != 0:
                f.failures.append(f"metaplast {sub} {rel}: exit status {rc}: {out.strip()[-300:]}")
        f.status = "run"
        return
    for sub, req in notes["requires"]:
        if sub == "*" and not os.path.exists(os.path.join(repo, req)) and not notes["skip"]:
            notes["skip"] = f"{req} is missing here"
    if notes["skip"]:
        f.status = "syntax"
        cmds = logical_lines(f.text) if f.kind == "sh" else [l[2:] for l in f.text.split("\n") if l.startswith("$ ")]
        for c in cmds:
            for part in split_and(strip_comment(c)):
                f.commands += 1
                f.tally["syntax"] += 1
                for e in syntax_check(part, ctx):
                    f.failures.append(f"`{part}`: {e}")
        if f.kind == "lua":
            f.commands, f.tally["syntax"] = 1, 1
            p = subprocess.run(["luac5.4" if shutil.which("luac5.4") else "true", "-p", "-"], input=f.text,
                               text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            if p.returncode:
                f.failures.append(f"Lua syntax: {p.stdout.strip()}")
        log.write(f"[syntax only: {notes['skip']}]\n")
        return
    for s in notes["setup"]:
        rc, out, dt = run_shell(s, repo, env)
        log.write(f"$ {s}   [setup, {rc}, {dt:.1f} s]\n{out}\n")
        if rc != 0:
            f.failures.append(f"setup `{s}`: exit status {rc}: {out.strip()[-300:]}")
    reduced = False
    if f.kind == "lua":
        f.commands = 1
        f.tally["run"] += 1
        script = os.path.join(repo, f"doc-{f.line}.lua")
        open(script, "w").write(f.text + "\n")
        ws = [ctx.cli, "run", script]
        cmd = " ".join(shlex.quote(w) for w in ws)
        rc, out, dt = run_shell(cmd, repo, env)
        log.write(f"$ metaplast run <{f.where()}>  [{rc}, {dt:.1f} s]\n{out}\n")
        f.failures += [f"the Lua snippet: {e}" for e in
                       check_claims(f, "lua", rc, out, repo, ws, -1, notes["expect"], False)]
        if rc != 0:
            f.failures.append(out.strip()[-400:])
        f.status = "run"
        return
    if f.kind == "sample":
        blocks, cur = [], None
        for ln in f.text.split("\n"):
            if ln.startswith("$ "):
                cur = [ln[2:], []]
                blocks.append(cur)
            elif cur is not None:
                cur[1].append(ln)
        for cmd, shown in blocks:
            f.commands += 1
            ws = words(strip_comment(cmd))
            k = metaplast_at(ws)
            if k >= 0:
                ws[k] = "metaplast"
                r = reduce_command(ws, k, notes)
                reduced |= r
                f.tally["reduced" if r else "run"] += 1
            else:
                f.tally["run"] += 1
            run = " ".join(shlex.quote(w) if not re.match(r"^[|>]$", w) else w for w in ws)
            with open(os.path.join(os.path.dirname(repo), "stderr.txt"), "w+") as errf:
                rc, out, dt = run_shell(run, repo, env, stderr_to=errf)   # a sample shows stdout
                errf.seek(0)
                err_text = errf.read()
            if rc != 0:
                out += err_text
            log.write(f"$ {run}  [{rc}, {dt:.1f} s]\n{out}\n")
            f.failures += [f"`{cmd}`: {e}" for e in check_claims(f, cmd, rc, out, repo, ws, k, notes["expect"], reduced)]
            if ">" in ws:     # output redirected: nothing to compare
                continue
            got = [shape(l) for l in out.rstrip("\n").split("\n")]
            ellipsis = any(l.strip() == "..." for l in shown)
            pos = 0
            for l in shown:
                if l.strip() == "...":
                    continue
                s = shape(l)
                try:
                    pos = got.index(s, pos) + 1
                except ValueError:
                    f.failures.append(f"`{cmd}`: the sample's line {l.strip()!r} is not printed (in this form)")
            if not ellipsis:
                shown_shapes = {shape(l) for l in shown}
                for g in got:
                    if g and g not in shown_shapes:
                        f.failures.append(f"`{cmd}`: prints a line the sample lacks: {g!r}")
        f.status = "reduced" if reduced else "run"
        return
    # shell fence
    for c in logical_lines(f.text):
        for part in split_and(strip_comment(c)):
            f.commands += 1
            ws = words(part)
            k = metaplast_at(ws)
            prog = ws[0] if ws else ""
            if re.search(r"(^|\s)(sudo\)?|apt-get|cmake|ctest|mpirun|srun)(\s|$)", " ".join(ws[:3])) and k < 0 \
                    or prog in ("mpirun", "srun"):
                # the build, the test suite, a package install or a launcher: checked, not run here
                errs = syntax_check(part, ctx)
                if prog == "cmake" and "--install" in ws:
                    rc, out, dt = run_shell(part, repo, env)
                    log.write(f"$ {part}  [{rc}, {dt:.1f} s]\n{out[-2000:]}\n")
                    f.tally["run"] += 1
                    if rc:
                        errs.append(f"exit status {rc}")
                else:
                    log.write(f"$ {part}  [checked, not run: the build/test/install step that runs this test]\n")
                    f.syntax_only = getattr(f, "syntax_only", 0) + 1
                    f.tally["syntax"] += 1
                f.failures += [f"`{part}`: {e}" for e in errs]
                continue
            if prog == "export":
                p = subprocess.run(["bash", "-c", part + "; env -0"], cwd=repo, env=env, stdout=subprocess.PIPE)
                env.clear()
                env.update(dict(kv.split("=", 1) for kv in p.stdout.decode().split("\0") if "=" in kv))
                log.write(f"$ {part}\n")
                f.tally["run"] += 1
                continue
            this_reduced = False
            if k >= 0:
                this_reduced = reduce_command(ws, k, notes)
                reduced |= this_reduced
                ws[k] = "metaplast" if ws[k] in ("metaplast", "./build/metaplast") else ws[k]
            missing = [r for sub, r in notes["requires"] if sub != "*" and sub in part
                       and not os.path.exists(os.path.join(repo, r))]
            if prog.startswith("/usr/bin/python3") or prog == "python3" or prog.startswith("tests/fuzz") or missing:
                if missing:
                    log.write(f"[{missing[0]} is missing here: checked, not run]\n")
                errs = syntax_check(part, ctx)
                log.write(f"$ {part}  [checked, not run]\n")
                f.failures += [f"`{part}`: {e}" for e in errs]
                f.syntax_only = getattr(f, "syntax_only", 0) + 1
                f.tally["syntax"] += 1
                continue
            if k < 0 and "lua5.4" in ws and notes["lua"]:
                i = ws.index("lua5.4")
                before = list(ws)
                add_lua_args(ws, i + 2, notes)
                if ws != before:
                    reduced = this_reduced = True
                    part_env = [w for w in ws[:i] if re.match(r"^[A-Z_]+=", w)]
                    run = " ".join([f"{w.split('=', 1)[0]}={shlex.quote(w.split('=', 1)[1])}" for w in part_env] +
                                   [shlex.quote(w) for w in ws[i:]])
                else:
                    run = part
            elif k < 0:
                run = part
            else:
                run = " ".join((f"{w.split('=', 1)[0]}={shlex.quote(w.split('=', 1)[1])}"
                                if i < k and re.match(r"^[A-Z_]+=", w) else shlex.quote(w)) for i, w in enumerate(ws))
            f.tally["reduced" if this_reduced else "run"] += 1
            if f.notes["stop"] and k >= 0 and ws[k + 1:k + 2] in (["search"], ["train"]) and "--resume" not in ws:
                rc, out, dt = run_shell(run, repo, env, stop=f.notes["stop"])
            else:
                rc, out, dt = run_shell(run, repo, env)
            log.write(f"$ {run}  [{rc}, {dt:.1f} s]\n{out[-4000:]}\n")
            errs = check_claims(f, part, rc, out, repo, ws, k, notes["expect"], reduced)
            if errs and rc != 0:
                errs.append("output: " + out.strip()[-300:].replace("\n", " | "))
            f.failures += [f"`{part}`: {e}" for e in errs]
    if getattr(f, "syntax_only", 0) == f.commands and f.commands:
        f.status = "syntax"
    else:
        f.status = "reduced" if reduced else "run"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--timeout", type=float, help="seconds per command (600; 7200 with --full)")
    a = ap.parse_args()
    global TIMEOUT, FULL
    FULL = a.full
    TIMEOUT = a.timeout or (7200 if a.full else TIMEOUT)
    ctx = Ctx()
    ctx.cli, ctx.build, ctx.src = os.path.abspath(a.cli), os.path.abspath(a.build), os.path.abspath(a.src)
    ctx.work = os.path.abspath(a.work)
    pages = []
    for pat in PAGES:
        pages += sorted(os.path.relpath(p, ctx.src) for p in glob.glob(os.path.join(ctx.src, pat)))
    if a.only:
        pages = [p for p in pages if p in a.only]
    os.makedirs(ctx.work, exist_ok=True)
    all_fences = []
    t_all = time.time()
    for page in pages:
        fences = extract(ctx.src, page)
        for f in fences:
            classify(f)
            if a.full:
                f.notes["reduce"], f.notes["lua"] = {}, {}
        all_fences += fences
        if a.list:
            for f in fences:
                note = "skip: " + f.notes["skip"] if f.notes["skip"] else " ".join(
                    f"{k}={v}" for k, v in list(f.notes["reduce"].items()) + [("lua:" + k, v) for k, v in f.notes["lua"].items()])
                print(f"{f.where():28} {f.lang or '-':6} {f.kind:9} {note}")
            continue
        repo, env = prepare_scratch(ctx, page)
        logpath = os.path.join(os.path.dirname(repo), "log.txt")
        t0 = time.time()
        with open(logpath, "w") as log:
            for f in fences:
                log.write(f"==== {f.where()} ({f.kind}) ====\n")
                run_fence(f, ctx, repo, env, log)
                for e in f.failures:
                    log.write(f"FAIL: {e}\n")
                log.flush()
        print(f"{page}: {len(fences)} fences, {sum(1 for f in fences if f.failures)} failing, "
              f"{time.time() - t0:.0f} s (log: {logpath})", flush=True)
        for f in fences:
            for e in f.failures:
                print(f"  FAIL {f.where()}: {e}", flush=True)
    if a.list:
        return 0
    cmd_fences = [f for f in all_fences if f.kind != "other"]
    n = lambda st: sum(1 for f in cmd_fences if f.status == st)
    cmds = sum(f.commands for f in cmd_fences)
    bad = [f for f in all_fences if f.failures]
    t = {key: sum(f.tally[key] for f in cmd_fences) for key in ("run", "reduced", "syntax")}
    summary = []

    def say(text):               # the coverage lines also go to WORK/coverage.txt
        summary.append(text.strip())
        print(text)
    say(f"\ncoverage: {len(all_fences)} fences in {len(pages)} pages; {len(cmd_fences)} hold commands or Lua "
          f"({cmds} commands): {n('run')} run as written, {n('reduced')} run reduced, {n('syntax')} checked for "
          f"syntax only; {len(cmd_fences) - n('run') - n('reduced') - n('syntax')} not covered; "
          f"{len(all_fences) - len(cmd_fences)} other fences (C, CMake, JSON, output) not commands")
    say(f"commands: {cmds}: {t['run']} run as written, {t['reduced']} run reduced, {t['syntax']} checked for syntax "
          f"only; {cmds - sum(t.values())} not covered")
    say(f"docs test: {len(bad)} fences with failures, {time.time() - t_all:.0f} s")
    with open(os.path.join(ctx.work, "coverage.txt"), "w") as cov:
        cov.write("\n".join(summary) + "\n")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
