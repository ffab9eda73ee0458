"""``dvc add`` reading the bytes once (DVC through its Python API, imported lazily).

DVC's own ``dvc add`` reads a file three times with its default cache types: to hash it,
to copy it into the cache, and to copy it back out ("relink"). Here each file is hashed
while it is copied out for the cache, DVC is told the hash (its state database) and finds
the object in its cache, and the workspace copy stays as it is.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl.adapters.dvcrepo import _cwd, _open, _record, quiet
from govctl.errors import ExternalError


def track(root: Path, rel_path: str,
          progress: Callable[[int, int], None] | None = None) -> dict[str, object]:
    """``dvc add`` one file or directory; returns its DVC hash record (see
    :func:`track_many`)."""
    return track_many(root, [rel_path], progress)[0]


def track_many(root: Path, rel_paths: list[str],
               progress: Callable[[int, int], None] | None = None) -> list[dict[str, object]]:
    """``dvc add`` files and directories in one DVC call; their DVC hash records in order.

    The bytes are read once: each file is hashed while it is copied out for the DVC cache
    (:func:`_hash_copies`, overlapping DVC's slow import and repo open in another thread),
    and DVC, finding the hash in its state database and the object in its cache, neither
    hashes nor copies it again. ``progress(done, total)`` is called at most ten times a
    second. On failure nothing DVC wrote for these paths is left behind (``.dvc`` files
    and their ``.gitignore`` lines).
    """
    import threading

    before: dict[Path, bytes | None] = {}
    for rel in rel_paths:
        for f in (Path(root) / f"{rel}.dvc", (Path(root) / rel).parent / ".gitignore"):
            before.setdefault(f, f.read_bytes() if f.exists() else None)
    opened: dict[str, Any] = {}

    def open_repo() -> None:
        try:
            opened["repo"] = _open(root)
        except BaseException as exc:  # re-raised in the calling thread below
            opened["error"] = exc

    opener = threading.Thread(target=open_repo, name="govctl-dvc-open", daemon=True)
    opener.start()
    copies: list[_Copy] = []
    try:
        copies = _hash_copies(Path(root), [Path(root) / r for r in rel_paths], progress)
    finally:
        opener.join()
        if "error" in opened:
            _drop(copies)
            raise opened["error"]
    repo = opened["repo"]
    named = rel_paths[0] if len(rel_paths) == 1 else f"of {len(rel_paths)} paths"
    try:
        from dvc.exceptions import DvcException

        try:
            with quiet(), _cwd(root):
                _into_cache(repo, copies)
                # the workspace file already is the copy DVC's default cache types make:
                # no second copy out of the cache (a hardlink/symlink cache still links)
                relink = next(iter(repo.cache.local.cache_types), "copy") in ("hardlink",
                                                                              "symlink")
                stages = repo.add(list(rel_paths), relink=relink)
            hashed = {c.path: c.md5 for c in copies}
            out = []
            for rel, stage in zip(rel_paths, stages, strict=True):
                o = stage.outs[0]
                mine = hashed.get(Path(root) / rel)
                if mine is not None and o.hash_info.value != mine:
                    raise ExternalError(f"dvc add {rel} recorded {o.hash_info.value} but "
                                        f"its bytes hash to {mine}")
                out.append(_record(o.hash_info.value, o.meta.size, o.meta.nfiles))
            return out
        except (DvcException, ExternalError) as exc:
            for f, old in before.items():
                if old is None:
                    f.unlink(missing_ok=True)
                else:
                    f.write_bytes(old)
            if isinstance(exc, ExternalError):
                raise
            raise ExternalError(f"dvc add {named} failed: {exc}") from None
    finally:
        _drop(copies)
        repo.close()


CHUNK = 4 << 20


@dataclass
class _Copy:
    path: Path  # the workspace file
    md5: str
    tmp: Path  # its copy, to become the DVC cache object


def _hash_copies(root: Path, paths: list[Path],
                 progress: Callable[[int, int], None] | None) -> list[_Copy]:
    """Read every file of ``paths`` once, hashing it (MD5, DVC's hash) while writing a copy
    in ``.dvc/tmp``. A file that changes while it is read is refused."""
    import hashlib
    import time

    files = [f for path in paths for f in ([path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not p.is_symlink()))]
    total = sum(p.stat().st_size for p in files)
    tmp_dir = root / ".dvc" / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    done, last = 0, 0.0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    out: list[_Copy] = []
    try:
        for i, f in enumerate(files):
            before = f.stat()
            h = hashlib.md5(usedforsecurity=False)
            tmp = tmp_dir / f"govctl-{os.getpid()}-{i}.copy"
            out.append(_Copy(f, "", tmp))
            with f.open("rb") as src, tmp.open("wb") as dst:
                while n := src.readinto(buf):
                    h.update(view[:n])
                    dst.write(view[:n])
                    done += n
                    now = time.monotonic()
                    if progress is not None and now - last >= 0.1:
                        progress(done, total)
                        last = now
            after = f.stat()
            if (before.st_mtime_ns, before.st_size) != (after.st_mtime_ns, after.st_size):
                raise ExternalError(f"{f} changed while it was being hashed; nothing was "
                                    "recorded")
            out[-1].md5 = h.hexdigest()
    except BaseException:
        _drop(out)
        raise
    if progress is not None:
        progress(done, total)
    return out


def _into_cache(repo: Any, copies: list[_Copy]) -> None:
    """Move the copies into DVC's cache (read-only, as DVC keeps its objects) and record
    each file's hash in DVC's state database, keyed as DVC keys it (inode, mtime, size)."""
    from dvc_data.hashfile.hash_info import HashInfo

    odb = repo.cache.local
    for c in copies:
        dest = odb.oid_to_path(c.md5)
        if not odb.exists(c.md5):
            odb.makedirs(os.path.dirname(dest))
            odb.move(os.fspath(c.tmp), dest)
            odb.protect(dest)
        repo.state.save(os.fspath(c.path), repo.fs, HashInfo("md5", c.md5))


def _drop(copies: list[_Copy]) -> None:
    for c in copies:
        c.tmp.unlink(missing_ok=True)
