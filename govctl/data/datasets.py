"""The dataset inventory: classification and governance metadata beside DVC's hashes.

One YAML file per dataset in ``registry/datasets/NAME.yaml``. DVC holds the bytes and
their hashes (``PATH.dvc`` for data added with ``govctl data add``, ``dvc.lock`` for
pipeline outputs); the inventory records the hash it saw, who owns the data, how
sensitive it is, and which regulations apply. ``verify`` checks the three agree.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from govctl import clock, probe
from govctl.config import GovernedRepo
from govctl.data import lineage
from govctl.data.links import refuse_symlinks
from govctl.documents import dump_yaml, load_model
from govctl.errors import InputError, NotFound
from govctl.fsutil import atomic_write
from govctl.signing.keys import SigningKey

Kind = Literal["raw", "train", "eval", "test", "retrieval"]
Sensitivity = Literal["public", "internal", "confidential", "restricted"]
Pii = Literal["none", "pseudonymized", "present"]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
SENSITIVITIES: tuple[str, ...] = Sensitivity.__args__  # type: ignore[attr-defined]
PIIS: tuple[str, ...] = Pii.__args__  # type: ignore[attr-defined]
NAME_RE = r"^[a-z0-9][a-z0-9._-]{0,63}$"
HELD_OUT = {"eval", "test"}


class DvcHash(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hash: Literal["md5"] = "md5"
    md5: str = Field(pattern=r"^[0-9a-f]{32}(\.dir)?$")
    size: int | None = Field(None, ge=0)
    nfiles: int | None = Field(None, ge=0)


class DatasetEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal["govctl.dataset/v1"] = Field("govctl.dataset/v1", alias="schema")
    name: str = Field(pattern=NAME_RE)
    path: str = Field(min_length=1)
    kind: Kind
    sensitivity: Sensitivity
    pii: Pii
    owner: str = Field(min_length=1)
    regulations: list[str] = Field(default_factory=list)
    retention_days: int | None = Field(None, ge=1)
    source: str | None = None
    license: str | None = None
    tracked_by: Literal["dvc-file", "pipeline"] = "dvc-file"
    dvc: DvcHash
    added: str
    added_by: str

    @field_validator("path")
    @classmethod
    def _inside(cls, v: str) -> str:
        p = PurePosixPath(v)
        if p.is_absolute() or ".." in p.parts or "\\" in v or "\0" in v or p.as_posix() != v:
            raise ValueError("must be a normalised path relative to the governed repo, "
                             "without '..'")
        return v

    @property
    def hash(self) -> str:
        return self.dvc.md5

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def inventory_dir(repo: GovernedRepo) -> Path:
    return repo.registry / "datasets"


def entry_path(repo: GovernedRepo, name: str) -> Path:
    return inventory_dir(repo) / f"{name}.yaml"


def load_entry(path: Path, *, source: str | None = None) -> DatasetEntry:
    entry = load_model(DatasetEntry, path, source=source)
    if entry.name != Path(path).stem:
        raise InputError(f"{source or path}: name {entry.name!r} does not match the file name")
    return entry


def inventory(repo: GovernedRepo) -> list[DatasetEntry]:
    probe.count(probe.INVENTORY)
    d = inventory_dir(repo)
    if not d.is_dir():
        return []
    return [load_entry(p, source=repo.rel(p)) for p in sorted(d.glob("*.yaml"))]


def get(repo: GovernedRepo, name: str) -> DatasetEntry:
    path = entry_path(repo, name)
    if not path.exists():
        known = ", ".join(e.name for e in inventory(repo)) or "none yet"
        raise NotFound(f"no dataset named {name!r} in the inventory (known: {known})")
    return load_entry(path, source=repo.rel(path))


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


@dataclass
class Finding:
    dataset: str
    code: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"dataset": self.dataset, "code": self.code, "message": self.message}

    def __str__(self) -> str:
        return f"{self.dataset}: {self.message}"


def _tracked_outputs(repo: GovernedRepo) -> dict[str, str]:
    """Every DVC-tracked output path -> what tracks it."""
    g = lineage.build(repo)
    out = {}
    for node in g.nodes.values():
        if node.kind != "data":
            continue
        if "tracked_by" in node.attrs:
            out[node.label] = node.attrs["tracked_by"]
        elif "produced_by" in node.attrs:
            out[node.label] = f"stage {node.attrs['produced_by']}"
    return out


def _rehash(repo: GovernedRepo, e: DatasetEntry) -> Finding | None:
    """Hash the workspace bytes again (DVC's own check trusts its cache of file hashes,
    keyed by size, inode and modification time, which a careful edit can keep)."""
    full = repo.root / e.path
    if full.is_file():
        got = md5_file(full)
        if got != e.hash:
            return Finding(e.name, "bytes-changed", f"{e.path} hashes to {got} but the "
                           f"inventory records {e.hash}")
        return None
    if not e.hash.endswith(".dir"):
        return Finding(e.name, "bytes-changed", f"{e.path} is a directory but the inventory "
                       "records a file hash")
    h = e.hash[: -len(".dir")]
    manifest = repo.root / ".dvc" / "cache" / "files" / "md5" / h[:2] / f"{h[2:]}.dir"
    try:
        listed = {x["relpath"]: x["md5"] for x in json.loads(manifest.read_text("utf-8"))}
    except (OSError, ValueError, KeyError, TypeError):
        return Finding(e.name, "cannot-rehash", f"{e.path}: the directory's manifest "
                       f"{repo.rel(manifest)} is not in the DVC cache (dvc pull?)")
    present = {p.relative_to(full).as_posix(): p for p in full.rglob("*") if p.is_file()}
    if set(present) != set(listed):
        extra = sorted(set(present) ^ set(listed))
        return Finding(e.name, "bytes-changed", f"{e.path}: files added or removed "
                       f"({', '.join(extra[:5])})")
    for rel, p in sorted(present.items()):
        if md5_file(p) != listed[rel]:
            return Finding(e.name, "bytes-changed", f"{e.path}/{rel} no longer matches its "
                           "recorded hash")
    return None


def verify(repo: GovernedRepo, name: str | None = None, *,
           rehash: bool = False) -> list[Finding]:
    """Workspace bytes match the recorded hash; ``.dvc``/``dvc.lock`` agree with the
    inventory; every DVC-tracked output is inventoried (when checking everything).
    ``rehash`` hashes every byte again instead of trusting DVC's cached file hashes."""
    from govctl.adapters import dvcrepo
    from govctl.data import upkeep

    entries = [get(repo, name)] if name else inventory(repo)
    findings: list[Finding] = []
    g = lineage.build(repo)
    targets = []
    imports: list[DatasetEntry] = []
    missing: set[str] = set()
    for e in entries:
        refuse_symlinks(repo.root, e.path)
    for e in entries:
        node = g.nodes.get(lineage.data_id(e.path))
        if not (repo.root / e.path).exists():
            findings.append(Finding(e.name, "missing", f"{e.path} is missing from the workspace "
                                    "(dvc pull or dvc checkout?)"))
            missing.add(e.path)
            continue
        if e.tracked_by == "dvc-file":
            rec = dvcrepo.read_dvc_file(repo.root / f"{e.path}.dvc")
            if rec is None:
                findings.append(Finding(e.name, "untracked", f"{e.path}.dvc is missing"))
                continue
            if dvcrepo.import_source(repo.root / f"{e.path}.dvc") is not None:
                imports.append(e)  # checked here: dvc status would reach for the source
            else:
                targets.append(f"{e.path}.dvc")
            if rec["md5"] != e.hash:
                findings.append(Finding(
                    e.name, "inventory-mismatch",
                    f"new version of {e.name}: {e.path}.dvc records {rec['md5']} but the "
                    f"inventory says {e.hash}; record it with 'govctl data update {e.name}'"))
        else:
            if node is None or not node.hash:
                findings.append(Finding(
                    e.name, "inventory-mismatch",
                    f"dvc.lock records nothing for {e.path} but the inventory says {e.hash}"))
            elif node.hash != e.hash:
                findings.append(Finding(
                    e.name, "inventory-mismatch",
                    f"new version of {e.name}: dvc.lock records {node.hash} for {e.path} but "
                    f"the inventory says {e.hash}; record it with 'govctl data update "
                    f"{e.name}'"))
            targets.append(node.attrs.get("produced_by", "") if node else "")
    changed, status_findings = upkeep.status(repo, [t for t in targets if t], entries)
    findings += status_findings
    for e in imports:
        found = _rehash(repo, e)
        if found is not None:
            findings.append(found)
    by_path = {e.path: e for e in entries}
    if rehash:
        for e in entries:
            if e.path not in missing and e.path not in changed:
                found = _rehash(repo, e)
                if found is not None:
                    findings.append(found)
    for path, state in sorted(changed.items()):
        e = by_path.get(path)
        if e is not None and path not in missing:  # a missing file is reported once
            findings.append(Finding(e.name, "bytes-changed",
                                    f"{path} was {state}: its bytes no longer match the DVC hash"))
    if name is None:
        known = {e.path for e in entries}
        skip = upkeep.not_data(repo)
        for path, tracker in sorted(_tracked_outputs(repo).items()):
            if path not in known and not upkeep.excluded(path, skip):
                findings.append(Finding(path, "not-inventoried",
                                        f"{path} (tracked by {tracker}) is not in the inventory; "
                                        "add it with 'govctl data add'"))
    return findings


