"""``data verify``: the workspace bytes match the recorded hash, ``.dvc`` files and
``dvc.lock`` agree with the inventory, every DVC-tracked output is inventoried; and which
datasets' bytes are not in the DVC remote yet.

Everything but the bytes is read from one :class:`~govctl.data.inventory.Snapshot` (the
inventory and the lineage, which holds every ``.dvc`` record); ``dvc status`` runs once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from govctl.config import GovernedRepo
from govctl.data import lineage
from govctl.data.inventory import DatasetEntry, Finding, Snapshot
from govctl.data.links import refuse_symlinks


def _md5(path) -> str:  # noqa: ANN001 - a Path
    from govctl.data.datasets import md5_file

    return md5_file(path)


def tracked_outputs(snap: Snapshot) -> dict[str, str]:
    """Every DVC-tracked output path -> what tracks it."""
    out = {}
    for node in snap.lineage.nodes.values():
        if node.kind != "data":
            continue
        if "tracked_by" in node.attrs:
            out[node.label] = node.attrs["tracked_by"]
        elif "produced_by" in node.attrs:
            out[node.label] = f"stage {node.attrs['produced_by']}"
    return out


def _dvc_record(snap: Snapshot, e: DatasetEntry) -> lineage.Node | None:
    """The lineage node of ``PATH.dvc``'s output, or None when there is no such file."""
    node = snap.lineage.nodes.get(lineage.data_id(e.path))
    if node is None or node.attrs.get("tracked_by") != f"{e.path}.dvc":
        return None
    return node


def rehash(repo: GovernedRepo, e: DatasetEntry) -> Finding | None:
    """Hash the workspace bytes again (DVC's own check trusts its cache of file hashes,
    keyed by size, inode and modification time, which a careful edit can keep)."""
    full = repo.root / e.path
    if full.is_file():
        got = _md5(full)
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
        if _md5(p) != listed[rel]:
            return Finding(e.name, "bytes-changed", f"{e.path}/{rel} no longer matches its "
                           "recorded hash")
    return None


def verify(repo: GovernedRepo, name: str | None = None, *, rehash_all: bool = False,
           snap: Snapshot | None = None) -> list[Finding]:
    """Workspace bytes match the recorded hash; ``.dvc``/``dvc.lock`` agree with the
    inventory; every DVC-tracked output is inventoried (when checking everything).
    ``rehash_all`` hashes every byte again instead of trusting DVC's cached file hashes."""
    from govctl.adapters import dvcrepo
    from govctl.data.stamps import Stamps

    snap = snap or Snapshot(repo)
    stamps = Stamps(repo)
    entries = [snap.get(name)] if name else snap.entries
    # DVC is asked only about bytes not stamped clean since its last answer (data.stamps)
    ask = rehash_all or any(not stamps.clean(e.path, e.hash) for e in entries)
    # everything at once: DVC checks the workspace in a child process meanwhile
    whole = dvcrepo.WholeStatus(repo.root) if ask and name is None and dvcrepo.is_dvc_repo(
        repo.root) else None
    try:
        return _verify(repo, name, rehash_all, snap, whole, stamps)
    finally:
        if whole is not None:
            whole.cancel()
        stamps.save()


