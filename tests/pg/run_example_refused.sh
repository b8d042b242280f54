#!/bin/sh
# run_example_refused.sh PROGRAM PATTERN: runs an example against a port
# nobody listens on. It must fail, say why on stderr (a line matching the
# grep pattern PATTERN), and leave nothing behind (no sanitizer report).
set -u
err=$(CIO_PG_DSN="host=127.0.0.1 port=1 user=cio dbname=postgres" "$1" 2>&1 >/dev/null)
rc=$?
echo "$err"
if [ "$rc" -eq 0 ]; then
    echo "run_example_refused: the example succeeded" >&2
    exit 1
fi
if ! printf '%s\n' "$err" | grep -q -- "$2"; then
    echo "run_example_refused: missing error line matching: $2" >&2
    exit 1
fi
if printf '%s\n' "$err" | grep -q "Sanitizer"; then
    echo "run_example_refused: sanitizer report" >&2
    exit 1
fi
