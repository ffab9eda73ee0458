"""Run every benchmark in this folder and print each target's PASS/MISS line, then a summary.

Each ``bench_*.py`` measures its own floor in the same run (interleaved round by round) and
prints one ``PASS``/``MISS`` line per target through ``_common.report``; this script runs them
one after another (never in parallel: they would load each other's floor) and collects those
lines. A script that fails counts as a MISS with its exit code.

Run:  python bench/run_all.py            # full sizes (about an hour on 2 cores)
      python bench/run_all.py --quick    # small sizes: a smoke run of every script
      python bench/run_all.py -k ledger  # only the scripts whose name contains "ledger"
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def scripts(pattern: str | None) -> list[Path]:
    found = sorted(HERE.glob("bench_*.py"))
    return [p for p in found if not pattern or pattern in p.stem]


def run(script: Path, quick: bool) -> tuple[list[str], int, float]:
    argv = [sys.executable, str(script)] + (["--quick"] if quick else [])
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=HERE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        print(f"  {line.rstrip()}", flush=True)
        if line.startswith(("PASS", "MISS")):
            lines.append(line.rstrip())
    return lines, proc.wait(), time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("-k", dest="pattern", help="only scripts whose name contains this")
    args = ap.parse_args()
    results: list[tuple[str, str]] = []
    for script in scripts(args.pattern):
        print(f"== {script.name}", flush=True)
        lines, code, seconds = run(script, args.quick)
        print(f"   ({seconds:.0f} s, exit {code})", flush=True)
        results += [(script.stem, line) for line in lines]
        if code != 0 and not lines:
            results.append((script.stem, f"MISS  {script.name} failed with exit code {code}"))
    print("\n== summary" + (" (--quick sizes: ratios are indicative only)" if args.quick else ""))
    for name, line in results:
        print(f"{line}   [{name}]")
    missed = sum(1 for _, line in results if line.startswith("MISS"))
    print(f"{len(results) - missed} PASS, {missed} MISS")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
