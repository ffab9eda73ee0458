"""Where a model version comes from: a classic run artifact (``runs:/RUN/PATH``) or an
MLflow 3 LoggedModel (``models:/m-…``, what ``log_model(name=...)`` makes).

``resolve`` picks the source at registration; ``artifact_source`` says, for a registered
version, where its files are (for hashing or downloading them).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from govctl.config import GovernedRepo
from govctl.errors import InputError, NotFound
from govctl.serialize import JsonFields, key


@dataclass
class Source(JsonFields):
    uri: str = field(metadata=key("source"))  # what the model version points at
    run_id: str | None        # the run that produced it (metrics, inputs)
    model_id: str | None      # the LoggedModel id, m-…, when it is one
    artifact_path: str | None  # the run-relative path, when it is a run artifact
    model_name: str | None = None  # the LoggedModel's name (log_model(name=...))


def resolve(repo: GovernedRepo, run_id: str | None, *, model_id: str | None = None,
            model_name: str | None = None, artifact_path: str | None = None) -> Source:
    """The one source these options name; a readable error when they name none or several.

    ``model_id``: that LoggedModel (its run, if ``run_id`` is given, must be its source run).
    ``run_id`` alone: the run's one LoggedModel, or the one called ``model_name``; a run that
    logged none falls back to the run artifact ``artifact_path`` (default ``model``).
    ``artifact_path`` given: that run artifact, the classic MLflow 2 layout.
    """
    from govctl.adapters import mlflowmodels
    from govctl.adapters import mlflowstore as ml

    if model_id:
        if artifact_path:
            raise InputError("give a logged model id or an artifact path, not both")
        lm = mlflowmodels.logged_model(repo, model_id)
        if run_id and lm["source_run_id"] and lm["source_run_id"] != run_id:
            raise InputError(f"logged model {model_id} was logged by run "
                             f"{lm['source_run_id']}, not by run {run_id}")
        if model_name and lm["name"] != model_name:
            raise InputError(f"logged model {model_id} is called {lm['name']!r}, "
                             f"not {model_name!r}")
        _ready(lm)
        return Source(lm["model_uri"], lm["source_run_id"] or run_id, lm["model_id"], None,
                      lm["name"])
    if not run_id:
        raise InputError("give the run that logged the model or a logged model id (m-…)")
    if artifact_path is None:
        logged = mlflowmodels.run_logged_models(repo, run_id)
        if model_name:
            logged = [lm for lm in logged if lm["name"] == model_name]
        if len(logged) == 1:
            _ready(logged[0])
            lm = logged[0]
            return Source(lm["model_uri"], run_id, lm["model_id"], None, lm["name"])
        if len(logged) > 1:
            names = ", ".join(f"{lm['name']} ({lm['model_id']})" for lm in logged)
            raise InputError(f"run {run_id} logged {len(logged)} models: {names}",
                             hint="choose one with --model-name NAME or --model-id m-…")
        if model_name:
            raise NotFound(f"run {run_id} logged no model called {model_name!r} "
                           f"[MLflow store: {ml.store_label(repo)}]")
    path = artifact_path or "model"
    if not ml.has_artifact(repo, run_id, path):
        what = "" if artifact_path else "logged no model (log_model(name=...)) and "
        raise NotFound(
            f"run {run_id} {what}has no artifact at {path!r}; a version would point at "
            f"nothing [MLflow store: {ml.store_label(repo)}]",
            hint="log the model with mlflow.<flavor>.log_model(name=...), or pass --path "
                 "for a model logged as run artifacts")
    return Source(f"runs:/{run_id}/{path}", run_id, None, path)


def _ready(lm: dict[str, Any]) -> None:
    if "READY" not in lm["status"]:
        raise InputError(f"logged model {lm['model_id']} is {lm['status']}, not READY "
                         "(its upload did not finish); nothing was registered")


def artifact_source(repo: GovernedRepo, name: str, version: str) -> dict[str, Any]:
    """Where model ``name`` version ``version`` points, for hashing its artifacts:
    ``source`` (``models:/m-…`` or ``runs:/RUN/PATH``), ``model_id``, ``run_id`` and
    ``download_uri`` (the artifact location MLflow resolves the source to; pass it to
    ``mlflow.artifacts.download_artifacts(artifact_uri=...)``)."""
    from govctl.adapters import mlflowmodels

    detail = mlflowmodels.model_version_detail(repo, name, version)
    source = detail["source"]
    if detail["model_id"] is None and source.startswith("models:/m-"):
        detail["model_id"] = source[len("models:/"):].split("/", 1)[0]
    return detail
