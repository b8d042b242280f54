"""core.timers_1m peer: 1,000,000 loop.call_later callbacks with random
delays in [0, 1) s (100,000 with --quick): wall time of schedule + fire per
timer, and process CPU time per timer (core.timers_1m.cpu). See timers_1m.c."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "common"))
import benchpeer  # noqa: E402

import random  # noqa: E402
import time  # noqa: E402


async def main(args):
    n = 100_000 if args.quick else 1_000_000
    loop = asyncio.get_running_loop()
    rng = random.Random(42)
    delays = [rng.random() for _ in range(n)]
    done = loop.create_future()
    fired = 0

    def on_timer():
        nonlocal fired
        fired += 1
        if fired == n:
            done.set_result(None)

    t0, c0 = benchpeer.now_ns(), time.process_time_ns()
    call_later = loop.call_later
    for d in delays:
        call_later(d, on_timer)
    await done
    t1, c1 = benchpeer.now_ns(), time.process_time_ns()
    benchpeer.emit("core.timers_1m", (t1 - t0) / n, "ns")
    benchpeer.emit("core.timers_1m.cpu", (c1 - c0) / n, "ns")


benchpeer.run(main)