def dvc_target(repo: GovernedRepo, e: DatasetEntry) -> str:
    if e.tracked_by == "dvc-file":
        return f"{e.path}.dvc"
    node = lineage.build(repo).nodes.get(lineage.data_id(e.path))
    return node.attrs.get("produced_by", "") if node else ""


def check_pushed(repo: GovernedRepo, names: Iterable[str]) -> tuple[str | None, list[Finding]]:
    """Which of the datasets are not in the DVC default remote yet. Returns (remote name,
    findings); (None, []) when no remote is configured."""
    from govctl.adapters import dvcrepo

    remote = dvcrepo.default_remote(repo.root)
    if remote is None:
        return None, []
    entries = {e.name: e for e in inventory(repo)}
    targets = {dvc_target(repo, entries[n]): n for n in names if n in entries}
    missing = dvcrepo.not_pushed(repo.root, [t for t in targets if t])
    out = []
    for e in (entries[n] for n in names if n in entries):
        gone = [p for p in missing if p == e.path or p.startswith(e.path + "/")]
        if gone:
            out.append(Finding(e.name, "not-pushed",
                               f"{e.path} is not in DVC remote {remote!r} ({len(gone)} "
                               "file(s) missing); run 'govctl data push'"))
    return remote, out


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


# --- policy checks (the gate calls these) ----------------------------------------------


