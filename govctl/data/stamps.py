"""Workspace stamps: which datasets' bytes DVC last found unchanged, so that a read such as
``checklist status`` need not start DVC (0.3–0.6 s) to learn nothing changed.

After ``dvc status`` (or a rehash) finds a dataset's bytes equal to the hash DVC recorded,
govctl stamps it: the hash and a fingerprint of every file under the path (relative path,
size, inode, modification and status-change times in nanoseconds). A later check that
finds the same hash and the same fingerprint trusts the earlier answer; anything else asks
DVC again. This is the trust DVC itself places in its state cache (size, inode and mtime),
with the status-change time added, which no ``touch`` can set back. A file changed in the
last two seconds is never stamped: the file system's clock ticks coarsely, so an edit right
after the check could keep every time the same (Git calls these entries "racily clean").

The stamps live in ``.govctl/dvc-stamps.json``, local to the clone (git-ignored, never
shared). ``data verify --rehash`` ignores them and reads every byte.
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


def _fingerprint(full: Path, newest_ok: int) -> str | None:
    """A digest of the stat of every file at ``full`` (a file or a directory, walked without
    following links); None when something is missing, unreadable or changed too recently."""
    rows: list[tuple[str, int, int, int, int]] = []
    try:
        st = os.lstat(full)
        if os.path.isdir(full) and not os.path.islink(full):
            for top, dirs, files in os.walk(full):
                dirs.sort()
                for name in sorted(files):
                    p = os.path.join(top, name)
                    s = os.lstat(p)
                    rows.append((os.path.relpath(p, full), s.st_size, s.st_ino,
                                 s.st_mtime_ns, s.st_ctime_ns))
        else:
            rows.append(("", st.st_size, st.st_ino, st.st_mtime_ns, st.st_ctime_ns))
    except OSError:
        return None
    if any(max(r[3], r[4]) > newest_ok for r in rows):
        return None
    return hashlib.sha256(json.dumps(rows).encode()).hexdigest()


class Stamps:
    """The stamps of one clone: :meth:`clean` asks, :meth:`record` stamps, :meth:`save`
    writes them (atomically; a cache: a lost or unreadable file only means DVC runs)."""

    def __init__(self, repo: GovernedRepo) -> None:
        self.path = repo.state / FILE
        self.root = repo.root
        self._newest_ok = time.time_ns() - RACY_NS  # the real clock: GOVCTL_NOW is a test's
        self._dirty = False
        self._prints: dict[str, str | None] = {}
        try:
            data = json.loads(self.path.read_text("utf-8"))
            ok = isinstance(data, dict) and data.get("format") == FORMAT \
                and isinstance(data.get("stamps"), dict)
            self._stamps: dict[str, list[str]] = data["stamps"] if ok else {}
        except (OSError, ValueError):
            self._stamps = {}

    def _print(self, rel: str) -> str | None:
        if rel not in self._prints:
            self._prints[rel] = _fingerprint(self.root / rel, self._newest_ok)
        return self._prints[rel]

    def clean(self, rel: str, md5: str) -> bool:
        """Whether DVC found ``rel``'s bytes equal to ``md5`` and no file there changed
        since."""
        got = self._stamps.get(rel)
        if not (isinstance(got, list) and len(got) == 2 and got[0] == md5 and got[1]):
            return False
        return got[1] == self._print(rel)

    def record(self, rel: str, md5: str) -> None:
        """``rel``'s bytes were just found equal to ``md5`` (stamped unless too recent)."""
        fp = self._print(rel)
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
