"""DVC, through its Python API (internal and slow to import: only here, only lazily)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from govctl.errors import ExternalError


def quiet_env() -> None:
    """DVC reports usage analytics unless told not to; govctl machines are offline."""
    os.environ.setdefault("DVC_NO_ANALYTICS", "1")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep DVC's info-level chatter off stdout (it would corrupt --json output)."""
    log = logging.getLogger("dvc")
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            yield
    finally:
        log.setLevel(level)


def is_dvc_repo(root: Path) -> bool:
    return (Path(root) / ".dvc").is_dir()


def init_repo(root: Path, *, site_cache_dir: Path | None = None) -> bool:
    """``dvc init`` at ``root`` (inside its git repo) unless done already. True if created.

    ``site_cache_dir`` (written to ``.dvc/config.local``): where DVC keeps its per-repo
    state and index instead of the machine-wide ``/var/tmp/dvc``. A subdirectory of a git
    repository (a monorepo) gets ``dvc init --subdir``."""
    if is_dvc_repo(root):
        return False
    quiet_env()
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    subdir = not (Path(root) / ".git").exists()
    try:
        with quiet():
            repo = Repo.init(os.fspath(root), subdir=subdir)
        with repo.config.edit() as conf:
            conf["core"]["analytics"] = False
        if site_cache_dir is not None:
            with repo.config.edit("local") as conf:
                conf["core"]["site_cache_dir"] = os.fspath(site_cache_dir)
        repo.close()
    except DvcException as exc:
        raise ExternalError(f"dvc init failed in {root}: {exc}") from None
    return True


@contextlib.contextmanager
def _cwd(root: Path) -> Iterator[None]:
    """DVC resolves paths and stage directories against the working directory."""
    old = os.getcwd()
    os.chdir(root)
    try:
        yield
    finally:
        os.chdir(old)


def _open(root: Path):  # noqa: ANN202 - dvc.repo.Repo
    quiet_env()
    from dvc.repo import Repo

    try:
        return Repo(os.fspath(root))
    except Exception as exc:  # NotDvcRepoError and friends
        raise ExternalError(f"cannot open the DVC repo at {root}: {exc}") from None


def track(root: Path, rel_path: str,
          progress: Callable[[int, int], None] | None = None) -> dict[str, object]:
    """``dvc add`` one file or directory; returns its DVC hash record.

    The bytes are read once: each file is hashed while it is copied out for the DVC cache
    (:func:`_hash_copies`, overlapping DVC's slow import and repo open in another thread),
    and DVC, finding the hash in its state database and the object in its cache, neither
    hashes nor copies it again. ``progress(done, total)`` is called at most ten times a
    second. On failure nothing DVC wrote for this path is left behind (``.dvc`` file and
    its ``.gitignore`` line).
    """
    import threading

    dvc_file = Path(root) / f"{rel_path}.dvc"
    gitignore = (Path(root) / rel_path).parent / ".gitignore"
    had_dvc = dvc_file.exists()
    old_ignore = gitignore.read_bytes() if gitignore.exists() else None
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
        copies = _hash_copies(Path(root), Path(root) / rel_path, progress)
    finally:
        opener.join()
        if "error" in opened:
            _drop(copies)
            raise opened["error"]
    repo = opened["repo"]
    try:
        from dvc.exceptions import DvcException

        try:
            with quiet(), _cwd(root):
                _into_cache(repo, copies)
                # the workspace file already is the copy DVC's default cache types make:
                # no second copy out of the cache (a hardlink/symlink cache still links)
                relink = next(iter(repo.cache.local.cache_types), "copy") in ("hardlink",
                                                                              "symlink")
                stages = repo.add([rel_path], relink=relink)
            out = stages[0].outs[0]
            if Path(root, rel_path).is_file() and copies and \
                    out.hash_info.value != copies[0].md5:
                raise ExternalError(f"dvc add {rel_path} recorded {out.hash_info.value} but "
                                    f"its bytes hash to {copies[0].md5}")
            return _record(out.hash_info.value, out.meta.size, out.meta.nfiles)
        except (DvcException, ExternalError) as exc:
            if not had_dvc and dvc_file.exists():
                dvc_file.unlink()
            if old_ignore is None and gitignore.exists():
                gitignore.unlink()
            elif old_ignore is not None:
                gitignore.write_bytes(old_ignore)
            if isinstance(exc, ExternalError):
                raise
            raise ExternalError(f"dvc add {rel_path} failed: {exc}") from None
    finally:
        _drop(copies)
        repo.close()


CHUNK = 4 << 20


@dataclass
class _Copy:
    path: Path  # the workspace file
    md5: str
    tmp: Path  # its copy, to become the DVC cache object


