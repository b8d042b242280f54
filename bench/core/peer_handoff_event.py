"""core.handoff_event peer: two tasks hand a token back and forth through an
event each way (asyncio.Event set / wait / clear); ns per hand-off. Both
tasks run one coroutine function, as in handoff_event.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402


REPS = 5


async def side(n, inbox, me):
    for _ in range(n):
        await inbox[me].wait()
        inbox[me].clear()
        inbox[1 - me].set()


async def main(args):
    n = 10_000 if args.quick else 200_000
    loop = asyncio.get_running_loop()
    samples = []
    for _ in range(REPS):
        inbox = [asyncio.Event(), asyncio.Event()]
        inbox[0].set()  # side 0 starts with the token
        t0 = benchpeer.now_ns()
        a = loop.create_task(side(n, inbox, 0))
        b = loop.create_task(side(n, inbox, 1))
        await a
        await b
        samples.append((benchpeer.now_ns() - t0) / (2 * n))
    benchpeer.emit("core.handoff_event", benchpeer.median(samples), "ns")


benchpeer.run(main)