def _verify(repo: GovernedRepo, name: str | None, rehash_all: bool, snap: Snapshot,
            whole: Any, stamps: Any) -> list[Finding]:
    from govctl.data import upkeep

    entries = [snap.get(name)] if name else snap.entries
    if name:
        snap.focus([entries[0].path])
    g = snap.lineage
    findings: list[Finding] = []
    targets: list[str] = []
    imports: list[DatasetEntry] = []
    asked: list[DatasetEntry] = []  # DVC is asked about their bytes (stamped if unchanged)
    missing: set[str] = set()
    for e in entries:
        refuse_symlinks(repo.root, e.path)

    def unchanged(e: DatasetEntry, recorded: str | None) -> bool:  # as DVC last answered
        return not rehash_all and recorded == e.hash and stamps.clean(e.path, e.hash)
    for e in entries:
        node = g.nodes.get(lineage.data_id(e.path))
        if not (repo.root / e.path).exists():
            findings.append(Finding(e.name, "missing", f"{e.path} is missing from the workspace "
                                    "(dvc pull or dvc checkout?)"))
            missing.add(e.path)
            continue
        if e.tracked_by == "dvc-file":
            rec = _dvc_record(snap, e)
            if rec is None:
                findings.append(Finding(e.name, "untracked", f"{e.path}.dvc is missing"))
                continue
            if unchanged(e, rec.hash):
                pass
            elif "imported_from" in rec.attrs:
                imports.append(e)  # checked here: dvc status would reach for the source
            else:
                targets.append(f"{e.path}.dvc")
                if rec.hash == e.hash:
                    asked.append(e)
            if (rec.hash or "") != e.hash:
                findings.append(Finding(
                    e.name, "inventory-mismatch",
                    f"new version of {e.name}: {e.path}.dvc records {rec.hash or ''} but the "
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
            if not unchanged(e, node.hash if node else None):
                stage = node.attrs.get("produced_by", "") if node else ""
                targets.append(stage)
                if stage and node is not None and node.hash == e.hash:
                    asked.append(e)
    # with imports, only the targets (a whole-repo dvc status would reach for their sources)
    changed, status_findings = upkeep.status(repo, sorted({t for t in targets if t}), entries,
                                             snap, whole=None if imports else whole)
    findings += status_findings
    failed = {f.dataset for f in status_findings}
    for e in asked:
        if e.path not in changed and e.name not in failed:
            stamps.record(e.path, e.hash)
        else:
            stamps.forget(e.path)
    for e in imports:
        found = rehash(repo, e)
        if found is not None:
            findings.append(found)
            stamps.forget(e.path)
        else:
            stamps.record(e.path, e.hash)
    by_path = {e.path: e for e in entries}
    if rehash_all:
        for e in entries:
            if e.path not in missing and e.path not in changed:
                found = rehash(repo, e)
                if found is not None:
                    findings.append(found)
                    stamps.forget(e.path)
    for path in changed:  # whoever found it changed: no stamp says otherwise
        stamps.forget(path)
    for path, state in sorted(changed.items()):
        entry = by_path.get(path)
        if entry is not None and path not in missing:  # a missing file is reported once
            findings.append(Finding(entry.name, "bytes-changed",
                                    f"{path} was {state}: its bytes no longer match the DVC hash"))
    if name is None:
        known = {e.path for e in entries}
        skip = upkeep.not_data(repo)
        for path, tracker in sorted(tracked_outputs(snap).items()):
            if path not in known and not upkeep.excluded(path, skip):
                findings.append(Finding(path, "not-inventoried",
                                        f"{path} (tracked by {tracker}) is not in the inventory; "
                                        "add it with 'govctl data add'"))
    return findings


def dvc_target(repo: GovernedRepo, e: DatasetEntry, snap: Snapshot | None = None) -> str:
    if e.tracked_by == "dvc-file":
        return f"{e.path}.dvc"
    node = (snap or Snapshot(repo)).lineage.nodes.get(lineage.data_id(e.path))
    return node.attrs.get("produced_by", "") if node else ""


def check_pushed(repo: GovernedRepo, names: Iterable[str],
                 snap: Snapshot | None = None) -> tuple[str | None, list[Finding]]:
    """Which of the datasets are not in the DVC default remote yet. Returns (remote name,
    findings); (None, []) when no remote is configured."""
    from govctl.adapters import dvcrepo

    remote = dvcrepo.default_remote(repo.root)
    if remote is None:
        return None, []
    snap = snap or Snapshot(repo)
    found = [e for e in (snap.entry(n) for n in names) if e is not None]
    snap.focus(e.path for e in found)
    targets = {dvc_target(repo, e, snap): e.name for e in found}
    missing = dvcrepo.not_pushed(repo.root, [t for t in targets if t])
    out = []
    for e in found:
        gone = [p for p in missing if p == e.path or p.startswith(e.path + "/")]
        if gone:
            out.append(Finding(e.name, "not-pushed",
                               f"{e.path} is not in DVC remote {remote!r} ({len(gone)} "
                               "file(s) missing); run 'govctl data push'"))
    return remote, out
