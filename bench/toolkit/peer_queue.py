"""toolkit.queue_1p1c / toolkit.queue_4p4c peer: items per second through
an asyncio.Queue(maxsize=1024), one producer and one consumer, then four of
each; consumers stop at a None per consumer. See queue.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402

REPS = 3


async def producer(q, n):
    for i in range(n):
        await q.put(i)


async def consumer(q):
    got = 0
    while True:
        item = await q.get()
        if item is None:
            return got
        got += 1


async def one_run(total, pairs):
    q = asyncio.Queue(maxsize=1024)
    per = total // pairs
    t0 = benchpeer.now_ns()
    cons = [asyncio.create_task(consumer(q)) for _ in range(pairs)]
    await asyncio.gather(*(producer(q, per) for _ in range(pairs)))
    for _ in range(pairs):
        await q.put(None)
    got = sum(await asyncio.gather(*cons))
    dt = benchpeer.now_ns() - t0
    assert got == per * pairs
    return per * pairs / (dt / 1e9)


async def main(args):
    n = 100_000 if args.quick else 1_000_000
    for pairs, name in ((1, "toolkit.queue_1p1c"), (4, "toolkit.queue_4p4c")):
        samples = [await one_run(n, pairs) for _ in range(REPS)]
        benchpeer.emit(name, benchpeer.median(samples), "ops/s", "higher")


benchpeer.run(main)
