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
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from govctl.config import sqlite_path as config_sqlite_path

T = TypeVar("T")

__all__ = ["LockRow", "Reader", "Row", "StateRow", "entries", "entries_at", "has_ledger", "locks",
           "reader", "sqlite_path", "state_rows", "tail"]


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


#: the columns :meth:`Reader.digest_rows` reads, in order (govctl.ledger.scan's digest
#: relies on it)
ENTRY_COLUMNS = "seq, action, phase, subject_key, intent_ref, key_id, sig, body"
CHECKPOINT_COLUMNS = "tree_size, body, sig, frontier"


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


class EntryRow(NamedTuple):
    seq: int
    body: bytes
    sig: str
    action: str
    phase: str
    subject_key: str
    intent_ref: int | None
    key_id: str


class CheckpointRow(NamedTuple):
    tree_size: int
    body: bytes
    sig: str
    frontier: str


class Reader:
    """The reads ``audit verify`` makes of a ledger, by the names and row shapes of
    :class:`govctl.adapters.sql.LedgerStore`, on read-only :mod:`sqlite3` connections: a
    verification of a SQLite ledger imports no SQLAlchemy (:func:`reader`). Nothing here
    writes; a database error is the store's documented error (exit 4 for a file that is
    not a readable database, exit 5 for one that cannot be read now)."""

    def __init__(self, url: str, path: Path) -> None:
        self.url = url
        self._uri = f"{path.resolve().as_uri()}?mode=ro"

    @contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """One read transaction (a snapshot: appends go on meanwhile)."""
        from govctl.errors import ExternalError, IntegrityError

        con = None
        try:
            con = sqlite3.connect(self._uri, uri=True, timeout=30, isolation_level=None)
            con.execute("BEGIN")
            yield con
        except sqlite3.OperationalError as exc:
            raise ExternalError(f"the ledger database at {self.url} failed: {exc}") from None
        except sqlite3.IntegrityError as exc:
            raise IntegrityError(f"the ledger refused a read: {exc}") from None
        except sqlite3.DatabaseError as exc:
            if type(exc) is sqlite3.DatabaseError:  # "file is not a database", "malformed"
                raise IntegrityError(f"the ledger database at {self.url} is unreadable: {exc} "
                                     "(corrupted or replaced?)") from None
            raise ExternalError(f"the ledger database at {self.url} failed: {exc}") from None
        finally:
            if con is not None:
                con.close()

    def get_meta(self, con: sqlite3.Connection, key: str) -> str | None:
        row = con.execute("SELECT value FROM govctl_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def max_seq(self, con: sqlite3.Connection) -> int:
        return int(con.execute("SELECT max(seq) FROM govctl_entries").fetchone()[0] or 0)

    def count(self, con: sqlite3.Connection) -> int:
        return int(con.execute("SELECT count(*) FROM govctl_entries").fetchone()[0])

    def next_seq(self, con: sqlite3.Connection, after: int) -> int | None:
        found = con.execute("SELECT min(seq) FROM govctl_entries WHERE seq > ?",
                            (after,)).fetchone()[0]
        return None if found is None else int(found)

    def count_checkpoints(self, con: sqlite3.Connection) -> int:
        return int(con.execute("SELECT count(*) FROM govctl_checkpoints").fetchone()[0])

    def last_checkpoint(self, con: sqlite3.Connection) -> CheckpointRow | None:
        row = con.execute(f"SELECT {CHECKPOINT_COLUMNS} FROM govctl_checkpoints "
                          "ORDER BY tree_size DESC LIMIT 1").fetchone()
        return None if row is None else CheckpointRow(*row)

    def frontier_before(self, con: sqlite3.Connection, size: int) -> Any:
        """The newest checkpoint (tree_size, frontier) at or below ``size``, if any."""
        row = con.execute("SELECT tree_size, frontier FROM govctl_checkpoints WHERE "
                          "tree_size <= ? ORDER BY tree_size DESC LIMIT 1", (size,)).fetchone()
        return None if row is None else _Frontier(*row)

    def iter_rows(self, con: sqlite3.Connection, lo: int, hi: int, *, entries: bool = True,
                  batch: int = 2000) -> Iterator[Any]:
        """Rows of entries or checkpoints with lo < seq/tree_size <= hi, in order, in the
        store's column order (``LedgerStore.iter_rows``)."""
        if entries:
            cur = con.execute("SELECT seq, body, sig, action, phase, subject_key, intent_ref, "
                              "key_id FROM govctl_entries WHERE seq > ? AND seq <= ? "
                              "ORDER BY seq", (lo, hi))
            make: Any = EntryRow
        else:
            cur = con.execute(f"SELECT {CHECKPOINT_COLUMNS} FROM govctl_checkpoints WHERE "
                              "tree_size > ? AND tree_size <= ? ORDER BY tree_size", (lo, hi))
            make = CheckpointRow
        while rows := cur.fetchmany(batch):
            yield from map(make._make, rows)

    def digest_rows(self, con: sqlite3.Connection, lo: int, hi: int, *,
                    entries: bool = True) -> list[tuple[Any, ...]]:
        """Rows of entries (:data:`ENTRY_COLUMNS`) or checkpoints (:data:`CHECKPOINT_COLUMNS`)
        with ``lo < seq <= hi``, in order, as plain tuples: the hash pass of ``audit verify
        --fast`` (row objects would cost more than hashing the bytes)."""
        table, key, cols = (("govctl_entries", "seq", ENTRY_COLUMNS) if entries
                            else ("govctl_checkpoints", "tree_size", CHECKPOINT_COLUMNS))
        return con.execute(f"SELECT {cols} FROM {table} WHERE {key} > ? AND {key} <= ? "
                           f"ORDER BY {key}", (lo, hi)).fetchall()

    def state_marks(self, con: sqlite3.Connection) -> dict[str, str]:
        from govctl.adapters.sql_schema import STATE_MARK

        # the table exists: reader() gives a Reader only for a file that has it
        return dict(con.execute("SELECT item, value FROM govctl_state WHERE kind = ?",
                                (STATE_MARK,)).fetchall())

    def state_rows(self, con: sqlite3.Connection) -> list[StateRow]:
        """Every row (kind, subject, action, item, seq, value) but the marks, by key."""
        from govctl.adapters.sql_schema import STATE_MARK

        return [StateRow(*r) for r in con.execute(
            "SELECT kind, subject, action, item, seq, value FROM govctl_state WHERE kind != ? "
            "ORDER BY kind, subject, action, item", (STATE_MARK,))]


class StateRow(NamedTuple):
    """A row of the derived state (``govctl.ledger.state``)."""

    kind: str
    subject: str
    action: str
    item: str
    seq: int
    value: str | None


class _Frontier(NamedTuple):
    tree_size: int
    frontier: str


def reader(url: str) -> Reader | None:
    """A :class:`Reader` for a plain ``sqlite:///`` ledger file that holds a ledger; None
    for any other URL or file (the caller reads through SQLAlchemy, which reports it)."""
    path = sqlite_path(url)
    if path is None or not path.is_file():
        return None
    found = _read(url, lambda con: con.execute(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('govctl_entries', "
        "'govctl_meta', 'govctl_checkpoints', 'govctl_state')").fetchone()[0])
    return Reader(url, path) if found == 4 else None
