"""Signature checks of a ledger on every core, streamed from the database in ranges.

``audit verify`` splits the log into ranges of sequence numbers; forked worker processes
(one per core) each read their range straight from the database — entries and checkpoints,
a batch at a time — and verify the Ed25519 signatures, while the parent process makes its
own pass for hashes, roots, authority and the derived state. Nothing is held for the whole
ledger, so memory stays flat in its size; only the problems travel back.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from govctl.errors import IntegrityError
from govctl.ledger.reads import parse
from govctl.signing import dsse
from govctl.signing.dsse import b64d

if TYPE_CHECKING:
    from govctl.adapters.sql import LedgerStore

#: entries per range handed to a worker
RANGE = 2000
#: below this many signatures the parent checks them itself (a pool costs a fork per core)
PARALLEL_FROM = 1500

_STORE: LedgerStore | None = None  # set before the pool forks; workers reuse it

Result = tuple[int, int, list[tuple[int, str]]]  # entries checked, checkpoints checked, problems


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _worker_init() -> None:
    if _STORE is not None:  # the parent's connections are its own: open fresh ones
        _STORE.engine.dispose(close=False)


class _Keys:
    def __init__(self) -> None:
        self.cache: dict[str, Any] = {}

    def get(self, public_b64: Any) -> Any:
        """The Ed25519 key for a base64 public key (cached), or None if malformed."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        if not isinstance(public_b64, str):
            return None
        if public_b64 not in self.cache:
            try:
                self.cache[public_b64] = Ed25519PublicKey.from_public_bytes(
                    b64d(public_b64, "public key"))
            except (IntegrityError, ValueError):
                self.cache[public_b64] = None
        return self.cache[public_b64]


def _verify(key: Any, sig_b64: str, message: bytes) -> bool | None:
    """True/False for a signature that (does not) verify, None for a malformed one."""
    from cryptography.exceptions import InvalidSignature

    try:
        sig = b64d(sig_b64, "signature")
    except IntegrityError:
        return None
    try:
        key.verify(sig, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def check_range(bounds: tuple[int, int, bool]) -> Result:
    """Verify the signatures of entries (if asked) and checkpoints in ``lo < seq <= hi``."""
    lo, hi, entries = bounds
    store = _STORE
    assert store is not None
    keys = _Keys()
    problems: list[tuple[int, str]] = []
    n_entries = n_cps = 0
    with store.reading() as conn:
        if entries:
            for row in store.iter_rows(conn, lo, hi, entries=True):
                seq, body = int(row.seq), bytes(row.body)
                data = parse(body)
                if data is None:
                    continue  # unreadable: the parent's pass names it
                actor = data.get("actor")
                key = keys.get(actor.get("public_key") if isinstance(actor, dict) else None)
                ok = None if key is None else _verify(key, row.sig, dsse.pae(
                    dsse.LEDGER_ENTRY, body))
                if ok is None:
                    problems.append((seq, f"entry {seq} has a malformed signature or key"))
                    continue
                n_entries += 1
                if not ok:
                    problems.append((seq, f"entry {seq}'s signature does not verify"))
        for row in store.iter_rows(conn, lo, hi, entries=False):
            size, body = int(row.tree_size), bytes(row.body)
            cp = parse(body)
            key = keys.get(cp.get("public_key")) if cp is not None else None
            if key is None:
                continue  # unreadable: the parent's pass names it
            n_cps += 1
            if not _verify(key, row.sig, dsse.pae(dsse.LEDGER_CHECKPOINT, body)):
                problems.append((size, f"checkpoint {size}'s signature does not verify"))
    return n_entries, n_cps, problems


class Checker:
    """Signature checks of ``(0, top]`` started in the background; :meth:`results` waits."""

    def __init__(self, store: LedgerStore, top: int, *, entries: bool,
                 workers: int | None = None) -> None:
        global _STORE
        _STORE = store
        self.ranges = [(lo, min(lo + RANGE, top), entries) for lo in range(0, top, RANGE)]
        self.pool: ProcessPoolExecutor | None = None
        self.futures: list[Future[Result]] = []
        workers = workers or cores()
        if workers > 1 and top * (2 if entries else 1) >= PARALLEL_FROM:
            ctx = multiprocessing.get_context("fork")
            self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                            initializer=_worker_init)
            self.futures = [self.pool.submit(check_range, r) for r in self.ranges]

    def results(self) -> Result:
        n_e = n_c = 0
        problems: list[tuple[int, str]] = []
        try:
            if self.pool is None:
                parts = (check_range(r) for r in self.ranges)
            else:
                parts = (f.result() for f in self.futures)
            for e, c, p in parts:
                n_e, n_c = n_e + e, n_c + c
                problems += p
        finally:
            if self.pool is not None:
                self.pool.shutdown(cancel_futures=True)
        return n_e, n_c, problems
