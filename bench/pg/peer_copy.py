"""asyncpg peer of bench_pg_copy: copy_records_to_table, 100,000 rows."""

import statistics

import asyncpg
import pgpeer
from benchpeer import now_ns


async def main(args):
    n = 10000 if args.quick else 100000
    conn = await asyncpg.connect(pgpeer.dsn())
    await conn.execute("DROP TABLE IF EXISTS bench_copy_py; "
                       "CREATE UNLOGGED TABLE bench_copy_py (id int, label text)")
    rows = [(i, "label %d" % i) for i in range(n)]
    await conn.copy_records_to_table("bench_copy_py", records=rows[:100], columns=["id", "label"])
    await conn.execute("TRUNCATE bench_copy_py")
    runs = []
    for _ in range(5):
        await conn.execute("TRUNCATE bench_copy_py")
        t0 = now_ns()
        await conn.copy_records_to_table("bench_copy_py", records=rows, columns=["id", "label"])
        runs.append((now_ns() - t0) / 1e9)
    pgpeer.emit("pg.copy", n / statistics.median(runs), "rows/s")
    await conn.close()


pgpeer.run(main)
