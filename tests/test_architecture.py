"""The layer rules of CONTRIBUTING.md, checked by import-linter on every run: imports point
down the lifecycle packages, no cycles between them, and mlflow, dvc, git, sqlalchemy and
duckdb are imported only by the adapters."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--config", str(ROOT / ".importlinter")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "2 kept, 0 broken" in proc.stdout


def test_every_package_says_what_it_holds():
    for init in sorted((ROOT / "govctl").glob("*/__init__.py")):
        text = init.read_text()
        assert text.lstrip().startswith('"""'), f"{init.relative_to(ROOT)} has no docstring"
