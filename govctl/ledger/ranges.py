"""The log checked range by range on every core and replayed in order (``audit verify``).

:mod:`govctl.ledger.scan` checks each range in a worker; :class:`Replay` takes the results
in order here: it chains the ranges' Merkle frontiers, replays authority and the derived
state, and — with ``--fast`` — resumes after the ranges this clone verified before, which
are only hashed and compared with its mark (:mod:`govctl.ledger.verified`).
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from govctl.ledger import scan, state, verified

if TYPE_CHECKING:
    from govctl.ledger.log import Ledger

class Authority(Protocol):
    def entry(self, seq: int, data: dict[str, Any]) -> tuple[str, str] | None:
        """``("tamper"|"behind", message)`` if the entry's actor lacked authority.

        ``data`` is the entry (:func:`govctl.ledger.scan.slim`): its evidence holds only
        its top-level scalars, the actor no public key."""

    def checkpoint(self, size: int, kid: str) -> tuple[str, str] | None: ...

    def public_keys(self) -> dict[str, bytes]: ...

    def fingerprint(self) -> str:
        """What the replay judges by (the trust history), as a digest."""

    def snapshot(self) -> dict[str, Any]:
        """Where the replay stands, as JSON (to resume it after the entries so far)."""

    def restore(self, snap: dict[str, Any]) -> None: ...

    def finish(self) -> list[str]:
        """What the checkout has that the ledger never recorded (push hints)."""

    def facts_json(self) -> Any:
        """What it judges by, as JSON: kept in the mark for :meth:`adopt`."""

    def adopt(self, data: Any) -> bool:
        """Judge by what :meth:`facts_json` gave over the same trust history (True if
        usable)."""


class Replay:
    """This process's part: the ranges chain, authority and the derived state, in order."""

    def __init__(self, trusted: dict[str, str] | None, authority: Authority | None) -> None:
        self.trusted, self.authority = trusted, authority
        self.problems: list[tuple[int, int, str]] = []
        self.behind: list[tuple[int, str]] = []
        self.frontier: list[bytes] = []
        self.roots: dict[int, bytes] = {}
        self.state = state.Replay()
        self.n = self.signatures = self.checkpoints = 0
        self.done = False
        self.digests: list[str] = []  # each whole range's, in order (govctl.ledger.verified)
        self.mark_at = 0  # snapshot the replay when the range ending here is taken
        self.snap: tuple[list[bytes], dict[Any, Any], dict[str, Any]] | None = None

    def _verdict(self, verdict: tuple[str, str] | None, at: int, rank: int) -> None:
        if verdict and verdict[0] == "behind":
            self.behind.append((at, verdict[1]))
        elif verdict:
            self.problems.append((at, rank, verdict[1]))

    def take(self, res: scan.Result) -> None:
        if self.done:
            return  # past a missing entry: what follows is not judged
        if res.lo and res.start != self.frontier:
            self.problems.append((res.lo, scan.ENTRY, f"the Merkle frontier stored with the "
                                  f"checkpoint at or below {res.lo} does not match the entries "
                                  "before it (entries or checkpoints edited)"))
        self.problems += res.problems
        self.signatures += res.signatures
        self.checkpoints += res.checkpoints
        self.roots.update(res.roots)
        trusted, authority = self.trusted, self.authority
        for fact in res.facts:
            if fact[0] == "e":
                _, seq, data, found = fact
                if data is None:
                    continue
                kid = data["actor"].get("key_id", "")
                if authority is not None:
                    self._verdict(authority.entry(seq, data), seq, scan.AUTHORITY)
                elif trusted is not None and kid not in trusted:
                    self.problems.append((seq, scan.AUTHORITY, f"entry {seq} is signed by key "
                                          f"{str(kid)[:16]}... that no trust policy version "
                                          "knows"))
                self.state.apply_changes(found)
            else:
                _, size, kid = fact
                if trusted is not None and kid not in trusted:
                    self.problems.append((size, scan.CHECKPOINT, f"checkpoint {size} is signed "
                                          "by a key that no trust policy version knows"))
                elif authority is not None:
                    self._verdict(authority.checkpoint(size, kid), size, scan.CHECKPOINT)
        self.frontier, self.n = res.end, res.last
        self.done = res.last < res.hi
        if not self.done:
            self.digests.append(res.digest)
            if res.hi == self.mark_at and authority is not None:
                self.snap = (list(res.end), dict(self.state.rows), authority.snapshot())

    def resume(self, mark: verified.Mark, hashed: list[scan.Result]) -> bool:
        """Take the ranges the mark covers as hashed: True if each range's rows give the
        digest it recorded (every byte unchanged since a full verification judged them)
        and the last range, carried from the frontier stored at its start, ends at the
        mark's frontier; the replay then stands where it stood."""
        if self.authority is None or len(hashed) != len(mark.ranges):
            return False
        for res in hashed:
            if res.last < res.hi or res.digest != mark.ranges[res.lo // scan.RANGE]:
                return False
            self.roots.update(res.roots)
        frontier = hashed[-1].end if hashed else []
        if [h.hex() for h in frontier] != mark.frontier:
            return False
        try:
            rows = mark.rows()
            self.authority.restore(mark.authority_state)  # last: all or nothing
            self.state.rows = rows
        except (KeyError, TypeError, ValueError, AttributeError):
            return False  # a mark edited by hand: not used
        self.frontier, self.n = frontier, mark.size
        self.digests = list(mark.ranges)
        return True


def results(store: Any, jobs: list[scan.Job]) -> Iterator[scan.Result]:
    """Each range's result in order: on every core when there is enough to check."""
    work = sum(j.hi - j.lo for j in jobs) * (2 if jobs and jobs[0].signatures else 1)
    workers = scan.cores()
    scan._STORE = store
    if workers < 2 or work < scan.PARALLEL_FROM:
        yield from map(scan.check_range, jobs)
        return
    ctx = multiprocessing.get_context("fork")
    window = workers * 3  # ranges in flight: results wait in memory for their turn
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                             initializer=scan.worker_init) as pool:
        pending: list[Future[scan.Result]] = []
        queue = iter(jobs)
        try:
            for job in queue:
                pending.append(pool.submit(scan.check_range, job))
                if len(pending) >= window:
                    break
            while pending:
                res = pending.pop(0).result()
                nxt = next(queue, None)
                if nxt is not None:
                    pending.append(pool.submit(scan.check_range, nxt))
                yield res
        finally:
            for f in pending:
                f.cancel()


