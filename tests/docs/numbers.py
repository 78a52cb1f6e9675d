#!/usr/bin/env python3
"""Numbers in prose against the committed results they cite (issue 24).

Usage:
  numbers.py [--src DIR] [--strict] [--engine-changed-since REV]

1. Citations. A figure in README.md, docs/*.md, plugins/README.md, results/README.md or
   bench/README.md that summarises a committed result carries a comment right after its paragraph:

     <!-- numbers: results/engine/seeds.md | "22 of 24" == "in 22 with the defaults" | ... -->

   FILE is the committed file the figure comes from (relative to the repository). Each
   `"PROSE" == "SOURCE"` pair says: the paragraph before the comment contains PROSE, and FILE
   contains SOURCE (both compared with runs of whitespace as one blank, so line breaks do not
   count). A pair fails when the prose no longer says it (edited without its citation) or the file
   no longer backs it (re-run, or cited wrongly). Every pair is checked; a failure is an error.

2. Unchecked figures. In a paragraph that names results/ or has a numbers comment, every figure
   (`N of M`, `N/M`, decimals such as 0.56 or +0.215; code spans and links left out) that no
   citation's PROSE contains is listed with its paragraph, so that citations can be added; with
   --strict the list is an error. The count of checked against all such figures is printed.

3. Commit stamps. Every committed result (a folder under results/ holding a run: config.txt,
   summary.md, stdout.txt or its own README.md; and every results/*/*.md other than README.md)
   must state the commit it ran on: a commit hash (7-40 hex digits, the object must exist in the
   repository's history when git is available) after "at", "on", "of" or "commit", in the result
   itself (its .md, README.md, summary.md or stdout.txt) or on a line of its group's README.md that
   names it. Results without one are listed; with --strict they are an error.
   --engine-changed-since REV lists the stamped results whose commit is not a descendant of REV:
   after a change of the engine's rounding at REV, those are the ones to re-run (or to keep
   labelled with their commit).

Exit status: 1 if a citation fails (or, with --strict, anything is listed), else 0.
"""
import argparse
import glob
import os
import re
import subprocess
import sys

PAGES = ["README.md", "docs/*.md", "plugins/README.md", "results/README.md", "bench/README.md"]
STAMP = re.compile(r"\b(?:at|on|of|commit|commits)\s+`?([0-9a-f]{7,40})\b")
FIGURE = re.compile(r"(?<![\w.§])(\d+ of \d+|\d+/\d+|\d+(?:\.\d+)?×|[+−-]?\d+\.\d+)(?![\w.])")


def norm(s):
    return re.sub(r"\s+", " ", s).strip()


