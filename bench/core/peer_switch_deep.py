"""core.switch_deep peer: as peer_switch.py, but one of the two tasks awaits
sleep(0) through three nested coroutines; ns per switch (2n switches per
run, median of 5 runs). See switch.c."""
import asyncio
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "common"))
sys.path.insert(0, here)
import benchpeer  # noqa: E402
from peer_switch import REPS, yielder  # noqa: E402


async def level3():
    await asyncio.sleep(0)


async def level2():
    await level3()


async def level1():
    await level2()


async def deep(n):
    for _ in range(n):
        await level1()


async def main(args):
    n = 20_000 if args.quick else 300_000
    samples = []
    for _ in range(REPS):
        t0 = benchpeer.now_ns()
        await asyncio.gather(yielder(n), deep(n))
        samples.append((benchpeer.now_ns() - t0) / (2 * n))
    benchpeer.emit("core.switch_deep", benchpeer.median(samples), "ns")


benchpeer.run(main)
