"""core.sleepers_1m peer: 1,000,000 tasks asleep at once (100,000 with
--quick): RSS per task, seconds to spawn all (and let each reach its sleep),
seconds to cancel all and await each. See sleepers_1m.c."""
import asyncio
import os
import resource
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402



async def sleeper():
    await asyncio.sleep(3600)


async def main(args):
    n = 100_000 if args.quick else 1_000_000
    loop = asyncio.get_running_loop()
    tasks = [None] * n

    rss0 = benchpeer.rss_bytes()
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    t0 = benchpeer.now_ns()
    for i in range(n):
        tasks[i] = loop.create_task(sleeper())
    await asyncio.sleep(0)  # every new task runs once, up to its sleep
    t1 = benchpeer.now_ns()
    rss1 = benchpeer.rss_bytes()
    f1 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt

    for t in tasks:
        t.cancel()
    for t in tasks:
        try:
            await t
        except asyncio.CancelledError:
            pass
        else:
            raise RuntimeError("a sleeper was not cancelled")
    t2 = benchpeer.now_ns()

    benchpeer.emit("core.sleepers_1m.rss_per_task", (rss1 - rss0) / n, "B")
    benchpeer.emit("core.sleepers_1m.spawn", (t1 - t0) / 1e9, "s")
    benchpeer.emit("core.sleepers_1m.cancel", (t2 - t1) / 1e9, "s")
    benchpeer.emit("core.sleepers_1m.faults_per_task", (f1 - f0) / n, "faults")


benchpeer.run(main)
