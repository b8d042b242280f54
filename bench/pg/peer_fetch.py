"""asyncpg peer of bench_pg_fetch: SELECT g, g::text, now() FROM
generate_series(1, 1000) g, 2,000 fetches by 10 workers on 10 connections."""

import asyncio

import asyncpg
import pgpeer
from benchpeer import now_ns

WORKERS = 10


async def main(args):
    n = 200 if args.quick else 2000
    pool = await asyncpg.create_pool(pgpeer.dsn(), min_size=WORKERS, max_size=WORKERS)

    async def worker(count):
        total = 0
        async with pool.acquire() as conn:
            for _ in range(count):
                rows = await conn.fetch("SELECT g, g::text, now() FROM generate_series(1, 1000) g")
                for r in rows:
                    total += r[0] + len(r[1]) + (r[2].microsecond & 1)
        return total

    t0 = now_ns()
    await asyncio.gather(*(worker(n // WORKERS) for _ in range(WORKERS)))
    pgpeer.emit("pg.fetch", n * 1000 / ((now_ns() - t0) / 1e9), "rows/s")
    await pool.close()


pgpeer.run(main)
