"""toolkit.semaphore_uncontended / toolkit.semaphore_1000 peer: acquire +
release of a free asyncio.Semaphore (ns), and 1000 tasks each holding a
permit of Semaphore(10) across one sleep(0) (ms). See semaphore.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402

REPS = 5


async def main(args):
    n = 100_000 if args.quick else 1_000_000
    sem = asyncio.Semaphore(1)
    samples = []
    for _ in range(REPS):
        t0 = benchpeer.now_ns()
        for _ in range(n):
            await sem.acquire()
            sem.release()
        samples.append((benchpeer.now_ns() - t0) / n)
    benchpeer.emit("toolkit.semaphore_uncontended", benchpeer.median(samples), "ns")

    samples = []
    for _ in range(REPS):
        sem = asyncio.Semaphore(10)

        async def holder():
            async with sem:
                await asyncio.sleep(0)

        t0 = benchpeer.now_ns()
        await asyncio.gather(*(holder() for _ in range(1000)))
        samples.append((benchpeer.now_ns() - t0) / 1e6)
    benchpeer.emit("toolkit.semaphore_1000", benchpeer.median(samples), "ms")


benchpeer.run(main)
