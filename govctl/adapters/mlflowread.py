"""Reads of the MLflow registry and tracking store, without importing mlflow where possible.

One read interface (:class:`Reader`), three implementations chosen per store URI:

- ``http(s)://`` tracking servers: MLflow's REST API spoken directly (``mlflowrest``);
- ``sqlite:`` stores (the embedded default): the tables read read-only after checking the
  store's schema revision against the ones govctl knows (``mlflowdb``); an unknown revision
  falls back to the MLflow client with a note on stderr;
- anything else (PostgreSQL, MySQL, Databricks, ...), or ``GOVCTL_MLFLOW_READS=client`` /
  ``[govctl] mlflow_reads = "client"``: the MLflow client (:class:`ClientReader`).

Every reader returns the same plain values the MLflow client path returns, and fails with
the same govctl errors (exit 2 not found / bad input, 3 unreachable). Writes never come
here: they go through the MLflow client in ``mlflowstore``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from govctl import probe
from govctl.adapters.mlflowmemo import (  # noqa: F401 - memo, forget re-exported
    active,
    answer,
    forget,
    memo,
    prime,
)
from govctl.config import GovernedRepo, redact_text
from govctl.errors import ExternalError, InputError, NotFound

IS_PROMPT = "mlflow.prompt.is_prompt"
PROMPT_TEXT = "mlflow.prompt.text"
PROMPT_TYPE = "_mlflow_prompt_type"
#: tags MLflow keeps on a prompt version for itself (PromptVersion.tags leaves them out)
PROMPT_RESERVED = frozenset({IS_PROMPT, PROMPT_TEXT, PROMPT_TYPE,
                             "_mlflow_prompt_response_format", "_mlflow_prompt_model_config"})
MODES = ("auto", "client")


class StoreError(Exception):
    """A direct reader's failure: an MLflow error code (``RESOURCE_DOES_NOT_EXIST``, ...) or
    ``UNREACHABLE`` / ``UNREADABLE`` / ``FAILED``, and the text MLflow would have given."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(text)
        self.code, self.text = code, text


class UnknownRevision(Exception):
    """A SQLite store at a schema revision govctl does not read directly."""

    def __init__(self, revision: str | None) -> None:
        super().__init__(revision)
        self.revision = revision


class Reader(Protocol):
    """What govctl reads from MLflow. Versions are dicts with ``version`` (str), ``run_id``,
    ``source``, ``tags``, ``status`` and ``created`` (ms); prompt versions carry
    ``version``, ``template``, ``tags`` (MLflow's own prompt tags left out), ``aliases``."""

    kind: str

    def ping(self) -> None: ...
    def registered_models(self) -> list[str]: ...
    def model_versions(self, name: str) -> list[dict[str, Any]]: ...
    def model(self, name: str) -> dict[str, dict[str, str]]: ...  # {"aliases", "tags"}
    def version_source(self, name: str, version: str) -> str: ...
    def run(self, run_id: str) -> dict[str, Any]: ...  # {"metrics", "artifact_uri", "status"}
    def logged_model_location(self, model_id: str) -> str: ...
    def prompt_names(self) -> list[str]: ...
    def prompt_versions(self, name: str) -> list[dict[str, Any]]: ...
    def prompt_version(self, name: str, version: str) -> dict[str, Any] | None: ...


def prompt_template(tags: dict[str, str]) -> Any:
    """A prompt version's template from its tags (a chat prompt's is JSON)."""
    import json

    text = tags.get(PROMPT_TEXT)
    return json.loads(text) if tags.get(PROMPT_TYPE) == "chat" and text is not None else text


def prompt_entry(version: str, tags: dict[str, str], aliases: list[str]) -> dict[str, Any]:
    return {"version": str(version), "template": prompt_template(tags),
            "tags": {k: v for k, v in tags.items() if k not in PROMPT_RESERVED},
            "aliases": sorted(aliases)}


