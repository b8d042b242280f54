"""core.handoff_apart peer: as peer_handoff.py, but the two sides are two
coroutine functions, as in handoff.c built with HANDOFF_APART; ns per
hand-off."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402


REPS = 5


class State:
    def __init__(self, loop, n):
        self.loop = loop
        self.n = n
        self.inbox = [None, loop.create_future()]


async def side0(st):
    loop = st.loop
    for _ in range(st.n):
        st.inbox[0] = loop.create_future()
        st.inbox[1].set_result(st)
        await st.inbox[0]


async def side1(st):
    loop = st.loop
    for i in range(st.n):
        token = await st.inbox[1]
        st.inbox[1] = loop.create_future() if i + 1 < st.n else None
        st.inbox[0].set_result(token)


async def main(args):
    n = 10_000 if args.quick else 200_000
    loop = asyncio.get_running_loop()
    samples = []
    for _ in range(REPS):
        st = State(loop, n)
        t0 = benchpeer.now_ns()
        b = loop.create_task(side1(st))
        a = loop.create_task(side0(st))
        await a
        await b
        samples.append((benchpeer.now_ns() - t0) / (2 * n))
    benchpeer.emit("core.handoff_apart", benchpeer.median(samples), "ns")


benchpeer.run(main)
