"""Offline verification of the ledger: order, hashes, every checkpoint, authority, the
derived state, the checkout.

Worker processes check the log range by range on every core (:mod:`govctl.ledger.scan`):
order, leaf hashes, the Merkle root at every checkpoint (each range carries the frontier
forward from the one stored at its start; this process checks the ranges chain, from the
empty tree to the head), the index columns against the signed bodies, key bindings and the
signatures — every checkpoint's, and in full mode every entry's. This process replays, in
order, what needs the whole history: an optional *authority* (see
:mod:`govctl.trust.replay`) — every entry's actor must have held a role allowing its action
in the trust policy then in force, and every checkpoint's signer must have been trusted
then — and the derived state (:mod:`govctl.ledger.state`), compared with the stored table
at the end. Memory stays flat in the ledger's size. The checkout's ``ledger.checkpoint``
(tracked in git) must be a prefix of what the ledger holds: an older consistent one is fine
(a note: commit it), a newer or inconsistent one is exit 4. A clean verification leaves a
mark for the next ``--fast`` (:mod:`govctl.ledger.verified`): the whole ranges it covered
are then only hashed and compared with it, and the replay resumes from where it stood.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from govctl.errors import IntegrityError
from govctl.ledger import checkpoint as cpfile
from govctl.ledger import merkle, ranges, scan, state
from govctl.ledger.entry import VerifyReport
from govctl.ledger.ranges import Authority, Replay

if TYPE_CHECKING:
    from govctl.ledger.log import Ledger


def _wanted_sizes(head: dict[str, Any] | None, data: bytes | None,
                  from_checkpoint: bytes | None) -> frozenset[int]:
    """The sizes whose roots the head file and the checkpoint files are compared with."""
    out: set[int] = set()
    if head and not head.get("_broken"):
        out.add(int(head["tree_size"]))
    for blob in (data, from_checkpoint):
        try:
            if blob:
                out.add(cpfile.parse(blob).size)
        except IntegrityError:
            pass
    return frozenset(out)


def _state_check(ledger: Ledger, store: Any, run: Replay, notes: list[str]) -> None:
    """The stored derived state is what replaying the entries gives (else tampering). The
    table is read with the entries appended since the replay's end (by someone else,
    meanwhile), in one read transaction, and those entries' changes are replayed on top."""
    from govctl.ledger.reads import blob, parse

    with store.reading() as conn:
        if not ledger._current(conn, store):
            notes.append("the derived state could not be brought up to date (a read-only "
                         "ledger): it was not compared")
            return
        rows = store.state_rows(conn)
        end = store.max_seq(conn)
        later = list(store.iter_rows(conn, run.n, end)) if end > run.n else []
    replayed = run.state.rows
    if later:
        replay = state.Replay()
        replay.rows = dict(replayed)
        for row in later:
            data = parse(blob(row.body))
            if data is not None:
                replay.apply_changes(state.changes(data))
        replayed = replay.rows
        notes.append(f"{len(later)} entries appended while this ran ({run.n + 1}-{end}) are "
                     "not verified yet: run it again")
    found = state.differences(replayed, rows)
    if found:
        run.problems.append((run.n, scan.END, "the derived state table differs from a replay "
                             "of the entries (edited behind govctl's back): " + "; ".join(found)))


