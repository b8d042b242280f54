"""core.handoff peer: two tasks hand a token back and forth through a future
each way (loop.create_future / set_result / await); ns per hand-off. Both
tasks run one coroutine function, as in handoff.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402


REPS = 5


async def side(n, inbox, me):
    loop = asyncio.get_running_loop()
    for _ in range(n):
        token = await inbox[me]
        inbox[me] = loop.create_future()
        inbox[1 - me].set_result(token)


async def main(args):
    n = 10_000 if args.quick else 200_000
    loop = asyncio.get_running_loop()
    samples = []
    for _ in range(REPS):
        inbox = [loop.create_future(), loop.create_future()]
        inbox[0].set_result(inbox)  # side 0 starts with the token
        t0 = benchpeer.now_ns()
        a = loop.create_task(side(n, inbox, 0))
        b = loop.create_task(side(n, inbox, 1))
        await a
        await b
        samples.append((benchpeer.now_ns() - t0) / (2 * n))
    benchpeer.emit("core.handoff", benchpeer.median(samples), "ns")


benchpeer.run(main)
