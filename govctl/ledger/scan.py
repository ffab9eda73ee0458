"""One range of the ledger checked on its own, in a worker process (for ``audit verify``).

The log is split into ranges of sequence numbers; forked workers (one per core) each read
their range straight from the database, a batch at a time, and check everything that needs
no earlier entry: order, the leaf hashes and the Merkle root at every checkpoint (from the
frontier stored with the checkpoint at the range's start), the index columns against the
signed body, the actor's key binding, and the Ed25519 signatures of the checkpoints and, in
full mode, the entries. What depends on the whole history — who held which role when, the
derived state — travels back as small *facts* for the parent to replay in order; the parent
also checks that each range starts from the frontier the previous one ended with, which
chains every range to the empty tree. Nothing is held for the whole ledger: memory stays
flat in its size.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from govctl.errors import IntegrityError
from govctl.ledger import merkle, state
from govctl.ledger.reads import blob, parse
from govctl.signing import dsse
from govctl.signing.dsse import b64d
from govctl.signing.keys import key_id

if TYPE_CHECKING:
    from govctl.adapters.sql import LedgerStore
    from govctl.adapters.sqlite_ledger import Reader

#: entries per range handed to a worker
RANGE = 2000
#: below this many signatures the parent checks them itself (a pool costs a fork per core)
PARALLEL_FROM = 1500
#: problem ranks: the order of problems found at one position
ENTRY, AUTHORITY, CHECKPOINT, ENTRY_SIG, CHECKPOINT_SIG, END = range(6)

_STORE: LedgerStore | Reader | None = None  # set before the pool forks; workers reuse it


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_init() -> None:
    engine = getattr(_STORE, "engine", None)  # the stdlib reader pools no connections
    if engine is not None:  # the parent's pooled connections are its own: open fresh ones
        engine.dispose(close=False)


@dataclass
class Job:
    lo: int
    hi: int
    signatures: bool
    want: frozenset[int]
    #: hash only: the leaves, the frontier and the rows' digest (a range the last
    #: verification covered, :mod:`govctl.ledger.verified`)
    hashes: bool = False


@dataclass
class Result:
    lo: int
    hi: int
    start: list[bytes]  # the frontier at lo, from the stored one
    end: list[bytes] = field(default_factory=list)  # after the last entry of the range
    last: int = 0  # the last entry seq in order from lo (lo when none)
    #: ("e", seq, slim entry or None, state changes) and ("c", size, signer key id)
    facts: list[tuple[Any, ...]] = field(default_factory=list)
    problems: list[tuple[int, int, str]] = field(default_factory=list)  # position, rank, text
    signatures: int = 0
    checkpoints: int = 0
    roots: dict[int, bytes] = field(default_factory=dict)
    #: the range's rows besides the bodies (index columns, signatures, checkpoint rows)
    digest: str = ""


class _Digest:
    """What :mod:`govctl.ledger.verified` records of a range's rows, as three streams: the
    ``repr`` of each entry's (seq, action, phase, subject_key, intent_ref, key_id, sig),
    each entry's body prefixed with its length, and :func:`checkpoint_bytes` of each
    checkpoint, each concatenated in order. Every byte of every row is in it, so a range
    whose digest is unchanged holds the bytes a full verification judged."""

    def __init__(self) -> None:
        sha256 = hashlib.sha256
        self.entries, self.bodies, self.checkpoints = sha256(), sha256(), sha256()

    def entry(self, row: Any, body: bytes) -> None:
        self.entries.update(repr((int(row.seq), row.action, row.phase, row.subject_key,
                                  row.intent_ref, row.key_id, row.sig)).encode())
        self.bodies.update(b"%d:" % len(body))
        self.bodies.update(body)

    def checkpoint(self, row: Any) -> None:
        self.checkpoints.update(checkpoint_bytes(row.tree_size, row.body, row.sig,
                                                 row.frontier))

    def hexdigest(self) -> str:
        return hashlib.sha256(self.entries.digest() + self.bodies.digest()
                              + self.checkpoints.digest()).hexdigest()


def checkpoint_bytes(size: Any, body: Any, sig: Any, frontier: Any) -> bytes:
    """A checkpoint row as digest input, self-delimiting (so the concatenation of rows is
    unambiguous): the size and the fields' lengths, then the fields; a row holding other
    types than govctl writes (edited behind its back) as ``?repr\n`` instead."""
    if (size.__class__ is int and body.__class__ is bytes and sig.__class__ is str
            and frontier.__class__ is str):
        s, f = sig.encode(), frontier.encode()
        return b"%d:%d:%d:%d:%b%b%b" % (size, len(body), len(s), len(f), body, s, f)
    return b"?" + repr((size, blob(body), sig, frontier)).encode() + b"\n"


class _Keys:
    """Ed25519 keys and key ids by base64 public key, each decoded once."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.ids: dict[str, str] = {}

    def get(self, public_b64: Any) -> tuple[Any, str] | None:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if not isinstance(public_b64, str):
            return None
        if public_b64 not in self.keys:
            try:
                raw = b64d(public_b64, "public key")
                self.keys[public_b64] = Ed25519PublicKey.from_public_bytes(raw)
                self.ids[public_b64] = key_id(raw)
            except (IntegrityError, ValueError):
                self.keys[public_b64] = None
        key = self.keys[public_b64]
        return None if key is None else (key, self.ids[public_b64])


