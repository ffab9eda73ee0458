"""Helpers for the benchmarks: time whole commands, print ratios against a floor.

Every benchmark measures its own floor in the same run (same machine, same load), so the
printed ratio means something on a busy shared machine where absolute seconds do not.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def compile_govctl() -> None:
    """Byte-compile govctl's modules, as an installed package's are (pip compiles them; a
    checkout's are compiled on first import). An environment that sets
    PYTHONDONTWRITEBYTECODE would otherwise compile ~60 modules from source on every timed
    run (~80 ms), which is not what a user's command costs; the floors' libraries are
    installed, hence compiled."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "govctl")],
                   check=True, capture_output=True)


compile_govctl()


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", **extra}


def time_command(argv: list[str], *, runs: int = 7, cwd: Path | None = None,
                 environ: dict[str, str] | None = None) -> float:
    """Median wall time of ``argv`` over ``runs`` runs (after one warm-up)."""
    samples = []
    for i in range(runs + 1):
        start = time.perf_counter()
        proc = subprocess.run(argv, cwd=cwd, env=environ or env(), capture_output=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr.decode()}")
        if i:
            samples.append(elapsed)
    return statistics.median(samples) if samples else 0.0


Command = list[str] | tuple[list[str], Path, dict[str, str]]  # argv, or (argv, cwd, env)


def time_interleaved(commands: dict[str, Command], *, runs: int = 15, cwd: Path | None = None,
                     environ: dict[str, str] | None = None,
                     alternate: bool = False) -> dict[str, float]:
    """Median wall time of each command, run in rounds (one of each per round, after a
    warm-up round) so that a load change on a shared machine hits floor and subject alike.
    A command given as (argv, cwd, env) runs there instead of in ``cwd``/``environ``;
    ``alternate`` reverses the order every other round (no command always runs first)."""
    samples: dict[str, list[float]] = {k: [] for k in commands}
    for i in range(runs + 1):
        order = list(commands.items())
        for name, spec in (order[::-1] if alternate and i % 2 else order):
            argv, where, e = spec if isinstance(spec, tuple) else (spec, cwd, environ)
            start = time.perf_counter()
            proc = subprocess.run(argv, cwd=where, env=e or env(), capture_output=True)
            elapsed = time.perf_counter() - start
            if proc.returncode not in (0, 1):  # 1: a hook that found something
                sys.exit(f"{' '.join(argv)} failed ({proc.returncode}):\n"
                         f"{proc.stderr.decode()}")
            if i:
                samples[name].append(elapsed)
    return {k: statistics.median(v) for k, v in samples.items()}


def report(name: str, measured: float, floor: float, target: float, *, unit: str = "s",
           higher_is_better: bool = False) -> bool:
    ratio = measured / floor if floor else float("inf")
    ok = ratio >= target if higher_is_better else ratio <= target
    cmp = ">=" if higher_is_better else "<="
    print(f"{'PASS' if ok else 'MISS'}  {name}: {measured:.3f}{unit} vs floor {floor:.3f}{unit} "
          f"= {ratio:.2f}x (target {cmp} {target}x)")
    return ok
