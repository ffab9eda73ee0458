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
from dataclasses import dataclass
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
from govctl.serialize import JsonFields
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


def _pipeline_out(snap: Snapshot, rel: str) -> dict[str, Any] | None:
    node = snap.lineage.nodes.get(lineage.data_id(rel))
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


@dataclass
class NewDataset:
    """One dataset for :func:`add_many`: its path and classification."""

    path: Path
    name: str
    kind: str
    sensitivity: str
    pii: str
    owner: str
    regulations: Iterable[str] = ()
    retention_days: int | None = None
    source: str | None = None
    license: str | None = None


@dataclass(frozen=True)
class Added:
    """One dataset :func:`add` recorded: its entry, whether its bytes are a new version, and
    the inventory file it wrote (to commit)."""

    entry: DatasetEntry
    new_version: bool
    file: Path


@dataclass(frozen=True)
class Description:
    """One dataset (``data show``): its entry and the model versions registered with it."""

    entry: DatasetEntry
    used_by: list[dict[str, str]]

    def to_json(self) -> dict[str, Any]:
        return {**self.entry.to_doc(), "used_by": self.used_by}


def add(repo: GovernedRepo, key: SigningKey, path: Path, *, name: str, kind: str,
        sensitivity: str, pii: str, owner: str, regulations: Iterable[str] = (),
        retention_days: int | None = None, source: str | None = None,
        license: str | None = None, progress: Callable[[int, int], None] | None = None,
        at: datetime | None = None) -> Added:
    """Track ``path`` with DVC and record it in the inventory.

    Everything is validated before DVC runs; if DVC fails nothing is left behind.
    """
    item = NewDataset(path, name, kind, sensitivity, pii, owner, regulations,
                      retention_days, source, license)
    return add_many(repo, key, [item], progress=progress, at=at)[0]


def _check(repo: GovernedRepo, snap: Snapshot, it: NewDataset) -> str:
    """``it`` validated against the repo and the inventory; returns its repo path."""
    if not re.match(NAME_RE, it.name):
        raise InputError(f"invalid dataset name {it.name!r}: lower-case letters, digits, . _ -")
    for value, allowed, what in ((it.kind, KINDS, "kind"),
                                 (it.sensitivity, SENSITIVITIES, "sensitivity"),
                                 (it.pii, PIIS, "pii")):
        if value not in allowed:
            raise InputError(f"invalid --{what} {value!r}: choose from {', '.join(allowed)}")
    rel = _rel_inside(repo, Path(it.path))
    for parent in PurePosixPath(rel).parents:
        if str(parent) != "." and (repo.root / f"{parent}.dvc").is_file():
            raise InputError(
                f"{rel} is inside {parent}, which DVC already tracks as a whole "
                f"({parent}.dvc); inventory {parent} instead, or stop tracking it first")
        node = snap.lineage.nodes.get(lineage.data_id(str(parent)))
        stage = node.attrs.get("produced_by") if node is not None else None
        if str(parent) != "." and stage:
            raise InputError(
                f"{rel} is inside {parent}, a directory output of stage {stage!r}; a "
                f"pipeline output is inventoried as a whole",
                hint=f"govctl data add {parent} --name NAME ... (its per-file manifest is "
                     "recorded with it)")
    previous = snap.by_name.get(it.name)
    if previous is not None and previous.path != rel:
        raise InputError(
            f"dataset {it.name!r} already exists for {previous.path}, not {rel}",
            hint="choose another --name, or add the new bytes at the same path",
        )
    other = snap.by_path.get(rel)
    if other is not None and other.name != it.name:
        raise InputError(f"{rel} is already in the inventory as {other.name!r}")
    return rel


