"""DVC, through its Python API (internal and slow to import: only here, only lazily)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from govctl import probe
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
    probe.count(probe.DVC_STATUS)
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
    return _changed_outs(status)


def _changed_outs(status: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for _target, items in status.items():
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict):
                for path, state in (item.get("changed outs") or {}).items():
                    out[path] = str(state)
    return out


class WholeStatus:
    """``dvc status`` of the whole repo in a child process, started at once, so that DVC
    checks the workspace on one core while govctl reads the inventory on the other;
    :meth:`modified` waits for it (the same answer as :func:`modified` with no targets)."""

    def __init__(self, root: Path) -> None:
        import subprocess
        import sys

        self.root = root
        probe.count(probe.DVC_STATUS)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dvc", "status", "--json"], cwd=root,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            env={**os.environ, "DVC_NO_ANALYTICS": "1"})

    def modified(self) -> dict[str, str]:
        import json

        out, err = self.proc.communicate()
        lines = [x for x in err.decode("utf-8", "replace").splitlines() if x.strip()]
        if self.proc.returncode != 0:
            reason = " ".join(" ".join(lines[-3:]).split())[:500] or f"exit {self.proc.returncode}"
            raise ExternalError(f"dvc status failed: {reason}")
        try:
            status = json.loads(out.decode("utf-8") or "{}")
        except ValueError:
            raise ExternalError("dvc status --json printed something that is not JSON") from None
        return _changed_outs(status if isinstance(status, dict) else {})

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate()


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
