"""Symbolic links in datasets are refused: a dataset's bytes live in the governed repo.

A link inside a dataset directory could point anywhere (``/etc``, a home directory, a
mounted share); DVC would hash and cache what it points to, and the inventory would vouch
for bytes govctl does not govern. ``data add`` and ``data verify`` refuse them, naming
the link, before anything is tracked or written.
"""

from __future__ import annotations

import os
from pathlib import Path

from govctl.errors import InputError


def symlinks(root: Path, rel: str) -> list[str]:
    """Repo-relative paths of the symbolic links at ``rel`` or anywhere beneath it
    (never followed)."""
    top = root / rel
    if top.is_symlink():
        return [rel]
    found: list[str] = []
    if not top.is_dir():
        return found
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in sorted([*dirnames, *filenames]):
            p = Path(dirpath) / name
            if p.is_symlink():
                found.append(p.relative_to(root).as_posix())
    return sorted(found)


def refuse_symlinks(root: Path, rel: str) -> None:
    links = symlinks(root, rel)
    if not links:
        return
    where = " -> ".join((links[0], os.readlink(root / links[0])))
    more = f" (and {len(links) - 1} more)" if len(links) > 1 else ""
    raise InputError(
        f"{rel} contains a symbolic link: {where}{more}; datasets may not contain links "
        "(their bytes must live in the governed repo); nothing was changed",
        hint="replace the link with the file it points to, or remove it",
    )
