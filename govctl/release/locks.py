"""Service leases for operators: who holds one, and breaking one a crash left (signed)."""

from __future__ import annotations

from govctl.config import GovernedRepo
from govctl.errors import InputError
from govctl.ledger import leases
from govctl.ledger.log import Ledger
from govctl.signing.keys import SigningKey

LOCK_BREAK = leases.LOCK_BREAK


def status(repo: GovernedRepo) -> list[leases.Lease]:
    return leases.status(Ledger.for_repo(repo))


def break_lease(repo: GovernedRepo, key: SigningKey, service: str, reason: str) -> leases.Lease:
    """Break the lease on SERVICE: an admin or on-call, with a reason, in the ledger."""
    if not reason.strip():
        raise InputError("reason must say why the lease is broken", field="reason")
    from govctl import trust  # the trust models load only where a lease is broken

    policy = trust.load_verified(repo)
    trust.authorize(policy, LOCK_BREAK, key)  # admin or oncall unless the policy says
    return leases.break_lease(Ledger.for_repo(repo), key, {"kind": "service", "name": service},
                              reason)


def held(repo: GovernedRepo, service: str) -> leases.Lease | None:
    return leases.held(Ledger.for_repo(repo), {"kind": "service", "name": service})