def _verify(key: Any, sig_b64: str, message: bytes) -> bool | None:
    """True/False for a signature that does (not) verify, None for a malformed one."""
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(b64d(sig_b64, "signature"), message)
        return True
    except IntegrityError:
        return None
    except (InvalidSignature, ValueError):
        return False


def slim(data: dict[str, Any]) -> dict[str, Any]:
    """What the authority replay reads of an entry: its fields, the evidence reduced to
    its top-level scalars (``env``, ``automatic``, ...), the actor without its key."""
    out = dict(data)
    ev, actor = data.get("evidence"), data.get("actor")
    out["evidence"] = ({k: v for k, v in ev.items() if v.__class__ in _SCALARS}
                       if isinstance(ev, dict) else {})
    if isinstance(actor, dict):
        out["actor"] = {"key_id": actor.get("key_id"), "name": actor.get("name")}
    return out


_SCALARS = (str, int, bool, type(None))


def _start(store: LedgerStore | Reader, conn: Any, lo: int, res: Result) -> list[bytes]:
    """The frontier at ``lo``: the one stored with the newest checkpoint at or below it,
    carried forward over the entries in between."""
    frontier: list[bytes] = []
    base = 0
    row = store.frontier_before(conn, lo) if lo else None
    if row is not None:
        try:
            frontier = [bytes.fromhex(h) for h in json.loads(row.frontier)]
            if len(frontier) != bin(int(row.tree_size)).count("1"):
                raise ValueError("frontier size")
            base = int(row.tree_size)
        except (ValueError, TypeError):
            res.problems.append((int(row.tree_size), CHECKPOINT, f"checkpoint "
                                 f"{row.tree_size}'s stored Merkle frontier is unreadable"))
            frontier = []
    for r in store.iter_rows(conn, base, lo):
        frontier = merkle.append(frontier, int(r.seq) - 1, merkle.leaf_hash(blob(r.body)))
    return frontier


def _append(frontier: list[bytes], size: int, body: bytes) -> None:
    """:func:`govctl.ledger.merkle.append` in place, for the hot loop."""
    h = hashlib.sha256(b"\x00")
    h.update(body)
    node = h.digest()
    while size & 1:
        node = hashlib.sha256(b"\x01" + frontier.pop() + node).digest()
        size >>= 1
    frontier.append(node)


def _root(frontier: list[bytes]) -> bytes:
    """:func:`govctl.ledger.merkle.root`, for the hot loop."""
    if not frontier:
        return merkle.EMPTY_ROOT
    node = frontier[-1]
    sha256 = hashlib.sha256
    for left in frontier[-2::-1]:
        node = sha256(b"\x01" + left + node).digest()
    return node


def check_range(job: Job) -> Result:
    if job.hashes:
        return check_hashes(job)
    store = _STORE
    assert store is not None
    keys = _Keys()
    digest = _Digest()
    with store.reading() as conn, store.reading() as cconn:
        res = Result(job.lo, job.hi, [])
        frontier = _start(store, conn, job.lo, res)
        res.start = list(frontier)
        problems, facts = res.problems, res.facts
        cps = store.iter_rows(cconn, job.lo, job.hi, entries=False)
        cp = next(cps, None)
        expected = job.lo + 1
        for row in store.iter_rows(conn, job.lo, job.hi):
            seq = int(row.seq)
            if seq != expected:
                break
            body = blob(row.body)
            _append(frontier, seq - 1, body)
            digest.entry(row, body)
            data = parse(body)
            actor = data.get("actor") if data is not None else None
            if data is None or not isinstance(actor, dict):
                problems.append((seq, ENTRY, f"entry {seq} is unreadable"))
                facts.append(("e", seq, None, []))
            else:
                _entry(job, res, keys, row, seq, body, data, actor)
            while cp is not None and int(cp.tree_size) <= seq:
                digest.checkpoint(cp)
                if int(cp.tree_size) == seq:
                    _checkpoint(job, res, keys, cp, seq, frontier)
                cp = next(cps, None)
            expected += 1
        res.last, res.end = expected - 1, list(frontier)
        res.digest = digest.hexdigest()
    return res


