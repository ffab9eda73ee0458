"""The default packs (``policies/``, ``checklists/``, ``registry/``) that ``init`` copies.

Installed wheels carry them as ``govctl/_packs``; a source checkout reads them from the
repository root, where they live as govctl's own governed example.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path

PACKS = ("policies", "checklists", "registry")


def packs_root() -> Path:
    here = Path(__file__).resolve().parent
    installed = here / "_packs"
    if installed.is_dir():
        return installed
    return here.parent


def pack_files() -> list[tuple[str, Path]]:
    """(relative path, source file) for every file of every pack."""
    root = packs_root()
    out = []
    for pack in PACKS:
        base = root / pack
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                out.append((str(path.relative_to(root)), path))
    return out


@dataclass
class CopyReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # the user's edited copy, left alone


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_packs(dest: Path) -> CopyReport:
    """Copy missing pack files into ``dest``; never overwrite a file that exists."""
    report = CopyReport()
    for rel, src in pack_files():
        target = dest / rel
        if target.exists():
            (report.unchanged if _sha(target) == _sha(src) else report.kept).append(rel)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(target)
        report.created.append(rel)
    return report
