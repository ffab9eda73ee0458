"""Reading the ledger: the entries, and indexed queries on its derived state.

Each query reads the rows it needs (see :mod:`govctl.ledger.state`), never the whole log:
the current release entry per subject and environment, the aliases as the ledger last set
them, open intents, the last N entries, a subject's alias moves, the registrations. Before
the first query of a command the derived state is brought up to date if it lags the
entries — a ledger older than the table, or entries appended by an older govctl — inside
the append lock; a ledger nobody may write to is replayed in memory instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from govctl.adapters.sql_schema import STATE_MARK
from govctl.adapters.sqlite_ledger import StateRow
from govctl.errors import ExternalError
from govctl.ledger import state
from govctl.ledger.entry import Entry, subject_key

if TYPE_CHECKING:
    from govctl.adapters.sql import LedgerStore


def blob(value: Any) -> bytes:
    """A body column as bytes: SQLite stores whatever was written, and a body edited to
    TEXT behind govctl's back must be judged (its hash differs), not crash the reader."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    return repr(value).encode()  # a number where a body belongs: judged by its hash


def parse(body: bytes) -> dict[str, Any] | None:
    """An entry's JSON object (orjson, the standard parser for what it refuses), or None
    when unreadable (``audit verify`` names such an entry; it sets no state)."""
    try:
        try:
            import orjson

            data = orjson.loads(body)
        except (ImportError, ValueError):
            data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _entry(row: Any) -> Entry:
    return Entry.from_json(json.loads(row.body))


