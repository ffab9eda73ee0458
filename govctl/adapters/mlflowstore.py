"""MLflow, the registry the serving layer reads. The only module importing mlflow.

Tracking URI: ``MLFLOW_TRACKING_URI`` when set, else ``[govctl] mlflow_tracking_uri``, else
the repo's embedded store ``sqlite:///<repo>/.govctl/mlflow.db`` with artifacts in
``<repo>/.govctl/mlartifacts`` (the registry URI likewise, defaulting to the tracking URI).
A configured store is never replaced by a new empty one: a named SQLite file must exist.
Telemetry is off; HTTP retries are capped so an unreachable server fails in seconds.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from govctl.adapters.mlflowread import (  # noqa: F401 - the read API lives in mlflowread
    forget,
    get_aliases,
    get_model_tags,
    model_versions,
    ping,
    prompt_names,
    prompt_version,
    registered_models,
    run_metrics,
    version_source,
)
from govctl.config import GovernedRepo, redact_text
from govctl.errors import ExternalError, InputError, NotFound

EXPERIMENT = "govctl"
_clients: dict[tuple[str, str], Any] = {}
_registry_clients: dict[tuple[str, str], Any] = {}


def _quiet_env() -> None:
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # mlflow sets its loggers' level from this when imported (default INFO), overriding any
    # level set before: store migrations, experiment creation and trace flushing are chatter
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")


def tracking_uri(repo: GovernedRepo) -> str:
    return repo.mlflow_tracking_uri()


def registry_uri(repo: GovernedRepo) -> str:
    return repo.mlflow_registry_uri()


def store_label(repo: GovernedRepo) -> str:
    """The store govctl reads, for messages (credentials redacted)."""
    from govctl.config import redact_url

    uri = tracking_uri(repo)
    label = f"{redact_url(uri)} (from {repo.mlflow_uri_origin()})"
    reg = registry_uri(repo)
    if reg != uri:
        label += f", registry {redact_url(reg)} (from {repo.mlflow_uri_origin('registry')})"
    return label


def artifact_root(repo: GovernedRepo) -> Path:
    return repo.state / "mlartifacts"


@contextmanager
def errors(what: str = "MLflow", repo: GovernedRepo | None = None) -> Iterator[None]:
    """Turn MLflow and HTTP failures into govctl errors (exit 2 or 3), never tracebacks.
    With ``repo``, a "not found" names the store that was read."""
    from mlflow.exceptions import MlflowException

    what = redact_text(what)
    try:
        yield
    except MlflowException as exc:
        code = getattr(exc, "error_code", "")
        text = redact_text(str(exc).split("\n")[0])[:300]
        if code == "RESOURCE_DOES_NOT_EXIST":
            where = f" [MLflow store: {store_label(repo)}]" if repo is not None else ""
            raise NotFound(f"{what}: {text}{where}") from None
        if code in ("INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST"):
            raise InputError(f"{what}: {text}") from None
        full = str(exc)
        for marker in ("Connection refused", "Failed to establish", "Max retries exceeded",
                       "Name or service not known", "timed out"):
            if marker in full:
                raise ExternalError(
                    f"{what} is unreachable ({marker.lower()})",
                    hint="check MLFLOW_TRACKING_URI and that the tracking server is running",
                ) from None
        raise ExternalError(f"{what} failed: {text}") from None
    except (OSError, ConnectionError) as exc:
        raise ExternalError(f"{what} is unreachable: {redact_text(str(exc))}") from None
    except Exception as exc:  # requests/sqlalchemy errors inside mlflow
        name = type(exc).__name__
        if "Connection" in name or "Operational" in name or "Timeout" in name:
            raise ExternalError(f"{what} is unreachable: {redact_text(str(exc))[:300]}") from None
        if "DatabaseError" in name:  # e.g. SQLite: "file is not a database"
            orig = getattr(exc, "orig", None) or str(exc).splitlines()[0]
            raise ExternalError(f"{what}: the store is unreadable ({orig})") from None
        raise


def client(repo: GovernedRepo) -> Any:
    """An MlflowClient on the repo's tracking/registry URI (cached per URI)."""
    forget()  # what it does may be a write: a read memo answers afresh after it
    _quiet_env()
    uri, reg = tracking_uri(repo), registry_uri(repo)
    for which, u in (("tracking", uri), ("registry", reg)):
        _check_store(repo, which, u, probe=(uri, reg) not in _clients)
    if (uri, reg) not in _clients:
        with errors(f"MLflow at {uri}"):
            from mlflow import MlflowClient

            _clients[(uri, reg)] = MlflowClient(tracking_uri=uri, registry_uri=reg)
    return _clients[(uri, reg)]


