"""Offline verification of the ledger: order, hashes, every checkpoint, authority, the
derived state, the checkout.

One streamed pass over the entries and checkpoints (a batch at a time: memory stays flat in
the ledger's size) carries the Merkle frontier forward, so each checkpoint's root is
compared as the pass reaches its size, and replays the derived state
(:mod:`govctl.ledger.state`) to compare with the stored table at the end. Meanwhile worker
processes check the signatures — every checkpoint's, and in full mode every entry's — on
all cores (:mod:`govctl.ledger.sigcheck`). An optional *authority* (see
:mod:`govctl.trust.replay`) replays the trust policy in force at each point: every entry's
actor must have held a role allowing its action, and every checkpoint's signer must have
been trusted then. The index columns of each entry (action, phase, subject, intent, key)
must match its signed body. The checkout's ``ledger.checkpoint`` (tracked in git) must be a
prefix of what the ledger holds: an older consistent one is fine (a note: commit it), a
newer or inconsistent one is exit 4.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from govctl.errors import IntegrityError
from govctl.ledger import checkpoint as cpfile
from govctl.ledger import merkle, sigcheck, state
from govctl.ledger.entry import VerifyReport
from govctl.ledger.reads import parse
from govctl.signing.dsse import b64d
from govctl.signing.keys import key_id

if TYPE_CHECKING:
    from govctl.ledger.log import Ledger


def _binds(public_b64: Any, kid: str, cache: dict[str, str]) -> bool:
    """Whether ``public_b64`` is the key whose id is ``kid`` (a key id is the SHA-256 of
    the raw public key, so an entry cannot claim someone else's id with its own key)."""
    if not isinstance(public_b64, str):
        return False
    got = cache.get(public_b64)
    if got is None:
        try:
            got = key_id(b64d(public_b64, "public key"))
        except IntegrityError:
            got = ""
        cache[public_b64] = got
    return got == kid


class Authority(Protocol):
    def entry(self, seq: int, data: dict[str, Any]) -> tuple[str, str] | None:
        """``("tamper"|"behind", message)`` if the entry's actor lacked authority."""

    def checkpoint(self, size: int, kid: str) -> tuple[str, str] | None: ...

    def public_keys(self) -> dict[str, bytes]: ...

    def finish(self) -> list[str]:
        """What the checkout has that the ledger never recorded (push hints)."""


class _Pass:
    """The parent's pass: order, hashes, roots, keys, authority, index columns, state."""

    def __init__(self, trusted: dict[str, str] | None, authority: Authority | None,
                 want: set[int]) -> None:
        self.trusted, self.authority, self.want = trusted, authority, want
        self.problems: list[tuple[int, str]] = []
        self.behind: list[tuple[int, str]] = []
        self.frontier: list[bytes] = []
        self.roots: dict[int, bytes] = {}  # at the sizes the head and checkpoint files name
        self.bound: dict[str, str] = {}
        self.replay = state.Replay()
        self.n = self.checkpoints = 0
        self.last_size: int | None = None

    def _verdict(self, verdict: tuple[str, str] | None, at: int) -> None:
        if verdict:
            (self.behind if verdict[0] == "behind" else self.problems).append((at, verdict[1]))

    def entry(self, row: Any) -> bool:
        """Check one entry row; False when the order breaks (the pass stops)."""
        self.n += 1
        n, seq, body = self.n, int(row.seq), bytes(row.body)
        if seq != n:
            self.problems.append((n, f"entry {n} is missing (next entry found is {seq})"))
            return False
        data = parse(body)
        actor = data.get("actor") if data is not None else None
        if not isinstance(actor, dict):
            self.problems.append((seq, f"entry {seq} is unreadable"))
        else:
            self._entry(seq, row, data, actor)
        self.frontier = merkle.append(self.frontier, n - 1, merkle.leaf_hash(body))
        return True

    def _entry(self, seq: int, row: Any, data: dict[str, Any], actor: dict[str, Any]) -> None:
        problems = self.problems
        if data.get("seq") != seq:
            problems.append((seq, f"entry {seq} holds seq {data.get('seq')} (reordered?)"))
        kid = actor.get("key_id", "")
        if not _binds(actor.get("public_key"), kid, self.bound):
            problems.append((seq, f"entry {seq} claims key {str(kid)[:16]}... but carries a "
                             "different public key (forged?)"))
        if self.authority is not None:
            self._verdict(self.authority.entry(seq, data), seq)
        elif self.trusted is not None and kid not in self.trusted:
            problems.append((seq, f"entry {seq} is signed by key {str(kid)[:16]}... that no "
                             "trust policy version knows"))
        subject = data.get("subject")
        sk = (f"{subject.get('kind')}:{subject.get('name')}" if isinstance(subject, dict)
              else None)
        stored = (row.action, row.phase, row.subject_key, row.intent_ref, row.key_id)
        signed = (data.get("action"), data.get("phase"), sk, data.get("intent"), kid)
        if stored != signed:
            names = ("action", "phase", "subject", "intent", "key")
            odd = ", ".join(c for c, x, y in zip(names, stored, signed, strict=True) if x != y)
            problems.append((seq, f"entry {seq}'s index columns ({odd}) differ from its signed "
                             "body: the index was edited"))
        self.replay.apply(data)

    def checkpoint(self, row: Any) -> None:
        """A checkpoint row, once the pass holds at least its size in entries."""
        self.checkpoints += 1
        size = int(row.tree_size)
        self.last_size = size
        if size != self.n:
            return  # beyond the entries (truncation, said at the end) or a stray size
        cp = parse(bytes(row.body))
        try:
            assert cp is not None
            kid = self.bound.get(cp["public_key"]) or key_id(b64d(cp["public_key"], "key"))
            self.bound.setdefault(cp["public_key"], kid)
            root = merkle.root(self.frontier)
            if int(cp["tree_size"]) != size:
                self.problems.append((size, f"checkpoint {size} claims size {cp['tree_size']}"))
            ok_root = cp["root"] == root.hex()
        except (AssertionError, ValueError, KeyError, TypeError, IntegrityError):
            self.problems.append((size, f"checkpoint {size} is unreadable"))
            return
        if not ok_root:
            self.problems.append((size, f"entry {size} or one before it was changed: the Merkle "
                                  f"root at size {size} does not match its checkpoint"))
        if size in self.want:
            self.roots[size] = root
        if self.trusted is not None and kid not in self.trusted:
            self.problems.append((size, f"checkpoint {size} is signed by a key that no trust "
                                  "policy version knows"))
        elif self.authority is not None:
            self._verdict(self.authority.checkpoint(size, kid), size)


def _wanted_sizes(ledger: Ledger, from_checkpoint: bytes | None) -> set[int]:
    """The sizes whose roots the head file and the checkpoint files are compared with."""
    out: set[int] = set()
    head = ledger._read_head()
    if head and not head.get("_broken"):
        out.add(int(head["tree_size"]))
    data = cpfile.read(ledger.checkpoint_file) if ledger.checkpoint_file else None
    for blob in (data, from_checkpoint):
        try:
            if blob:
                out.add(cpfile.parse(blob).size)
        except IntegrityError:
            pass
    return out


def _merge(entries: Iterator[Any], cps: Iterator[Any], run: _Pass,
           progress: Callable[[int], None] | None) -> None:
    cp = next(cps, None)
    for row in entries:
        if not run.entry(row):
            break
        while cp is not None and int(cp.tree_size) <= run.n:
            run.checkpoint(cp)
            cp = next(cps, None)
        if progress and run.n % 10000 == 0:
            progress(run.n)
    while cp is not None:
        run.checkpoint(cp)
        cp = next(cps, None)


def _state_check(ledger: Ledger, run: _Pass, notes: list[str]) -> None:
    """The stored derived state is what replaying the entries gives (else tampering)."""
    store = ledger.store
    with store.reading() as conn:
        if not ledger._current(conn):
            notes.append("the derived state could not be brought up to date (a read-only "
                         "ledger): it was not compared")
            return
        rows = store.state_rows(conn)
    found = state.differences(run.replay.rows, rows)
    if found:
        run.problems.append((run.n, "the derived state table differs from a replay of the "
                             "entries (edited behind govctl's back): " + "; ".join(found)))


def verify_ledger(
    ledger: Ledger, *, signatures: bool, trusted: dict[str, str] | None,
    progress: Callable[[int], None] | None, authority: Authority | None,
    from_checkpoint: bytes | None,
) -> VerifyReport:
    from govctl.errors import ExternalError

    store = ledger.store
    notes: list[str] = []
    try:
        if ledger.ensure_state():
            notes.append("the derived state was brought up to date from the entries (a "
                         "ledger older than it, or entries an older govctl appended)")
    except ExternalError:
        pass  # read-only: said by the state check
    run = _Pass(trusted, authority, _wanted_sizes(ledger, from_checkpoint))
    with store.reading() as conn:
        lid = store.get_meta(conn, "ledger_id")
        top_e = store.max_seq(conn)
        last = store.last_checkpoint(conn)
    top_c = int(last.tree_size) if last else 0
    checker = sigcheck.Checker(store, max(top_e, top_c), entries=signatures)
    try:
        with store.reading() as econn, store.reading() as cconn:
            _merge(store.iter_rows(econn, 0, top_e), store.iter_rows(cconn, 0, top_c,
                                                                        entries=False),
                   run, progress)
    finally:
        n_sigs, n_cps, sig_problems = checker.results()
    _state_check(ledger, run, notes)
    problems, behind, n = run.problems, run.behind, run.n
    problems += sig_problems
    last_size, sizes_roots, frontier = run.last_size, run.roots, run.frontier
    root_hex = merkle.root(frontier).hex()
    if last_size is None:
        if n:
            problems.append((1, "the ledger has entries but no checkpoint"))
    elif last_size > n:
        problems.append((n + 1, f"the ledger was truncated: the newest checkpoint covers "
                         f"{last_size} entries, {n} remain"))
    elif last_size < n:
        problems.append((last_size + 1, f"entries after {last_size} are not covered by a checkpoint"))
    _check_head(ledger, n, {s: r.hex() for s, r in sizes_roots.items()}, problems)
    hint = None
    checkout_size = None
    keys = authority.public_keys() if authority is not None else {}
    data = cpfile.read(ledger.checkpoint_file) if ledger.checkpoint_file else None
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
    return VerifyReport(
        ok=not problems and not behind, entries=n, checkpoints=run.checkpoints,
        mode="full" if signatures else "hash", signatures_checked=n_sigs,
        first_bad=problems[0][0] if problems else None,
        problems=[p[1] for p in problems], root=root_hex, behind=[b[1] for b in behind],
        hint=hint, checkpoints_checked=n_cps, checkout_checkpoint=checkout_size,
        notes=notes,
    )


def _check_head(ledger: Ledger, n: int, roots: dict[int, str],
                problems: list[tuple[int, str]]) -> None:
    head = ledger._read_head()
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
