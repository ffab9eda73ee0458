"""The git merge driver for ``ledger.checkpoint``: keep the larger of two consistent heads.

``govctl init`` registers it (``.gitattributes`` + ``git config merge.govctl-checkpoint``);
git calls ``govctl audit merge-checkpoint %O %A %B`` and takes ``%A`` as the result.
"""

from __future__ import annotations

from pathlib import Path

from govctl.config import GovernedRepo
from govctl.errors import CheckFailed, GovctlError, IntegrityError
from govctl.fsutil import atomic_write
from govctl.ledger import checkpoint as cpfile
from govctl.ledger import merkle
from govctl.trust.policy import history

DRIVER = "govctl-checkpoint"
ATTRIBUTE = f"{cpfile.FILE} merge={DRIVER}"
COMMAND = "govctl audit merge-checkpoint %O %A %B"


def merge_checkpoints(repo: GovernedRepo, base: str, ours: str, theirs: str) -> str:
    keys = {f"{s.name}#{s.key_id[:8]}": s.public_raw for p, _ in history(repo) for s in p.signers}
    a_data, b_data = Path(ours).read_bytes(), Path(theirs).read_bytes()
    a, _ = cpfile.verify(a_data, keys, source=f"{cpfile.FILE} (ours)")
    b, _ = cpfile.verify(b_data, keys, source=f"{cpfile.FILE} (theirs)")
    if a.origin != b.origin:
        raise IntegrityError(f"the two {cpfile.FILE} heads are of different ledgers "
                             f"({a.origin}, {b.origin})")
    small, large, large_data = (a, b, b_data) if a.size <= b.size else (b, a, a_data)
    if small.size == large.size:
        if small.root != large.root:
            raise IntegrityError(f"two different ledger heads of size {a.size}: the ledger forked")
    elif small.size:
        try:
            from govctl.ledger.log import Ledger

            proof = Ledger.for_repo(repo).consistency_proof(small.size, large.size)
        except GovctlError as exc:
            raise CheckFailed(f"cannot reach the ledger to prove the heads consistent: "
                              f"{exc.message}") from None
        if not merkle.verify_consistency(small.size, large.size, small.root, large.root, proof):
            raise IntegrityError(f"ledger heads {small.size} and {large.size} are not "
                                 "consistent: history was rewritten")
    atomic_write(Path(ours), large_data)
    return f"kept the head of size {large.size}"
