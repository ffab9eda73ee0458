"""Offline verification of the ledger: order, hashes, every checkpoint, authority, the checkout.

One pass over the entries carries the Merkle frontier forward, so each checkpoint's root is
compared as the pass reaches its size (no root recomputed from scratch). Every checkpoint's
signature is checked, and an optional *authority* (see :mod:`govctl.trust.replay`) replays
the trust policy in force at each point: every entry's actor must have held a role allowing
its action, and every checkpoint's signer must have been trusted then. The checkout's
``ledger.checkpoint`` (tracked in git) must be a prefix of what the ledger holds: an older
consistent one is fine (a note: commit it), a newer or inconsistent one is exit 4.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any, Protocol

from govctl.errors import IntegrityError
from govctl.ledger import checkpoint as cpfile
from govctl.ledger import merkle
from govctl.ledger.entry import VerifyReport
from govctl.signing import dsse
from govctl.signing.dsse import b64d
from govctl.signing.keys import key_id, verify_signature

if TYPE_CHECKING:
    from govctl.ledger.log import Ledger


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


def verify_ledger(
    ledger: Ledger, *, signatures: bool, trusted: dict[str, str] | None,
    progress: Callable[[int], None] | None, authority: Authority | None,
    from_checkpoint: bytes | None,
) -> VerifyReport:
    store = ledger.store
    problems: list[tuple[int, str]] = []
    behind: list[tuple[int, str]] = []
    notes: list[str] = []
    work: list[tuple[bytes, bytes, bytes]] = []
    work_seq: list[int] = []
    cp_work: list[tuple[bytes, bytes, bytes]] = []
    cp_size: list[int] = []
    frontier: list[bytes] = []
    sizes_roots: dict[int, bytes] = {}
    bound: dict[str, str] = {}
    n = 0
    with store.reading() as conn:
        lid = store.get_meta(conn, "ledger_id")
        cps: dict[int, Any] = {}
        for row in store.iter_checkpoints(conn):
            cps[int(row.tree_size)] = row
        last_size = max(cps) if cps else None

        def reach(size: int) -> None:
            """The pass reached ``size`` entries: check the checkpoint there, if any."""
            row = cps.get(size)
            if row is None:
                return
            body = bytes(row.body)
            try:
                cp = json.loads(body)
                pub = b64d(cp["public_key"], "checkpoint key")
                kid = key_id(pub)
                ok_root = cp["root"] == merkle.root(frontier).hex()
                if int(cp["tree_size"]) != size:
                    problems.append((size, f"checkpoint {size} claims size {cp['tree_size']}"))
            except (ValueError, KeyError, TypeError, IntegrityError):
                problems.append((size, f"checkpoint {size} is unreadable"))
                return
            if not ok_root:
                problems.append((size, f"entry {size} or one before it was changed: the Merkle "
                                 f"root at size {size} does not match its checkpoint"))
            sizes_roots[size] = merkle.root(frontier)
            try:
                sig = b64d(row.sig, "checkpoint signature")
            except IntegrityError:
                sig = b""
            cp_work.append((pub, sig, dsse.pae(dsse.LEDGER_CHECKPOINT, body)))
            cp_size.append(size)
            if trusted is not None and kid not in trusted:
                problems.append((size, f"checkpoint {size} is signed by a key that no trust "
                                 "policy version knows"))
            elif authority is not None:
                verdict = authority.checkpoint(size, kid)
                if verdict:
                    (behind if verdict[0] == "behind" else problems).append((size, verdict[1]))

        for row in store.iter_entries(conn):
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
                data, declared, actor = None, seq, None
            if declared != seq:
                problems.append((seq, f"entry {seq} holds seq {declared} (reordered?)"))
            if actor is not None:
                kid = actor.get("key_id", "")
                if not _binds(actor.get("public_key"), kid, bound):
                    problems.append((seq, f"entry {seq} claims key {kid[:16]}... but carries a "
                                     "different public key (forged?)"))
                if authority is not None and data is not None:
                    verdict = authority.entry(seq, data)
                    if verdict:
                        (behind if verdict[0] == "behind" else problems).append((seq, verdict[1]))
                elif trusted is not None and kid not in trusted:
                    problems.append((seq, f"entry {seq} is signed by key {kid[:16]}... that no "
                                     "trust policy version knows"))
                if signatures:
                    try:
                        pub = b64d(actor["public_key"], "public key")
                        work.append((pub, b64d(row.sig, "signature"),
                                     dsse.pae(dsse.LEDGER_ENTRY, body)))
                        work_seq.append(seq)
                    except (IntegrityError, KeyError):
                        problems.append((seq, f"entry {seq} has a malformed signature or key"))
            frontier = merkle.append(frontier, n - 1, merkle.leaf_hash(body))
            reach(n)
            if progress and n % 10000 == 0:
                progress(n)
        if signatures and work:
            for i in verify_many(work):
                problems.append((work_seq[i], f"entry {work_seq[i]}'s signature does not verify"))
        for i in verify_many(cp_work):
            problems.append((cp_size[i], f"checkpoint {cp_size[i]}'s signature does not verify"))
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
        ok=not problems and not behind, entries=n, checkpoints=len(cps),
        mode="full" if signatures else "hash", signatures_checked=len(work),
        first_bad=problems[0][0] if problems else None,
        problems=[p[1] for p in problems], root=root_hex, behind=[b[1] for b in behind],
        hint=hint, checkpoints_checked=len(cp_work), checkout_checkpoint=checkout_size,
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
