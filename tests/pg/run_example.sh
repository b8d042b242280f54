#!/bin/sh
# run_example.sh STATEFILE PROGRAM EXPECTED: runs an example against the
# test cluster and checks that every line of EXPECTED (a grep pattern)
# appears in its output.
set -eu
CIO_PG_DSN=$(sed -n 's/^DSN=//p' "$1")
export CIO_PG_DSN
out=$("$2")
echo "$out"
while IFS= read -r pat; do
    [ -z "$pat" ] && continue
    if ! printf '%s\n' "$out" | grep -q -- "$pat"; then
        echo "run_example: missing output line matching: $pat" >&2
        exit 1
    fi
done <"$3"
