"""The SQLite ledger read with the standard library: read commands without SQLAlchemy.

Importing SQLAlchemy and building its engine cost more than the rest of ``govctl audit log
-n 10`` together (about 0.2 s of 0.45 s). The reads a person runs most — the last N entries,
by action or subject — are plain indexed ``SELECT`` statements, so for a ``sqlite:///`` ledger
this module runs them on a read-only :mod:`sqlite3` connection, with exactly the filters of
:meth:`govctl.adapters.sql.LedgerStore.tail` (``LIKE`` with ``/`` escaping, as SQLAlchemy's
``startswith(autoescape=True)`` compiles it on SQLite). Anything unexpected — another
database URL, a file that is missing, locked or not a ledger — returns None and the caller
takes the SQLAlchemy path, which gives the documented errors. Nothing here writes.

The derived-state reads (:func:`state_rows`) answer only while the table is current — built
by these rules and up to the newest entry, checked in the same read transaction — so a
table that lags (entries an older govctl appended) is caught up by the SQLAlchemy path,
inside the append lock, as before.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from govctl.config import sqlite_path as config_sqlite_path

T = TypeVar("T")

__all__ = ["LockRow", "Row", "batches", "entries", "entries_at", "has_ledger", "locks",
           "sqlite_path", "state_rows", "tail"]


class Row(NamedTuple):
    seq: int
    body: bytes


def sqlite_path(url: str) -> Path | None:
    """The file of a plain ``sqlite:///PATH`` URL (:func:`govctl.config.sqlite_path`); None
    for any other URL, or one with query options (those are SQLAlchemy's to apply)."""
    return None if "?" in url else config_sqlite_path(url)


def _blob(value: Any) -> bytes:
    """A body as bytes; one edited to TEXT behind govctl's back is read, not a crash."""
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else bytes(value)


def _escape(prefix: str) -> str:
    return prefix.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _read(url: str, work: Callable[[sqlite3.Connection], T]) -> T | None:
    """``work(connection)`` in one read transaction on the ledger file; None when it is
    not a SQLite file this can open and read (no such table, not a database, locked)."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30,
                              isolation_level=None)
    except sqlite3.Error:
        return None
    try:
        con.execute("BEGIN")  # one snapshot for every statement of the read
        return work(con)
    except (sqlite3.Error, ValueError, TypeError):  # odd cells too: SQLAlchemy reports them
        return None
    finally:
        con.close()


def _filters(action: str | None, subject_prefix: str | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    args: list[Any] = []
    if action:
        where.append("action = ?")
        args.append(action)
    if subject_prefix:
        where.append("subject_key LIKE ? ESCAPE '/'")
        args.append(_escape(subject_prefix) + "%")
    return where, args


def tail(url: str, limit: int, *, action: str | None = None,
         subject_prefix: str | None = None) -> list[Row] | None:
    """The last ``limit`` matching entries, newest first; None: use SQLAlchemy instead."""
    where, args = _filters(action, subject_prefix)
    sql = ("SELECT seq, body FROM govctl_entries"
           + (" WHERE " + " AND ".join(where) if where else "")
           + " ORDER BY seq DESC LIMIT ?")
    return _read(url, lambda con: [Row(int(s), _blob(b))
                                   for s, b in con.execute(sql, (*args, limit))])


def entries(url: str, *, action: str | None = None, subject_prefix: str | None = None,
            since: int | None = None) -> list[Row] | None:
    """The entries by action or subject (an indexed query), in ledger order."""
    where, args = _filters(action, subject_prefix)
    if since:
        where.append("seq > ?")
        args.append(since)
    sql = ("SELECT seq, body FROM govctl_entries"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY seq")
    return _read(url, lambda con: [Row(int(s), _blob(b)) for s, b in con.execute(sql, args)])


def entries_at(url: str, seqs: list[int]) -> list[Row] | None:
    """The entries with these sequence numbers, in ledger order."""
    def work(con: sqlite3.Connection) -> list[Row]:
        out: list[Row] = []
        for i in range(0, len(seqs), 500):
            part = seqs[i:i + 500]
            out += [Row(int(s), _blob(b)) for s, b in con.execute(
                f"SELECT seq, body FROM govctl_entries WHERE seq IN "
                f"({', '.join('?' * len(part))})", part)]
        return sorted(out)

    return _read(url, work)


def state_rows(url: str, kind: str, *, mark: str, rules: tuple[str, str, str],
               subject: str | None = None, actions: list[str] | None = None,
               item: str | None = None) -> list[tuple[Any, ...]] | None:
    """Rows (kind, subject, action, item, seq, value) of the derived state, in key order,
    as :meth:`govctl.adapters.sql.LedgerStore.state_rows` reads them — or None when the
    table is not current: ``rules`` is (the rules' version mark, the version, the
    last-entry mark) of ``mark`` rows, and the last entry must be the newest one."""
    version_key, version, seq_key = rules

    def work(con: sqlite3.Connection) -> list[tuple[Any, ...]] | None:
        marks = dict(con.execute("SELECT item, value FROM govctl_state WHERE kind = ?",
                                 (mark,)).fetchall())
        top = con.execute("SELECT max(seq) FROM govctl_entries").fetchone()[0] or 0
        if marks.get(version_key) != version or marks.get(seq_key) != str(top):
            return None
        where, args = ["kind = ?"], [kind]
        if subject is not None:
            where.append("subject = ?")
            args.append(subject)
        if actions is not None:
            where.append(f"action IN ({', '.join('?' * len(actions))})")
            args += actions
        if item is not None:
            where.append("item = ?")
            args.append(item)
        return con.execute("SELECT kind, subject, action, item, seq, value FROM govctl_state "
                           f"WHERE {' AND '.join(where)} ORDER BY kind, subject, action, item",
                           args).fetchall()

    found = _read(url, work)
    return found


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


class LockRow(NamedTuple):
    subject_key: str
    holder: str
    acquired: str
    expires: str


def locks(url: str) -> list[LockRow] | None:
    """The leases held (``govctl_locks``), by subject."""
    return _read(url, lambda con: [LockRow(*r) for r in con.execute(
        "SELECT subject_key, holder, acquired, expires FROM govctl_locks "
        "ORDER BY subject_key")])


def has_ledger(url: str) -> bool | None:
    """Whether the SQLite file holds a ledger (its entries table); False for no file (and
    none is created), None when this cannot tell (another database, unreadable)."""
    path = sqlite_path(url)
    if path is None:
        return None
    if not path.is_file():
        return False
    return _read(url, lambda con: con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'govctl_entries'"
    ).fetchone() is not None)
