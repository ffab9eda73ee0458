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
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from govctl import clock
from govctl.config import GovernedRepo, redact_url
from govctl.errors import Busy, IntegrityError, NotFound
from govctl.fsutil import atomic_write
from govctl.ledger import checkpoint as checkpoint_note
from govctl.ledger import merkle, state
from govctl.ledger.entry import PHASES, Entry, VerifyReport, subject_key
from govctl.ledger.reads import Reads, blob
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes
from govctl.signing.dsse import b64e
from govctl.signing.keys import SigningKey

if TYPE_CHECKING:
    from govctl.adapters.sql import LedgerStore


class Ledger(Reads):
    def __init__(self, url: str, *, head_file: Path | None = None,
                 checkpoint_file: Path | None = None,
                 signer_names: dict[str, str] | Callable[[], dict[str, str]] | None = None,
                 verified_file: Path | None = None) -> None:
        self.url = url
        self._store: LedgerStore | None = None
        self.head_file = head_file
        self.checkpoint_file = checkpoint_file
        self.verified_file = verified_file  # govctl.ledger.verified: this clone's last audit
        self._names = signer_names or {}

    @property
    def signer_names(self) -> dict[str, str]:
        """Key id -> the trust policy's name for it, read on the first append."""
        if callable(self._names):
            self._names = self._names()
        return self._names

    @classmethod
    def for_repo(cls, repo: GovernedRepo) -> Ledger:
        return cls(repo.ledger_url(), head_file=repo.state / "ledger.head.json",
                   checkpoint_file=repo.root / checkpoint_note.FILE,
                   signer_names=lambda: _signer_names(repo),
                   verified_file=repo.state / "ledger.verified.json")

    @property
    def store(self) -> LedgerStore:
        """The database, opened on first use (a read that needs no SQLAlchemy never
        imports it: :mod:`govctl.adapters.sqlite_ledger`)."""
        if self._store is None:
            from govctl.adapters.sql import LedgerStore

            self._store = LedgerStore(self.url)
        return self._store

    def exists(self) -> bool:
        """Whether the ledger's tables exist (a SQLite file is looked at with the standard
        library, and not created when missing)."""
        from govctl.adapters import sqlite_ledger

        found = sqlite_ledger.has_ledger(self.url)
        return self.store.exists() if found is None else found

    @property
    def display_url(self) -> str:
        return redact_url(self.url)

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
                self.store.put_state_marks(conn, {state.META_VERSION: state.STATE_VERSION,
                                           state.META_SEQ: "0"})
        return lid

    def _require(self) -> None:
        if not self.exists():
            raise NotFound(
                f"no ledger at {self.display_url}", hint="run 'govctl init' first"
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
        """Append several entries atomically (all or none) under one signed checkpoint,
        and their effect on the derived state (:mod:`govctl.ledger.state`) in the same
        transaction.

        Each event is a dict with ``action`` and ``subject`` and optionally ``evidence``,
        ``phase``, ``intent``, ``git_commit`` and ``note``.
        """
        for ev in events:
            if ev.get("phase", "done") not in PHASES:
                raise ValueError(f"phase must be one of {PHASES}")
            subject_key(ev["subject"])
        self._require()
        actor = {"name": self.signer_names.get(key.key_id, key.name), "key_id": key.key_id, "public_key": b64e(key.public_raw)}
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
            meta = self.store.state_marks(conn)
            if (meta.get(state.META_VERSION) != state.STATE_VERSION
                    or meta.get(state.META_SEQ) != str(size)):
                self._catch_up(conn)  # an older ledger, or an older govctl appended
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
            self.store.state_apply(conn, state.fold([e.to_json() for e in out]))
            self.store.put_state_marks(conn, {state.META_SEQ: str(size)})
        self._write_head(cp_body, cp_sig)
        self._write_checkpoint_note(key, str(lid), size, merkle.root(frontier))
        return out

    def _write_checkpoint_note(self, key: SigningKey, lid: str, size: int, root: bytes) -> None:
        """Mirror the head into the tracked ``ledger.checkpoint`` (C2SP tlog-checkpoint),
        never moving it backwards: concurrent appenders of one checkout take turns."""
        if self.checkpoint_file is None or not self.checkpoint_file.parent.is_dir():
            return
        import fcntl

        lock = self.head_file.parent if self.head_file else self.checkpoint_file.parent
        lock.mkdir(parents=True, exist_ok=True)
        with open(lock / "checkpoint.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            current = checkpoint_note.read(self.checkpoint_file)
            if current is not None:
                try:
                    cur = checkpoint_note.parse(current)
                    if cur.origin == checkpoint_note.origin_for(lid) and cur.size >= size:
                        return
                except IntegrityError:
                    pass
            note = checkpoint_note.Checkpoint(checkpoint_note.origin_for(lid), size, root)
            atomic_write(self.checkpoint_file, checkpoint_note.sign(note, key))

    def leaf_hashes(self, size: int | None = None) -> list[bytes]:
        with self.store.reading() as conn:
            out = [merkle.leaf_hash(blob(r.body)) for r in self.store.iter_entries(conn)]
        return out if size is None else out[:size]

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        return merkle.consistency_proof(self.leaf_hashes(second), first)

    def prove(self, seq: int) -> dict[str, Any]:
        """An inclusion proof of entry ``seq`` against the newest signed checkpoint."""
        self._require()
        with self.store.reading() as conn:
            last = self.store.last_checkpoint(conn)
        if last is None:
            raise NotFound("the ledger has no checkpoint yet")
        size = int(last.tree_size)
        if not 1 <= seq <= size:
            raise NotFound(f"the ledger has no entry {seq} (it holds {size})")
        leaves = self.leaf_hashes(size)
        proof = merkle.inclusion_proof(leaves, seq - 1)
        cp = json.loads(last.body)
        ok = merkle.verify_inclusion(seq - 1, size, leaves[seq - 1], proof, bytes.fromhex(cp["root"]))
        if not ok:
            raise IntegrityError(f"entry {seq} does not prove into checkpoint {size}; "
                                 "run 'govctl audit verify'")
        return {"seq": seq, "leaf_index": seq - 1, "leaf_hash": leaves[seq - 1].hex(),
                "tree_size": size, "root": cp["root"], "proof": [p.hex() for p in proof],
                "checkpoint": {"body": cp, "signature": last.sig}}

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
            size = data["tree_size"]
            if (not isinstance(size, int) or isinstance(size, bool) or size < 0
                    or not isinstance(data.get("root"), str)):
                raise ValueError("not a checkpoint")
            data["_env"] = env
            return data
        except (IntegrityError, ValueError, KeyError, TypeError, RecursionError):
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

    # --- verification -------------------------------------------------------------

    def verify(
        self,
        *,
        signatures: bool = True,
        trusted: dict[str, str] | None = None,
        progress: Callable[[int], None] | None = None,
        authority: Any = None,
        from_checkpoint: bytes | None = None,
    ) -> VerifyReport:
        """Check every entry offline (see :func:`govctl.ledger.audit.verify_ledger`)."""
        from govctl.ledger.audit import verify_ledger

        self._require()
        return verify_ledger(self, signatures=signatures, trusted=trusted, progress=progress,
                             authority=authority, from_checkpoint=from_checkpoint)


def require(repo: GovernedRepo) -> None:
    """Fail before anything is written when the repo's ledger is missing: a decision that
    cannot be recorded must not half-happen (files changed, no entry)."""
    Ledger.for_repo(repo)._require()


_NAMES: dict[tuple[Any, ...], dict[str, str]] = {}


def _signer_names(repo: GovernedRepo) -> dict[str, str]:
    """Key id -> signer name in the current trust policy: entries record the trust policy's
    name for a key, not the local key file's. Read once per version of the file (every
    command opens the ledger; a process running many re-reads nothing unchanged)."""
    import yaml

    try:
        st = repo.trust_file.stat()
    except OSError:
        return {}
    key = (str(repo.trust_file), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _NAMES:
        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster
            doc = yaml.load(repo.trust_file.read_text("utf-8"), Loader=loader)  # noqa: S506
            names = {str(s["key_id"]): str(s["name"]) for s in (doc or {}).get("signers") or []}
        except (yaml.YAMLError, OSError, ValueError, KeyError, TypeError, AttributeError,
                RecursionError):  # UnicodeDecodeError is a ValueError
            names = {}
        if len(_NAMES) > 64:
            _NAMES.clear()
        _NAMES[key] = names
    return dict(_NAMES[key])


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
