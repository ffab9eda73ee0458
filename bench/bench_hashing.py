"""``govctl data add`` of a 1 GiB file against ``sha256sum`` of the same file.

The file is written to /dev/shm when it has room (else the temporary folder), so both
read it from memory. Each round changes the file's first bytes (a new version: nothing
can be taken from a cache of hashes), drops the previous round's DVC cache object, then
times ``sha256sum FILE`` (the floor: one read of the bytes) and ``govctl data add FILE``
with its progress bar on a pseudo-terminal, interleaved, after a warm-up round.
Target: ``data add`` <= 1.2x ``sha256sum`` (issue 22: one read of the bytes, the
progress bar throttled).

Run: python bench/bench_hashing.py [--quick] [--mib 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import pty
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _common import env, report


def _scratch(mib: int) -> Path:
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free > 3 * (mib << 20):
        return Path(tempfile.mkdtemp(prefix="govctl-bench-hash-", dir=shm))
    return Path(tempfile.mkdtemp(prefix="govctl-bench-hash-"))


def _write(path: Path, mib: int) -> None:
    chunk = os.urandom(1 << 20)
    with path.open("wb") as fh:
        for j in range(mib):
            fh.write(chunk[j % 61:] + chunk[:j % 61])  # not all one block


def _on_terminal(argv: list[str], cwd: Path, environ: dict[str, str]) -> float:
    """Run ``argv`` with stderr on a pseudo-terminal (so the progress bar is drawn),
    draining it; returns the wall time."""
    master, slave = pty.openpty()
    drained: list[int] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:
                return
            if not data:
                return
            drained.append(len(data))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=environ, stdout=subprocess.PIPE, stderr=slave)
    elapsed = time.perf_counter() - start
    os.close(slave)
    reader.join(timeout=5)
    os.close(master)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stdout.decode()}")
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="256 MiB, 2 rounds")
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.quick:
        args.mib, args.rounds = min(args.mib, 256), min(args.rounds, 2)
    if shutil.which("sha256sum") is None:
        sys.exit("sha256sum is not installed: it is this benchmark's floor")
    py = sys.executable
    tmp = _scratch(args.mib)
    try:
        e = env(GOVCTL_HOME=str(tmp / "home"), TERM="xterm-256color", COLUMNS="100")
        repo = tmp / "svc"
        subprocess.run([py, "-m", "govctl", "init", str(repo), "--admin", "alice"],
                       env=e, check=True, capture_output=True)
        (repo / "data").mkdir()
        big = repo / "data" / "big.bin"
        _write(big, args.mib)
        add = [py, "-m", "govctl", "data", "add", "data/big.bin", "--name", "big", "--kind",
               "raw", "--sensitivity", "internal", "--pii", "none", "--owner", "bench",
               "--key", "alice"]
        floor, ours = [], []
        for i in range(args.rounds + 1):
            with big.open("r+b") as fh:  # a new version of the bytes
                fh.write(f"round {i:04d}\n".encode())
            shutil.rmtree(repo / ".dvc" / "cache", ignore_errors=True)
            start = time.perf_counter()
            subprocess.run(["sha256sum", str(big)], check=True, capture_output=True)
            t_floor = time.perf_counter() - start
            t_ours = _on_terminal(add, repo, e)
            if i:  # round 0 warms the page cache and the interpreter's files
                floor.append(t_floor)
                ours.append(t_ours)
        print(f"{args.mib} MiB in {tmp.parent}: sha256sum {statistics.median(floor):.2f} s, "
              f"govctl data add {statistics.median(ours):.2f} s (median of {args.rounds} "
              "interleaved rounds, progress bar on a terminal)")
        ok = report(f"data add of {args.mib} MiB vs sha256sum", statistics.median(ours),
                    statistics.median(floor), 1.2)
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
