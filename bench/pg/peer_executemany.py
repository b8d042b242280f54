"""asyncpg peer of bench_pg_executemany: 100,000 rows (int, text)."""

import statistics

import asyncpg
import pgpeer
from benchpeer import now_ns


async def main(args):
    n = 10000 if args.quick else 100000
    conn = await asyncpg.connect(pgpeer.dsn())
    await conn.execute("DROP TABLE IF EXISTS bench_many_py; "
                       "CREATE UNLOGGED TABLE bench_many_py (id int, label text)")
    rows = [(i, "label %d" % i) for i in range(n)]
    await conn.executemany("INSERT INTO bench_many_py VALUES ($1, $2)", rows[:100])
    await conn.execute("TRUNCATE bench_many_py")
    runs = []
    for _ in range(5):
        await conn.execute("TRUNCATE bench_many_py")
        t0 = now_ns()
        await conn.executemany("INSERT INTO bench_many_py VALUES ($1, $2)", rows)
        runs.append((now_ns() - t0) / 1e9)
    pgpeer.emit("pg.executemany", n / statistics.median(runs), "rows/s")
    await conn.close()


pgpeer.run(main)
