"""Artifact manifests: the bytes that passed the gate are the bytes that serve.

At ``model register`` every file of the model's artifacts is hashed (streamed, SHA-256)
into a manifest: path, size and digest per file, sorted by path. The manifest's digest
(``sha256:`` of its RFC 8785 canonical JSON) is the version's identity for integrity: it is
written to the version tag ``govctl.manifest_sha256``, into the signed ``model.register``
ledger entry, and the manifest itself to ``registry/manifests/SERVICE/VERSION.json``.

:func:`verify` re-hashes the artifacts MLflow would serve for a version against the
manifest the ledger pins, and raises :class:`~govctl.errors.IntegrityError` (exit 4)
naming the first file that differs. The gate, promote, canary advance, rollback and the
serving loader (:func:`govctl.release.routing.verified_model_path`) all call it.

The ``serialization`` and ``resources`` fields follow the OpenSSF model-signing v1.0
predicate (``https://model_signing/signature/v1.0``, method ``files``), and
``root_digest`` is the digest model-signing puts in its statement's subject: SHA-256 over
the raw per-file digests in path order. See docs/registry.md for what is compatible.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import CheckFailed, InputError, IntegrityError, NotFound
from govctl.signing.canonical import digest, strict_loads

SCHEMA = "govctl.artifact-manifest/v1"
TAG = "govctl.manifest_sha256"
GATE_CHECK = "artifacts.integrity"  # the gate's evidence check (release/gate.py)
CHUNK = 1 << 20  # 1 MiB reads: the per-call cost vanishes beside SHA-256 itself
SERIALIZATION = {"method": "files", "hash_type": "sha256", "allow_symlinks": False,
                 "ignore_paths": []}

Progress = Callable[[int, int], None]  # (bytes hashed so far, total bytes)


def files_of(root: Path) -> list[tuple[str, Path]]:
    """(posix relative path, file) for every regular file under ``root``, sorted by path.
    A single file is its own manifest of one entry. Symlinks are refused (as model-signing
    does by default): a link could point the serving process anywhere."""
    if root.is_symlink():
        raise IntegrityError(f"{root} is a symbolic link; artifacts must be regular files")
    if root.is_file():
        return [(root.name, root)]
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for fname in filenames:
            path = Path(dirpath) / fname
            rel = path.relative_to(root).as_posix()
            if path.is_symlink():
                raise IntegrityError(f"artifact {rel} is a symbolic link; artifacts must be "
                                     "regular files")
            out.append((rel, path))
        for d in dirnames:
            if (Path(dirpath) / d).is_symlink():
                rel = (Path(dirpath) / d).relative_to(root).as_posix()
                raise IntegrityError(f"artifact folder {rel} is a symbolic link")
    return sorted(out)


def hash_file(path: Path, on_chunk: Callable[[int], None] | None = None) -> tuple[str, int]:
    """(hex SHA-256, size) of one file, read in 1 MiB chunks into one reused buffer."""
    h = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buf):
            h.update(view[:n])
            size += n
            if on_chunk is not None:
                on_chunk(n)
    return h.hexdigest(), size


def root_digest(resources: list[dict[str, Any]]) -> str:
    """model-signing's subject digest: SHA-256 over the raw file digests in path order."""
    h = hashlib.sha256()
    for r in resources:
        h.update(bytes.fromhex(r["digest"]))
    return h.hexdigest()


def build(root: Path, *, name: str, source: str, progress: Progress | None = None
          ) -> dict[str, Any]:
    """Hash every file under ``root`` (in place, never copied) into a manifest document."""
    files = files_of(root)
    total = sum(p.stat().st_size for _, p in files)
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    resources = []
    for rel, path in files:
        hexdigest, size = hash_file(path, tick)
        resources.append({"name": rel, "algorithm": "sha256", "digest": hexdigest,
                          "size": size})
    if progress is not None:
        progress(total, total)
    return {"schema": SCHEMA, "model_name": name, "source": source,
            "serialization": dict(SERIALIZATION), "resources": resources,
            "root_digest": {"sha256": root_digest(resources)},
            "total_size": sum(r["size"] for r in resources)}


