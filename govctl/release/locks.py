"""Service leases for operators: who holds one, and breaking one a crash left (signed)."""

from __future__ import annotations

from govctl import trust
from govctl.config import GovernedRepo
from govctl.errors import CheckFailed, InputError
from govctl.ledger import leases
from govctl.ledger.log import Ledger
from govctl.signing.keys import SigningKey

LOCK_BREAK = leases.LOCK_BREAK


def status(repo: GovernedRepo) -> list[leases.Lease]:
    return leases.status(Ledger.for_repo(repo))


def break_lease(repo: GovernedRepo, key: SigningKey, service: str, reason: str) -> leases.Lease:
    """Break the lease on SERVICE: an admin or on-call, with a reason, in the ledger."""
    if not reason.strip():
        raise InputError("--reason must say why the lease is broken")
    policy = trust.load_verified(repo)
    if LOCK_BREAK in policy.requirements:
        trust.may_act(policy, key, LOCK_BREAK)
    else:  # a policy from before lock.break had a rule of its own
        signer = policy.signer_by_key(key.key_id)
        if signer is None or not set(signer.roles) & {"admin", "oncall"}:
            raise CheckFailed(f"key {key.name!r} may not break a lease: it needs the admin "
                              "or oncall role")
    return leases.break_lease(Ledger.for_repo(repo), key, {"kind": "service", "name": service},
                              reason)


def held(repo: GovernedRepo, service: str) -> leases.Lease | None:
    return leases.held(Ledger.for_repo(repo), {"kind": "service", "name": service})
