"""threads.to_thread_seq peer: 20,000 asyncio.to_thread round trips one
after another; microseconds each, median of 5 runs. See to_thread_seq.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402


def noop(x):
    return x


async def main(args):
    n = 2_000 if args.quick else 20_000
    reps = 1 if args.quick else 5
    await asyncio.to_thread(noop, 0)  # starts the default executor
    samples = []
    for _ in range(reps):
        t0 = benchpeer.now_ns()
        for _ in range(n):
            await asyncio.to_thread(noop, 1)
        samples.append((benchpeer.now_ns() - t0) / 1e3 / n)
    benchpeer.emit("threads.to_thread_seq", benchpeer.median(samples), "us")


benchpeer.run(main)
