"""The embedded MLflow store (SQLite) read directly: read-only, no mlflow, no sqlalchemy.

Each read opens the file read-only (``mode=ro``), checks the store's Alembic schema revision
(``alembic_version``) against :data:`KNOWN_REVISIONS` and runs the queries MLflow's own
SQLAlchemy store runs for the same call (single-tenant: workspace ``default``; versions
marked ``Deleted_Internal`` left out; prompts told apart by the ``mlflow.prompt.is_prompt``
tag). A revision not listed raises :class:`UnknownRevision` and the caller reads through
the MLflow client instead.

Adding a revision: read the migration scripts MLflow added since the last known one
(``mlflow/store/db_migrations/versions``); if none changes the tables read here
(``registered_models``, ``registered_model_tags``, ``registered_model_aliases``,
``model_versions``, ``model_version_tags``, ``runs``, ``latest_metrics``, ``logged_models``),
add it with the MLflow release that creates it. ``tests/test_mlflow_reads.py`` fails when
the installed MLflow creates a revision missing here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from govctl.adapters.mlflowread import (
    IS_PROMPT,
    StoreError,
    UnknownRevision,
    model_not_found,
    not_a_prompt,
    prompt_entry,
)

#: revision -> the MLflow release whose ``mlflow db upgrade`` / first use creates it
KNOWN_REVISIONS: dict[str, str] = {
    "dc11669786a5": "MLflow 3.17.2",  # add job executor persistence model (head of 3.17.2)
}
WORKSPACE = "default"
DELETED = "Deleted_Internal"
_PROMPT_VERSION = ("EXISTS (SELECT 1 FROM model_version_tags t WHERE t.workspace = mv.workspace"
                   " AND t.name = mv.name AND t.version = mv.version AND t.key = ?"
                   " AND t.value = 'true')")
_PROMPT_MODEL = ("EXISTS (SELECT 1 FROM registered_model_tags t WHERE t.workspace = rm.workspace"
                 " AND t.name = rm.name AND t.key = ? AND t.value = 'true')")


def revision(con: sqlite3.Connection) -> str | None:
    try:
        row = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:  # no such table: not a store MLflow made
        return None
    return str(row[0]) if row else None


class SqliteReader:
    """Reads one SQLite MLflow store file (the registry and the tracking tables)."""

    kind = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            con = sqlite3.connect(f"{self.path.as_uri()}?mode=ro", uri=True, timeout=20)
        except sqlite3.Error as exc:
            raise StoreError("UNREADABLE", str(exc)) from None
        try:
            rev = revision(con)
            if rev not in KNOWN_REVISIONS:
                raise UnknownRevision(rev)
            yield con
        except sqlite3.OperationalError as exc:
            text = str(exc)
            code = "UNREADABLE" if "locked" in text or "readonly" in text else "FAILED"
            raise StoreError(code, text) from None
        except sqlite3.DatabaseError as exc:  # e.g. "file is not a database"
            raise StoreError("UNREADABLE", str(exc)) from None
        finally:
            con.close()

    # --- registry -------------------------------------------------------------------------

    def ping(self) -> None:
        with self._db() as con:
            con.execute("SELECT 1 FROM registered_models LIMIT 1").fetchall()

    def registered_models(self) -> list[str]:
        with self._db() as con:
            rows = con.execute(f"SELECT rm.name FROM registered_models rm WHERE rm.workspace = ?"
                               f" AND NOT {_PROMPT_MODEL}", (WORKSPACE, IS_PROMPT)).fetchall()
        return [r[0] for r in rows]

    def prompt_names(self) -> list[str]:
        with self._db() as con:
            rows = con.execute(f"SELECT rm.name FROM registered_models rm WHERE rm.workspace = ?"
                               f" AND {_PROMPT_MODEL}", (WORKSPACE, IS_PROMPT)).fetchall()
        return [r[0] for r in rows]

    @staticmethod
    def _raw_model(con: sqlite3.Connection, name: str) -> dict[str, Any]:
        """A registered model (or prompt) with all its tags, like the store's own get."""
        found = con.execute("SELECT 1 FROM registered_models WHERE workspace = ? AND name = ?",
                            (WORKSPACE, name)).fetchone()
        if found is None:
            raise StoreError("RESOURCE_DOES_NOT_EXIST",
                             f"Registered Model with name={name} not found")
        tags = dict(con.execute("SELECT key, value FROM registered_model_tags WHERE "
                                "workspace = ? AND name = ?", (WORKSPACE, name)).fetchall())
        aliases = con.execute("SELECT alias, version FROM registered_model_aliases WHERE "
                              "workspace = ? AND name = ?", (WORKSPACE, name)).fetchall()
        return {"tags": tags, "aliases": {a: str(v) for a, v in aliases}}

    def _model(self, con: sqlite3.Connection, name: str) -> dict[str, Any]:
        """MlflowClient.get_registered_model: a prompt's name is not found."""
        rm = self._raw_model(con, name)
        if IS_PROMPT in rm["tags"]:
            raise model_not_found(name)
        return rm

    def model(self, name: str) -> dict[str, dict[str, str]]:
        with self._db() as con:
            rm = self._model(con, name)
        return {"aliases": rm["aliases"],
                "tags": {k: v for k, v in rm["tags"].items() if k != IS_PROMPT}}

    @staticmethod
    def _version_tags(con: sqlite3.Connection, name: str,
                      version: int | None = None) -> dict[int, dict[str, str]]:
        sql = "SELECT version, key, value FROM model_version_tags WHERE workspace = ? AND name = ?"
        args: tuple[Any, ...] = (WORKSPACE, name)
        if version is not None:
            sql, args = sql + " AND version = ?", (*args, version)
        out: dict[int, dict[str, str]] = {}
        for v, k, value in con.execute(sql, args).fetchall():
            out.setdefault(int(v), {})[k] = value
        return out

    def model_versions(self, name: str) -> list[dict[str, Any]]:
        with self._db() as con:
            rows = con.execute(
                "SELECT mv.version, mv.run_id, mv.source, mv.status, mv.creation_time FROM "
                "model_versions mv WHERE mv.workspace = ? AND mv.name = ? AND "
                f"mv.current_stage != ? AND NOT {_PROMPT_VERSION}",
                (WORKSPACE, name, DELETED, IS_PROMPT)).fetchall()
            tags = self._version_tags(con, name)
        return [{"version": str(v), "run_id": run_id, "source": source,
                 "tags": tags.get(int(v), {}), "status": status, "created": created}
                for v, run_id, source, status, created in rows]

    @staticmethod
    def _version(con: sqlite3.Connection, name: str, version: str) -> tuple[Any, ...]:
        try:
            number = int(version)
        except ValueError:
            raise StoreError("INVALID_PARAMETER_VALUE", f"Parameter 'version' must be an "
                             f"integer, got '{version}'.") from None
        row = con.execute("SELECT version, storage_location, source FROM model_versions WHERE "
                          "workspace = ? AND name = ? AND version = ? AND current_stage != ?",
                          (WORKSPACE, name, number, DELETED)).fetchone()
        if row is None:
            raise StoreError("RESOURCE_DOES_NOT_EXIST",
                             f"Model Version (name={name}, version={number}) not found")
        return tuple(row)

    def version_source(self, name: str, version: str) -> str:
        with self._db() as con:
            self._model(con, name)
            _, storage, source = self._version(con, name, version)
        return str(storage or source)

    # --- prompts (registered models tagged mlflow.prompt.is_prompt) ------------------------

    def _prompt(self, con: sqlite3.Connection, name: str, use: str) -> dict[str, Any]:
        rm = self._raw_model(con, name)
        if rm["tags"].get(IS_PROMPT) != "true":
            raise not_a_prompt(name, use)
        return rm

    def prompt_versions(self, name: str) -> list[dict[str, Any]]:
        with self._db() as con:
            rm = self._prompt(con, name, "search_model_versions()")
            rows = con.execute(
                "SELECT mv.version FROM model_versions mv WHERE mv.workspace = ? AND "
                f"mv.name = ? AND mv.current_stage != ? AND {_PROMPT_VERSION}",
                (WORKSPACE, name, DELETED, IS_PROMPT)).fetchall()
            tags = self._version_tags(con, name)
        return [prompt_entry(str(v), tags.get(int(v), {}),
                             [a for a, av in rm["aliases"].items() if av == str(v)])
                for (v,) in rows]

    def prompt_version(self, name: str, version: str) -> dict[str, Any] | None:
        with self._db() as con:
            rm = self._prompt(con, name, "get_model_version() or load_model()")
            number = self._version(con, name, version)[0]
            tags = self._version_tags(con, name, int(number)).get(int(number), {})
        if IS_PROMPT not in tags:
            return None
        return prompt_entry(str(number), tags,
                            [a for a, av in rm["aliases"].items() if av == str(number)])

    # --- tracking ---------------------------------------------------------------------------

    def run(self, run_id: str) -> dict[str, Any]:
        with self._db() as con:
            row = con.execute("SELECT artifact_uri, status FROM runs WHERE run_uuid = ?",
                              (run_id,)).fetchone()
            if row is None:
                raise StoreError("RESOURCE_DOES_NOT_EXIST", f"Run with id={run_id} not found")
            metrics = con.execute("SELECT key, value, is_nan FROM latest_metrics WHERE "
                                  "run_uuid = ?", (run_id,)).fetchall()
        return {"metrics": {k: float("nan") if nan else float(v) for k, v, nan in metrics},
                "artifact_uri": row[0], "status": row[1]}

    def logged_model_location(self, model_id: str) -> str:
        with self._db() as con:
            row = con.execute("SELECT artifact_location FROM logged_models WHERE model_id = ? "
                              "AND lifecycle_stage != 'deleted'", (model_id,)).fetchone()
        if row is None:
            raise StoreError("RESOURCE_DOES_NOT_EXIST",
                             f"Logged model with ID '{model_id}' not found.")
        return str(row[0])