def _hash_copies(root: Path, path: Path,
                 progress: Callable[[int, int], None] | None) -> list[_Copy]:
    """Read every file of ``path`` once, hashing it (MD5, DVC's hash) while writing a copy
    in ``.dvc/tmp``. A file that changes while it is read is refused."""
    import hashlib
    import time

    files = [path] if path.is_file() else sorted(
        p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
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


def _record(md5: str, size: int | None, nfiles: int | None) -> dict[str, object]:
    return {"hash": "md5", "md5": md5, "size": size, "nfiles": nfiles}


def read_dvc_file(path: Path) -> dict[str, object] | None:
    """The first output of a ``.dvc`` file, read as YAML (no DVC import needed)."""
    import yaml

    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    outs = data.get("outs") or []
    if not outs:
        return None
    out = outs[0]
    return _record(str(out.get("md5", "")), out.get("size"), out.get("nfiles"))


def import_source(path: Path) -> str | None:
    """Where a ``dvc import`` / ``import-url`` ``.dvc`` file's data comes from
    (``URL@REV:PATH`` or the URL), or None for a plain ``dvc add`` file."""
    import yaml

    if not path.exists():
        return None
    data = yaml.safe_load(path.read_text("utf-8")) or {}
    deps = data.get("deps") or []
    if not deps or not isinstance(deps[0], dict):
        return None
    dep = deps[0]
    origin = dep.get("repo")
    if isinstance(origin, dict):
        rev = origin.get("rev_lock") or origin.get("rev") or ""
        return f"{origin.get('url')}@{rev}:{dep.get('path')}" if rev else \
            f"{origin.get('url')}:{dep.get('path')}"
    return str(dep.get("path"))


def _reason(exc: BaseException) -> str:
    """An exception with its causes ("SCM error: ... : git clone failed ..."), one line."""
    parts, seen = [], set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        text = " ".join(str(cur).split())
        if text and text not in parts:
            parts.append(text)
        cur = cur.__cause__ or cur.__context__
    return ": ".join(parts)[:500] or type(exc).__name__


def modified(root: Path, targets: list[str] | None) -> dict[str, str]:
    """Outputs whose workspace bytes differ from what DVC recorded: path -> state.
    ``targets`` None: every output of the repo (``dvc status`` with no targets)."""
    if targets == []:
        return {}
    repo = _open(root)
    try:
        with quiet(), _cwd(root):
            status = repo.status(targets=targets)
    except Exception as exc:
        named = " ".join(targets or [])
        if len(named) > 200:
            named = f"of {len(targets or [])} targets"
        raise ExternalError(f"dvc status {named} failed: {_reason(exc)}".replace("  ", " ")
                            ) from None
    finally:
        repo.close()
    out: dict[str, str] = {}
    for _target, items in status.items():
        for item in items:
            if isinstance(item, dict):
                for path, state in (item.get("changed outs") or {}).items():
                    out[path] = str(state)
    return out


def add_stage(root: Path, name: str, cmd: str, deps: list[str], outs: list[str]) -> None:
    """``dvc stage add`` (overwriting a stage of the same name)."""
    repo = _open(root)
    try:
        with quiet(), _cwd(root):
            repo.stage.add(name=name, cmd=cmd, deps=deps, outs=outs, force=True)
    except Exception as exc:
        raise ExternalError(f"dvc stage add {name} failed: {exc}") from None
    finally:
        repo.close()


def reproduce(root: Path) -> None:
    """``dvc repro``: run the pipeline's changed stages and record their hashes in dvc.lock."""
    repo = _open(root)
    try:
        with quiet(), _cwd(root):
            repo.reproduce()
    except Exception as exc:
        raise ExternalError(f"dvc repro failed: {exc}") from None
    finally:
        repo.close()


def default_remote(root: Path) -> str | None:
    """The DVC default remote's name, read from .dvc/config (no DVC import)."""
    import configparser

    conf = configparser.ConfigParser()
    conf.read([Path(root) / ".dvc" / "config", Path(root) / ".dvc" / "config.local"])
    for section in ("core", "'core'"):
        if conf.has_option(section, "remote"):
            return conf.get(section, "remote").strip("'\"")
    return None


def not_pushed(root: Path, targets: list[str]) -> dict[str, str]:
    """Outputs of ``targets`` (.dvc files or stage names) missing from the default remote."""
    if not targets:
        return {}
    repo = _open(root)
    try:
        with quiet(), _cwd(root):
            status = repo.status(targets=targets, cloud=True)
    except Exception as exc:
        raise ExternalError(f"checking the DVC remote failed: {exc}") from None
    finally:
        repo.close()
    # cloud status: "new" = in the cache only, "missing" = nowhere, "deleted" = in the remote
    # but not the cache (a fresh clone before dvc pull): that one is pushed
    return {str(k): str(v) for k, v in status.items() if v in ("new", "missing")}


def push(root: Path, targets: list[str] | None = None) -> int:
    """``dvc push`` to the default remote; returns the number of files pushed."""
    repo = _open(root)
    try:
        with quiet(), _cwd(root):
            return int(repo.push(targets=targets or None) or 0)
    except Exception as exc:
        raise ExternalError(f"dvc push failed: {exc}") from None
    finally:
        repo.close()
