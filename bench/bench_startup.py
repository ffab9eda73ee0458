"""Start-up cost of govctl commands against bare-interpreter floors (issue: foundation).

Targets: ``govctl keys list`` <= 1.5x ``python -c "import typer, pydantic, yaml"``;
``govctl --help`` <= 2.5x ``python -c "import typer"`` (issue 22).

Run: python bench/bench_startup.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import env, report, time_command, time_interleaved


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="5 rounds instead of 15")
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        e = env(GOVCTL_HOME=str(Path(tmp) / "home"))
        for name in ("alice", "bob", "carol"):
            time_command([py, "-m", "govctl", "keys", "generate", name], runs=0, environ=e)
        t = time_interleaved({
            "floor_tpy": [py, "-c", "import typer, pydantic, yaml"],
            "keys": [py, "-m", "govctl", "keys", "list"],
            "floor_typer": [py, "-c", "import typer"],
            "help": [py, "-m", "govctl", "--help"],
        }, environ=e, runs=5 if args.quick else 15)
        floor_tpy, keys, floor_typer, helptime = (t["floor_tpy"], t["keys"], t["floor_typer"],
                                                  t["help"])
    ok = report("govctl keys list", keys, floor_tpy, 1.5)
    ok &= report("govctl --help", helptime, floor_typer, 2.5)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