def verify_ledger(
    ledger: Ledger, *, signatures: bool, trusted: dict[str, str] | None,
    progress: Callable[[int], None] | None, authority: Authority | None,
    from_checkpoint: bytes | None,
) -> VerifyReport:
    from govctl.errors import ExternalError

    store = ledger.read_store()
    notes: list[str] = []
    try:
        if ledger.ensure_state():
            notes.append("the derived state was brought up to date from the entries (a "
                         "ledger older than it, or entries an older govctl appended)")
    except ExternalError:
        pass  # read-only: said by the state check
    # the head and checkpoint files before the entries: an append meanwhile writes them
    # after its entries, so what is read here is never ahead of what is verified below
    head = ledger._read_head()
    data = cpfile.read(ledger.checkpoint_file) if ledger.checkpoint_file else None
    want = _wanted_sizes(head, data, from_checkpoint)
    with store.reading() as conn:
        lid = store.get_meta(conn, "ledger_id")
        top_e = store.max_seq(conn)
        last = store.last_checkpoint(conn)
        n_cps = store.count_checkpoints(conn)
    top_c = int(last.tree_size) if last else 0
    top = max(top_e, top_c)
    run, carried = ranges.check_all(ledger, store, lid, top, signatures, want, trusted,
                                    authority, progress, notes)
    n = run.n
    if n == top_e:  # a replay of every entry: the stored derived state must equal it
        _state_check(ledger, store, run, notes)
    if n < top_e:  # stopped before the end: entry n + 1 is missing
        with store.reading() as conn:
            found = store.next_seq(conn, n)
        n += 1
        run.problems.append((n, scan.ENTRY, f"entry {n} is missing (next entry found is "
                             f"{found})"))
    elif last is not None and last.tree_size == n and last.frontier:
        if last.frontier != json_frontier(run.frontier):
            run.problems.append((n, scan.END, f"checkpoint {n}'s stored Merkle frontier (what "
                                 "the next append builds on) does not match the entries"))
    run.problems.sort(key=lambda p: (p[0], p[1]))
    problems = [(p[0], p[2]) for p in run.problems]
    behind = run.behind
    last_size = top_c if last is not None else None
    sizes_roots, frontier = run.roots, run.frontier
    root_hex = merkle.root(frontier).hex()
    if last_size is None:
        if n:
            problems.append((1, "the ledger has entries but no checkpoint"))
    elif last_size > n:
        problems.append((n + 1, f"the ledger was truncated: the newest checkpoint covers "
                         f"{last_size} entries, {n} remain"))
    elif last_size < n:
        problems.append((last_size + 1, f"entries after {last_size} are not covered by a checkpoint"))
    _check_head(ledger, head, n, {s: r.hex() for s, r in sizes_roots.items()}, problems)
    hint = None
    checkout_size = None
    keys = authority.public_keys() if authority is not None else {}
    if data is not None and authority is not None:
        src = cpfile.FILE
        try:
            cp, _ = cpfile.verify(data, keys, source=src)
            checkout_size = cp.size
            if lid and cp.origin != cpfile.origin_for(lid):
                problems.append((n, f"{src} is the head of another ledger ({cp.origin}) than "
                                 f"the one at {ledger.display_url} (govctl.ledger/{lid}): "
                                 "check ledger_url in govctl.toml or GOVCTL_LEDGER_URL"))
            elif cp.size > n:
                where = ("this checkout records a ledger of "
                         f"{cp.size} entries ({src}) but the ledger at {ledger.display_url} ")
                problems.append((n + 1, where + ("is empty: it is not the team's ledger; set "
                                 "ledger_url in govctl.toml or GOVCTL_LEDGER_URL to it" if n == 0
                                 else f"holds {n}: the ledger was truncated or replaced")))
            elif cp.size and sizes_roots.get(cp.size) != cp.root:
                problems.append((cp.size, f"the ledger is not consistent with this checkout's "
                                 f"{src}: its root at size {cp.size} differs (rewritten history)"))
            elif cp.size < n:
                # consistent and older: the ledger only grew since (proven above), which
                # is what every append after the last commit of the file looks like
                notes.append(f"the ledger has grown since this checkout's checkpoint "
                             f"({cp.size} \u2192 {n}); commit {src} to record it")
        except IntegrityError as exc:
            problems.append((n, exc.message))
    if from_checkpoint is not None:
        try:
            old, _ = cpfile.verify(from_checkpoint, keys, source="the --from checkpoint")
            if old.size > n:
                problems.append((n + 1, f"the --from checkpoint covers {old.size} entries, the "
                                 f"ledger holds {n}: it was truncated (or you hold a newer head)"))
            elif old.size and not merkle.verify_consistency(
                    old.size, n, old.root, bytes.fromhex(root_hex),
                    ledger.consistency_proof(old.size, n)):
                problems.append((old.size, f"the ledger at size {n} is not consistent with the "
                                 f"--from checkpoint (size {old.size}): history was rewritten"))
        except IntegrityError as exc:
            problems.append((1, exc.message))
    if authority is not None:
        behind += [(n, m) for m in authority.finish()]
    if behind and not problems:
        hint = ("git pull (the ledger is ahead of this checkout), then run it again"
                if any("git pull" in m for _, m in behind)
                else "git push your trust history, or check that this clone uses the team's ledger")
    problems.sort(key=lambda p: p[0])
    if not problems and not behind and n == top_e:
        ranges.save_mark(ledger, lid, run, authority)
    return VerifyReport(
        ok=not problems and not behind, entries=n, checkpoints=n_cps,
        mode="full" if signatures else "hash", signatures_checked=run.signatures,
        first_bad=problems[0][0] if problems else None,
        problems=[p[1] for p in problems], root=root_hex, behind=[b[1] for b in behind],
        hint=hint, checkpoints_checked=run.checkpoints, checkout_checkpoint=checkout_size,
        notes=notes, carried_forward=carried,
    )


def json_frontier(frontier: list[bytes]) -> str:
    """A frontier as the checkpoints table stores it."""
    import json

    return json.dumps([h.hex() for h in frontier])


def _check_head(ledger: Ledger, head: dict[str, Any] | None, n: int, roots: dict[int, str],
                problems: list[tuple[int, str]]) -> None:
    if head is None:
        return
    if head.get("_broken"):
        problems.append((1, f"{ledger.head_file} is unreadable"))
        return
    hsize = int(head["tree_size"])
    if hsize > n:
        problems.append((n + 1, f"the ledger was truncated: {ledger.head_file} records "
                         f"{hsize} entries, {n} remain"))
    elif roots.get(hsize) != head["root"]:
        problems.append((hsize, f"{ledger.head_file} does not match checkpoint {hsize}"))