def not_a_prompt(name: str, use: str) -> StoreError:
    return StoreError("INVALID_PARAMETER_VALUE", f"Name `{name}` is registered as a model, "
                      f"not a prompt. Use {use} instead.")


def model_not_found(name: str) -> StoreError:
    """What MlflowClient.get_registered_model says of a prompt's name."""
    return StoreError("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name!r} not found.")


# --- choosing a reader --------------------------------------------------------------------

_readers: dict[tuple[str, ...], Reader] = {}
_noted: set[str] = set()


def mode(repo: GovernedRepo) -> str:
    raw = os.environ.get("GOVCTL_MLFLOW_READS") or repo.settings.get("mlflow_reads") or "auto"
    if raw not in MODES:
        where = ("GOVCTL_MLFLOW_READS" if os.environ.get("GOVCTL_MLFLOW_READS")
                 else "govctl.toml mlflow_reads")
        raise InputError(f"{where}: {raw!r} is not one of {', '.join(MODES)}")
    return str(raw)


def _uris(repo: GovernedRepo, which: str) -> tuple[str, str, str]:
    tracking, registry = repo.mlflow_tracking_uri(), repo.mlflow_registry_uri()
    return (registry if which == "registry" else tracking), tracking, registry


def reader(repo: GovernedRepo, which: str = "registry") -> Reader:
    """The reader for the repo's registry (or ``which="tracking"``) store."""
    uri, tracking, registry = _uris(repo, which)
    key = (which, tracking, registry, mode(repo))
    r = _readers.get(key)
    path = getattr(r, "path", None)  # a SQLite reader's file (or the one it waits for)
    if r is None or (path is not None and (not path.is_file()) == (r.kind == "sqlite")):
        # first use; a store that moved (say so); or an embedded store created since the
        # client was chosen for it (a long-lived process reads it directly from then on)
        r = _readers[key] = _choose(repo, which, uri, key[-1])
    return r


def _choose(repo: GovernedRepo, which: str, uri: str, how: str) -> Reader:
    from govctl.config import sqlite_path

    if how == "client":
        return ClientReader(repo)
    scheme = uri.split(":", 1)[0].lower()
    if scheme in ("http", "https"):
        from govctl.adapters import mlflowrest

        if mlflowrest.needs_client(uri) is None:
            return mlflowrest.RestReader(uri)
        return ClientReader(repo)
    path = sqlite_path(uri)
    if path is not None:
        from govctl.adapters import mlflowdb
        from govctl.adapters.mlflowstore import _check_store

        _check_store(repo, which, uri, probe=False)  # a configured store must exist
        if path.is_file():
            return mlflowdb.SqliteReader(path)
        return ClientReader(repo, path)  # before the store's first write: the client makes it
    return ClientReader(repo)


def _fallback(repo: GovernedRepo, which: str, exc: UnknownRevision) -> Reader:
    from govctl.adapters import mlflowdb

    uri, tracking, registry = _uris(repo, which)
    if uri not in _noted:
        _noted.add(uri)
        found = exc.revision or "none (no alembic_version table)"
        sys.stderr.write(
            f"note: the MLflow store {redact_text(uri)} is at schema revision {found}, which "
            f"govctl does not read directly (it knows {', '.join(mlflowdb.KNOWN_REVISIONS)}); "
            "reading it through the MLflow client (slower)\n")
    client_reader = ClientReader(repo)
    _readers[(which, tracking, registry, mode(repo))] = client_reader
    return client_reader


