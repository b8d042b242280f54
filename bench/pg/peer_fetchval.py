"""asyncpg peer of bench_pg_fetchval: SELECT $1::int fetchval, 10 workers,
pool of 10, acquire per query (pg.fetchval_pool) and held (pg.fetchval_held)."""

import asyncpg
import pgpeer
from benchpeer import now_ns

WORKERS = 10


async def main(args):
    n = 5000 if args.quick else 50000
    pool = await asyncpg.create_pool(pgpeer.dsn(), min_size=WORKERS, max_size=WORKERS)

    async def per_query(count):
        for i in range(count):
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT $1::int", i)

    async def held(count):
        async with pool.acquire() as conn:
            for i in range(count):
                await conn.fetchval("SELECT $1::int", i)

    import asyncio
    for name, fn in (("pg.fetchval_pool", per_query), ("pg.fetchval_held", held)):
        await asyncio.gather(*(fn(100) for _ in range(WORKERS)))
        t0 = now_ns()
        await asyncio.gather(*(fn(n // WORKERS) for _ in range(WORKERS)))
        pgpeer.emit(name, n / ((now_ns() - t0) / 1e9), "ops/s")
    await pool.close()


pgpeer.run(main)
