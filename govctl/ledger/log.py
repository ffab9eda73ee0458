"""The tamper-evident ledger of governance decisions (DESIGN.md §5).

Each entry is the RFC 8785 canonical JSON of ``{seq, time, action, phase, actor, subject,
evidence, git_commit, intent, note}``, signed by the actor as a DSSE envelope. Entries are
the leaves of an RFC 6962 Merkle tree; every append also writes a signed checkpoint
(tree size + root), and the newest checkpoint is mirrored to ``.govctl/ledger.head.json``
so that deleting the tail of the database is detectable too.

State-changing commands call :meth:`Ledger.intent` before touching an external system and
:meth:`Ledger.complete` after; :meth:`Ledger.open_intents` finds the ones a crash left.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.errors import Busy, IntegrityError, NotFound
from govctl.fsutil import atomic_write
from govctl.ledger import merkle
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes
from govctl.signing.dsse import b64d, b64e
from govctl.signing.keys import SigningKey, key_id, verify_signature

PHASES = ("done", "intent", "complete", "abort")


@dataclass
class Entry:
    seq: int
    time: str
    action: str
    phase: str
    actor: dict[str, str]
    subject: dict[str, Any]
    evidence: dict[str, Any] = field(default_factory=dict)
    git_commit: str | None = None
    intent: int | None = None
    note: str | None = None

    @property
    def subject_key(self) -> str:
        return subject_key(self.subject)

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "action": self.action,
            "phase": self.phase,
            "actor": self.actor,
            "subject": self.subject,
            "evidence": self.evidence,
            "git_commit": self.git_commit,
            "intent": self.intent,
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entry:
        return cls(**{k: data.get(k) for k in cls.__dataclass_fields__})  # type: ignore[arg-type]


def subject_key(subject: dict[str, Any]) -> str:
    """``kind:name`` — what the ledger indexes and locks on (e.g. ``service:support-bot``)."""
    kind, name = subject.get("kind"), subject.get("name")
    if not kind or not name:
        raise ValueError("a ledger subject needs 'kind' and 'name'")
    return f"{kind}:{name}"


@dataclass
class VerifyReport:
    ok: bool
    entries: int
    checkpoints: int
    mode: str
    signatures_checked: int
    first_bad: int | None = None
    problems: list[str] = field(default_factory=list)
    root: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "mode": self.mode,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "signatures_checked": self.signatures_checked,
            "root": self.root,
            "first_bad_entry": self.first_bad,
            "problems": self.problems,
        }


# Work for forked verifier processes: set before the pool forks, read copy-on-write.
_WORK: list[tuple[bytes, bytes, bytes]] = []


def _verify_range(bounds: tuple[int, int]) -> list[int]:
    start, end = bounds
    bad = []
    for i in range(start, end):
        pub, sig, msg = _WORK[i]
        if not verify_signature(pub, sig, msg):
            bad.append(i)
    return bad


def verify_many(work: list[tuple[bytes, bytes, bytes]], workers: int | None = None) -> list[int]:
    """Indices of (public key, signature, message) triples that do not verify, on all cores."""
    global _WORK
    workers = workers or os.cpu_count() or 1
    if workers < 2 or len(work) < 4000:
        _WORK = work
        try:
            return _verify_range((0, len(work)))
        finally:
            _WORK = []
    _WORK = work
    try:
        step = -(-len(work) // (workers * 4))
        ranges = [(i, min(i + step, len(work))) for i in range(0, len(work), step)]
        ctx = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            return sorted(i for bad in pool.map(_verify_range, ranges) for i in bad)
    finally:
        _WORK = []


class Ledger:
    def __init__(self, url: str, *, head_file: Path | None = None) -> None:
        from govctl.adapters.sql import LedgerStore

        self.url = url
        self.store = LedgerStore(url)
        self.head_file = head_file

    @classmethod
    def for_repo(cls, repo: GovernedRepo) -> Ledger:
        return cls(repo.ledger_url(), head_file=repo.state / "ledger.head.json")

    # --- writing -------------------------------------------------------------------

    def init(self) -> str:
        """Create the tables and the ledger id if missing; return the ledger id."""
        self.store.ensure_schema()
        with self.store.locked() as conn:
            lid = self.store.get_meta(conn, "ledger_id")
            if lid is None:
                lid = str(uuid.uuid4())
                self.store.set_meta(conn, "ledger_id", lid)
                self.store.set_meta(conn, "format", "1")
        return lid

    def _require(self) -> None:
        if not self.store.exists():
            raise NotFound(
                f"no ledger at {self.url.split('@')[-1]}", hint="run 'govctl init' first"
            )

    def append(
        self,
        key: SigningKey,
        action: str,
        subject: dict[str, Any],
        *,
        evidence: dict[str, Any] | None = None,
        phase: str = "done",
        intent: int | None = None,
        git_commit: str | None = None,
        note: str | None = None,
        at: datetime | None = None,
    ) -> Entry:
        """Append one signed entry and a signed checkpoint covering it."""
        event = {
            "action": action, "subject": subject, "evidence": evidence, "phase": phase,
            "intent": intent, "git_commit": git_commit, "note": note,
        }
        return self.append_many(key, [event], at=at)[0]

    def append_many(
        self, key: SigningKey, events: list[dict[str, Any]], *, at: datetime | None = None
    ) -> list[Entry]:
        """Append several entries atomically (all or none) under one signed checkpoint.

        Each event is a dict with ``action`` and ``subject`` and optionally ``evidence``,
        ``phase``, ``intent``, ``git_commit`` and ``note``.
        """
        for ev in events:
            if ev.get("phase", "done") not in PHASES:
                raise ValueError(f"phase must be one of {PHASES}")
            subject_key(ev["subject"])
        self._require()
        actor = {"name": key.name, "key_id": key.key_id, "public_key": b64e(key.public_raw)}
        time = clock.to_iso(at or clock.now())
        out: list[Entry] = []
        with self.store.locked() as conn:
            lid = self.store.get_meta(conn, "ledger_id")
            last = self.store.last_checkpoint(conn)
            size = int(last.tree_size) if last else 0
            frontier = [bytes.fromhex(h) for h in json.loads(last.frontier)] if last else []
            if self.store.max_seq(conn) != size:
                raise IntegrityError(
                    "the ledger's entries and checkpoints disagree; run 'govctl audit verify'"
                )
            rows = []
            for ev in events:
                entry = Entry(
                    seq=size + 1,
                    time=time,
                    action=ev["action"],
                    phase=ev.get("phase") or "done",
                    actor=actor,
                    subject=ev["subject"],
                    evidence=ev.get("evidence") or {},
                    git_commit=ev.get("git_commit"),
                    intent=ev.get("intent"),
                    note=ev.get("note"),
                )
                body = canonical_bytes(entry.to_json())
                sig = key.sign(dsse.pae(dsse.LEDGER_ENTRY, body))
                frontier = merkle.append(frontier, size, merkle.leaf_hash(body))
                size += 1
                rows.append(
                    {
                        "seq": entry.seq,
                        "action": entry.action,
                        "phase": entry.phase,
                        "subject_key": entry.subject_key,
                        "intent_ref": entry.intent,
                        "key_id": key.key_id,
                        "body": body,
                        "sig": b64e(sig),
                    }
                )
                out.append(entry)
            cp_body = canonical_bytes(
                {
                    "ledger_id": lid,
                    "tree_size": size,
                    "root": merkle.root(frontier).hex(),
                    "time": time,
                    "key_id": key.key_id,
                    "public_key": actor["public_key"],
                }
            )
            cp_sig = key.sign(dsse.pae(dsse.LEDGER_CHECKPOINT, cp_body))
            self.store.insert(
                conn,
                rows,
                {
                    "tree_size": size,
                    "body": cp_body,
                    "sig": b64e(cp_sig),
                    "frontier": json.dumps([h.hex() for h in frontier]),
                },
            )
        self._write_head(cp_body, cp_sig)
        return out

    def _write_head(self, body: bytes, sig: bytes) -> None:
        if self.head_file is None:
            return
        env = dsse.Envelope(dsse.LEDGER_CHECKPOINT, body, [dsse.Signature("", sig)])
        # Another process may have appended meanwhile: never move the head backwards.
        current = self._read_head()
        if current and current["tree_size"] >= json.loads(body)["tree_size"]:
            return
        atomic_write(self.head_file, env.dumps())

    def _read_head(self) -> dict[str, Any] | None:
        if self.head_file is None or not self.head_file.exists():
            return None
        try:
            env = dsse.Envelope.loads(self.head_file.read_bytes(), source=str(self.head_file))
            data = json.loads(env.payload)
            data["_env"] = env
            return data
        except (IntegrityError, ValueError, KeyError):
            return {"tree_size": -1, "_broken": True}

    def intent(self, key: SigningKey, action: str, subject: dict[str, Any], **kw: Any) -> Entry:
        """Record what is about to change, before changing it."""
        return self.append(key, action, subject, phase="intent", **kw)

    def complete(self, key: SigningKey, intent: Entry, **kw: Any) -> Entry:
        return self.append(key, intent.action, intent.subject, phase="complete", intent=intent.seq, **kw)

    def abort(self, key: SigningKey, intent: Entry, **kw: Any) -> Entry:
        return self.append(key, intent.action, intent.subject, phase="abort", intent=intent.seq, **kw)

    @contextmanager
    def lock(self, subject: dict[str, Any], holder: str, *, ttl_seconds: int = 300) -> Iterator[None]:
        """One state transition per subject at a time, across processes and machines.

        A lease in the ledger database: a crashed holder blocks others for at most
        ``ttl_seconds``, after which the next operation takes the lease over.
        """
        self._require()
        key = subject_key(subject)
        now = clock.now()
        token = uuid.uuid4().hex
        held = self.store.try_lock(
            key, holder, token, clock.to_iso(now), clock.to_iso(now + timedelta(seconds=ttl_seconds))
        )
        if held is not None:
            raise Busy(
                f"another operation is in progress on {key} (held by {held.holder} since "
                f"{held.acquired}; the lease expires {held.expires})",
                hint="wait for it to finish and try again",
            )
        try:
            yield
        finally:
            self.store.unlock(key, token)

    # --- reading -------------------------------------------------------------------

    def entries(
        self,
        *,
        action: str | None = None,
        subject_prefix: str | None = None,
        since: int | None = None,
    ) -> Iterable[Entry]:
        self._require()
        with self.store.reading() as conn:
            for row in self.store.iter_entries(
                conn, action=action, subject_prefix=subject_prefix, since=since
            ):
                yield Entry.from_json(json.loads(row.body))

    def open_intents(self, subject: dict[str, Any]) -> list[Entry]:
        self._require()
        with self.store.reading() as conn:
            rows = self.store.open_intents(conn, subject_key(subject))
        return [Entry.from_json(json.loads(r.body)) for r in rows]

    def size(self) -> int:
        self._require()
        with self.store.reading() as conn:
            return self.store.count(conn)

    # --- verification -------------------------------------------------------------

    def verify(
        self,
        *,
        signatures: bool = True,
        trusted: dict[str, str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> VerifyReport:
        """Check every entry offline.

        Always: sequence numbers contiguous from 1, each body's ``seq`` matches its row, the
        Merkle root recomputed from the leaves matches every checkpoint, the newest
        checkpoint covers every entry and carries a valid signature, and the head file (if
        any) is consistent with it. With ``signatures``: every entry's signature too, spread
        over all cores. ``trusted`` (key id -> name) limits which keys may sign entries.
        """
        self._require()
        mode = "full" if signatures else "hash"
        problems: list[tuple[int, str]] = []
        work: list[tuple[bytes, bytes, bytes]] = []
        work_seq: list[int] = []
        frontier: list[bytes] = []
        n = 0
        with self.store.reading() as conn:
            roots: dict[int, str] = {}
            bound: dict[str, str] = {}  # public key (base64) -> its key id, computed once
            last_cp = None
            for row in self.store.iter_checkpoints(conn):
                try:
                    roots[int(row.tree_size)] = json.loads(row.body)["root"]
                except (ValueError, KeyError):
                    problems.append((int(row.tree_size), f"checkpoint {row.tree_size} is unreadable"))
            last_cp = self.store.last_checkpoint(conn)
            for row in self.store.iter_entries(conn):
                n += 1
                seq = int(row.seq)
                body = bytes(row.body)
                if seq != n:
                    problems.append((n, f"entry {n} is missing (next entry found is {seq})"))
                    break
                try:
                    data = json.loads(body)
                    declared = data["seq"]
                    actor = data["actor"]
                except (ValueError, KeyError, TypeError):
                    problems.append((seq, f"entry {seq} is unreadable"))
                    declared, actor = seq, None
                if declared != seq:
                    problems.append((seq, f"entry {seq} holds seq {declared} (reordered?)"))
                if actor is not None:
                    kid = actor.get("key_id", "")
                    if not _binds(actor.get("public_key"), kid, bound):
                        problems.append(
                            (seq, f"entry {seq} claims key {kid[:16]}... but carries a "
                             "different public key (forged?)")
                        )
                    if trusted is not None and kid not in trusted:
                        problems.append(
                            (seq, f"entry {seq} is signed by key {kid[:16]}... that no trust "
                             "policy version knows")
                        )
                    if signatures:
                        try:
                            pub = b64d(actor["public_key"], "public key")
                            work.append((pub, b64d(row.sig, "signature"), dsse.pae(dsse.LEDGER_ENTRY, body)))
                            work_seq.append(seq)
                        except (IntegrityError, KeyError):
                            problems.append((seq, f"entry {seq} has a malformed signature or key"))
                frontier = merkle.append(frontier, n - 1, merkle.leaf_hash(body))
                expected = roots.get(n)
                if expected is not None and expected != merkle.root(frontier).hex():
                    problems.append(
                        (seq, f"entry {seq} or one before it was changed: the Merkle root at "
                         f"size {n} does not match its checkpoint")
                    )
                if progress and n % 10000 == 0:
                    progress(n)
            if signatures and work:
                for i in verify_many(work):
                    problems.append((work_seq[i], f"entry {work_seq[i]}'s signature does not verify"))
            root_hex = merkle.root(frontier).hex()
            if last_cp is None:
                if n:
                    problems.append((1, "the ledger has entries but no checkpoint"))
            else:
                size = int(last_cp.tree_size)
                cp = json.loads(last_cp.body)
                if size > n:
                    problems.append(
                        (n + 1, f"the ledger was truncated: the newest checkpoint covers {size} "
                         f"entries, {n} remain")
                    )
                elif size < n:
                    problems.append((size + 1, f"entries after {size} are not covered by a checkpoint"))
                try:
                    cp_pub = b64d(cp["public_key"], "checkpoint key")
                    cp_ok = verify_signature(
                        cp_pub, b64d(last_cp.sig, "checkpoint signature"),
                        dsse.pae(dsse.LEDGER_CHECKPOINT, bytes(last_cp.body)),
                    )
                except (IntegrityError, KeyError):
                    cp_ok = False
                if not cp_ok:
                    problems.append((size, f"checkpoint {size}'s signature does not verify"))
                elif trusted is not None and key_id(cp_pub) not in trusted:
                    problems.append((size, f"checkpoint {size} is signed by a key that no "
                                     "trust policy version knows"))
            head = self._read_head()
            if head is not None:
                if head.get("_broken"):
                    problems.append((1, f"{self.head_file} is unreadable"))
                else:
                    hsize = int(head["tree_size"])
                    if hsize > n:
                        problems.append(
                            (n + 1, f"the ledger was truncated: {self.head_file} records "
                             f"{hsize} entries, {n} remain")
                        )
                    elif roots.get(hsize) != head["root"]:
                        problems.append(
                            (hsize, f"{self.head_file} does not match checkpoint {hsize}")
                        )
        problems.sort(key=lambda p: p[0])
        return VerifyReport(
            ok=not problems,
            entries=n,
            checkpoints=len(roots),
            mode=mode,
            signatures_checked=len(work),
            first_bad=problems[0][0] if problems else None,
            problems=[p[1] for p in problems],
            root=root_hex,
        )


def require(repo: GovernedRepo) -> None:
    """Fail before anything is written when the repo's ledger is missing: a decision that
    cannot be recorded must not half-happen (files changed, no entry)."""
    Ledger.for_repo(repo)._require()


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


def record(
    repo: GovernedRepo,
    key: SigningKey,
    action: str,
    subject: dict[str, Any],
    *,
    evidence: dict[str, Any] | None = None,
    note: str | None = None,
) -> Entry:
    """Record one finished event in the repo's ledger, stamped with the repo's git commit.

    The call other modules make; for state changes use :meth:`Ledger.intent` and
    :meth:`Ledger.complete` on ``Ledger.for_repo(repo)``.
    """
    from govctl.adapters.gitrepo import head_commit

    return Ledger.for_repo(repo).append(
        key, action, subject, evidence=evidence, git_commit=head_commit(repo.root), note=note
    )
