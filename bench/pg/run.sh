#!/bin/sh
# Runs every PostgreSQL benchmark and its asyncpg peers (asyncio and
# uvloop) on one throwaway cluster, same server, same run:
#   sh bench/pg/run.sh [BUILD_DIR] [--quick]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build}
shift || true
exec sh "$here/../../scripts/with-postgres.sh" sh -c '
    build=$1; here=$2; shift 2
    for name in fetchval fetch executemany copy; do
        "$build/bench/bench_pg_$name" "$@"
        for loop in asyncio uvloop; do
            /usr/bin/python3 "$here/peer_$name.py" --loop $loop "$@"
        done
    done' sh "$build" "$here" "$@"
