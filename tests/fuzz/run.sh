#!/bin/sh
# run.sh OUT_CORPUS PROGRAM ARGS...: runs a fuzz target with a fresh,
# empty OUT_CORPUS directory (libFuzzer writes the inputs it finds into the
# first corpus directory it is given; the seeds in the source tree stay
# untouched, and each run starts from them alone).
set -eu
out=$1
shift
rm -rf "$out"
mkdir -p "$out"
exec "$@"
