"""Adding datasets to the inventory (``data add``), who used them and their history.

The inventory's model, reading and verification live beside this module
(:mod:`~govctl.data.inventory`, :mod:`~govctl.data.verify`, :mod:`~govctl.data.checks`);
their names are re-exported here, the inventory's one API.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.data import lineage
from govctl.data.checks import check_allowed, check_inventoried, check_leakage  # noqa: F401
from govctl.data.inventory import (  # noqa: F401
    HELD_OUT,
    KINDS,
    NAME_RE,
    PIIS,
    SENSITIVITIES,
    DatasetEntry,
    DvcHash,
    Finding,
    Snapshot,
    entry_path,
    get,
    inventory,
    inventory_dir,
    load_entry,
)
from govctl.data.links import refuse_symlinks
from govctl.data.verify import check_pushed, dvc_target  # noqa: F401
from govctl.documents import dump_yaml
from govctl.errors import InputError
from govctl.fsutil import atomic_write
from govctl.signing.keys import SigningKey


def verify(repo: GovernedRepo, name: str | None = None, *, rehash: bool = False,
           snap: Snapshot | None = None) -> list[Finding]:
    """See :func:`govctl.data.verify.verify`."""
    from govctl.data import verify as verify_mod

    return verify_mod.verify(repo, name, rehash_all=rehash, snap=snap)


def _rel_inside(repo: GovernedRepo, path: Path) -> str:
    given = Path.cwd() / path if not path.is_absolute() else path
    if given.is_symlink():
        raise InputError(f"{path} is a symbolic link (to {os.readlink(given)}); add the "
                         "data itself, not a link to it; nothing was changed")
    full = given.resolve()
    try:
        rel = full.relative_to(repo.root)
    except ValueError:
        raise InputError(f"{path} is outside the governed repo {repo.root}") from None
    if not full.exists():
        raise InputError(f"{path} does not exist")
    if not rel.parts:
        raise InputError(f"{path} is the governed repo itself; add a data file or folder in it")
    if rel.parts[0] in (".git", ".dvc", ".govctl"):
        raise InputError(f"{path} is inside {rel.parts[0]}/, which govctl does not track")
    refuse_symlinks(repo.root, rel.as_posix())
    return rel.as_posix()


def _pipeline_out(repo: GovernedRepo, rel: str) -> dict[str, Any] | None:
    g = lineage.build(repo)
    node = g.nodes.get(lineage.data_id(rel))
    if node is None or "produced_by" not in node.attrs:
        return None
    if not node.hash:
        raise InputError(
            f"{rel} is produced by stage {node.attrs['produced_by']!r} but dvc.lock has no "
            "hash for it yet", hint="run 'dvc repro' first",
        )
    return {"hash": "md5", "md5": node.hash, "size": node.attrs.get("size"),
            "nfiles": node.attrs.get("nfiles")}


def md5_file(path: Path, progress: Callable[[int, int], None] | None = None) -> str:
    """Streaming MD5 (DVC's file hash), reporting (done, total) bytes as it goes."""
    h = hashlib.md5(usedforsecurity=False)
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return h.hexdigest()


def _entry(name: str, fields: dict[str, Any], record: dict[str, Any]) -> DatasetEntry:
    """A validated inventory entry; a bad field is an InputError naming it."""
    from govctl.documents import model_from_data

    return model_from_data(DatasetEntry, {**fields, "dvc": record}, f"dataset {name!r}")


def add(
    repo: GovernedRepo,
    key: SigningKey,
    path: Path,
    *,
    name: str,
    kind: str,
    sensitivity: str,
    pii: str,
    owner: str,
    regulations: Iterable[str] = (),
    retention_days: int | None = None,
    source: str | None = None,
    license: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    at: datetime | None = None,
) -> tuple[DatasetEntry, bool]:
    """Track ``path`` with DVC and record it in the inventory. Returns (entry, new_version).

    Everything is validated before DVC runs; if DVC fails nothing is left behind.
    """
    from govctl import trust
    from govctl.adapters import dvcrepo

    if not re.match(NAME_RE, name):
        raise InputError(f"invalid dataset name {name!r}: lower-case letters, digits, . _ -")
    for value, allowed, what in ((kind, KINDS, "kind"), (sensitivity, SENSITIVITIES, "sensitivity"),
                                 (pii, PIIS, "pii")):
        if value not in allowed:
            raise InputError(f"invalid --{what} {value!r}: choose from {', '.join(allowed)}")
    rel = _rel_inside(repo, Path(path))
    for parent in PurePosixPath(rel).parents:
        if str(parent) != "." and (repo.root / f"{parent}.dvc").is_file():
            raise InputError(
                f"{rel} is inside {parent}, which DVC already tracks as a whole "
                f"({parent}.dvc); inventory {parent} instead, or stop tracking it first")
    existing = entry_path(repo, name)
    previous = load_entry(existing, source=repo.rel(existing)) if existing.exists() else None
    if previous is not None and previous.path != rel:
        raise InputError(
            f"dataset {name!r} already exists for {previous.path}, not {rel}",
            hint="choose another --name, or add the new bytes at the same path",
        )
    for other in inventory(repo):
        if other.path == rel and other.name != name:
            raise InputError(f"{rel} is already in the inventory as {other.name!r}")
    policy = trust.load_verified(repo)
    trust.authorize(policy, "data.add", key)
    fields = {
        "schema": "govctl.dataset/v1",
        "name": name, "path": rel, "kind": kind, "sensitivity": sensitivity, "pii": pii,
        "owner": owner, "regulations": list(regulations), "retention_days": retention_days,
        "source": source, "license": license,
        "added": clock.to_iso(at or clock.now()), "added_by": key.name,
    }
    _entry(name, fields, {"md5": "0" * 32})  # every field checked before DVC runs
    from govctl import ledger

    ledger.require(repo)  # and the ledger is there to record it

    pipeline = _pipeline_out(repo, rel)
    imported = dvcrepo.import_source(repo.root / f"{rel}.dvc")
    if pipeline is not None:
        record, tracked_by = pipeline, "pipeline"
    elif imported is not None:  # dvc import: its .dvc is DVC's record of the source, kept
        record = dvcrepo.read_dvc_file(repo.root / f"{rel}.dvc") or {}
        tracked_by = "dvc-file"
        fields["source"] = fields["source"] or imported
    else:
        # one read of the bytes: hashed while DVC's cache copy is written
        record, tracked_by = dvcrepo.track(repo.root, rel, progress), "dvc-file"
    entry = _entry(name, {**fields, "tracked_by": tracked_by},
                   {k: v for k, v in record.items() if v is not None})
    new_version = previous is None or previous.hash != entry.hash
    atomic_write(existing, dump_yaml(entry.to_doc(), "# Dataset inventory entry; written by "
                                     "'govctl data add'. Classification fields may be edited.\n"))

    ledger.record(
        repo, key, "data.add",
        {"kind": "dataset", "name": name, "path": rel},
        evidence={"md5": entry.hash, "kind": kind, "sensitivity": sensitivity, "pii": pii},
        note=None if new_version else "unchanged bytes; metadata updated",
    )
    return entry, new_version


def used_by(repo: GovernedRepo, name: str) -> list[dict[str, str]]:
    """Model versions registered with this dataset, from the ledger."""
    from govctl.ledger.log import Ledger

    out = []
    for e in Ledger.for_repo(repo).entries(action="model.register"):
        if e.phase != "complete":
            continue
        for ds in e.evidence.get("datasets", []):
            if ds.get("name") == name:
                out.append({"model": e.subject["name"], "version": str(e.evidence["version"]),
                            "role": ds.get("role", ""), "md5": ds.get("md5", "")})
    return out


def history(repo: GovernedRepo, name: str) -> list[dict[str, Any]]:
    from govctl.adapters import gitrepo

    entry = get(repo, name)
    files = [repo.rel(entry_path(repo, name))]
    if entry.tracked_by == "dvc-file":
        files.append(f"{entry.path}.dvc")
    return gitrepo.dataset_versions(repo.root, files)
