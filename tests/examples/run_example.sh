#!/bin/sh
# run_example.sh PROGRAM EXPECTED_BASE
# Runs PROGRAM and checks its stdout against EXPECTED_BASE.txt (exact) or
# EXPECTED_BASE.re (an extended regular expression the whole output must
# match, newlines included). Exit 77 (skipped) if PROGRAM was not built.
prog=$1
base=$2
if [ ! -x "$prog" ]; then
    echo "SKIP: $prog was not built"
    exit 77
fi
out=$(mktemp) || exit 1
trap 'rm -f "$out"' EXIT
"$prog" >"$out"
status=$?
if [ $status -ne 0 ]; then
    echo "FAIL: $prog exited with status $status; its output:"
    cat "$out"
    exit 1
fi
if [ -f "$base.txt" ]; then
    if diff -u "$base.txt" "$out"; then
        exit 0
    fi
    echo "FAIL: output differs from $base.txt"
    exit 1
fi
if [ -f "$base.re" ]; then
    # Match the output as one string: newlines become \n for grep.
    flat=$(awk '{printf "%s\\n", $0}' "$out")
    if printf '%s\n' "$flat" | grep -Eqx -f "$base.re"; then
        exit 0
    fi
    echo "FAIL: output does not match $base.re:"
    cat "$out"
    exit 1
fi
echo "FAIL: no $base.txt or $base.re"
exit 1
