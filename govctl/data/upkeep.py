"""Keeping the inventory in step with DVC: ``data update`` after ``dvc repro``, ``data
remove``, which pipeline outputs are not data (models, metrics, plots), and ``dvc status``
that reports per item instead of failing the whole check."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from govctl.config import GovernedRepo
from govctl.errors import ExternalError, InputError
from govctl.signing.keys import SigningKey

if TYPE_CHECKING:
    from govctl.data import datasets

# Pipeline outputs that are not datasets unless inventoried: model files and folders.
# ``[govctl] not_data = [...]`` in govctl.toml replaces the list; metrics and plots that
# dvc.yaml declares are never data.
DEFAULT_NOT_DATA = ("*.pkl", "*.joblib", "*.pt", "*.pth", "*.onnx", "*.safetensors", "*.h5",
                    "*.ckpt", "model", "models", "model/*", "models/*")


def not_data(repo: GovernedRepo) -> list[str]:
    """Globs (relative to the governed root) of pipeline outputs that need no inventory
    entry: ``not_data`` from govctl.toml (default: model files), plus every metrics and
    plots path dvc.yaml declares and the output folders that hold them."""
    from govctl.data import lineage

    globs = repo.settings.get("not_data", list(DEFAULT_NOT_DATA))
    if not isinstance(globs, list) or not all(isinstance(g, str) for g in globs):
        raise InputError(f"{repo.root / 'govctl.toml'}: not_data must be a list of globs")
    return [*globs, *lineage.reports(repo.root)]


def excluded(path: str, globs: Iterable[str]) -> bool:
    for g in globs:
        g = g.rstrip("/")
        if fnmatch.fnmatch(path, g) or fnmatch.fnmatch(path.rsplit("/", 1)[-1], g) \
                or g.startswith(path + "/"):
            return True
    return False


def status(repo: GovernedRepo, targets: list[str], entries: Iterable[Any],
           snap: Any = None, *, whole: Any = None) -> tuple[dict[str, str], list[Any]]:
    """``dvc status`` of the targets, run once (``whole``: a running
    :class:`~govctl.adapters.dvcrepo.WholeStatus` of the whole repo, which DVC does faster
    than naming every target; the caller reads the paths it knows). When it fails, target
    by target, each failure a finding naming its dataset and the whole reason (never one
    cut-off "SCM error")."""
    from govctl.adapters import dvcrepo
    from govctl.data.inventory import Finding
    from govctl.data.verify import dvc_target

    if not targets:
        return {}, []
    try:
        if whole is not None:
            return whole.modified(), []
        return dvcrepo.modified(repo.root, targets), []
    except ExternalError:
        pass
    by_target = {dvc_target(repo, e, snap): e for e in entries}
    changed: dict[str, str] = {}
    findings = []
    for t in targets:
        try:
            changed.update(dvcrepo.modified(repo.root, [t]))
        except ExternalError as exc:
            e = by_target.get(t)
            findings.append(Finding(e.name if e else t, "cannot-check",
                                    f"{exc.message} (the other datasets were checked)"))
    return changed, findings


def update(repo: GovernedRepo, key: SigningKey, name: str) -> datasets.Added:
    """Record the bytes DVC now has for dataset ``name`` (after ``dvc repro`` or a new
    ``dvc add``), keeping its classification."""
    from govctl.data import datasets

    e = datasets.get(repo, name)
    return datasets.add(
        repo, key, repo.root / e.path, name=name, kind=e.kind, sensitivity=e.sensitivity,
        pii=e.pii, owner=e.owner, regulations=e.regulations, retention_days=e.retention_days,
        source=e.source, license=e.license)


def remove(repo: GovernedRepo, key: SigningKey, name: str, reason: str | None = None) -> Any:
    """Take ``name`` out of the inventory (DVC keeps tracking its bytes), signed into the
    ledger. Refused while a registered model version names it (its lineage would dangle)."""
    from govctl import ledger, trust
    from govctl.data import datasets

    e = datasets.get(repo, name)
    policy = trust.load_verified(repo)
    trust.may_act(policy, key, "data.add")
    users = datasets.used_by(repo, name)
    if users:
        first = users[0]
        raise InputError(f"dataset {name!r} is the lineage of {first['model']} version "
                         f"{first['version']} ({len(users)} version(s)); it stays in the "
                         "inventory")
    ledger.require(repo)
    path = datasets.entry_path(repo, name)
    entry = ledger.record(repo, key, "data.remove", {"kind": "dataset", "name": name,
                                                     "path": e.path},
                          evidence={"md5": e.hash, "kind": e.kind}, note=reason)
    path.unlink()
    return entry
