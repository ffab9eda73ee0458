"""Ledger storage through SQLAlchemy: SQLite by default, PostgreSQL for teams.

Appends are serialised by the database: ``BEGIN IMMEDIATE`` on SQLite, a transaction-level
advisory lock on PostgreSQL, so concurrent writers from several processes never fork the
Merkle tree or reuse a sequence number.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from govctl.adapters.sql_schema import STATE_MARK, tables
from govctl.config import redact_url as _redact
from govctl.config import scrub
from govctl.errors import ExternalError, InputError, IntegrityError

_ADVISORY_KEY = 0x60C7_1ED6  # arbitrary constant naming "the govctl ledger append lock"
_ROWS = ("seq", "body", "sig")
# url -> the entries read so far (seq order), while a command shares its ledger reads
_SHARED: contextvars.ContextVar[dict[str, list[Any]] | None] = contextvars.ContextVar(
    "govctl_shared_ledger_reads", default=None)


@contextmanager
def shared_reads() -> Iterator[None]:
    """Within this block every read of a ledger's whole log (any store object for the same
    URL) is answered from one copy of its entries, read once and topped up with the entries
    appended since (so a read sees what the command itself, or anyone, appended): one
    command reads the log once, however many of its parts ask. Reads by action or subject
    are indexed queries and never read the whole log. ``govctl.context``."""
    if _SHARED.get() is not None:
        yield
        return
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


class LedgerStore:
    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.url = url
        self.md, self.meta, self.entries, self.checkpoints, self.locks, self.state = \
            tables(sa)
        self._exists = False
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        elif url.startswith("postgresql"):
            kwargs["connect_args"] = {"connect_timeout": 5}
        try:
            self.engine = sa.create_engine(url, **kwargs)
        except sa.exc.ArgumentError as exc:  # not a database URL
            raise InputError(f"the ledger URL {_redact(url)} is not valid: {scrub(exc, url)}",
                             hint="set GOVCTL_LEDGER_URL (or ledger_url in govctl.toml) to "
                                  "an SQLAlchemy URL, e.g. postgresql+psycopg://host/db"
                             ) from None
        except Exception as exc:  # missing driver
            raise ExternalError(f"cannot open the ledger at {_redact(url)}: {scrub(exc, url)}") from None
        self.dialect = self.engine.dialect.name
        if self.dialect == "sqlite":
            self._sqlite_immediate()

    def _sqlite_immediate(self) -> None:
        from sqlalchemy import event

        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
            dbapi_conn.execute("PRAGMA journal_mode=WAL")
            dbapi_conn.execute("PRAGMA busy_timeout=30000")

        @event.listens_for(self.engine, "begin")
        def _begin(conn: Any) -> None:
            # readers take a snapshot (WAL) without blocking writers or each other
            read = conn.get_execution_options().get("govctl_read")
            conn.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")

    @contextmanager
    def _errors(self) -> Iterator[None]:
        sa = self.sa
        try:
            yield
        except sa.exc.OperationalError as exc:
            raise ExternalError(
                f"the ledger database at {_redact(self.url)} failed: {scrub(exc.orig, self.url)}"
            ) from None
        except sa.exc.IntegrityError as exc:
            raise IntegrityError(f"the ledger refused a write: {scrub(exc.orig, self.url)}") from None
        except sa.exc.DatabaseError as exc:
            if type(exc) is sa.exc.DatabaseError:  # e.g. SQLite: "file is not a database"
                raise IntegrityError(
                    f"the ledger database at {_redact(self.url)} is unreadable: {scrub(exc.orig, self.url)} "
                    "(corrupted or replaced?)"
                ) from None
            raise ExternalError(  # permissions, missing tables, ...
                f"the ledger database at {_redact(self.url)} failed: {scrub(exc.orig, self.url)}"
            ) from None

    def ensure_schema(self) -> None:
        with self._errors():
            self.md.create_all(self.engine)

    def exists(self) -> bool:
        if not self._exists:  # once there, the ledger's tables are never dropped by govctl
            with self._errors():
                self._exists = self.sa.inspect(self.engine).has_table("govctl_entries")
        return self._exists

    @contextmanager
    def locked(self) -> Iterator[Any]:
        """A transaction holding the ledger's append lock."""
        with self._errors(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(self.sa.text(f"SELECT pg_advisory_xact_lock({_ADVISORY_KEY})"))
            yield conn

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self._errors(), self.engine.connect() as conn:
            yield conn.execution_options(govctl_read=True)

    def get_meta(self, conn: Any, key: str) -> str | None:
        row = conn.execute(
            self.sa.select(self.meta.c.value).where(self.meta.c.key == key)
        ).first()
        return row[0] if row else None

    def set_meta(self, conn: Any, key: str, value: str) -> None:
        conn.execute(self.meta.insert().values(key=key, value=value))

    def last_checkpoint(self, conn: Any) -> Any:
        c = self.checkpoints.c
        return conn.execute(
            self.sa.select(c.tree_size, c.body, c.sig, c.frontier)
            .order_by(c.tree_size.desc())
            .limit(1)
        ).first()

    def checkpoint_at(self, conn: Any, size: int) -> Any:
        c = self.checkpoints.c
        return conn.execute(
            self.sa.select(c.tree_size, c.body, c.sig).where(c.tree_size == size)
        ).first()

    def frontier_before(self, conn: Any, size: int) -> Any:
        """The newest checkpoint (tree_size, frontier) at or below ``size``, if any."""
        c = self.checkpoints.c
        return conn.execute(self.sa.select(c.tree_size, c.frontier).where(c.tree_size <= size)
                            .order_by(c.tree_size.desc()).limit(1)).first()

    def count_checkpoints(self, conn: Any) -> int:
        return int(conn.execute(self.sa.select(self.sa.func.count())
                                .select_from(self.checkpoints)).scalar())

    def next_seq(self, conn: Any, after: int) -> int | None:
        c = self.entries.c
        return conn.execute(self.sa.select(self.sa.func.min(c.seq)).where(c.seq > after)).scalar()

    def max_seq(self, conn: Any) -> int:
        return int(conn.execute(self.sa.select(self.sa.func.max(self.entries.c.seq))).scalar() or 0)

    def count(self, conn: Any) -> int:
        return int(conn.execute(self.sa.select(self.sa.func.count()).select_from(self.entries)).scalar())

    def insert(self, conn: Any, entries: list[dict[str, Any]], checkpoint: dict[str, Any]) -> None:
        conn.execute(self.entries.insert(), entries)
        conn.execute(self.checkpoints.insert().values(**checkpoint))

    def iter_entries(
        self,
        conn: Any,
        *,
        action: str | None = None,
        subject_prefix: str | None = None,
        since: int | None = None,
        columns: tuple[str, ...] = ("seq", "body", "sig"),
        batch: int = 5000,
    ) -> Iterator[Any]:
        from govctl import probe

        filtered = bool(action or subject_prefix)
        shared = _SHARED.get()
        if shared is not None and columns == _ROWS and not filtered:
            rows = self._shared_rows(conn, shared)
            for row in rows[:len(rows)]:  # reads made while iterating may top it up
                if not since or row.seq > since:
                    yield row
            return
        # a read by action or subject is an indexed query, however long the ledger (reading
        # the whole log once to filter it in Python cost 2.2 s at 200,000 entries)
        if not since and not filtered:
            probe.count(probe.LEDGER_SCAN)
        c = self.entries.c
        q = self.sa.select(*(getattr(c, n) for n in columns)).order_by(c.seq)
        if action:
            q = q.where(c.action == action)
        if subject_prefix:
            q = q.where(c.subject_key.startswith(subject_prefix, autoescape=True))
        if since:
            q = q.where(c.seq > since)
        yield from conn.execute(q, execution_options={"yield_per": batch})

    def tail(self, conn: Any, limit: int, *, action: str | None = None,
             subject_prefix: str | None = None) -> list[Any]:
        """The last ``limit`` matching entries (seq, body), newest first: an index walk
        backwards from the end, however long the ledger."""
        c = self.entries.c
        q = self.sa.select(c.seq, c.body).order_by(c.seq.desc()).limit(limit)
        if action:
            q = q.where(c.action == action)
        if subject_prefix:
            q = q.where(c.subject_key.startswith(subject_prefix, autoescape=True))
        return list(conn.execute(q))

    def entries_at(self, conn: Any, seqs: list[int]) -> list[Any]:
        """The entries (seq, body) with these sequence numbers, in ledger order."""
        c = self.entries.c
        out: list[Any] = []
        for i in range(0, len(seqs), 500):
            out += conn.execute(self.sa.select(c.seq, c.body).where(c.seq.in_(seqs[i:i + 500])))
        return sorted(out, key=lambda r: r.seq)

    def iter_rows(self, conn: Any, lo: int, hi: int, *, entries: bool = True,
                  batch: int = 2000) -> Iterator[Any]:
        """Rows of entries (all columns) or checkpoints with lo < seq/tree_size <= hi."""
        t = self.entries if entries else self.checkpoints
        key = t.c.seq if entries else t.c.tree_size
        cols = ([t.c.seq, t.c.body, t.c.sig, t.c.action, t.c.phase, t.c.subject_key,
                 t.c.intent_ref, t.c.key_id] if entries
                else [t.c.tree_size, t.c.body, t.c.sig, t.c.frontier])
        q = self.sa.select(*cols).where(key > lo, key <= hi).order_by(key)
        # statement options: on the connection they would outlive the statement (in place)
        yield from conn.execute(q, execution_options={"yield_per": batch})

    def _shared_rows(self, conn: Any, shared: dict[str, list[Any]]) -> list[Any]:
        from govctl import probe

        c = self.entries.c
        rows = shared.get(self.url)
        q = self.sa.select(c.seq, c.body, c.sig, c.action, c.subject_key).order_by(c.seq)
        if rows is None:
            probe.count(probe.LEDGER_SCAN)  # the one read of the whole log
            rows = shared[self.url] = []
        elif rows:
            q = q.where(c.seq > rows[-1].seq)  # only what was appended since
        rows.extend(conn.execute(q))
        return rows

    def iter_checkpoints(self, conn: Any) -> Iterator[Any]:
        c = self.checkpoints.c
        yield from conn.execute(
            self.sa.select(c.tree_size, c.body, c.sig).order_by(c.tree_size),
            execution_options={"yield_per": 5000})

    # --- the derived state (see govctl.ledger.state) ----------------------------------

    def ensure_state_table(self, conn: Any) -> None:
        self.state.create(conn, checkfirst=True)
        self._has_state = True

    def state_marks(self, conn: Any) -> dict[str, str]:
        """What the table was built to (``STATE_MARK`` rows); empty when there is no table
        (a ledger older than it)."""
        if not getattr(self, "_has_state", False):
            self._has_state = self.sa.inspect(conn).has_table("govctl_state")
            if not self._has_state:
                return {}
        c = self.state.c
        return dict(conn.execute(self.sa.select(c.item, c.value)
                                 .where(c.kind == STATE_MARK)).all())

    def put_state_marks(self, conn: Any, values: dict[str, str]) -> None:
        self.state_apply(conn, {(STATE_MARK, "", "", k): (0, v) for k, v in values.items()})

    def state_rows(self, conn: Any, kind: str | None = None, *, subject: str | None = None,
                   actions: list[str] | None = None, item: str | None = None) -> list[Any]:
        """Rows (kind, subject, action, item, seq, value), by primary key order."""
        c = self.state.c
        q = self.sa.select(c.kind, c.subject, c.action, c.item, c.seq, c.value)
        q = q.where(c.kind == kind) if kind is not None else q.where(c.kind != STATE_MARK)
        if subject is not None:
            q = q.where(c.subject == subject)
        if actions is not None:
            q = q.where(c.action.in_(actions))
        if item is not None:
            q = q.where(c.item == item)
        return list(conn.execute(q.order_by(c.kind, c.subject, c.action, c.item)))

    def state_apply(self, conn: Any, changes: dict[tuple[str, str, str, str],
                                                   tuple[int, str | None] | None]) -> None:
        """Write folded changes: key -> (seq, value), or None to delete the key."""
        if not changes:
            return
        c, sa = self.state.c, self.sa
        conn.execute(
            self.state.delete().where(c.kind == sa.bindparam("k"), c.subject == sa.bindparam("s"),
                                      c.action == sa.bindparam("a"), c.item == sa.bindparam("i")),
            [{"k": k, "s": s, "a": a, "i": i} for k, s, a, i in changes])
        rows = [{"kind": k, "subject": s, "action": a, "item": i, "seq": v[0], "value": v[1]}
                for (k, s, a, i), v in changes.items() if v is not None]
        if rows:
            conn.execute(self.state.insert(), rows)

    def state_clear(self, conn: Any) -> None:
        conn.execute(self.state.delete())

    def try_lock(
        self, subject_key: str, holder: str, token: str, now: str, expires: str
    ) -> Any:
        """Take the lease on ``subject_key`` unless someone holds an unexpired one.

        Returns None on success, else the row of the current holder. Times are RFC 3339
        UTC strings of equal width, so they compare as text.
        """
        c = self.locks.c
        with self.locked() as conn:
            row = conn.execute(
                self.sa.select(c.holder, c.acquired, c.expires).where(c.subject_key == subject_key)
            ).first()
            if row is not None and row.expires > now:
                return row
            if row is not None:
                conn.execute(self.locks.delete().where(c.subject_key == subject_key))
            conn.execute(
                self.locks.insert().values(
                    subject_key=subject_key, holder=holder, token=token, acquired=now,
                    expires=expires,
                )
            )
        return None

    def break_lock(self, subject_key: str, holder: str | None) -> bool:
        """Delete the lease on ``subject_key`` (only if still ``holder``'s, when given)."""
        c = self.locks.c
        with self.locked() as conn:
            q = self.locks.delete().where(c.subject_key == subject_key)
            if holder is not None:
                q = q.where(c.holder == holder)
            return bool(conn.execute(q).rowcount)

    def list_locks(self) -> list[Any]:
        c = self.locks.c
        with self.reading() as conn:
            return list(conn.execute(self.sa.select(c.subject_key, c.holder, c.acquired,
                                                    c.expires).order_by(c.subject_key)))

    def unlock(self, subject_key: str, token: str) -> None:
        c = self.locks.c
        with self.locked() as conn:
            conn.execute(
                self.locks.delete().where(c.subject_key == subject_key, c.token == token)
            )

