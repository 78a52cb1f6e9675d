#!/bin/sh
# metaplast test (issue 25): the LaTeX read-out of every shipped library compiles. For each library
# (the paper's pool, the paper's three named rules, extra's native terms, rules/bio.lua,
# rules/quadratic.lua, bench/zoo/random20.lua): a 4-episode search, `report --format latex`, the
# fragment \input into a minimal amsmath document, pdflatex -halt-on-error. Skipped (77) without
# pdflatex (Debian: texlive-latex-base).
# usage: check_latex.sh METAPLAST SOURCE_DIR SCRATCH
set -u
mp=$1; src=$2; dir=$3
command -v pdflatex >/dev/null 2>&1 || { echo "test_latex: pdflatex not installed: skipped"; exit 77; }
rm -rf "$dir"; mkdir -p "$dir"
cd "$src" || exit 1
fail=0; i=0
for lib in "paper" "paper:F0,F2,F9" "paper:F0;extra" "rules/bio.lua" "paper:F0;rules/quadratic.lua" \
           "paper:F0;bench/zoo/random20.lua"; do
  i=$((i + 1)); d=$dir/lib-$i
  mkdir -p "$d"
  if ! "$mp" search --terms "$lib" --episodes 4 --val-tasks 2 --out "$d/run" --quiet > "$d/search.out" 2>&1 &&
     [ ! -f "$d/run/rule.json" ]; then
    echo "test_latex: FAIL: $lib: the search wrote no rule"; cat "$d/search.out"; fail=1; continue
  fi
  "$mp" report "$d/run" --format latex > "$d/rule.tex" 2> "$d/report.err" ||
    { echo "test_latex: FAIL: $lib: report exited $?"; cat "$d/report.err"; fail=1; continue; }
  printf '\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n\\input{rule.tex}\n\\end{document}\n' \
    > "$d/doc.tex"
  if (cd "$d" && pdflatex -interaction=nonstopmode -halt-on-error doc.tex > pdflatex.log 2>&1) && [ -s "$d/doc.pdf" ]; then
    echo "test_latex: $lib: compiles"
  else
    echo "test_latex: FAIL: $lib: pdflatex failed:"; grep -A4 '^!' "$d/pdflatex.log"; fail=1
  fi
done
exit $fail
