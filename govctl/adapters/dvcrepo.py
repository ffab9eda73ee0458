"""DVC, through its Python API (internal and slow to import: only here, only lazily)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

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


def init_repo(root: Path) -> bool:
    """``dvc init`` at ``root`` (inside its git repo) unless done already. True if created."""
    if is_dvc_repo(root):
        return False
    quiet_env()
    from dvc.exceptions import DvcException
    from dvc.repo import Repo

    try:
        with quiet():
            repo = Repo.init(os.fspath(root))
        with repo.config.edit() as conf:
            conf["core"]["analytics"] = False
        repo.close()
    except DvcException as exc:
        raise ExternalError(f"dvc init failed in {root}: {exc}") from None
    return True
