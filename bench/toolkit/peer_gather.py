"""toolkit.gather_100k peer: asyncio.gather of 100,000 trivial coroutines;
ns per task. See gather.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402

REPS = 3


async def trivial():
    return 0


async def main(args):
    n = 10_000 if args.quick else 100_000
    samples = []
    for _ in range(REPS):
        t0 = benchpeer.now_ns()
        await asyncio.gather(*(trivial() for _ in range(n)))
        samples.append((benchpeer.now_ns() - t0) / n)
    benchpeer.emit("toolkit.gather_100k", benchpeer.median(samples), "ns")


benchpeer.run(main)
