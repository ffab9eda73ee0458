"""Start-up cost of govctl commands against bare-interpreter floors (issue: foundation).

Targets: ``govctl keys list`` <= 1.5x ``python -c "import typer, pydantic, yaml"``;
``govctl --help`` <= 3x ``python -c "import typer"``.

Run: python bench/bench_startup.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from _common import env, report, time_command


def main() -> int:
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        e = env(GOVCTL_HOME=str(Path(tmp) / "home"))
        for name in ("alice", "bob", "carol"):
            time_command([py, "-m", "govctl", "keys", "generate", name], runs=0, environ=e)
        floor_tpy = time_command([py, "-c", "import typer, pydantic, yaml"], environ=e)
        keys = time_command([py, "-m", "govctl", "keys", "list"], environ=e)
        floor_typer = time_command([py, "-c", "import typer"], environ=e)
        helptime = time_command([py, "-m", "govctl", "--help"], environ=e)
    ok = report("govctl keys list", keys, floor_tpy, 1.5)
    ok &= report("govctl --help", helptime, floor_typer, 3.0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
