#!/bin/sh
# A project that vendors cio: configures tests/install/vendored/, which
# pulls in cio's source tree with add_subdirectory, builds its two programs
# (and, through them, only the libraries they need: no tests, examples or
# benchmarks of cio's own) and runs them.
#   sh vendored.sh SOURCE_DIR [CC] [SANITIZERS]
set -eu
src=$1
cc=${2:-cc}
flags=""
[ -n "${3:-}" ] && flags="-fsanitize=$3"
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cmake -S "$here/vendored" -B "$tmp" -DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="$flags" \
    -DCIO_SOURCE_DIR="$src" >/dev/null
# cio's own tests must not be part of a vendoring build.
if [ -d "$tmp/cio/tests" ]; then
    echo "cio's tests were configured in a vendoring project" >&2
    exit 1
fi
cmake --build "$tmp" -j2 >/dev/null
out=$("$tmp/fetch_users")
echo "$out"
case "$out" in "Fetched 10 users in 0.1"[0-9]"s") ;; *) exit 1 ;; esac
out=$("$tmp/line_server")
echo "$out"
[ "$out" = "50 pings: all answered" ]
