#!/bin/sh
# Runs a command against a throwaway PostgreSQL cluster:
#   scripts/with-postgres.sh CMD [ARGS...]
# starts a cluster (tests/pg/pg_fixture.sh), exports CIO_PG_DSN, runs the
# command, stops and removes the cluster, and exits with the command's status.
# If CIO_PG_DSN is already set, just runs the command against it.
set -eu
if [ -n "${CIO_PG_DSN:-}" ]; then exec "$@"; fi
here=$(cd "$(dirname "$0")/.." && pwd)
state=$(mktemp /tmp/cio-pg-state.XXXXXX)
CIO_PG_DSN=$(sh "$here/tests/pg/pg_fixture.sh" start "$state")
export CIO_PG_DSN
status=0
"$@" || status=$?
sh "$here/tests/pg/pg_fixture.sh" stop "$state" >/dev/null 2>&1 || true
exit $status
