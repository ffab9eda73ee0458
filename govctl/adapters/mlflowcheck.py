"""Is there an MLflow store at this URI? ``govctl init --mlflow-tracking-uri`` asks before it
records one in ``govctl.toml``: MLflow itself would quietly create a new, empty store at a
mistyped path (and every later command would read that instead of the team's).

SQLite files and SQL databases must hold MLflow's tables; a tracking server must answer; a
local folder (MLflow's file store) must exist. Other schemes (``databricks``, plugins) are
taken as given. Nothing here creates or migrates anything.
"""

from __future__ import annotations

import os
from pathlib import Path

from govctl.config import redact_text, redact_url, sqlite_path
from govctl.errors import ExternalError, InputError

_SQL = ("postgresql", "mysql", "mssql")
_HINT = ("point it at the team's existing store, or leave the option out to use the "
         "embedded store in .govctl/")


def check_store(uri: str, what: str) -> None:
    """Refuse (exit 2, or 3 when a server is unreachable) unless ``uri`` — already resolved
    against the governed root — names an existing MLflow store. ``what`` names the option
    or setting in messages; the URI is shown with its credentials redacted."""
    shown = redact_url(uri)
    scheme = uri.split(":", 1)[0].split("+", 1)[0].lower() if "://" in uri else ""
    if scheme == "sqlite":
        _check_sqlite(uri, what, shown)
    elif scheme in _SQL:
        _check_database(uri, what, shown)
    elif scheme in ("http", "https"):
        _check_server(uri, what, shown)
    elif scheme in ("", "file"):
        _check_folder(uri, what, shown)


def _check_sqlite(uri: str, what: str, shown: str) -> None:
    import sqlite3

    path = sqlite_path(uri)
    if path is None:
        raise InputError(f"{what} {shown}: an in-memory store would be empty every time",
                         hint=_HINT)
    if not path.parent.is_dir():
        raise InputError(f"{what} {shown}: the folder {path.parent} does not exist (a typo?); "
                         "nothing was created", hint=_HINT)
    if not path.is_file():
        raise InputError(f"{what} {shown}: no MLflow store at {path}; nothing was created",
                         hint=_HINT)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                                 "name = 'experiments'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise InputError(f"{what} {shown}: {path} is not a readable SQLite database "
                         f"({exc})") from None
    if not found:
        raise InputError(f"{what} {shown}: {path} is a SQLite database but not an MLflow "
                         "store (it has no experiments table)", hint=_HINT)


def _check_database(uri: str, what: str, shown: str) -> None:
    import sqlalchemy as sa

    args = {"connect_timeout": 5} if uri.startswith(("postgresql", "mysql")) else {}
    try:
        engine = sa.create_engine(uri, connect_args=args, poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            found = sa.inspect(conn).has_table("experiments")
    except Exception as exc:  # driver-specific errors: all mean "cannot reach it"
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ExternalError(f"{what} {shown}: cannot connect to its database: "
                            f"{redact_text(first)}",
                            hint="check the URI and that the database server is up") from None
    if not found:
        raise InputError(f"{what} {shown}: the database has no MLflow tables; nothing was "
                         "created", hint="create the store with MLflow first (e.g. start the "
                         "tracking server on it), or " + _HINT)


def _check_server(uri: str, what: str, shown: str) -> None:
    for var, value in (("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
                       ("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")):
        os.environ.setdefault(var, value)
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    from mlflow import MlflowClient

    from govctl.adapters.mlflowstore import errors

    with errors(f"{what} {shown}"):
        MlflowClient(tracking_uri=uri, registry_uri=uri).search_experiments(max_results=1)


def _check_folder(uri: str, what: str, shown: str) -> None:
    from urllib.parse import unquote, urlparse

    raw = unquote(urlparse(uri).path) if uri.startswith("file:") else uri
    if not Path(raw).is_absolute():
        raise InputError(f"{what} {shown}: a relative folder would be read relative to "
                         "whatever directory govctl runs in",
                         hint="give an absolute path (file:///...), or a sqlite:///relative.db "
                              "URI (relative to the governed root)")
    if not Path(raw).is_dir():
        raise InputError(f"{what} {shown}: no MLflow file store at {raw}; nothing was created",
                         hint=_HINT)
