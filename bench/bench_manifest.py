"""Hashing a 1 GiB model into its artifact manifest against ``sha256sum`` on the same files.

The model (three 340 MiB weight shards and a small config, 1 GiB in all) is written to a
temporary folder in /tmp. Rounds alternate ``sha256sum`` over the files (the floor) and
``govctl.registry.manifests.build`` (what ``model register`` and every verification run),
after a warm-up round that brings the files into the page cache, so both read the same
cached bytes under the same machine load. Target: govctl's rate >= 0.8x sha256sum's.

Run: python bench/bench_manifest.py [--mib 1024] [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import ROOT, report

sys.path.insert(0, str(ROOT))


def make_model(folder: Path, mib: int) -> list[Path]:
    import os

    shard = (mib - 1) // 3
    files = []
    (folder / "weights").mkdir(parents=True)
    chunk = os.urandom(1 << 20)
    for i in range(3):
        path = folder / "weights" / f"shard-{i}.bin"
        with open(path, "wb") as fh:
            for j in range(shard):
                fh.write(chunk[j % 7:] + chunk[:j % 7])  # not all one block
        files.append(path)
    rest = mib - 3 * shard
    (folder / "config.json").write_bytes(b"{}" * (rest << 19))
    files.append(folder / "config.json")
    return files


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if shutil.which("sha256sum") is None:
        sys.exit("sha256sum is not installed: it is this benchmark's floor")
    from govctl.registry import manifests

    tmp = Path(tempfile.mkdtemp(prefix="govctl-bench-manifest-", dir="/tmp"))
    try:
        files = make_model(tmp / "model", args.mib)
        total = sum(p.stat().st_size for p in files)
        floor, ours = [], []
        for i in range(args.rounds + 1):
            start = time.perf_counter()
            subprocess.run(["sha256sum", *map(str, files)], check=True, capture_output=True)
            t_floor = time.perf_counter() - start
            start = time.perf_counter()
            doc = manifests.build(tmp / "model", name="bench", source="bench")
            t_ours = time.perf_counter() - start
            if i:  # round 0 warms the page cache
                floor.append(t_floor)
                ours.append(t_ours)
        assert doc["total_size"] == total
        mib = total / (1 << 20)
        rate_floor = mib / statistics.median(floor)
        rate_ours = mib / statistics.median(ours)
        print(f"{total} bytes in {len(files)} files; sha256sum {rate_floor:.0f} MiB/s, "
              f"govctl manifest {rate_ours:.0f} MiB/s (median of {args.rounds} interleaved "
              "rounds)")
        passed = report("manifest hashing rate", rate_ours, rate_floor, 0.8, unit=" MiB/s",
                        higher_is_better=True)
        return 0 if passed else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
