"""Shared helpers for the Python peers of cio's benchmarks.

A peer is bench/<area>/peer_<name>.py, run by bench/run.py with
/usr/bin/python3 and ``--loop asyncio`` or ``--loop uvloop`` (and ``--quick``
for the smoke run). Like the C programs it prints one JSON record per line on
stdout and nothing else. Use it from a peer as::

    import os, sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
    import benchpeer

    async def main(args):
        ...
        benchpeer.emit("core.switch", ns_per_switch, "ns")

    benchpeer.run(main)

Stdlib only, apart from uvloop when it is asked for.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time

# The implementation name of the records this process emits: the loop's.
IMPL = None


def parse_args(extra=None):
    """Parses --loop and --quick; `extra(parser)` may add more options."""
    p = argparse.ArgumentParser()
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    p.add_argument("--quick", action="store_true", help="much smaller size (smoke run)")
    if extra:
        extra(p)
    return p.parse_args()


def new_loop(name):
    """A fresh event loop of the named kind."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def emit(workload, value, unit, better="lower", impl=None):
    """Prints one record."""
    rec = {"workload": workload, "impl": impl or IMPL, "value": float(f"{value:.6g}"),
           "unit": unit, "better": better}
    print(json.dumps(rec), flush=True)


def median(values):
    return statistics.median(values)


def now_ns():
    return time.perf_counter_ns()


def rss_bytes():
    """VmRSS of this process from /proc/self/status, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return -1


def run(main, extra=None):
    """Parses the arguments, makes the loop they ask for and runs main(args)
    on it. Exits non-zero, with the error on stderr, if main raises."""
    global IMPL
    args = parse_args(extra)
    IMPL = args.loop
    loop = new_loop(args.loop)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(main(args))
    finally:
        asyncio.set_event_loop(None)
        loop.close()
