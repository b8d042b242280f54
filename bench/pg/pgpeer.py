"""Shared by the asyncpg peers: the server (CIO_PG_DSN, or a throwaway
cluster through scripts/with-postgres.sh) and the records' impl name."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
import benchpeer  # noqa: E402

WITH_PG = os.path.join(HERE, "..", "..", "scripts", "with-postgres.sh")


def dsn():
    """The libpq DSN; re-runs this program under with-postgres.sh if unset."""
    d = os.environ.get("CIO_PG_DSN")
    if d:
        return to_uri(d)
    os.execv("/bin/sh", ["sh", WITH_PG, sys.executable] + sys.argv)


def to_uri(d):
    """asyncpg takes URIs only: "host=h port=p user=u dbname=d" -> URI."""
    if "://" in d:
        return d
    kv = dict(part.split("=", 1) for part in d.split())
    return "postgresql://%s@%s:%s/%s" % (kv.get("user", ""), kv.get("host", "localhost"),
                                         kv.get("port", "5432"), kv.get("dbname", "postgres"))


def emit(workload, value, unit):
    benchpeer.emit(workload, value, unit, better="higher", impl="asyncpg-" + benchpeer.IMPL)


def run(main):
    dsn()
    benchpeer.run(main)