def add_many(repo: GovernedRepo, key: SigningKey, items: list[NewDataset], *,
             progress: Callable[[int, int], None] | None = None,
             at: datetime | None = None) -> list[Added]:
    """:func:`add` for many datasets at once: one inventory read, one ``dvc add`` of every
    path DVC must track, one ledger append (an entry per dataset, one checkpoint). All
    are validated before DVC runs; nothing is written if one is refused."""
    from govctl import trust
    from govctl.adapters import dvcrepo
    from govctl.adapters.gitrepo import head_commit
    from govctl.ledger.log import Ledger

    snap = Snapshot(repo)
    rels = [_check(repo, snap, it) for it in items]
    for seen, what in ((rels, "path"), ([it.name for it in items], "name")):
        dup = sorted({x for x in seen if seen.count(x) > 1})
        if dup:
            raise InputError(f"the same {what} is added twice: {', '.join(dup)}")
    trust.authorize(trust.load_verified(repo), "data.add", key)
    when = clock.to_iso(at or clock.now())
    fields = [{
        "schema": "govctl.dataset/v1", "name": it.name, "path": rel, "kind": it.kind,
        "sensitivity": it.sensitivity, "pii": it.pii, "owner": it.owner,
        "regulations": list(it.regulations), "retention_days": it.retention_days,
        "source": it.source, "license": it.license, "added": when, "added_by": key.name,
    } for it, rel in zip(items, rels, strict=True)]
    for it, f in zip(items, fields, strict=True):
        _entry(it.name, f, {"md5": "0" * 32})  # every field checked before DVC runs
    from govctl import ledger as ledger_mod

    ledger_mod.require(repo)  # and the ledger is there to record it
    records: list[tuple[dict[str, Any], str] | None] = []
    for rel, f in zip(rels, fields, strict=True):
        pipeline = _pipeline_out(snap, rel)
        imported = lineage.import_source_of(repo.root / f"{rel}.dvc")
        if pipeline is not None:
            records.append((pipeline, "pipeline"))
        elif imported is not None:  # dvc import: its .dvc is DVC's record of the source, kept
            records.append((dvcrepo.read_dvc_file(repo.root / f"{rel}.dvc") or {}, "dvc-file"))
            f["source"] = f["source"] or imported
        else:
            records.append(None)
    todo = [rel for rel, r in zip(rels, records, strict=True) if r is None]
    # one read of the bytes: hashed while DVC's cache copy is written
    from govctl.adapters import dvcadd

    tracked = iter(dvcadd.track_many(repo.root, todo, progress) if todo else [])
    out, events, commit = [], [], head_commit(repo.root)
    for it, rel, f, r in zip(items, rels, fields, records, strict=True):
        record, tracked_by = r if r is not None else (next(tracked), "dvc-file")
        entry = _entry(it.name, {**f, "tracked_by": tracked_by},
                       {k: v for k, v in record.items() if v is not None})
        previous = snap.by_name.get(it.name)
        new_version = previous is None or previous.hash != entry.hash
        file = entry_path(repo, it.name)
        atomic_write(file, dump_yaml(
            entry.to_doc(), "# Dataset inventory entry; written by 'govctl data add'. "
            "Classification fields may be edited.\n"))
        out.append(Added(entry, new_version, file))
        events.append({"action": "data.add",
                       "subject": {"kind": "dataset", "name": it.name, "path": rel},
                       "evidence": {"md5": entry.hash, "kind": it.kind,
                                    "sensitivity": it.sensitivity, "pii": it.pii},
                       "git_commit": commit,
                       "note": None if new_version else "unchanged bytes; metadata updated"})
    Ledger.for_repo(repo).append_many(key, events)
    return out


def used_by(repo: GovernedRepo, name: str) -> list[dict[str, str]]:
    """Model versions registered with this dataset, from the ledger."""
    from govctl.ledger.log import Ledger

    out = []
    for e in Ledger.for_repo(repo).versions("model.register"):
        for ds in e.evidence.get("datasets", []):
            if ds.get("name") == name:
                out.append({"model": e.subject["name"], "version": str(e.evidence["version"]),
                            "role": ds.get("role", ""), "md5": ds.get("md5", "")})
    return out


def describe(repo: GovernedRepo, name: str) -> Description:
    """Dataset ``name`` with the model versions registered with it."""
    return Description(get(repo, name), used_by(repo, name))


@dataclass(frozen=True)
class DatasetVersion(JsonFields):
    """One commit that changed the dataset's inventory entry or ``.dvc`` file."""

    commit: str
    date: str
    author: str
    message: str
    md5: str | None


def history(repo: GovernedRepo, name: str) -> list[DatasetVersion]:
    """The dataset's versions over the git history, newest first."""
    from govctl.adapters import gitrepo

    entry = get(repo, name)
    files = [repo.rel(entry_path(repo, name))]
    if entry.tracked_by == "dvc-file":
        files.append(f"{entry.path}.dvc")
    return [DatasetVersion(str(v["commit"]), str(v["date"]), str(v["author"]),
                           str(v["message"]), v["md5"] if isinstance(v["md5"], str) else None)
            for v in gitrepo.dataset_versions(repo.root, files)]