def check_hashes(job: Job) -> Result:
    """A range the last verification covered: the digest of its rows, nothing parsed or
    verified — the parent compares it with the mark. Only a range holding a size whose
    root is asked for (``job.want``: the head file's, the checkout's checkpoint's) also
    carries the Merkle frontier over its leaves, from the one stored at its start."""
    from govctl.adapters import sqlite_ledger

    store = _STORE
    assert store is not None
    digest = _Digest()
    want = {s for s in job.want if job.lo < s <= job.hi}
    with store.reading() as conn:
        res = Result(job.lo, job.hi, [])
        frontier = _start(store, conn, job.lo, res) if want else []
        res.start = list(frontier)
        rows: Iterable[list[tuple[Any, ...]]]
        cps: Iterable[list[tuple[Any, ...]]]
        if isinstance(store, sqlite_ledger.Reader):  # plain tuples, on this connection
            rows = [store.digest_rows(conn, job.lo, job.hi)]
            cps = [store.digest_rows(conn, job.lo, job.hi, entries=False)]
        else:  # through the store
            rows = [[(r.seq, r.action, r.phase, r.subject_key, r.intent_ref, r.key_id, r.sig,
                      r.body) for r in store.iter_rows(conn, job.lo, job.hi)]]
            cps = [[(r.tree_size, r.body, r.sig, r.frontier)
                    for r in store.iter_rows(conn, job.lo, job.hi, entries=False)]]
        expected = job.lo + 1
        update, bodies = digest.entries.update, digest.bodies.update
        for batch in rows:
            if not batch:
                break
            cut = batch[0][0] != expected or batch[-1][0] != expected + len(batch) - 1
            if cut:  # a gap (or a seq that is no number): the range ends before it
                n = 0
                while n < len(batch) and batch[n][0] == expected + n:
                    n += 1
                batch = batch[:n]
            for r in batch:
                body = r[7] if r[7].__class__ is bytes else blob(r[7])
                bodies(b"%d:" % len(body))
                bodies(body)
                if want:
                    seq = r[0]
                    _append(frontier, seq - 1, body)
                    if seq in want:
                        res.roots[seq] = _root(frontier)
            update("".join([repr(r[:7]) for r in batch]).encode())
            expected += len(batch)
            if cut:
                break
        for batch in cps:
            digest.checkpoints.update(b"".join([checkpoint_bytes(*r) for r in batch]))
        res.last, res.end = expected - 1, list(frontier)
        res.digest = digest.hexdigest()
    return res


def _entry(job: Job, res: Result, keys: _Keys, row: Any, seq: int, body: bytes,
           data: dict[str, Any], actor: dict[str, Any]) -> None:
    problems = res.problems
    if data.get("seq") != seq:
        problems.append((seq, ENTRY, f"entry {seq} holds seq {data.get('seq')} (reordered?)"))
    kid = actor.get("key_id", "")
    key = keys.get(actor.get("public_key"))
    if key is None or key[1] != kid:
        problems.append((seq, ENTRY, f"entry {seq} claims key {str(kid)[:16]}... but carries "
                         "a different public key (forged?)"))
    subject = data.get("subject")
    sk = f"{subject.get('kind')}:{subject.get('name')}" if isinstance(subject, dict) else None
    stored = (row.action, row.phase, row.subject_key, row.intent_ref, row.key_id)
    signed = (data.get("action"), data.get("phase"), sk, data.get("intent"), kid)
    if stored != signed:
        names = ("action", "phase", "subject", "intent", "key")
        odd = ", ".join(c for c, x, y in zip(names, stored, signed, strict=True) if x != y)
        problems.append((seq, ENTRY, f"entry {seq}'s index columns ({odd}) differ from its "
                         "signed body: the index was edited"))
    if job.signatures:
        ok = None if key is None else _verify(key[0], row.sig, dsse.pae(dsse.LEDGER_ENTRY, body))
        if ok is None:
            problems.append((seq, ENTRY_SIG, f"entry {seq} has a malformed signature or key"))
        else:
            res.signatures += 1
            if not ok:
                problems.append((seq, ENTRY_SIG, f"entry {seq}'s signature does not verify"))
    res.facts.append(("e", seq, slim(data), state.changes(data)))


def _checkpoint(job: Job, res: Result, keys: _Keys, row: Any, size: int,
                frontier: list[bytes]) -> None:
    body = blob(row.body)
    cp = parse(body)
    key = keys.get(cp.get("public_key")) if cp is not None else None
    try:
        assert cp is not None and key is not None
        root = _root(frontier)
        ok_root = cp["root"] == root.hex()
        if int(cp["tree_size"]) != size:
            res.problems.append((size, CHECKPOINT, f"checkpoint {size} claims size "
                                 f"{cp['tree_size']}"))
    except (AssertionError, ValueError, KeyError, TypeError):
        res.problems.append((size, CHECKPOINT, f"checkpoint {size} is unreadable"))
        return
    if not ok_root:
        res.problems.append((size, CHECKPOINT, f"entry {size} or one before it was changed: "
                             f"the Merkle root at size {size} does not match its checkpoint"))
    if size in job.want:
        res.roots[size] = root
    res.checkpoints += 1
    if not _verify(key[0], row.sig, dsse.pae(dsse.LEDGER_CHECKPOINT, body)):
        res.problems.append((size, CHECKPOINT_SIG, f"checkpoint {size}'s signature does not "
                             "verify"))
    res.facts.append(("c", size, key[1]))