def check_all(ledger: Ledger, store: Any, lid: str | None, top: int, signatures: bool,
              want: frozenset[int], trusted: dict[str, str] | None,
              authority: Authority | None, progress: Callable[[int], None] | None,
              notes: list[str]) -> tuple[Replay, int]:
    """Every range checked and replayed in order (``store``: the ledger's
    :meth:`~govctl.ledger.reads.Reads.read_store`); with ``--fast``, the ranges this clone
    verified before only hashed and compared with its mark. Returns the replay and how
    many entries the mark carried."""
    mark = None
    if not signatures and authority is not None and trusted is None:
        mark = verified.load(ledger.verified_file, ledger_id=lid,
                             rules_now=verified.rules(scan.RANGE),
                             authority=authority.fingerprint())
        if mark is not None and (mark.size > top or mark.size % scan.RANGE
                                 or len(mark.ranges) != mark.size // scan.RANGE):
            mark = None
        if mark is not None and mark.size:
            # the same history files as then: what was read of them then (no document model)
            authority.adopt(mark.extra.get("trust"))
    run = Replay(trusted, authority)
    run.mark_at = top - top % scan.RANGE
    start = 0
    if mark is not None and mark.size:
        # the last range carries the frontier to the mark's (held to it), and a range
        # holding a size whose root is compared carries it too
        inside = frozenset(s for s in want if s < mark.size)
        hashed = [scan.Job(lo, lo + scan.RANGE, False,
                           inside | {mark.size} if lo + scan.RANGE == mark.size else inside,
                           hashes=True)
                  for lo in range(0, mark.size, scan.RANGE)]
        taken: list[scan.Result] = []
        for res in results(store, hashed):
            taken.append(res)
            if progress:
                progress(res.last)
        if run.resume(mark, taken):
            start = mark.size
            notes.append(f"entries 1-{mark.size:,} were hashed only: unchanged since this "
                         f"clone verified them{' at ' + mark.time if mark.time else ''} "
                         "(a full audit verify checks them all again)")
        else:
            notes.append("entries this clone had verified before have changed since: every "
                         "entry was checked again (run a full audit verify too)")
            if authority is not None:  # nothing of the mark is used: the history is read again
                authority.adopt(None)
            run = Replay(trusted, authority)
            run.mark_at = top - top % scan.RANGE
    jobs = [scan.Job(lo, min(lo + scan.RANGE, top), signatures, want)
            for lo in range(start, top, scan.RANGE)]
    for res in results(store, jobs):
        run.take(res)
        if progress:
            progress(run.n)
    return run, start


def save_mark(ledger: Ledger, lid: str | None, run: Replay,
               authority: Authority | None) -> None:
    """What this verification found intact, for the next ``--fast`` (govctl.ledger.verified)."""
    from govctl import clock

    if authority is None or not lid or ledger.verified_file is None:
        return
    size = run.mark_at
    if size == 0:
        return
    snap = run.snap
    if snap is None:  # the mark read covers the same whole ranges: nothing new to record
        return
    frontier, rows, auth = snap
    verified.save(ledger.verified_file, verified.Mark(
        ledger_id=lid, rules=verified.rules(scan.RANGE), authority=authority.fingerprint(),
        size=size, frontier=[h.hex() for h in frontier], ranges=run.digests[:size // scan.RANGE],
        authority_state=auth,
        state_rows=[[*k, v[0], v[1]] for k, v in sorted(rows.items())],
        time=clock.to_iso(clock.now()), extra={"trust": authority.facts_json()}))