def for_source(repo: GovernedRepo, name: str, source: str,
               progress: Progress | None = None) -> dict[str, Any]:
    """The manifest of the artifacts at an MLflow source (``runs:/RUN/PATH``,
    ``models:/m-ID``), hashed in place for file stores, downloaded otherwise."""
    from govctl.adapters import mlflowstore as ml

    with ml.local_artifacts(repo, source) as local:
        return build(local, name=name, source=source, progress=progress)


def manifest_path(repo: GovernedRepo, service: str, version: str) -> Path:
    return repo.registry / "manifests" / service / f"{version}.json"


def save(repo: GovernedRepo, service: str, version: str, manifest: dict[str, Any]) -> Path:
    from govctl.fsutil import atomic_write

    path = manifest_path(repo, service, version)
    atomic_write(path, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def pinned_digest(repo: GovernedRepo, service: str, version: str) -> str | None:
    """The manifest digest the signed ``model.register`` ledger entry recorded."""
    from govctl.ledger.log import Ledger

    found = None
    for e in Ledger.for_repo(repo).versions("model.register", {"kind": "service",
                                                                "name": service}):
        if str(e.evidence.get("version")) == str(version):
            found = e.evidence.get("manifest_sha256")
    return found


def load(repo: GovernedRepo, service: str, version: str) -> dict[str, Any]:
    """The stored manifest of a version, checked against the digest the ledger pinned."""
    want = pinned_digest(repo, service, version)
    if want is None:
        raise NotFound(f"{service} v{version} has no artifact manifest in the ledger (registered "
                       "before manifests, or not through govctl); register it again")
    path = manifest_path(repo, service, version)
    if not path.is_file():
        raise IntegrityError(f"{repo.rel(path)} is missing: the manifest of {service} "
                             f"v{version} (ledger digest {want[:19]}…) was removed")
    try:
        doc = strict_loads(path.read_bytes(), what=repo.rel(path))
    except InputError as exc:
        raise IntegrityError(exc.message) from None
    except RecursionError:
        raise IntegrityError(f"{repo.rel(path)} is nested too deeply") from None
    have = digest(doc)
    if have != want:
        raise IntegrityError(f"{repo.rel(path)} was edited: its digest {have[:19]}… is not "
                             f"the {want[:19]}… the ledger recorded at registration")
    return doc


def compare(manifest: dict[str, Any], root: Path, progress: Progress | None = None,
            where: str = "") -> None:
    """Re-hash ``root`` against ``manifest``; IntegrityError naming the first difference."""
    now = build(root, name=manifest["model_name"], source=manifest["source"],
                progress=progress)
    want = {r["name"]: r for r in manifest["resources"]}
    have = {r["name"]: r for r in now["resources"]}
    prefix = f"{where}: " if where else ""
    for rel in sorted(set(want) | set(have)):
        if rel not in have:
            raise IntegrityError(f"{prefix}artifact file {rel} is missing (it was in the "
                                 "manifest at registration)")
        if rel not in want:
            raise IntegrityError(f"{prefix}artifact file {rel} was added after registration "
                                 "(not in the manifest)")
        if have[rel]["digest"] != want[rel]["digest"]:
            raise IntegrityError(
                f"{prefix}artifact file {rel} changed after registration: sha256 "
                f"{have[rel]['digest'][:12]}… (size {have[rel]['size']}), manifest "
                f"{want[rel]['digest'][:12]}… (size {want[rel]['size']})")


def verify(repo: GovernedRepo, service: str, version: str,
           progress: Progress | None = None) -> dict[str, Any]:
    """Check that the bytes MLflow serves for ``models:/SERVICE/VERSION`` are the bytes
    hashed at registration. Returns a summary; raises IntegrityError (exit 4) otherwise."""
    from govctl.adapters import mlflowstore as ml

    manifest = load(repo, service, version)
    want = check_tag(repo, service, version, manifest)
    source = ml.version_source(repo, service, version)
    with ml.local_artifacts(repo, source) as local:
        compare(manifest, local, progress, where=f"{service} v{version}")
    return {"service": service, "version": str(version), "manifest_sha256": want,
            "root_digest": manifest["root_digest"]["sha256"],
            "files": len(manifest["resources"]), "bytes": manifest["total_size"],
            "source": source}


def verify_versions(repo: GovernedRepo, service: str, version: str | None = None, *,
                    progress_for: Callable[[str], Progress | None] | None = None
                    ) -> list[tuple[str, str]]:
    """Verify one version (or every version with a pinned manifest): (version, problem)
    for each one whose artifacts no longer match. A named version without a manifest is
    NotFound."""
    from govctl.adapters import mlflowstore as ml

    if version:
        versions = [str(version)]
    else:
        versions = [v["version"] for v in ml.model_versions(repo, service)
                    if pinned_digest(repo, service, v["version"]) is not None]
    out = []
    for v in versions:
        try:
            verify(repo, service, v, progress=progress_for(v) if progress_for else None)
        except IntegrityError as exc:
            out.append((v, exc.message))
    return out


def gate_check(repo: GovernedRepo, service: str, version: str
               ) -> tuple[bool, str, dict[str, Any]]:
    """The gate's ``artifacts.integrity`` check: (passed, reason, evidence). A changed file
    is ``integrity: False`` (exit 4); no manifest at all blocks too. Neither is waivable."""
    mark: dict[str, Any] = {"check": GATE_CHECK, "unwaivable": True}
    try:
        s = verify(repo, service, version)
    except IntegrityError as exc:
        return False, exc.message, {**mark, "integrity": False}
    except NotFound as exc:  # registered before manifests: register it again
        return False, exc.message, mark
    return True, (f"{s['files']} artifact file(s), {s['bytes']} bytes, match manifest "
                  f"{s['manifest_sha256'][:19]}…"), {**mark, "manifest_sha256": s["manifest_sha256"]}


def require_intact(repo: GovernedRepo, report: Any) -> None:
    """Raise IntegrityError (exit 4) unless a gate report's artifact check passed; a
    checklist frozen without that item gets the check run here. Never waivable."""
    item = next((r for r in report.results if r.evidence.get("check") == GATE_CHECK), None)
    if item is None:
        verify(repo, report.service, report.version)
    elif item.evidence.get("integrity") is False:
        raise IntegrityError(item.reason)
    elif item.status != "pass":
        raise CheckFailed(f"{report.service} v{report.version}: {item.reason}")


def check_tag(repo: GovernedRepo, service: str, version: str, manifest: dict[str, Any]) -> str:
    """The version's MLflow tag names this manifest; returns its digest."""
    want = digest(manifest)
    tag = _version_tag(repo, service, version)
    if tag != want:
        raise IntegrityError(f"{service} v{version}: MLflow tag {TAG} is {tag!r} but the ledger "
                             f"recorded {want} (edited behind govctl's back)")
    return want


def _version_tag(repo: GovernedRepo, service: str, version: str) -> str | None:
    from govctl.adapters import mlflowstore as ml

    for v in ml.model_versions(repo, service):
        if v["version"] == str(version):
            return v["tags"].get(TAG)
    raise NotFound(f"{service} has no version {version} in MLflow")


def local_path(repo: GovernedRepo, source: str) -> Path | None:
    """The local folder of a file-store source (``None`` when it must be downloaded)."""
    from urllib.parse import unquote, urlparse

    from govctl.adapters import mlflowstore as ml

    parsed = urlparse(ml.resolve_artifact_uri(repo, source))
    return Path(unquote(parsed.path)) if parsed.scheme in ("", "file") else None