class Reads:
    """The read side of :class:`govctl.ledger.log.Ledger`."""

    url: str

    @property
    def store(self) -> LedgerStore:  # defined by Ledger
        raise NotImplementedError

    def _require(self) -> None:  # defined by Ledger
        raise NotImplementedError

    # --- the entries ---------------------------------------------------------------

    def entries(self, *, action: str | None = None, subject_prefix: str | None = None,
                since: int | None = None) -> Iterable[Entry]:
        """Every matching entry in ledger order (a scan: prefer the queries below)."""
        if action or subject_prefix:  # an indexed query: without SQLAlchemy where it can
            from govctl.adapters import sqlite_ledger

            fast = sqlite_ledger.entries(self.url, action=action,
                                         subject_prefix=subject_prefix, since=since)
            if fast is not None:
                yield from (_entry(r) for r in fast)
                return
        self._require()
        with self.store.reading() as conn:
            for row in self.store.iter_entries(conn, action=action,
                                               subject_prefix=subject_prefix, since=since):
                yield _entry(row)

    def tail(self, limit: int, *, action: str | None = None,
             subject_prefix: str | None = None) -> list[Entry]:
        """The last ``limit`` matching entries, oldest first."""
        from govctl.adapters import sqlite_ledger

        fast = sqlite_ledger.tail(self.url, limit, action=action, subject_prefix=subject_prefix)
        if fast is not None:
            return [_entry(r) for r in reversed(fast)]
        self._require()
        with self.store.reading() as conn:
            rows = self.store.tail(conn, limit, action=action, subject_prefix=subject_prefix)
        return [_entry(r) for r in reversed(rows)]

    def at(self, seqs: Iterable[int]) -> list[Entry]:
        """The entries with these sequence numbers, in ledger order."""
        wanted = sorted(set(seqs))
        if not wanted:
            return []
        from govctl.adapters import sqlite_ledger

        fast = sqlite_ledger.entries_at(self.url, wanted)
        if fast is not None and len(fast) == len(wanted):
            return [_entry(r) for r in fast]
        with self.store.reading() as conn:
            return [_entry(r) for r in self.store.entries_at(conn, wanted)]

    def size(self) -> int:
        self._require()
        store = self.read_store()
        with store.reading() as conn:
            return store.count(conn)

    def read_store(self) -> Any:
        """What a read of the whole ledger goes through: the standard library's
        :class:`govctl.adapters.sqlite_ledger.Reader` for a SQLite file (no SQLAlchemy),
        else the store. Both have the reads ``audit verify`` makes, by the same names.
        Found once per ledger object (a reader is only a path)."""
        found = getattr(self, "_reader", None)
        if found is None:
            from govctl.adapters import sqlite_ledger

            found = self._reader = sqlite_ledger.reader(self.url)
        return found or self.store

    # --- the derived state ----------------------------------------------------------

    def _current(self, conn: Any, store: Any = None) -> bool:
        store = store or self.store
        meta = store.state_marks(conn)
        return (meta.get(state.META_VERSION) == state.STATE_VERSION
                and meta.get(state.META_SEQ) == str(store.max_seq(conn)))

    def _catch_up(self, conn: Any, *, rebuild: bool = False) -> None:
        """Bring the table up to the entries, in the append lock's transaction."""
        store = self.store
        store.ensure_state_table(conn)
        meta = store.state_marks(conn)
        end = store.max_seq(conn)
        start = int(meta.get(state.META_SEQ) or 0)
        if rebuild or meta.get(state.META_VERSION) != state.STATE_VERSION or start > end:
            store.state_clear(conn)
            start = 0
        step = 2000
        for lo in range(start, end, step):
            rows = list(store.iter_rows(conn, lo, min(lo + step, end)))
            store.state_apply(conn, state.fold([d for r in rows if (d := parse(blob(r.body)))]))
        store.put_state_marks(conn, {state.META_VERSION: state.STATE_VERSION,
                              state.META_SEQ: str(end)})

    def ensure_state(self) -> bool:
        """Bring the derived state up to date; True if it had to (a no-op when current)."""
        self._require()
        store = self.read_store()
        with store.reading() as conn:
            if self._current(conn, store):
                return False
        with self.store.locked() as conn:
            self._catch_up(conn)
        return True

    def rebuild_state(self) -> None:
        """Replay every entry into a fresh derived state table."""
        self._require()
        with self.store.locked() as conn:
            self._catch_up(conn, rebuild=True)

    def replay_state(self) -> state.Replay:
        """The derived state replayed from the entries alone, in memory."""
        replay = state.Replay()
        with self.store.reading() as conn:
            for row in self.store.iter_entries(conn, columns=("seq", "body")):
                data = parse(blob(row.body))
                if data is not None:
                    replay.apply(data)
        return replay

    def state_differences(self) -> list[str]:
        """How the stored derived state differs from a replay of the entries (empty: not
        at all); ``audit verify`` makes the same comparison in its pass."""
        self.ensure_state()
        replay = self.replay_state()
        with self.store.reading() as conn:
            return state.differences(replay.rows, self.store.state_rows(conn))

    def _rows(self, kind: str, *, subject: str | None = None,
              actions: list[str] | None = None, item: str | None = None) -> list[StateRow]:
        from govctl.adapters import sqlite_ledger

        fast = sqlite_ledger.state_rows(
            self.url, kind, mark=STATE_MARK,
            rules=(state.META_VERSION, state.STATE_VERSION, state.META_SEQ),
            subject=subject, actions=actions, item=item)
        if fast is not None:  # current: read without SQLAlchemy (else caught up below)
            return [StateRow(*r) for r in fast]
        self._require()
        store = self.store
        with store.reading() as conn:
            if self._current(conn):
                return [StateRow(*r) for r in
                        store.state_rows(conn, kind, subject=subject, actions=actions, item=item)]
        try:
            with store.locked() as conn:
                self._catch_up(conn)
                return [StateRow(*r) for r in store.state_rows(
                    conn, kind, subject=subject, actions=actions, item=item)]
        except ExternalError:  # nobody may write to this ledger: replay it (slow, correct)
            rows = [StateRow(*k, *v) for k, v in sorted(self.replay_state().rows.items())]
            return [r for r in rows if r.kind == kind and subject in (None, r.subject)
                    and (actions is None or r.action in actions) and item in (None, r.item)]

    def open_intents(self, subject: dict[str, Any] | None = None) -> list[Entry]:
        """Intent entries no completion or abort names yet (of one subject, or all)."""
        sk = subject_key(subject) if subject is not None else None
        return self.at(r.seq for r in self._rows("intent") if sk is None or r.value == sk)

    def aliases(self, subject: dict[str, Any]) -> dict[str, str]:
        """alias -> version as the ledger's entries last set them for this subject."""
        return {r.item: str(r.value) for r in self._rows("alias", subject=subject_key(subject))}

    def prompt_aliases(self) -> dict[str, dict[str, str]]:
        """prompt -> alias -> version as the ledger's entries last set them."""
        out: dict[str, dict[str, str]] = {}
        for r in self._rows("prompt"):
            out.setdefault(r.subject, {})[r.item] = str(r.value)
        return out

    def last(self, subject: dict[str, Any], actions: Iterable[str],
             env: str = "") -> Entry | None:
        """The newest done/complete entry of the subject with one of these actions and
        ``evidence.env`` equal to ``env``."""
        rows = self._rows("last", subject=subject_key(subject), actions=list(actions), item=env)
        found = self.at([max(r.seq for r in rows)]) if rows else []
        return found[0] if found else None

    def versions(self, action: str, subject: dict[str, Any] | None = None) -> list[Entry]:
        """Per subject and ``evidence.version``, the newest completed entry of ``action``
        (the registrations), in ledger order."""
        sk = subject_key(subject) if subject is not None else None
        return self.at(r.seq for r in self._rows("version", subject=sk, actions=[action]))

    def moves(self, subject: dict[str, Any]) -> list[Entry]:
        """The subject's done/complete entries whose evidence moves aliases, in order."""
        return self.at(r.seq for r in self._rows("move", subject=subject_key(subject)))
