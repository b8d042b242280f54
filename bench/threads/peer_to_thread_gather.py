"""threads.to_thread_gather peer: 20,000 asyncio.to_thread calls gathered
at once; total seconds, median of 5 runs after one unmeasured run. See
to_thread_gather.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402


def noop(x):
    return x


async def gather(n):
    t0 = benchpeer.now_ns()
    await asyncio.gather(*(asyncio.to_thread(noop, 1) for _ in range(n)))
    return (benchpeer.now_ns() - t0) / 1e9


async def main(args):
    n = 2_000 if args.quick else 20_000
    reps = 1 if args.quick else 5
    await gather(n)
    samples = [await gather(n) for _ in range(reps)]
    benchpeer.emit("threads.to_thread_gather", benchpeer.median(samples), "s")


benchpeer.run(main)