def _check_store(repo: GovernedRepo, which: str, uri: str, probe: bool) -> None:
    """A configured store must exist: MLflow would silently create an empty one (an empty
    ``status``, "run not found", false drift). Only the embedded default is created."""
    from govctl.config import sqlite_path

    path = sqlite_path(uri)
    if uri == repo.embedded_mlflow_uri():
        repo.state.mkdir(parents=True, exist_ok=True)
    elif path is not None:
        origin = repo.mlflow_uri_origin(which)
        if not path.parent.is_dir():
            raise InputError(f"{origin} {uri}: the folder {path.parent} does not "
                             "exist (a typo?); nothing was created")
        if not path.is_file():
            raise InputError(
                f"{origin} {uri}: no MLflow store at {path} (a typo, or a path relative to "
                f"somewhere else? relative sqlite paths are relative to {repo.root}); "
                "nothing was created",
                hint="point it at the team's existing store, or remove the setting to use "
                     "the embedded store in .govctl/")
    elif probe and uri.split(":", 1)[0].split("+", 1)[0] in ("postgresql", "mysql", "mssql"):
        _probe_database(uri)


def _probe_database(uri: str) -> None:
    """One quick connection attempt to a database-backed store. MLflow itself retries for
    minutes (exponential back-off, fifteen attempts) before giving up on a dead server."""
    import sqlalchemy as sa

    from govctl.errors import ExternalError

    args = {"connect_timeout": 5} if uri.startswith(("postgresql", "mysql")) else {}
    try:
        engine = sa.create_engine(uri, connect_args=args, poolclass=sa.pool.NullPool)
        with engine.connect():
            pass
    except Exception as exc:  # driver-specific errors: all mean "cannot reach it"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        safe = uri.split("@")[-1]  # never print a password from the URL
        raise ExternalError(f"MLflow at ...@{safe}: cannot connect to its database: {first}",
                            hint="check MLFLOW_TRACKING_URI and that the server is up") from None


def configure(repo: GovernedRepo) -> str:
    """Point the mlflow fluent API at the repo's store and make sure the ``govctl``
    experiment (artifacts under ``.govctl/mlartifacts`` for the embedded store) exists.
    Returns the experiment id. Training scripts call this before ``mlflow.start_run``."""
    _quiet_env()
    from govctl.config import sqlite_path

    uri = tracking_uri(repo)
    c = client(repo)
    _set_fluent_uris(uri, registry_uri(repo))
    with errors(f"MLflow at {uri}"):
        if c.get_experiment_by_name(EXPERIMENT) is None:
            location = None
            if uri == repo.embedded_mlflow_uri():
                location = artifact_root(repo).as_uri()
            elif (db := sqlite_path(uri)) is not None:  # a team's file store: beside it
                location = (db.parent / "mlartifacts").as_uri()
            c.create_experiment(EXPERIMENT, artifact_location=location)
    # Not mlflow.set_experiment(): it exports MLFLOW_EXPERIMENT_ID, which then breaks any
    # other store used in the same process. Callers pass the id: start_run(experiment_id=...)
    return experiment(repo, EXPERIMENT)


