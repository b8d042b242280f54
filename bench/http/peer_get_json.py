"""aiohttp peer of bench_http_get_json: 20,000 GETs of /user.json from
nginx, 100 concurrent (100 tasks sharing one ClientSession), each parsed
with response.json(). Median of 3 runs after a warm-up. Impl
"aiohttp-<loop>"; also the client's CPU time per request."""

import asyncio
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "common"))
sys.path.insert(0, HERE)

import aiohttp  # noqa: E402
import benchpeer  # noqa: E402
from nginx_fixture import Nginx  # noqa: E402

CONCURRENCY = 100


async def batch(session, url, n):
    left = [n]

    async def worker():
        while left[0] > 0:
            left[0] -= 1
            async with session.get(url) as resp:
                data = await resp.json()
                assert data["id"] == 42

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def main(args):
    n = 2000 if args.quick else 20000
    with Nginx() as ng:
        url = ng.base + "/user.json"
        async with aiohttp.ClientSession() as session:
            await batch(session, url, 2000)
            rates, cpu = [], []
            for _ in range(3):
                t0, c0 = benchpeer.now_ns(), time.process_time()
                await batch(session, url, n)
                rates.append(n / ((benchpeer.now_ns() - t0) / 1e9))
                cpu.append((time.process_time() - c0) * 1e6 / n)
    benchpeer.emit("http.get_json_20k_c100", benchpeer.median(rates), "ops/s", better="higher",
                   impl=f"aiohttp-{args.loop}")
    benchpeer.emit("http.get_json_20k_c100.client_cpu", benchpeer.median(cpu), "us",
                   better="lower", impl=f"aiohttp-{args.loop}")


benchpeer.run(main)
