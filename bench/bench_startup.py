"""Start-up cost of govctl commands against bare-interpreter floors (issue: foundation).

Targets: ``govctl keys list`` <= 1.5x ``python -c "import typer, pydantic, yaml"``;
``govctl --help`` <= 3x ``python -c "import typer"``.

Run: python bench/bench_startup.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import env, report, time_command, time_interleaved


def main() -> int:
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
        }, environ=e)
        floor_tpy, keys, floor_typer, helptime = (t["floor_tpy"], t["keys"], t["floor_typer"],
                                                  t["help"])
    ok = report("govctl keys list", keys, floor_tpy, 1.5)
    ok &= report("govctl --help", helptime, floor_typer, 3.0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
