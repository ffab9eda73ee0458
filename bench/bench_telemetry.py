"""Telemetry analysis where the data is, against floors measured in the same run.

1. ``canary analyze`` of a JSONL file (default 1M records) vs DuckDB's own
   read-and-aggregate of the same file (per-version p95, error rate, count), interleaved.
   Target <= 1.3x.
2. ``canary analyze`` of a bigger JSONL file (default 10M records): peak RSS of the whole
   command. Target < 1 GiB.
3. ``canary analyze`` of a PostgreSQL table (default 10M rows, generated in the server)
   vs the bare aggregate query over it, interleaved. Target <= 1.5x. Needs
   GOVCTL_TEST_POSTGRES_URL.

Run: python bench/bench_telemetry.py [--quick] [--records N] [--big N] [--pg-rows N]
     [--runs K]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import report, time_interleaved
from bench_canary import DUCKDB, check_reads, gen, setup

PG_FLOOR = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as c:
    c.execute('''select version, percentile_cont(0.95) within group (order by latency_ms),
    avg(error::int), count(*) from {table} group by version''').fetchall()
"""


_PEAK = """
import resource, subprocess, sys
rc = subprocess.run(sys.argv[1:], capture_output=True).returncode
if rc not in (0, 1, 5):
    sys.exit(rc)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _pg_table(url: str, table: str, n: int) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as c:
        c.execute(f"DROP TABLE IF EXISTS {table}")
        c.execute(f"""CREATE TABLE {table} AS SELECT 'r' || i AS request_id,
            CASE WHEN random() < 0.25 THEN '2' ELSE '1' END AS version,
            round((exp(6.2 + 0.35 * sqrt(-2 * ln(random())) * cos(2 * pi() * random())))::numeric,
                  1)::double precision AS latency_ms,
            random() < 0.002 AS error, (200 + floor(random() * 1000))::bigint AS tokens_in,
            (50 + floor(random() * 250))::bigint AS tokens_out,
            0.004::double precision AS cost_usd, '2026-11-22T12:00:00Z' AS timestamp,
            0.9::double precision AS quality FROM generate_series(1, {n}) AS i""")
        c.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (request_id)")
        c.execute(f"ANALYZE {table}")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--big", type=int, default=10_000_000, help="0 skips the RSS run")
    ap.add_argument("--pg-rows", type=int, default=10_000_000, help="0 skips PostgreSQL")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true",
                    help="100,000 records, RSS on 500,000, 200,000 rows, 3 runs")
    args = ap.parse_args()
    if args.quick:
        args.records, args.big, args.pg_rows, args.runs = 100_000, 500_000, 200_000, 3
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        e = setup(tmp)
        data = tmp / "telemetry.jsonl"
        gen(data, args.records)
        govctl = check_reads(str(data), args.records, tmp, e)
        t = time_interleaved({"floor": [sys.executable, "-c", DUCKDB, str(data)],
                              "govctl": govctl}, runs=args.runs, cwd=tmp / "svc", environ=e)
        ok &= report(f"canary analyze, {args.records:,} JSONL records", t["govctl"],
                     t["floor"], 1.3)
        data.unlink()
        if args.big:
            big = tmp / "big.jsonl"
            gen(big, args.big)
            cmd = check_reads(str(big), args.big, tmp, e)
            # peak RSS of the analyze process tree alone, measured by a fresh parent
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", _PEAK, *cmd], cwd=tmp / "svc", env=e,
                                 check=True, capture_output=True, text=True).stdout
            rss = int(out.split()[-1])  # KiB
            print(f"{'PASS' if rss < 1 << 20 else 'MISS'}  canary analyze, {args.big:,} JSONL "
                  f"records: peak RSS {rss / 1024:.0f} MiB (target < 1024 MiB; "
                  f"{time.perf_counter() - t0:.1f}s)")
            ok &= rss < 1 << 20
            big.unlink()
        url = os.environ.get("GOVCTL_TEST_POSTGRES_URL")
        if args.pg_rows and url:
            dsn = url.replace("postgresql+psycopg://", "postgresql://")
            table = f"govctl_bench_{os.getpid()}"
            t0 = time.perf_counter()
            _pg_table(dsn, table, args.pg_rows)
            print(f"generated {args.pg_rows:,} rows in PostgreSQL in "
                  f"{time.perf_counter() - t0:.1f}s")
            try:
                govctl = check_reads(f"sql:{url}#{table}", args.pg_rows, tmp, e)
                t = time_interleaved(
                    {"floor": [sys.executable, "-c", PG_FLOOR.format(table=table), dsn],
                     "govctl": govctl}, runs=args.runs, cwd=tmp / "svc", environ=e)
                ok &= report(f"canary analyze, PostgreSQL table of {args.pg_rows:,} rows",
                             t["govctl"], t["floor"], 1.5)
            finally:
                import psycopg

                with psycopg.connect(dsn, autocommit=True) as c:
                    c.execute(f"DROP TABLE IF EXISTS {table}")
        elif args.pg_rows:
            print("SKIP  PostgreSQL: GOVCTL_TEST_POSTGRES_URL is not set")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
