"""core.handoff_event peer: two tasks hand a token back and forth through an
event each way (asyncio.Event set / wait / clear); ns per hand-off. See
handoff_event.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402


REPS = 5


async def side0(n, inbox):
    for _ in range(n):
        inbox[1].set()
        await inbox[0].wait()
        inbox[0].clear()


async def side1(n, inbox):
    for _ in range(n):
        await inbox[1].wait()
        inbox[1].clear()
        inbox[0].set()


async def main(args):
    n = 10_000 if args.quick else 200_000
    loop = asyncio.get_running_loop()
    samples = []
    for _ in range(REPS):
        inbox = [asyncio.Event(), asyncio.Event()]
        t0 = benchpeer.now_ns()
        b = loop.create_task(side1(n, inbox))
        a = loop.create_task(side0(n, inbox))
        await a
        await b
        samples.append((benchpeer.now_ns() - t0) / (2 * n))
    benchpeer.emit("core.handoff_event", benchpeer.median(samples), "ns")


benchpeer.run(main)