def check_inventoried(repo: GovernedRepo, datasets: Iterable[str]) -> list[Finding]:
    """Every dataset a model used is in the inventory and classified."""
    known = {e.name: e for e in inventory(repo)}
    out = []
    for name in datasets:
        if name not in known:
            out.append(Finding(name, "not-inventoried", f"{name} is not in the inventory"))
    return out


def check_leakage(repo: GovernedRepo, training: Iterable[str],
                  evaluation: Iterable[str]) -> list[Finding]:
    """Held-out data must not feed training: compared by content hash through the
    pipeline lineage (a renamed copy of the eval set is still found), looking inside
    directories by their per-file manifests (a copy of an eval file in a directory a stage
    depends on is found whatever its name)."""
    from govctl.data import manifests

    entries = {e.name: e for e in inventory(repo)}
    g = lineage.build(repo)
    upstream: dict[str, tuple[str, str]] = {}  # hash -> (training set, where)
    for name in training:
        e = entries.get(name)
        if e is None:
            continue
        upstream.setdefault(e.hash, (name, e.path))
        for h, where in manifests.content(repo, e.path, e.hash).items():
            upstream.setdefault(h, (name, where))
        for nid in sorted(g.upstream(lineage.data_id(e.path))):
            node = g.nodes[nid]
            if node.kind != "data":
                continue
            if node.hash:
                upstream.setdefault(node.hash, (name, node.label))
            for h, where in manifests.content(repo, node.label, node.hash).items():
                upstream.setdefault(h, (name, where))
    out = []
    for name in evaluation:
        e = entries.get(name)
        if e is None:
            continue
        if e.hash in upstream:
            train, there = upstream[e.hash]
            out.append(Finding(
                name, "leakage",
                f"held-out set {name} ({e.hash[:12]}) is in the training lineage of "
                f"{train}" + ("" if there == e.path else f" as {there}")))
            continue
        for h, where in manifests.content(repo, e.path, e.hash).items():
            if h in upstream:
                train, there = upstream[h]
                out.append(Finding(
                    name, "leakage",
                    f"held-out file {where} ({h[:12]}) is in the training lineage of {train} "
                    f"as {there}"))
                break
    return out


def check_allowed(repo: GovernedRepo, datasets: Iterable[str], env: str,
                  params: dict[str, Any] | None = None) -> list[Finding]:
    """Restricted or PII-present data may not feed a release to ``env`` unless the policy
    parameters allow it: ``{"allowed_sensitivity": {...}, "allowed_pii": {...}}`` by env.

    Fails closed: an environment the parameters do not list gets production's (strictest)
    lists. Data that feeds a release's datasets through the DVC pipeline counts too: a
    restricted raw file does not become allowed by passing through a stage.
    """
    params = params or {}
    strict_sens = ["public", "internal", "confidential"]
    strict_pii = ["none", "pseudonymized"]
    sens_by_env = params.get("allowed_sensitivity") or {"production": strict_sens}
    pii_by_env = params.get("allowed_pii") or {"production": strict_pii}
    sens = sens_by_env.get(env, sens_by_env.get("production", strict_sens))
    piis = pii_by_env.get(env, pii_by_env.get("production", strict_pii))
    entries = {e.name: e for e in inventory(repo)}
    by_path = {e.path: e for e in entries.values()}
    g = lineage.build(repo)
    out = []
    seen: set[tuple[str, str]] = set()
    for name in datasets:
        e = entries.get(name)
        if e is None:
            continue
        feeding = [(e, "")]
        for nid in sorted(g.upstream(lineage.data_id(e.path))):
            up = by_path.get(nid[len("data:"):]) if nid.startswith("data:") else None
            if up is not None and up.name != name:
                feeding.append((up, f" (feeds {name} through the pipeline)"))
        for d, via in feeding:
            if d.sensitivity not in sens and (d.name, "sensitivity") not in seen:
                seen.add((d.name, "sensitivity"))
                out.append(Finding(d.name, "sensitivity", f"{d.name}{via} is {d.sensitivity}; "
                                   f"{env} allows {', '.join(sens)}"))
            if d.pii not in piis and (d.name, "pii") not in seen:
                seen.add((d.name, "pii"))
                out.append(Finding(d.name, "pii", f"{d.name}{via} has pii: {d.pii}; {env} "
                                   f"allows {', '.join(piis)}"))
    return out
