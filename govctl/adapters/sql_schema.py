"""The ledger's tables (entries, checkpoints, the derived state, leases, metadata), declared
once per process with SQLAlchemy for SQLite and PostgreSQL alike (``govctl.adapters.sql``)."""

from __future__ import annotations

from typing import Any

__all__ = ["STATE_MARK", "tables"]

_TABLES: tuple[Any, ...] | None = None

STATE_MARK = "~"  # govctl_state rows saying which rules built the table, up to which entry


def tables(sa: Any) -> tuple[Any, ...]:
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
    state = sa.Table(  # derived from the entries (govctl.ledger.state), kept in each append
        "govctl_state",
        md,
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("action", sa.String(64), primary_key=True),
        sa.Column("item", sa.String(255), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Text, nullable=True),
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
    return md, meta, entries, checkpoints, locks, state
