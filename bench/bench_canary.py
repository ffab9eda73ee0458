"""``govctl canary analyze`` on a 1,000,000-record JSONL file (~150 MB), end to end, as a
ratio to DuckDB reading the same file and computing per-version p95 latency, error rate
and count in the same run. Target: <= 2x.

Run: pip install -e ".[bench]" && python bench/bench_canary.py [--records N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, env, report, time_command


def generate(path: Path, n: int) -> None:
    import polars as pl

    rng = np.random.default_rng(1)
    version = np.where(rng.random(n) < 0.25, "2", "1")
    tin = rng.integers(200, 1200, n)
    tout = rng.integers(50, 300, n)
    pl.DataFrame({
        "request_id": [f"r{i}" for i in range(n)],
        "version": version,
        "latency_ms": np.round(rng.lognormal(6.2, 0.35, n), 1),
        "error": rng.random(n) < 0.002,
        "tokens_in": tin,
        "tokens_out": tout,
        "cost_usd": np.round(tin * 2e-6 + tout * 8e-6, 6),
        "timestamp": ["2026-11-22T12:00:00Z"] * n,
        "session_id": [f"s{i % 50000}" for i in range(n)],
        "quality": np.round(np.clip(rng.normal(0.9, 0.05, n), 0, 1), 3),
    }).write_ndjson(path)


DUCKDB = """
import duckdb, sys
duckdb.sql(f'''select version, quantile_cont(latency_ms, 0.95) p95, avg(error::int) err,
count(*) n from read_json_auto('{sys.argv[1]}') group by version''').fetchall()
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    args = ap.parse_args()
    try:
        import duckdb  # noqa: F401
    except ImportError:
        sys.exit("install the floor first: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "telemetry.jsonl"
        t0 = time.perf_counter()
        generate(data, args.records)
        print(f"generated {args.records:,} records, {data.stat().st_size / 1e6:.0f} MB in "
              f"{time.perf_counter() - t0:.1f}s")
        e = env(GOVCTL_HOME=str(tmp / "home"))
        subprocess.run([sys.executable, "-m", "govctl", "init", str(tmp / "svc"), "--admin",
                        "bench"], env=e, check=True, capture_output=True)
        subprocess.run([sys.executable, "-m", "govctl", "agreement", "new", "svc"], env=e,
                       cwd=tmp / "svc", check=True, capture_output=True)
        floor = time_command([sys.executable, "-c", DUCKDB, str(data)], runs=3, environ=e)
        govctl = time_command([sys.executable, str(ROOT / "bench" / "_run_ok.py"), "-m",
                               "govctl", "canary", "analyze", "svc", "--telemetry", str(data),
                               "--baseline", "1", "--canary", "2"], runs=3, cwd=tmp / "svc",
                              environ=e)
    return 0 if report("canary analyze, 1M records", govctl, floor, 2.0) else 1


if __name__ == "__main__":
    sys.exit(main())
