"""The registry's read paths: one call per question a caller asks about model versions
(what is this version, does MLflow still match the ledger and the manifests), each
returning a typed result. ``govctl model show`` and ``govctl model verify`` are these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import NotFound
from govctl.registry.models import Drift, verify_drift, version_record
from govctl.serialize import JsonFields


@dataclass(frozen=True)
class VersionInfo(JsonFields):
    """One model version: its MLflow record and what govctl registered with it."""

    name: str
    version: str
    run_id: str | None
    source: str | None
    model_id: str | None
    prompts: dict[str, Any]
    aliases: list[str]
    metrics: dict[str, Any]
    datasets: list[dict[str, Any]]
    git_commit: str | None
    registered_by: str | None
    manifest_sha256: str | None
    governed: bool
    tags: dict[str, str]


def describe_model(repo: GovernedRepo, name: str, version: str | None = None) -> VersionInfo:
    """Version ``version`` of model ``name`` (its latest when omitted)."""
    from govctl.adapters import mlflowstore as ml
    from govctl.adapters.mlflowread import memo

    with memo():  # a read: each question asked of MLflow once
        if version is None:
            versions = ml.model_versions(repo, name)
            if not versions:
                raise NotFound(f"model {name!r} has no versions")
            version = versions[-1]["version"]
        return VersionInfo(**version_record(repo, name, str(version)))


def verify_models(repo: GovernedRepo, name: str | None = None, *, artifacts: bool = False,
                  version: str | None = None,
                  progress_for: Callable[[str], Callable[[int, int], None] | None] | None = None
                  ) -> list[Drift]:
    """Drift of one model (or every model govctl registered): versions gone from MLflow,
    changed tags, aliases moved behind govctl's back; with ``artifacts``, also the files of
    version ``version`` of ``name`` (or of each of its versions with a manifest) that no
    longer match their manifest. ``progress_for(version)`` gives a hashing progress
    callback."""
    from govctl.errors import InputError

    if version and not artifacts:
        raise InputError("version: a version's files are checked only with artifacts",
                         field="version")
    if artifacts and not name:
        raise InputError("artifacts: checking a version's files needs a model name",
                         field="artifacts")
    drifts = verify_drift(repo, name)
    if artifacts and name:
        from govctl.registry import manifests

        found = manifests.verify_versions(repo, name, version, progress_for=progress_for)
        drifts += [Drift(name, "artifact", message) for _, message in found]
    return drifts


@dataclass(frozen=True)
class ModelSummary(JsonFields):
    """A registered model: its versions and aliases as MLflow holds them."""

    name: str
    versions: list[str]
    aliases: dict[str, str]


def list_models(repo: GovernedRepo) -> list[ModelSummary]:
    from govctl.adapters import mlflowstore as ml
    from govctl.adapters.mlflowread import memo

    with memo():
        return [ModelSummary(name, [v["version"] for v in ml.model_versions(repo, name)],
                             ml.get_aliases(repo, name))
                for name in ml.registered_models(repo)]