def paragraphs_with_comments(text):
    """(paragraph text, [numbers comments]) for each paragraph (blank-line separated; a paragraph's
    numbers comments are the ones inside or right after it)."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        comments = re.findall(r"<!--\s*numbers:(.*?)-->", block, re.S)
        prose = re.sub(r"<!--.*?-->", "", block, flags=re.S)
        out.append((prose, comments))
    return out


def parse_comment(c):
    path, sep, rest = c.strip().partition(" | ")
    pairs = re.findall(r'"([^"]*)"\s*==\s*"([^"]*)"', rest)
    leftover = re.sub(r'"([^"]*)"\s*==\s*"([^"]*)"', "", rest).replace("|", "").strip()
    if not sep or not pairs or leftover:
        raise ValueError(f'bad numbers comment {c.strip()[:80]!r} (expected FILE | "PROSE" == "SOURCE" | ...)')
    return path.strip(), pairs


def parse_comment_safe(c):
    try:
        return parse_comment(c)
    except ValueError:
        return "", []


def git_ok(src, *args):
    try:
        return subprocess.run(["git", "-C", src] + list(args), stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True).returncode == 0
    except OSError:
        return None


def check_citations(src, strict):
    fails, uncited, checked = [], [], 0
    figures = [0, 0]
    pages = []
    for pat in PAGES:
        pages += sorted(glob.glob(os.path.join(src, pat)))
    in_fence = re.compile(r"```.*?```", re.S)
    for page in pages:
        rel = os.path.relpath(page, src)
        text = in_fence.sub("", open(page, encoding="utf-8").read())
        for prose, comments in paragraphs_with_comments(text):
            np = norm(prose)
            for c in comments:
                try:
                    path, pairs = parse_comment(c)
                except ValueError as e:
                    fails.append(f"{rel}: {e}")
                    continue
                fpath = os.path.join(src, path)
                if not os.path.isfile(fpath):
                    fails.append(f"{rel}: cites {path}, which does not exist")
                    continue
                ftext = norm(open(fpath, encoding="utf-8", errors="replace").read())
                for a, b in pairs:
                    checked += 1
                    if norm(a) not in np:
                        fails.append(f"{rel}: the prose no longer says {a!r} (citation of {path}): "
                                     f"{np[:100]!r}...")
                    if norm(b) not in ftext:
                        fails.append(f"{rel}: {path} does not contain {b!r}, which backs {a!r}")
            if "results/" in prose or comments:
                covered = " ".join(a for c in comments for a, _ in (parse_comment_safe(c)[1]))
                figs = FIGURE.findall(re.sub(r"`[^`]*`|\[[^\]]*\]\([^)]*\)|<!--.*?-->", "", prose, flags=re.S))
                figs = [f for f in figs if not re.match(r"^\d+\.\d+\.\d+", f)]
                figures[0] += len(figs)
                left = [f for f in figs if f not in covered]
                figures[1] += len(figs) - len(left)
                if left:
                    uncited.append(f"{rel}: {', '.join(left[:8])}{' ...' if len(left) > 8 else ''} "
                                   f"({len(left)} of {len(figs)}) in {norm(prose)[:70]!r}")
    return fails, uncited, checked, figures


def result_items(src):
    """Committed results: run folders (topmost folders holding config.txt, summary.md, stdout.txt or a
    README.md) and .md files directly in a group folder."""
    items = []
    for group in sorted(glob.glob(os.path.join(src, "results", "*"))):
        if not os.path.isdir(group):
            continue
        for entry in sorted(os.listdir(group)):
            p = os.path.join(group, entry)
            if os.path.isdir(p):
                if entry in ("plots", "figures") or not any(
                        os.path.exists(os.path.join(p, f)) for f in ("config.txt", "summary.md", "stdout.txt",
                                                                      "README.md", "eval.json")):
                    continue
                items.append(p)
            elif entry.endswith(".md") and entry != "README.md":
                items.append(p)
    return items


def stamps_of(src, item):
    group = os.path.dirname(item)
    name = os.path.basename(item)
    texts = []
    if os.path.isfile(item):
        texts.append(open(item, encoding="utf-8", errors="replace").read())
    else:
        for f in ("README.md", "summary.md", "stdout.txt"):
            if os.path.isfile(os.path.join(item, f)):
                texts.append(open(os.path.join(item, f), encoding="utf-8", errors="replace").read())
    found = []
    for t in texts:
        found += STAMP.findall(t)
    readme = os.path.join(group, "README.md")
    if os.path.isfile(readme):
        base = name[:-3] if name.endswith(".md") else name
        for line in open(readme, encoding="utf-8").read().split("\n"):
            if re.search(r"(`|\b)" + re.escape(base) + r"(/|\.md|`|\b)", line) and "ran on" in line.lower() \
                    or re.search(r"`" + re.escape(name) + r"/?`", line):
                found += STAMP.findall(line)
    if not git_ok(src, "rev-parse", "--git-dir"):
        return found              # no history here (a tarball): the hashes cannot be checked
    return [h for h in found if git_ok(src, "cat-file", "-e", h + "^{commit}")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--engine-changed-since", metavar="REV")
    a = ap.parse_args()
    src = os.path.abspath(a.src)
    fails, uncited, checked, figures = check_citations(src, a.strict)
    print(f"citations: {checked} citation pairs checked against the files they cite, {len(fails)} failing")
    for f in fails:
        print(f"  FAIL {f}")
    print(f"figures in paragraphs that cite results/: {figures[0]}, of which {figures[1]} are checked by a "
          f"citation; {figures[0] - figures[1]} unchecked, in {len(uncited)} paragraphs:")
    for u in uncited:
        print(f"  {u}")
    items = result_items(src)
    missing, stamped = [], []
    for it in items:
        s = stamps_of(src, it)
        (stamped if s else missing).append((os.path.relpath(it, src), s))
    print(f"stamps: {len(items)} committed results, {len(stamped)} state the commit they ran on, "
          f"{len(missing)} do not")
    for m, _ in missing:
        print(f"  no commit: {m}")
    if a.engine_changed_since:
        print(f"results that ran before {a.engine_changed_since} (re-run, or keep them labelled with their commit):")
        for it, hs in stamped:
            if not any(git_ok(src, "merge-base", "--is-ancestor", a.engine_changed_since, h) for h in hs):
                print(f"  {it} (ran on {', '.join(sorted(set(hs)))})")
    bad = fails or (a.strict and (uncited or missing))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
