"""Ledger storage through SQLAlchemy: SQLite by default, PostgreSQL for teams.

Appends are serialised by the database: ``BEGIN IMMEDIATE`` on SQLite, a transaction-level
advisory lock on PostgreSQL, so concurrent writers from several processes never fork the
Merkle tree or reuse a sequence number.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from govctl.config import redact_url as _redact
from govctl.config import scrub
from govctl.errors import ExternalError, InputError, IntegrityError

_ADVISORY_KEY = 0x60C7_1ED6  # arbitrary constant naming "the govctl ledger append lock"


_TABLES: tuple[Any, ...] | None = None


def _tables(sa: Any) -> tuple[Any, ...]:
    """The ledger's tables, declared once per process (a declaration holds no connection:
    every store, whatever its engine, shares them)."""
    global _TABLES
    if _TABLES is None:
        _TABLES = _declare(sa)
    return _TABLES


def _declare(sa: Any) -> tuple[Any, ...]:
    md = sa.MetaData()
    meta = sa.Table(
        "govctl_meta",
        md,
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    entries = sa.Table(
        "govctl_entries",
        md,
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("action", sa.String(64), nullable=False, index=True),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("subject_key", sa.String(255), nullable=False, index=True),
        sa.Column("intent_ref", sa.BigInteger, nullable=True, index=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("sig", sa.Text, nullable=False),
    )
    checkpoints = sa.Table(
        "govctl_checkpoints",
        md,
        sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("sig", sa.Text, nullable=False),
        sa.Column("frontier", sa.Text, nullable=False),
    )
    locks = sa.Table(
        "govctl_locks",
        md,
        sa.Column("subject_key", sa.String(255), primary_key=True),
        sa.Column("holder", sa.Text, nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("acquired", sa.String(32), nullable=False),
        sa.Column("expires", sa.String(32), nullable=False),
    )
    return md, meta, entries, checkpoints, locks


class LedgerStore:
    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.sa = sa
        self.url = url
        self.md, self.meta, self.entries, self.checkpoints, self.locks = _tables(sa)
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
            conn.exec_driver_sql("BEGIN IMMEDIATE")

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
        with self._errors():
            return self.sa.inspect(self.engine).has_table("govctl_entries")

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
            yield conn

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
        c = self.entries.c
        q = self.sa.select(*(getattr(c, n) for n in columns)).order_by(c.seq)
        if action:
            q = q.where(c.action == action)
        if subject_prefix:
            q = q.where(c.subject_key.startswith(subject_prefix, autoescape=True))
        if since:
            q = q.where(c.seq > since)
        result = conn.execution_options(yield_per=batch).execute(q)
        yield from result

    def iter_checkpoints(self, conn: Any) -> Iterator[Any]:
        c = self.checkpoints.c
        yield from conn.execution_options(yield_per=5000).execute(
            self.sa.select(c.tree_size, c.body, c.sig).order_by(c.tree_size)
        )

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

    def open_intents(self, conn: Any, subject_key: str) -> list[Any]:
        e = self.entries.c
        done = self.sa.select(e.intent_ref).where(e.intent_ref.is_not(None))
        q = (
            self.sa.select(e.seq, e.body)
            .where(e.phase == "intent", e.subject_key == subject_key, e.seq.not_in(done))
            .order_by(e.seq)
        )
        return list(conn.execute(q))
