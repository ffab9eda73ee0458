"""The ledger's derived state: what commands read, kept beside the entries.

A pure function of the entries in ledger order (:func:`changes`), written to the
``govctl_state`` table in the same transaction as each append, so a command reads the few
rows it needs instead of replaying the log. ``govctl audit verify`` replays every entry
into a :class:`Replay` and compares it with the table row by row: a difference is tampering
(exit 4). Rows are keyed ``(kind, subject, action, item)`` and hold the ``seq`` of the entry
that set them and a ``value``:

=============  ==============  ==============  ===========  ==================================
kind           subject         action          item         set by (value)
=============  ==============  ==============  ===========  ==================================
``intent``     ``""``          ``""``          intent seq   an ``intent`` entry (its subject
                                                            key); removed by any entry whose
                                                            ``intent`` names it: open intents
``alias``      subject key     ``""``          alias        a done/complete entry whose
                                                            ``evidence.aliases`` sets it (the
                                                            version); ``None`` removes it
``prompt``     prompt name     ``""``          alias        ``evidence.prompt_aliases``, alike
``last``       subject key     action          env          the newest done/complete entry per
                                                            subject, action and
                                                            ``evidence.env`` (``""`` if none)
``version``    subject key     action          version      the newest completion naming
                                                            ``evidence.version`` (a model or
                                                            prompt registration)
``move``       subject key     ``""``          seq          every done/complete entry moving
                                                            aliases (a subject's release
                                                            history)
=============  ==============  ==============  ===========  ==================================

``STATE_VERSION`` names these rules; two rows of kind ``~`` record the rules the table was
built by and the last entry it covers. A ledger whose table was built under other rules (or
none: a ledger older than the table) is rebuilt from its entries on first use, one that
lags (entries an older govctl appended) is caught up. The table holds derived data only:
the database role govctl uses needs ``DELETE`` on it, never on the entries.
"""

from __future__ import annotations

from typing import Any

STATE_VERSION = "1"
#: the table's own rows (kind ``~``): the rules it was built by, the entry it is built to
META_VERSION = "version"
META_SEQ = "seq"

Key = tuple[str, str, str, str]
Row = tuple[int, "str | None"]


def _subject_key(data: dict[str, Any]) -> str | None:
    subject = data.get("subject")
    if not isinstance(subject, dict) or not subject.get("kind") or not subject.get("name"):
        return None
    return f"{subject['kind']}:{subject['name']}"


def changes(data: dict[str, Any]) -> list[tuple[Key, Row | None]]:
    """What one entry (its parsed JSON) does to the derived state, in order."""
    out: list[tuple[Key, Row | None]] = []
    seq = data.get("seq")
    if not isinstance(seq, int):
        return out
    phase, action = data.get("phase"), str(data.get("action") or "")
    sk = _subject_key(data)
    raw_ev = data.get("evidence")
    ev: dict[str, Any] = raw_ev if isinstance(raw_ev, dict) else {}
    ref = data.get("intent")
    if isinstance(ref, int) and not isinstance(ref, bool):
        out.append((("intent", "", "", str(ref)), None))
    if phase == "intent" and sk is not None:
        out.append((("intent", "", "", str(seq)), (seq, sk)))
    if phase not in ("done", "complete") or sk is None:
        return out
    env = ev.get("env")
    out.append((("last", sk, action, env if isinstance(env, str) else ""), (seq, None)))
    version = ev.get("version")
    if phase == "complete" and isinstance(version, (str, int)) and not isinstance(version, bool):
        out.append((("version", sk, action, str(version)), (seq, None)))
    aliases = ev.get("aliases")
    if isinstance(aliases, dict):
        out.append((("move", sk, "", f"{seq:012d}"), (seq, None)))
        for alias, v in aliases.items():
            out.append((("alias", sk, "", str(alias)), None if v is None else (seq, str(v))))
    prompts = ev.get("prompt_aliases")
    if isinstance(prompts, dict):
        for prompt, moves in prompts.items():
            for alias, v in (moves.items() if isinstance(moves, dict) else ()):
                out.append((("prompt", str(prompt), "", str(alias)),
                            None if v is None else (seq, str(v))))
    return out


class Replay:
    """The derived state, replayed in memory: ``rows`` maps key -> (seq, value)."""

    def __init__(self) -> None:
        self.rows: dict[Key, Row] = {}
        #: key -> row or None (deleted) since the last :meth:`take`
        self.pending: dict[Key, Row | None] = {}

    def apply(self, data: dict[str, Any]) -> None:
        self.apply_changes(changes(data))

    def apply_changes(self, found: list[tuple[Key, Row | None]]) -> None:
        for key, row in found:
            if row is None:
                self.rows.pop(key, None)
            else:
                self.rows[key] = row
            self.pending[key] = row

    def take(self) -> dict[Key, Row | None]:
        out, self.pending = self.pending, {}
        return out


def fold(entries: list[dict[str, Any]]) -> dict[Key, Row | None]:
    """The net change of a batch of entries (key -> row, or None: deleted)."""
    out: dict[Key, Row | None] = {}
    for data in entries:
        for key, row in changes(data):
            out[key] = row
    return out


def differences(replayed: dict[Key, Row], stored: list[Any], limit: int = 5) -> list[str]:
    """How the stored table differs from the replay, in words (at most ``limit``)."""
    have = {(r.kind, r.subject, r.action, r.item): (int(r.seq), r.value) for r in stored}
    out: list[str] = []
    for key in sorted(set(have) | set(replayed)):
        want, got = replayed.get(key), have.get(key)
        if want == got:
            continue
        name = "/".join(k for k in key if k)
        if got is None:
            out.append(f"the derived state lacks {name} (set by entry {want[0]})")  # type: ignore[index]
        elif want is None:
            out.append(f"the derived state holds {name} = {got[1]!r} (entry {got[0]}), which "
                       "no entry sets")
        else:
            out.append(f"the derived state holds {name} = {got[1]!r} (entry {got[0]}) but the "
                       f"entries set {want[1]!r} (entry {want[0]})")
        if len(out) >= limit:
            break
    return out
