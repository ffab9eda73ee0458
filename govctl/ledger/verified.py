"""What this clone last verified of its ledger: the frontier ``audit verify --fast`` carries
forward from one run to the next.

A verification that finds nothing wrong writes ``.govctl/ledger.verified.json`` (local to
the clone, never committed, never in the database an attacker of the ledger could write):
the size it covers — the last whole range of :data:`govctl.ledger.scan.RANGE` entries —,
the Merkle frontier there, a SHA-256 digest of every byte of every range's rows (the
bodies, the index columns, the entry signatures, the checkpoint rows), the derived state
replayed to that point and the authority replay's position in the trust history. The next
``--fast`` run hashes the rows up to that size (each range must give the same digest:
nothing was edited since, so the frontier computed from those bytes still holds — it is
recomputed only in the last range, which must end at the mark's, and in a range holding
a size whose root is compared, such as the head file's) and checks only the entries after
it in full; the derived state table is still
compared whole with the replay. Anything different — another
ledger, trust history, govctl rules, range size, or a digest that no longer matches — and
the mark is not used: the run checks every entry as if there were none. Full verification
(no ``--fast``) never reads it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from govctl.fsutil import atomic_write
from govctl.ledger import state

FORMAT = 2  # 2: a range's digest covers its bodies too (no frontier recomputed)


@dataclass
class Mark:
    ledger_id: str
    rules: str  # the verifying rules: this format, the state rules, the range size
    authority: str  # the trust history it was judged by (a digest)
    size: int
    frontier: list[str]  # hex
    ranges: list[str]  # one digest per range, from the first
    authority_state: dict[str, Any]
    state_rows: list[list[Any]]  # [kind, subject, action, item, seq, value]
    time: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> dict[state.Key, state.Row]:
        return {(r[0], r[1], r[2], r[3]): (int(r[4]), r[5]) for r in self.state_rows}


def rules(range_size: int) -> str:
    """The verifying rules a mark was made by: its format, the derived state's rules, the
    range size and govctl's version (another govctl may read the same bytes otherwise)."""
    from govctl import __version__

    return f"{FORMAT}/{state.STATE_VERSION}/{range_size}/{__version__}"


def load(path: Path | None, *, ledger_id: str | None, rules_now: str,
         authority: str) -> Mark | None:
    """The mark, if it was made for this ledger, these rules and this trust history."""
    if path is None or not ledger_id:
        return None
    try:
        raw = json.loads(path.read_bytes())
        mark = Mark(**raw)
        if not (isinstance(mark.size, int) and isinstance(mark.ranges, list)
                and all(isinstance(d, str) for d in mark.ranges)
                and isinstance(mark.state_rows, list) and isinstance(mark.frontier, list)
                and isinstance(mark.extra, dict)):
            return None
        mark.rows()  # readable rows
        bytes.fromhex("".join(mark.frontier))
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return None
    if (mark.ledger_id, mark.rules, mark.authority) != (ledger_id, rules_now, authority):
        return None
    return mark


def save(path: Path | None, mark: Mark) -> None:
    """Write the mark; a clone that cannot write its state directory just has none."""
    if path is None:
        return
    try:
        atomic_write(path, json.dumps(asdict(mark), separators=(",", ":")))
    except OSError:
        pass


def forget(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except OSError:
            pass
