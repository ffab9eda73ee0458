"""The SQLite ledger read with the standard library: ``audit log`` without SQLAlchemy.

Importing SQLAlchemy and building its engine cost more than the rest of ``govctl audit log
-n 10`` together (about 0.2 s of 0.45 s). The reads a person runs most — the last N entries,
by action or subject — are plain indexed ``SELECT`` statements, so for a ``sqlite:///`` ledger
this module runs them on a read-only :mod:`sqlite3` connection, with exactly the filters of
:meth:`govctl.adapters.sql.LedgerStore.tail` (``LIKE`` with ``/`` escaping, as SQLAlchemy's
``startswith(autoescape=True)`` compiles it on SQLite). Anything unexpected — another
database URL, a file that is missing, locked or not a ledger — returns None and the caller
takes the SQLAlchemy path, which gives the documented errors. Nothing here writes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["Row", "batches", "sqlite_path", "tail"]


class Row(NamedTuple):
    seq: int
    body: bytes


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///PATH`` URL (no driver, no query string), else None."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or "?" in url:
        return None
    path = url[len(prefix):]
    return Path(path) if path and path != ":memory:" else None


def _escape(prefix: str) -> str:
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")


def tail(url: str, limit: int, *, action: str | None = None,
         subject_prefix: str | None = None) -> list[Row] | None:
    """The last ``limit`` matching entries, newest first; None: use SQLAlchemy instead."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    where, args = [], []
    if action:
        where.append("action = ?")
        args.append(action)
    if subject_prefix:
        where.append("subject_key LIKE ? ESCAPE '/'")
        args.append(_escape(subject_prefix) + "%")
    sql = ("SELECT seq, body FROM govctl_entries"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY seq DESC LIMIT ?")
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    try:
        return [Row(int(s), bytes(b)) for s, b in con.execute(sql, (*args, limit))]
    except sqlite3.Error:  # no such table, not a database, locked: SQLAlchemy says it
        return None
    finally:
        con.close()


#: the columns :func:`batches` reads, in order (the digest of govctl.ledger.scan relies on it)
ENTRY_COLUMNS = "seq, action, phase, subject_key, intent_ref, key_id, sig, body"
CHECKPOINT_COLUMNS = "tree_size, body, sig, frontier"


def batches(url: str, lo: int, hi: int, *, entries: bool = True,
            size: int = 2000) -> Iterator[list[tuple[Any, ...]]] | None:
    """Rows of entries (:data:`ENTRY_COLUMNS`) or checkpoints (:data:`CHECKPOINT_COLUMNS`)
    with ``lo < seq <= hi``, in order, a batch at a time, as plain tuples: the hash pass of
    ``audit verify --fast`` (SQLAlchemy's row objects cost more than hashing the bytes).
    None when the ledger is not a SQLite file this can open."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    except sqlite3.Error:
        return None
    table, key, cols = (("govctl_entries", "seq", ENTRY_COLUMNS) if entries
                        else ("govctl_checkpoints", "tree_size", CHECKPOINT_COLUMNS))
    try:
        cur = con.execute(f"SELECT {cols} FROM {table} WHERE {key} > ? AND {key} <= ? "
                          f"ORDER BY {key}", (lo, hi))
    except sqlite3.Error:
        con.close()
        return None
    return _fetch(con, cur, size)


def _fetch(con: sqlite3.Connection, cur: sqlite3.Cursor,
           size: int) -> Iterator[list[tuple[Any, ...]]]:
    try:
        while rows := cur.fetchmany(size):
            yield rows
    except sqlite3.Error:
        return  # the rows end early: the caller sees a range cut short and checks it all
    finally:
        con.close()
