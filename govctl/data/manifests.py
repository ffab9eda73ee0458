"""What is inside a DVC directory output: its per-file manifest (``.dir`` in the cache).

DVC records a directory as one ``<md5>.dir`` hash; the bytes of each file are listed in the
manifest ``.dvc/cache/files/md5/XX/YYYY.dir`` (``[{"relpath", "md5"}]``). Held-out checks
compare file hashes, so a copy of an eval file inside a directory (any name) is found.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from govctl.config import GovernedRepo

EMPTY_MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # an empty file is in every directory


def manifest_path(repo: GovernedRepo, dir_md5: str) -> Path:
    h = dir_md5[: -len(".dir")] if dir_md5.endswith(".dir") else dir_md5
    return repo.root / ".dvc" / "cache" / "files" / "md5" / h[:2] / f"{h[2:]}.dir"


def _md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def dir_manifest(repo: GovernedRepo, rel: str, dir_md5: str | None) -> dict[str, str] | None:
    """relpath -> md5 of each file of directory ``rel``: DVC's manifest when it is in the
    cache, else the workspace directory hashed (a dependency DVC never cached), else None."""
    if dir_md5 and dir_md5.endswith(".dir"):
        try:
            listed = json.loads(manifest_path(repo, dir_md5).read_text("utf-8"))
            return {str(x["relpath"]): str(x["md5"]) for x in listed}
        except (OSError, ValueError, KeyError, TypeError):
            pass
    full = repo.root / rel
    if full.is_dir():
        return {p.relative_to(full).as_posix(): _md5(p)
                for p in sorted(full.rglob("*")) if p.is_file() and ".dvc" not in p.parts}
    return None


def content(repo: GovernedRepo, rel: str, md5: str | None) -> dict[str, str]:
    """file hash -> where it is (``rel`` or ``rel/inner``): the file itself, or every
    non-empty file of a directory."""
    out: dict[str, str] = {}
    if md5 and not md5.endswith(".dir"):
        out[md5] = rel
    listed = dir_manifest(repo, rel, md5) if (md5 or "").endswith(".dir") or (
        md5 is None and (repo.root / rel).is_dir()) else None
    for inner, h in sorted((listed or {}).items()):
        if h != EMPTY_MD5:
            out.setdefault(h, f"{rel}/{inner}")
    return out
