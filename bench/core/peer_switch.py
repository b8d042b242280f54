"""core.switch peer: two tasks ping-pong through asyncio.sleep(0); ns per
switch (2n switches per run, median of 5 runs). See switch.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402


REPS = 5


async def yielder(n):
    for _ in range(n):
        await asyncio.sleep(0)


async def main(args):
    n = 20_000 if args.quick else 300_000
    samples = []
    for _ in range(REPS):
        t0 = benchpeer.now_ns()
        await asyncio.gather(yielder(n), yielder(n))
        samples.append((benchpeer.now_ns() - t0) / (2 * n))
    benchpeer.emit("core.switch", benchpeer.median(samples), "ns")


if __name__ == "__main__":
    benchpeer.run(main)
