"""Model versions in MLflow, linked to their evidence and pinned in the ledger.

MLflow keeps no history of alias moves and no record of who registered a version; govctl
records both in the ledger and treats any difference between MLflow and the ledger as
drift (exit 4), never as the new truth.
"""


from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govctl.config import GovernedRepo
from govctl.errors import InputError, NotFound
from govctl.findings import Finding, Severity
from govctl.ledger.log import Ledger
from govctl.registry.sources import artifact_source
from govctl.serialize import JsonFields

if TYPE_CHECKING:  # the reads (list, show, verify) need none of these: imported where used
    from govctl.data import lineage as lineage_mod
    from govctl.ledger.entry import Entry
    from govctl.signing.keys import SigningKey

__all__ = ["artifact_source", "register_model"]

TAG = "govctl."


def _subject(name: str, version: str | None = None) -> dict[str, Any]:
    s: dict[str, Any] = {"kind": "service", "name": name}
    if version is not None:
        s["version"] = str(version)
    return s


def _commit(repo: GovernedRepo) -> str | None:
    from govctl.adapters.gitrepo import head_commit

    return head_commit(repo.root)




def register_model(
    repo: GovernedRepo,
    key: SigningKey,
    name: str,
    run_id: str | None = None,
    *,
    artifact_path: str | None = None,
    model_id: str | None = None,
    model_name: str | None = None,
    dataset_names: list[str] | None = None,
    prompt_specs: list[str] | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Create an MLflow model version with its datasets, git commit and registering key
    recorded as version tags and in the ledger (intent, then completion).

    The source (``sources.resolve``): the LoggedModel ``model_id``, else the run's one
    LoggedModel (or the one called ``model_name``), else the run artifact ``artifact_path``
    (default ``model``). Every artifact file is hashed into a manifest first
    (``progress(done, total)`` bytes)."""
    from govctl import trust
    from govctl.adapters import mlflowstore as ml
    from govctl.agreements.agreement import check_service_name
    from govctl.data import datasets
    from govctl.registry.sources import resolve as resolve_source
    from govctl.signing.canonical import digest

    check_service_name(name)  # before the ledger or MLflow is touched
    policy = trust.load_verified(repo)
    trust.authorize(policy, "model.register", key)
    inventory = {e.name: e for e in datasets.inventory(repo)}
    linked: dict[str, dict[str, Any]] = {}
    for ds in dataset_names or []:
        if ds not in inventory:
            known = ", ".join(sorted(inventory)) or "none"
            raise NotFound(f"dataset {ds!r} is not in the inventory (known: {known})")
        e = inventory[ds]
        linked[ds] = {"name": ds, "md5": e.hash, "role": e.kind, "inventoried": True}
    from govctl.registry.releases import prompts_for_registration

    prompt_versions = prompts_for_registration(repo, prompt_specs)
    ml.ping(repo)
    if ml.is_prompt(repo, name):
        raise InputError(f"{name!r} is already the name of a registered prompt; models and "
                         "prompts need distinct names")
    src = resolve_source(repo, run_id, model_id=model_id, model_name=model_name,
                          artifact_path=artifact_path)
    run_id = src.run_id
    info = ml.run_info(repo, run_id) if run_id else {"metrics": {}, "inputs": []}
    for inp in info["inputs"]:
        if inp["name"] in linked:
            continue
        entry = inventory.get(inp["name"])
        role = {"training": "train", "train": "train", "eval": "eval", "evaluation": "eval",
                "test": "test"}.get(inp["context"],
                                    entry.kind if entry else inp["context"] or "unknown")
        linked[inp["name"]] = {
            "name": inp["name"], "md5": entry.hash if entry else None, "role": role,
            "inventoried": entry is not None, "mlflow_digest": inp["digest"],
        }
    ds_list = sorted(linked.values(), key=lambda d: d["name"])
    from govctl.registry import manifests

    manifest = manifests.for_source(repo, name, src.uri, progress)
    manifest_sha256 = digest(manifest)
    commit = _commit(repo)
    tags = {
        f"{TAG}datasets": json.dumps(ds_list, separators=(",", ":"), sort_keys=True),
        f"{TAG}registered_by": key.name,
        f"{TAG}git_commit": commit or "",
        f"{TAG}run_id": run_id or "",
        f"{TAG}source": src.uri,
        f"{TAG}prompts": json.dumps(prompt_versions, separators=(",", ":"), sort_keys=True),
        manifests.TAG: manifest_sha256,
    }
    if src.model_id:
        tags[f"{TAG}model_id"] = src.model_id
    ledger = Ledger.for_repo(repo)
    evidence = {"run_id": run_id, "datasets": ds_list, "artifact_path": src.artifact_path,
                "source": src.uri, "model_id": src.model_id, "prompts": prompt_versions,
                "manifest_sha256": manifest_sha256,
                "metrics": {k: str(v) for k, v in sorted(info["metrics"].items())}}
    intent = ledger.intent(key, "model.register", _subject(name), evidence=evidence,
                           git_commit=commit)
    try:
        version = ml.create_model_version(repo, name, run_id, src.uri, tags, src.model_id)
    except Exception:
        ledger.abort(key, intent, note="MLflow refused the registration")
        raise
    manifests.save(repo, name, version, manifest)
    ledger.complete(key, intent, evidence={**evidence, "version": version},
                    note=f"registered version {version}")
    return {"name": name, "version": version, "datasets": ds_list, "run_id": run_id,
            "source": src.uri, "model_id": src.model_id, "prompts": prompt_versions,
            "git_commit": commit, "registered_by": key.name,
            "manifest_sha256": manifest_sha256, "files": len(manifest["resources"]),
            "bytes": manifest["total_size"]}


def version_record(repo: GovernedRepo, name: str, version: str) -> dict[str, Any]:
    """The fields of :class:`govctl.registry.reads.VersionInfo` (``describe_model`` is the
    typed read)."""
    from govctl.adapters import mlflowstore as ml

    versions = {v["version"]: v for v in ml.model_versions(repo, name)}
    if str(version) not in versions:
        raise NotFound(f"{name} has no version {version} in MLflow "
                       f"(versions: {', '.join(versions) or 'none'})")
    v = versions[str(version)]
    tags = v["tags"]
    aliases = {a for a, ver in ml.get_aliases(repo, name).items() if ver == str(version)}
    metrics = ml.run_metrics(repo, v["run_id"]) if v["run_id"] else {}
    return {
        "name": name,
        "version": str(version),
        "run_id": v["run_id"],
        "source": v["source"],
        "model_id": tags.get(f"{TAG}model_id") or None,
        "prompts": json.loads(tags.get(f"{TAG}prompts", "{}") or "{}"),
        "aliases": sorted(aliases),
        "metrics": metrics,
        "datasets": json.loads(tags.get(f"{TAG}datasets", "[]")),
        "git_commit": tags.get(f"{TAG}git_commit") or None,
        "registered_by": tags.get(f"{TAG}registered_by"),
        "manifest_sha256": tags.get(f"{TAG}manifest_sha256"),
        "governed": f"{TAG}registered_by" in tags,
        "tags": {k: val for k, val in tags.items() if not k.startswith(TAG)},
    }


def expected_aliases(repo: GovernedRepo, name: str) -> dict[str, str]:
    """Aliases as the ledger last set them (completed or done entries carrying
    ``evidence.aliases``; a ``None`` value removes the alias)."""
    return Ledger.for_repo(repo).aliases(_subject(name))


def set_aliases(repo: GovernedRepo, key: SigningKey, name: str, changes: dict[str, str | None],
                *, action: str = "model.alias", evidence: dict[str, Any] | None = None,
                note: str | None = None) -> Entry:
    """Move (or with ``None`` remove) aliases in MLflow, recording intent and completion.

    ``key`` must be allowed ``model.alias``. The release aliases (every environment of the
    release policies and its ``-canary`` form) are refused: they move only through
    promote, canary advance/abort and rollback, behind the gate and the canary."""
    from govctl import trust
    from govctl.adapters import mlflowstore as ml
    from govctl.policy import reserved_aliases

    trust.authorize(repo, "model.alias", key, _subject(name))
    reserved = reserved_aliases(repo)
    taken = sorted(a for a in changes if a in reserved)
    if taken:
        raise InputError(f"alias {taken[0]!r} is a release alias: it moves only through "
                         "'govctl promote', 'govctl canary advance/abort' and 'govctl "
                         "rollback' (gated and recorded); nothing was changed")
    ml.ping(repo)
    wanted = {str(v) for v in changes.values() if v is not None}
    if wanted:  # checked before the intent: a typo must not leave an intent to replay
        have = {v["version"] for v in ml.model_versions(repo, name)}
        missing = sorted(wanted - have)
        if missing:
            raise NotFound(f"{name} has no version {missing[0]} (versions: "
                           f"{', '.join(sorted(have, key=int)) or 'none'}); nothing was changed")
    ledger = Ledger.for_repo(repo)
    ev = {**(evidence or {}), "aliases": changes}
    intent = ledger.intent(key, action, _subject(name), evidence=ev, git_commit=_commit(repo))
    try:
        apply_aliases(repo, name, changes)
    except InputError as exc:  # MLflow refused: nothing to finish later
        ledger.abort(key, intent, note=f"MLflow refused: {exc.message}")
        raise
    return ledger.complete(key, intent, evidence=ev, note=note)


def apply_aliases(repo: GovernedRepo, name: str, changes: dict[str, str | None]) -> None:
    from govctl.adapters import mlflowstore as ml

    for alias, version in changes.items():
        if version is None:
            ml.delete_alias(repo, name, alias)
        else:
            ml.set_alias(repo, name, alias, str(version))


@dataclass
class Drift(JsonFields):
    subject: str
    kind: str
    message: str

    @property
    def tampering(self) -> bool:
        """Everything but an interrupted govctl change (which the next command finishes)."""
        return self.kind != "interrupted"

    def finding(self) -> Finding:
        """Tampering is an error; an interrupted change (the next command finishes it) a
        warning."""
        return Finding(f"drift/{self.kind}", self.message, subject=self.subject,
                       severity=Severity.ERROR if self.tampering else Severity.WARNING)

    def __str__(self) -> str:
        return f"{self.subject}: {self.message}"


def _registrations(repo: GovernedRepo) -> dict[str, dict[str, Any]]:
    """name -> version -> the completed model.register ledger entry."""
    out: dict[str, dict[str, Any]] = {}
    for e in Ledger.for_repo(repo).versions("model.register"):
        out.setdefault(e.subject["name"], {})[str(e.evidence["version"])] = e
    return out


def _tag_drift(name: str, version: dict[str, Any], entry: Any) -> list[Drift]:
    """The lineage tags govctl wrote on a version still say what the ledger recorded."""
    tags = version["tags"]
    out = []
    try:
        datasets_now = json.loads(tags.get(f"{TAG}datasets", "null"))
    except ValueError:
        datasets_now = "unreadable"
    if datasets_now != entry.evidence.get("datasets"):
        out.append(Drift(name, "tag", f"version {version['version']}: tag {TAG}datasets differs "
                         "from the lineage the ledger recorded (edited behind govctl's back)"))
    checks = {f"{TAG}registered_by": entry.actor.get("name"),
              f"{TAG}run_id": entry.evidence.get("run_id") or "",
              f"{TAG}manifest_sha256": entry.evidence.get("manifest_sha256")}
    if "source" in entry.evidence:  # ledger entries older than LoggedModel support lack it
        checks[f"{TAG}source"] = entry.evidence["source"]
        if version.get("source") != entry.evidence["source"]:
            out.append(Drift(name, "source", f"version {version['version']} points at "
                             f"{version.get('source')} but was registered from "
                             f"{entry.evidence['source']}"))
    if entry.evidence.get("model_id"):
        checks[f"{TAG}model_id"] = entry.evidence["model_id"]
    if "prompts" in entry.evidence:
        checks[f"{TAG}prompts"] = json.dumps(entry.evidence["prompts"], separators=(",", ":"),
                                             sort_keys=True)
    for tag, want in checks.items():
        if tags.get(tag) != want:
            out.append(Drift(name, "tag", f"version {version['version']}: tag {tag} is "
                             f"{tags.get(tag)!r} but the ledger recorded {want!r}"))
    if (version.get("run_id") or None) != (entry.evidence.get("run_id") or None):
        out.append(Drift(name, "run", f"version {version['version']} points at run "
                         f"{version.get('run_id')} but was registered from "
                         f"{entry.evidence.get('run_id')}"))
    return out


def verify_drift(repo: GovernedRepo, name: str | None = None) -> list[Drift]:
    """Versions govctl registered still exist; aliases are where the ledger last put them."""
    from govctl.adapters.mlflowread import memo

    with memo():  # a read: each question asked of MLflow once
        return _drift(repo, name)


def _drift(repo: GovernedRepo, name: str | None) -> list[Drift]:
    from govctl.adapters import mlflowstore as ml

    ml.ping(repo)
    regs = _registrations(repo)
    known = {n: set(vs) for n, vs in regs.items()}
    names = [name] if name else sorted(known)
    out: list[Drift] = []
    for n in names:
        try:
            versions = {v["version"]: v for v in ml.model_versions(repo, n)}
            actual = ml.get_aliases(repo, n)
        except NotFound:
            versions, actual = {}, {}
        present = set(versions)
        for v in sorted(known.get(n, set()) - present, key=int):
            out.append(Drift(n, "missing-version",
                             f"version {v} was registered through govctl but is gone from MLflow "
                             f"[MLflow store: {ml.store_label(repo)}]"))
        for v in sorted(known.get(n, set()) & present, key=int):
            out += _tag_drift(n, versions[v], regs[n][v])
        expected = expected_aliases(repo, n)
        pending: dict[str, tuple[str | None, int]] = {}  # alias -> (version, intent seq)
        for intent in Ledger.for_repo(repo).open_intents(_subject(n)):
            for alias, version in (intent.evidence.get("aliases") or {}).items():
                pending[alias] = (None if version is None else str(version), intent.seq)
        for alias in sorted(set(expected) | set(actual)):
            want, have = expected.get(alias), actual.get(alias)
            if want != have and alias in pending and pending[alias][0] == have:
                out.append(Drift(
                    n, "interrupted",
                    f"alias {alias!r} is at {have or 'nothing'} as an interrupted "
                    f"change (ledger entry {pending[alias][1]}) left it; the next promote, "
                    "canary advance, abort or rollback records its completion"))
            elif want != have:
                out.append(Drift(
                    n, "alias",
                    f"alias {alias!r} points to {have or 'nothing'} in MLflow but the ledger "
                    f"last set it to {want or 'nothing'} (moved behind govctl's back)"))
        from govctl.registry import releases

        out += releases.verify_prompt_aliases(repo, releases.released_prompts(repo, n))
    return out


def _model_lineage(repo: GovernedRepo, g: lineage_mod.LineageGraph) -> None:
    """Lineage extension: model versions fed by the datasets they were registered with."""
    from govctl.data import datasets
    from govctl.data import lineage as lineage_mod

    try:
        entries = Ledger.for_repo(repo).versions("model.register")
    except NotFound:
        return
    paths = {e.name: e.path for e in datasets.inventory(repo)}
    for e in entries:
        version = e.evidence["version"]
        mid = f"model:{e.subject['name']}/{version}"
        g.add(lineage_mod.Node(mid, "model", f"{e.subject['name']} v{version}"))
        for ds in e.evidence.get("datasets", []):
            path = paths.get(ds["name"])
            if path:
                g.add(lineage_mod.Node(lineage_mod.data_id(path), "data", path, ds.get("md5")))
                g.link(lineage_mod.data_id(path), mid)


def lineage(repo: GovernedRepo) -> lineage_mod.LineageGraph:
    """The repo's lineage graph with the registered model versions the ledger records, fed
    by the datasets they were registered with."""
    from govctl.data import lineage as lineage_mod

    g = lineage_mod.build(repo)
    _model_lineage(repo, g)
    return g


def lineage_around(repo: GovernedRepo, target: str) -> lineage_mod.Cut:
    """:func:`lineage` cut around a dataset (its name or a DVC-tracked path)."""
    from govctl.data import lineage as lineage_mod

    return lineage_mod.around(repo, lineage(repo), target)


