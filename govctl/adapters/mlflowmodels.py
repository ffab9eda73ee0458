"""MLflow 3 LoggedModels (``models:/m-…``): what ``log_model(name=...)`` creates.

A LoggedModel is not a run artifact: ``mlflow.sklearn.log_model(clf, name="model")`` stores it
under the experiment's ``models/m-…/artifacts`` and links it to the run as a model output.
"""

from __future__ import annotations

from typing import Any

from govctl.adapters.mlflowstore import client, errors
from govctl.config import GovernedRepo


def _as_dict(lm: Any) -> dict[str, Any]:
    return {
        "model_id": lm.model_id,
        "name": lm.name,
        "source_run_id": lm.source_run_id,
        "experiment_id": lm.experiment_id,
        "artifact_location": lm.artifact_location,
        "model_uri": lm.model_uri,
        "status": str(lm.status),
        "metrics": {m.key: m.value for m in (lm.metrics or [])},
    }


def logged_model(repo: GovernedRepo, model_id: str) -> dict[str, Any]:
    """One LoggedModel by id (NotFound naming the store when there is none)."""
    c = client(repo)
    with errors(f"MLflow logged model {model_id}", repo):
        return _as_dict(c.get_logged_model(model_id))


def run_logged_models(repo: GovernedRepo, run_id: str) -> list[dict[str, Any]]:
    """The LoggedModels a run produced: its model outputs and any model whose source run it
    is (``search_logged_models``), by id, oldest first."""
    c = client(repo)
    with errors(f"MLflow run {run_id}", repo):
        run = c.get_run(run_id)
        found: dict[str, Any] = {}
        outputs = run.outputs.model_outputs if run.outputs else []
        for out in outputs or []:
            found[out.model_id] = c.get_logged_model(out.model_id)
        for lm in c.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"source_run_id = '{run_id}'",
        ):
            found.setdefault(lm.model_id, lm)
    return sorted((_as_dict(lm) for lm in found.values()),
                  key=lambda d: (d["name"] or "", d["model_id"]))


def model_version_detail(repo: GovernedRepo, name: str, version: str) -> dict[str, Any]:
    """A registered version's source URI, run, MLflow-side model id and where its files are
    (``download_uri``: the LoggedModel's artifact location, or the run artifact URI)."""
    c = client(repo)
    with errors(f"model {name} version {version}", repo):
        mv = c.get_model_version(name, str(version))
        download = c.get_model_version_download_uri(name, str(version))
    return {"name": name, "version": str(version), "source": mv.source, "run_id": mv.run_id,
            "model_id": getattr(mv, "model_id", None), "download_uri": download}