def _set_fluent_uris(uri: str, reg: str) -> None:
    """Point mlflow's process-global (fluent) URIs at a store. mlflow.set_*_uri also export
    MLFLOW_*_URI, which would then read as the user's own choice (and override govctl.toml)
    for the rest of this process: the user's are kept."""
    import mlflow

    saved = {v: os.environ.get(v) for v in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(reg)
    for var, value in saved.items():
        if value is None:
            os.environ.pop(var, None)
        else:
            os.environ[var] = value


@contextmanager
def _fluent_uris(repo: GovernedRepo) -> Iterator[None]:
    """The repo's store as mlflow's global one for a client call that MLflow resolves
    through the fluent API (a ``models:/m-…`` source is looked up in the global tracking
    store, not the client's: another repo's store used earlier in the process answered
    "Logged model … not found"); the previous URIs are restored."""
    import mlflow

    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    _set_fluent_uris(tracking_uri(repo), registry_uri(repo))
    try:
        yield
    finally:
        _set_fluent_uris(*before)


def experiment(repo: GovernedRepo, name: str) -> str:
    """The id of experiment ``name``, created if missing. In the embedded store its
    artifacts (run files, trace data) go under ``.govctl/mlartifacts``: MLflow's own default
    for a SQLite store is ``./mlruns`` in whatever directory the process runs in."""
    uri = tracking_uri(repo)
    c = client(repo)
    with errors(f"MLflow at {uri}"):
        exp = c.get_experiment_by_name(name)
        if exp is not None:
            return str(exp.experiment_id)
        location = artifact_root(repo).as_uri() if uri.startswith("sqlite:///") else None
        return str(c.create_experiment(name, artifact_location=location))


def has_artifact(repo: GovernedRepo, run_id: str, path: str) -> bool:
    """Whether the run logged anything at ``path`` (a file or a non-empty folder)."""
    c = client(repo)
    parent, _, leaf = path.strip("/").rpartition("/")
    with errors(f"artifacts of run {run_id}", repo):
        listed = c.list_artifacts(run_id, parent or None)
    return any(a.path.rsplit("/", 1)[-1] == leaf for a in listed)


def run_info(repo: GovernedRepo, run_id: str) -> dict[str, Any]:
    c = client(repo)
    with errors(f"MLflow run {run_id}", repo):
        run = c.get_run(run_id)
    inputs = []
    for di in run.inputs.dataset_inputs or []:
        ctx = next((t.value for t in di.tags if t.key == "mlflow.data.context"), "")
        inputs.append({"name": di.dataset.name, "digest": di.dataset.digest, "context": ctx})
    return {
        "run_id": run_id,
        "metrics": dict(run.data.metrics),
        "params": dict(run.data.params),
        "inputs": inputs,
        "artifact_uri": run.info.artifact_uri,
        "status": run.info.status,
    }


def is_prompt(repo: GovernedRepo, name: str) -> bool:
    c = client(repo)
    with errors("MLflow", repo):
        return c.get_prompt(name) is not None


def is_model(repo: GovernedRepo, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    c = client(repo)
    try:
        with errors("MLflow", repo):
            c.get_registered_model(name)
        return True
    except NotFound:
        return False
    except MlflowException:
        return False


def create_model_version(
    repo: GovernedRepo, name: str, run_id: str | None, source: str, tags: dict[str, str],
    model_id: str | None = None,
) -> str:
    """A version of ``name`` from ``source`` (``runs:/RUN/PATH`` or ``models:/m-…``)."""
    c = client(repo)
    with errors(f"registering {name}", repo):
        if not is_model(repo, name):
            c.create_registered_model(name)
        with _fluent_uris(repo):
            mv = c.create_model_version(name, source, run_id=run_id, tags=tags,
                                        model_id=model_id)
    return str(mv.version)


def registry_client(repo: GovernedRepo) -> Any:
    """The MLflow client's own registry half (what ``MlflowClient._get_registry_client()``
    returns), for alias and tag writes: they need no tracking store, whose opening (a schema
    check of the whole store) is about a third of a bare ``MlflowClient(uri)`` call. The
    checks MlflowClient adds on top (a prompt's name is not a model's) are made with the
    direct reads."""
    forget()
    _quiet_env()
    uri, reg = tracking_uri(repo), registry_uri(repo)
    if (uri, reg) in _clients:
        return _clients[(uri, reg)]._get_registry_client()
    _check_store(repo, "registry", reg, probe=(uri, reg) not in _registry_clients)
    if (uri, reg) not in _registry_clients:
        with errors(f"MLflow at {reg}"):
            from mlflow.tracking._model_registry.client import ModelRegistryClient

            _registry_clients[(uri, reg)] = ModelRegistryClient(reg, uri)
    return _registry_clients[(uri, reg)]


def set_alias(repo: GovernedRepo, name: str, alias: str, version: str) -> None:
    get_aliases(repo, name)  # NotFound for a prompt's name, as MlflowClient says
    c = registry_client(repo)
    with errors(f"setting alias {alias} of {name}", repo):
        c.set_registered_model_alias(name, alias, str(version))


def delete_alias(repo: GovernedRepo, name: str, alias: str) -> None:
    if alias not in get_aliases(repo, name):
        return
    c = registry_client(repo)
    with errors(f"deleting alias {alias} of {name}", repo):
        c.delete_registered_model_alias(name, alias)


def set_model_tag(repo: GovernedRepo, name: str, key: str, value: str) -> None:
    get_model_tags(repo, name)  # NotFound for a prompt's name, as MlflowClient says
    c = registry_client(repo)
    with errors(f"tagging {name}", repo):
        c.set_registered_model_tag(name, key, value)


def register_prompt(repo: GovernedRepo, name: str, template: str, tags: dict[str, str],
                    message: str | None = None) -> str:
    c = client(repo)
    with errors(f"registering prompt {name}", repo):
        pv = c.register_prompt(name, template, commit_message=message, tags=tags)
    return str(pv.version)


def resolve_artifact_uri(repo: GovernedRepo, source: str) -> str:
    """The storage URI behind ``source``: ``runs:/RUN/PATH`` (the run's artifact folder),
    ``models:/m-ID`` (an MLflow 3 LoggedModel's artifacts) or a storage URI already."""
    from govctl.adapters import mlflowread

    if source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/"):].partition("/")
        base = mlflowread.run_artifact_uri(repo, run_id)
        return f"{base.rstrip('/')}/{path.strip('/')}" if path.strip("/") else base
    if source.startswith("models:/m-"):
        model_id, _, path = source[len("models:/"):].partition("/")
        base = mlflowread.logged_model_location(repo, model_id)
        return f"{base.rstrip('/')}/{path.strip('/')}" if path.strip("/") else base
    return source


@contextmanager
def local_artifacts(repo: GovernedRepo, source: str) -> Iterator[Path]:
    """A local folder (or file) holding the artifacts at ``source``: a file store is read in
    place, never copied; anything else is downloaded to a temporary folder, removed after."""
    import tempfile
    from urllib.parse import unquote, urlparse

    uri = resolve_artifact_uri(repo, source)
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        path = Path(unquote(parsed.path))
        if not path.exists():
            raise NotFound(f"the artifacts of {source} are gone from {path}")
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="govctl-artifacts-") as tmp:
        with errors(f"downloading {source}"):
            import mlflow.artifacts

            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=tmp, tracking_uri=tracking_uri(repo))
        yield Path(local)


def download_artifacts(repo: GovernedRepo, source: str, dst: Path) -> Path:
    """Download the artifacts at ``source`` into ``dst`` (created); the local path."""
    uri = resolve_artifact_uri(repo, source)
    dst.mkdir(parents=True, exist_ok=True)
    with errors(f"downloading {source}"):
        import mlflow.artifacts

        return Path(mlflow.artifacts.download_artifacts(
            artifact_uri=uri, dst_path=str(dst), tracking_uri=tracking_uri(repo)))
