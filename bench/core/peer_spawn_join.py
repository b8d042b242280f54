"""core.spawn_join peer: create a trivial task and await it, one after
another; ns per spawn + join. See spawn_join.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402


REPS = 5


async def trivial():
    return 0


async def main(args):
    n = 10_000 if args.quick else 200_000
    loop = asyncio.get_running_loop()
    samples = []
    for _ in range(REPS):
        t0 = benchpeer.now_ns()
        for _ in range(n):
            await loop.create_task(trivial())
        samples.append((benchpeer.now_ns() - t0) / n)
    benchpeer.emit("core.spawn_join", benchpeer.median(samples), "ns")


benchpeer.run(main)
