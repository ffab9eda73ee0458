"""Datasets' bytes in the DVC default remote: push them, and say what is already there.

A fresh clone has no DVC cache until ``dvc pull``; DVC's cloud status calls an output that
is in the remote but not in the local cache ``deleted`` — that is *pushed*, not missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govctl.config import GovernedRepo
from govctl.data import datasets
from govctl.data.inventory import Finding
from govctl.errors import InputError


@dataclass
class PushReport:
    remote: str
    datasets: int
    pushed_files: int
    not_pushed: list[Finding] = field(default_factory=list)

    @property
    def in_remote(self) -> int:
        return self.datasets - len(self.not_pushed)

    def summary(self) -> str:
        if self.not_pushed:
            return (f"pushed {self.pushed_files} file(s); {self.in_remote} of {self.datasets} "
                    f"dataset(s) are in DVC remote {self.remote!r}")
        if self.pushed_files == 0:
            return f"all {self.datasets} dataset(s) already in DVC remote {self.remote!r}"
        return (f"pushed {self.pushed_files} file(s); all {self.datasets} dataset(s) are in "
                f"DVC remote {self.remote!r}")

    def to_json(self) -> dict[str, Any]:
        return {"remote": self.remote, "datasets": self.datasets,
                "pushed_files": self.pushed_files, "in_remote": self.in_remote,
                "not_pushed": [f.to_json() for f in self.not_pushed]}


def push(repo: GovernedRepo, names: list[str] | None = None) -> PushReport:
    """Push the named datasets (default: all) to the DVC default remote; what is still not
    there afterwards (bytes neither in this clone's cache nor in the remote) is reported."""
    from govctl.adapters import dvcrepo

    remote = dvcrepo.default_remote(repo.root)
    if remote is None:
        raise InputError("no DVC default remote is configured",
                         hint="dvc remote add -d storage s3://bucket/path (or a shared folder)")
    snap = datasets.Snapshot(repo)
    entries = [snap.get(n) for n in names] if names else snap.entries
    targets = [t for t in (datasets.dvc_target(repo, e, snap) for e in entries) if t]
    # only what the remote lacks and this clone's cache has: a fresh clone's push is a no-op
    pending = dvcrepo.not_pushed(repo.root, targets) if targets else {}
    pushed = dvcrepo.push(repo.root, targets) if any(
        v == "new" for v in pending.values()) else 0
    _remote, missing = datasets.check_pushed(repo, [e.name for e in entries], snap)
    return PushReport(remote, len(entries), pushed, missing)