@contextmanager
def _named(what: str, repo: GovernedRepo, r: Reader, prompt: bool = False) -> Iterator[None]:
    """A reader's failure as a govctl error, worded like ``mlflowstore.errors`` (and, for
    prompts, like the MLflow client's prompt calls: "Prompt" for "Registered Model")."""
    if isinstance(r, ClientReader):
        from govctl.adapters.mlflowstore import errors

        with errors(what, repo):
            yield
        return
    try:
        yield
    except StoreError as exc:
        from govctl.adapters.mlflowstore import store_label

        text = exc.text
        if prompt:
            import re

            text = re.sub(r"(?i)(registered model|model version)",
                          lambda m: "Prompt" if m.group(0)[0].isupper() else "prompt", text)
        text = redact_text(text.split("\n")[0])[:300]
        what = redact_text(what)
        if exc.code == "RESOURCE_DOES_NOT_EXIST":
            raise NotFound(f"{what}: {text} [MLflow store: {store_label(repo)}]") from None
        if exc.code in ("INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "BAD_REQUEST"):
            raise InputError(f"{what}: {text}") from None
        if exc.code == "UNREACHABLE":
            raise ExternalError(f"{what} is unreachable ({text})",
                                hint="check MLFLOW_TRACKING_URI and that the tracking server "
                                     "is running") from None
        if exc.code == "UNREADABLE":
            raise ExternalError(f"{what}: the store is unreadable ({text})") from None
        raise ExternalError(f"{what} failed: {text}") from None


def _call(repo: GovernedRepo, which: str, what: str, method: str, *args: Any,
          prompt: bool = False) -> Any:
    return answer((str(repo.root), which, method, args),
                  lambda: _ask(repo, which, what, method, *args, prompt=prompt),
                  ping=method == "ping")


def _ask(repo: GovernedRepo, which: str, what: str, method: str, *args: Any,
         prompt: bool = False) -> Any:
    probe.count(probe.MLFLOW_READ)
    r = reader(repo, which)
    try:
        with _named(what, repo, r, prompt):
            return getattr(r, method)(*args)
    except UnknownRevision as exc:
        r = _fallback(repo, which, exc)
        with _named(what, repo, r, prompt):
            return getattr(r, method)(*args)


# --- the read API (mlflowstore and mlflowprompts re-export it) -----------------------------

def ping(repo: GovernedRepo) -> None:
    """Fail fast (exit 3) when MLflow is unreachable, before anything is written."""
    _call(repo, "registry", f"MLflow at {repo.mlflow_tracking_uri()}", "ping")


def registered_models(repo: GovernedRepo) -> list[str]:
    if not active() or reader(repo, "registry").kind != "rest":
        return sorted(_call(repo, "registry", "MLflow", "registered_models"))
    # within a read over HTTP: the search's answer holds each model's aliases and tags
    names, known = _call(repo, "registry", "MLflow", "registered_models_known")
    for name, state in known.items():
        prime((str(repo.root), "registry", "model", (name,)), state)
    return sorted(names)


def model_versions(repo: GovernedRepo, name: str) -> list[dict[str, Any]]:
    found = _call(repo, "registry", f"model {name}", "model_versions", name)
    return sorted(found, key=lambda v: int(v["version"]))


def get_aliases(repo: GovernedRepo, name: str) -> dict[str, str]:
    return dict(_call(repo, "registry", f"model {name}", "model", name)["aliases"])


def get_model_tags(repo: GovernedRepo, name: str) -> dict[str, str]:
    return dict(_call(repo, "registry", f"model {name}", "model", name)["tags"])


def version_source(repo: GovernedRepo, name: str, version: str) -> str:
    """Where MLflow serves ``models:/NAME/VERSION`` from (what a loader downloads)."""
    return str(_call(repo, "registry", f"model {name} version {version}", "version_source",
                     name, str(version)))


def run_metrics(repo: GovernedRepo, run_id: str) -> dict[str, float]:
    return dict(_call(repo, "tracking", f"MLflow run {run_id}", "run", run_id)["metrics"])


def run_artifact_uri(repo: GovernedRepo, run_id: str) -> str:
    return str(_call(repo, "tracking", f"MLflow run {run_id}", "run", run_id)["artifact_uri"])


def logged_model_location(repo: GovernedRepo, model_id: str) -> str:
    return str(_call(repo, "tracking", f"MLflow logged model {model_id}",
                     "logged_model_location", model_id))


def prompt_names(repo: GovernedRepo) -> list[str]:
    return sorted(_call(repo, "registry", "MLflow", "prompt_names"))


def prompt_version(repo: GovernedRepo, name: str, version: str) -> dict[str, Any] | None:
    pv = _call(repo, "registry", f"prompt {name}", "prompt_version", name, str(version),
               prompt=True)
    if pv is None:
        return None
    return {"name": name, "version": pv["version"], "template": pv["template"],
            "tags": pv["tags"]}


def _prompt_versions(repo: GovernedRepo, name: str) -> list[dict[str, Any]]:
    try:
        found = _call(repo, "registry", f"prompt {name}", "prompt_versions", name, prompt=True)
    except NotFound:
        return []
    return sorted(found, key=lambda v: int(v["version"]))


def prompt_version_numbers(repo: GovernedRepo, name: str) -> list[str]:
    """Every version MLflow holds of prompt ``name`` (registered by anyone), oldest first."""
    return [v["version"] for v in _prompt_versions(repo, name)]


def prompt_aliases(repo: GovernedRepo, name: str) -> dict[str, str]:
    """alias -> version of prompt ``name`` as MLflow has them now."""
    return {a: v["version"] for v in _prompt_versions(repo, name) for a in v["aliases"]}


# --- the MLflow client, for what the direct readers do not cover --------------------------

class ClientReader:
    """The reference implementation: MlflowClient calls, as govctl made them before."""

    kind = "client"

    def __init__(self, repo: GovernedRepo, path: Path | None = None) -> None:
        self.repo = repo
        self.path = path  # the embedded store's file it reads until that exists, if any

    @property
    def _c(self) -> Any:
        from govctl.adapters.mlflowstore import client

        return client(self.repo)

    def ping(self) -> None:
        self._c.search_registered_models(max_results=1)

    def _pages(self, search: Any, **kw: Any) -> list[Any]:
        out: list[Any] = []
        token = None
        while True:
            page = search(page_token=token, **kw)
            out += list(page)
            token = page.token
            if not token:
                return out

    def registered_models(self) -> list[str]:
        return [m.name for m in self._pages(self._c.search_registered_models, max_results=1000)]

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        return [{"version": str(v.version), "run_id": v.run_id, "source": v.source,
                 "tags": dict(v.tags), "status": v.status, "created": v.creation_timestamp}
                for v in self._pages(self._c.search_model_versions,
                                     filter_string=f"name='{name}'")]

    def model(self, name: str) -> dict[str, dict[str, str]]:
        rm = self._c.get_registered_model(name)
        return {"aliases": {a: str(v) for a, v in rm.aliases.items()}, "tags": dict(rm.tags)}

    def version_source(self, name: str, version: str) -> str:
        return str(self._c.get_model_version_download_uri(name, version))

    def run(self, run_id: str) -> dict[str, Any]:
        run = self._c.get_run(run_id)
        return {"metrics": dict(run.data.metrics), "artifact_uri": run.info.artifact_uri,
                "status": run.info.status}

    def logged_model_location(self, model_id: str) -> str:
        return str(self._c.get_logged_model(model_id).artifact_location)

    def prompt_names(self) -> list[str]:
        return [p.name for p in self._pages(self._c.search_prompts, max_results=100)]

    def prompt_versions(self, name: str) -> list[dict[str, Any]]:
        c = self._c
        out = []
        for v in self._pages(lambda page_token: c.search_prompt_versions(
                name, max_results=100, page_token=page_token)):
            pv = c.get_prompt_version(name, str(v.version))
            if pv is not None:
                out.append({"version": str(pv.version), "template": pv.template,
                            "tags": dict(pv.tags or {}), "aliases": sorted(pv.aliases or [])})
        return out

    def prompt_version(self, name: str, version: str) -> dict[str, Any] | None:
        pv = self._c.get_prompt_version(name, version)
        if pv is None:
            return None
        return {"version": str(pv.version), "template": pv.template,
                "tags": dict(pv.tags or {}), "aliases": sorted(pv.aliases or [])}
