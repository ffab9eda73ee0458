"""``govctl canary analyze`` on a 1,000,000-record JSONL file (~200 MB), end to end, as a
ratio to DuckDB reading the same file and computing per-version p95 latency, error rate
and count, interleaved in the same run. Target: <= 2x (bench_telemetry.py holds the
tighter issue-24 targets).

The repo's agreement is signed by its three roles first: unsigned, ``canary analyze``
stops at the limits before reading a record, and the timing would measure nothing (each
run checks that every record was analysed).

Run: pip install -e ".[bench]" && python bench/bench_canary.py [--records N] [--quick]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, env, report, time_interleaved


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


def setup(tmp: Path) -> dict[str, str]:
    """A governed repo ``tmp/svc`` whose agreement for ``svc`` is in force (signed by the
    eng lead, product owner and compliance). Returns the environment to run govctl in."""
    e = env(GOVCTL_HOME=str(tmp / "home"))

    def run(*argv: str, cwd: Path | None = None) -> None:
        subprocess.run([sys.executable, "-m", "govctl", *argv], env=e, cwd=cwd, check=True,
                       capture_output=True)

    run("init", str(tmp / "svc"), "--admin", "bench")
    svc = tmp / "svc"
    run("agreement", "new", "svc", cwd=svc)
    for name, role in (("erin", "eng-lead"), ("paul", "product-owner"), ("cora", "compliance")):
        run("keys", "generate", name, cwd=svc)
        run("trust", "add", name, "--role", role, "--key", "bench", cwd=svc)
        run("agreement", "sign", "svc", "--key", name, cwd=svc)
    return e


def analyze_cmd(source: str) -> list[str]:
    return [sys.executable, "-m", "govctl", "canary", "analyze", "svc", "--telemetry", source,
            "--baseline", "1", "--canary", "2"]


def check_reads(source: str, records: int, tmp: Path, e: dict[str, str]) -> list[str]:
    """Refuse to time a command that does not analyse every record. Returns the command to
    time: itself when the verdict exits 0 or 1 (what the timer accepts), else through a
    wrapper that accepts exit 5 (inconclusive)."""
    proc = subprocess.run([*analyze_cmd(source), "--json"], cwd=tmp / "svc", env=e,
                          capture_output=True, text=True)
    try:
        seen = json.loads(proc.stdout)["telemetry"]["records"]
    except (ValueError, KeyError):
        sys.exit(f"canary analyze {source} did not analyse (exit {proc.returncode}): "
                 f"{proc.stderr.strip()[:300]}")
    if seen != records:
        sys.exit(f"canary analyze {source} read {seen} records, expected {records}")
    if proc.returncode in (0, 1):  # pass or fail: time the command itself
        return analyze_cmd(source)
    return [sys.executable, str(ROOT / "bench" / "_run_ok.py"), *analyze_cmd(source)[1:]]


def gen(path: Path, n: int) -> None:
    t0 = time.perf_counter()
    generate(path, n)
    print(f"generated {n:,} records, {path.stat().st_size / 1e6:.0f} MB in "
          f"{time.perf_counter() - t0:.1f}s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="100,000 records, 3 runs")
    args = ap.parse_args()
    if args.quick:
        args.records, args.runs = 100_000, 3
    try:
        import duckdb  # noqa: F401
    except ImportError:
        sys.exit("install the floor first: pip install -e '.[bench]'")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        e = setup(tmp)
        data = tmp / "telemetry.jsonl"
        gen(data, args.records)
        govctl = check_reads(str(data), args.records, tmp, e)
        t = time_interleaved({"floor": [sys.executable, "-c", DUCKDB, str(data)],
                              "govctl": govctl}, runs=args.runs, cwd=tmp / "svc", environ=e)
    ok = report(f"canary analyze, {args.records:,} JSONL records (vs DuckDB's own read)",
                t["govctl"], t["floor"], 2.0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
