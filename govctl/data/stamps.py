"""Workspace stamps: which datasets' bytes DVC last found unchanged, so that a read such as
``checklist status`` need not start DVC (0.3–0.6 s) to learn nothing changed.

After ``dvc status`` (or a rehash) finds a dataset's bytes equal to the hash DVC recorded,
govctl stamps it: the hash and a fingerprint of every file under the path (relative path,
size, inode, modification and status-change times in nanoseconds), of the dataset's
objects in DVC's cache (an object gone is "not in cache" to DVC) and of the ``.dvcignore``
files above it (a changed ignore rule changes a directory's hash). A later check that
finds the same hash and the same fingerprint trusts the earlier answer; anything else asks
DVC again. This is the trust DVC itself places in its state cache (size, inode and mtime),
with the status-change time added, which no ``touch`` can set back. A file changed in the
last two seconds is never stamped: the file system's clock ticks coarsely, so an edit right
after the check could keep every time the same (Git calls these entries "racily clean").

The stamps live in ``.govctl/dvc-stamps.json``, local to the clone (git-ignored, never
shared). ``data verify --rehash`` ignores them and reads every byte. Whoever can write the
clone can write a stamp, as they can DVC's own state database: a release gate that must not
trust the working copy runs in a fresh clone (no stamps) or with ``--rehash``. The two-second
rule assumes file times come from this machine's clock; on a network file system whose
server's clock lags, or on Windows (where ``st_ctime`` is the creation time), set
``GOVCTL_DVC_STAMPS=0`` to ask DVC every time.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from govctl.config import GovernedRepo

__all__ = ["Stamps"]

FILE = "dvc-stamps.json"
FORMAT = "govctl-dvc-stamps/1"
RACY_NS = 2_000_000_000  # an edit within the clock's coarse tick keeps every time


def _row(label: str, path: str) -> tuple[str, int, int, int, int]:
    s = os.lstat(path)
    return (label, s.st_size, s.st_ino, s.st_mtime_ns, s.st_ctime_ns)


def _objects(root: Path, md5: str, full: Path) -> list[str]:
    """The DVC cache objects of ``md5`` in the repo's default cache: the file's, or a
    directory's manifest and every file it lists. DVC reports an output whose object is
    gone as "not in cache", so a stamp covers them too. (OSError: not all there.)"""
    base = root / ".dvc" / "cache" / "files" / "md5"
    out = [os.fspath(base / md5[:2] / md5[2:])]
    if md5.endswith(".dir"):
        with open(out[0], encoding="utf-8") as fh:
            listed = json.load(fh)
        out += [os.fspath(base / x["md5"][:2] / x["md5"][2:]) for x in listed]
    elif not os.path.isfile(full):
        raise OSError("a file hash for a directory")
    return out


def _fingerprint(root: Path, rel: str, md5: str, newest_ok: int) -> str | None:
    """A digest of the stat of every file at ``rel`` (a file or a directory, walked without
    following links), of its objects in DVC's cache and of the ``.dvcignore`` files that
    decide what the directory holds; None when something is missing, unreadable, not in
    the default cache (a cache elsewhere: DVC is always asked) or changed too recently."""
    full = root / rel
    rows: list[tuple[str, int, int, int, int]] = []
    try:
        if os.path.isdir(full) and not os.path.islink(full):
            for top, dirs, files in os.walk(full):
                dirs.sort()
                for name in sorted(files):
                    p = os.path.join(top, name)
                    rows.append(_row(os.path.relpath(p, full), p))
        else:
            rows.append(_row("", os.fspath(full)))
        rows += [_row("cache:" + p, p) for p in _objects(root, md5, full)]
        parts = Path(rel).parts
        for depth in range(len(parts)):  # the root's .dvcignore and each parent folder's
            ignore = root.joinpath(*parts[:depth], ".dvcignore")
            if ignore.exists():
                rows.append(_row("ignore:" + os.fspath(ignore), os.fspath(ignore)))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(max(r[3], r[4]) > newest_ok for r in rows):
        return None
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


class Stamps:
    """The stamps of one clone: :meth:`clean` asks, :meth:`record` stamps, :meth:`save`
    writes them (atomically; a cache: a lost or unreadable file only means DVC runs)."""

    def __init__(self, repo: GovernedRepo) -> None:
        self.enabled = os.environ.get("GOVCTL_DVC_STAMPS", "1") != "0"
        self.path = repo.state / FILE
        self.root = repo.root
        self._newest_ok = time.time_ns() - RACY_NS  # the real clock: GOVCTL_NOW is a test's
        self._dirty = False
        self._prints: dict[tuple[str, str], str | None] = {}
        try:
            data = json.loads(self.path.read_text("utf-8"))
            ok = isinstance(data, dict) and data.get("format") == FORMAT \
                and isinstance(data.get("stamps"), dict)
            self._stamps: dict[str, list[str]] = data["stamps"] if ok else {}
        except (OSError, ValueError):
            self._stamps = {}

    def _print(self, rel: str, md5: str) -> str | None:
        if (rel, md5) not in self._prints:
            self._prints[(rel, md5)] = _fingerprint(self.root, rel, md5, self._newest_ok)
        return self._prints[(rel, md5)]

    def clean(self, rel: str, md5: str) -> bool:
        """Whether DVC found ``rel``'s bytes equal to ``md5`` and no file there changed
        since."""
        got = self._stamps.get(rel)
        if not self.enabled or not (isinstance(got, list) and len(got) == 2 and got[0] == md5 and got[1]):
            return False
        return got[1] == self._print(rel, md5)

    def record(self, rel: str, md5: str) -> None:
        """``rel``'s bytes were just found equal to ``md5`` (stamped unless too recent)."""
        fp = self._print(rel, md5) if self.enabled else None
        want = [md5, fp] if fp else None
        if self._stamps.get(rel) != want:
            if want is None:
                self._stamps.pop(rel, None)
            else:
                self._stamps[rel] = want
            self._dirty = True

    def forget(self, rel: str) -> None:
        if self._stamps.pop(rel, None) is not None:
            self._dirty = True

    def save(self) -> None:
        if not self._dirty or not self.path.parent.is_dir():
            return
        from govctl.fsutil import atomic_write

        try:
            atomic_write(self.path, json.dumps({"format": FORMAT, "stamps": self._stamps},
                                               sort_keys=True) + "\n")
        except OSError:
            pass  # a read-only clone: the next check asks DVC again
        self._dirty = False
