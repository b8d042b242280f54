"""core.gather_sleep peer: the guide's 10 x sleep(0.1) gathered; seconds
(median of 5 runs). See gather_sleep.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402



async def fetch():
    await asyncio.sleep(0.1)


async def main(args):
    reps = 1 if args.quick else 5
    samples = []
    for _ in range(reps):
        t0 = benchpeer.now_ns()
        await asyncio.gather(*(fetch() for _ in range(10)))
        samples.append((benchpeer.now_ns() - t0) / 1e9)
    benchpeer.emit("core.gather_sleep", benchpeer.median(samples), "s")


benchpeer.run(main)
