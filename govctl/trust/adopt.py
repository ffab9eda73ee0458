"""Adopting a trust policy version: version 1 signed by its own admin (:func:`create`), each
later one by a threshold of the previous version's admins (:func:`amend`), recorded in the
ledger."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.documents import DocumentError, dump_yaml, model_from_data
from govctl.errors import CheckFailed, InputError
from govctl.fsutil import atomic_write
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes
from govctl.signing.dsse import Envelope, Signature, b64e
from govctl.signing.keys import SigningKey
from govctl.trust.policy import policy_digest, verify
from govctl.trust.schema import (
    DEFAULT_REQUIREMENTS,
    DEFAULT_VALIDITY,
    SCHEMA,
    TRUST_UPDATE,
    TrustPolicy,
)
from govctl.trust.threshold import evaluate

HEADER = (
    "# govctl trust policy. Signed: every version is in policies/trust.history/.\n"
    "# Do not edit by hand (verification will report it as tampering); change it with\n"
    "# 'govctl trust add/remove/renew', signed by a threshold of admins.\n"
)


def _history_file(repo: GovernedRepo, version: int) -> Path:
    return repo.trust_history / f"{version:04d}.json"


def sign_policy(policy: TrustPolicy, keys: list[SigningKey]) -> Envelope:
    payload = canonical_bytes(policy.to_doc())
    message = dsse.pae(dsse.TRUST_POLICY, payload)
    return Envelope(
        dsse.TRUST_POLICY,
        payload,
        [Signature(k.key_id, k.sign(message)) for k in keys],
    )


def _write(repo: GovernedRepo, policy: TrustPolicy, env: Envelope) -> None:
    atomic_write(_history_file(repo, policy.version), env.dumps())
    atomic_write(repo.trust_file, dump_yaml(policy.to_doc(), HEADER))


def create(repo: GovernedRepo, admin: SigningKey, *, at: datetime | None = None) -> TrustPolicy:
    """Version 1: one admin, the default requirements, valid for a year."""
    at = at or clock.now()
    policy = TrustPolicy.model_validate(
        {
            "schema": SCHEMA,
            "version": 1,
            "expires": clock.to_iso(at + DEFAULT_VALIDITY),
            "signers": [
                {
                    "name": admin.name,
                    "key_id": admin.key_id,
                    "public_key": b64e(admin.public_raw),
                    "roles": ["admin"],
                }
            ],
            "requirements": DEFAULT_REQUIREMENTS,
        }
    )
    _write(repo, policy, sign_policy(policy, [admin]))
    return policy


def amend(
    repo: GovernedRepo,
    change: dict[str, Any],
    keys: list[SigningKey],
    *,
    at: datetime | None = None,
    note: str | None = None,
) -> tuple[TrustPolicy, TrustPolicy]:
    """Adopt a new version built from ``change`` (a dict of top-level fields to replace).

    The current chain must verify; the signing keys must meet the current version's
    ``trust.update`` threshold, each one an unexpired admin. Nothing is written unless all
    of that holds; the new version is recorded in the ledger (``trust.update``, with
    ``note``) by the first key. Returns (old, new).
    """
    from govctl import ledger

    at = at or clock.now()
    old = verify(repo, at=at).policy
    ledger.require(repo)  # a trust change that cannot be recorded is not made
    doc = old.to_doc()
    doc.update(change)
    doc["version"] = old.version + 1
    try:
        new = model_from_data(TrustPolicy, doc, f"trust policy version {old.version + 1}")
    except DocumentError as exc:  # the change itself is invalid: say which field and why
        reasons = "; ".join(f"{p.field or 'policy'}: {p.message}" for p in exc.problems)
        raise InputError(f"the new trust policy would be invalid: {reasons}; nothing was "
                         "changed") from None
    if not any("admin" in s.roles for s in new.signers):
        raise InputError("the new trust policy would have no admin left")
    if not keys:
        raise InputError("a trust change needs at least one admin key; nothing was changed")
    from govctl.trust.authz import authorize

    for key in keys:  # each key an unexpired admin of the current version
        authorize(old, TRUST_UPDATE, key, {"kind": "trust", "name": "policy"}, role="admin",
                  at=at)
    env = sign_policy(new, keys)
    res = evaluate(env, old, TRUST_UPDATE, payload_type=dsse.TRUST_POLICY, at=at)
    if not res.met:
        raise CheckFailed(
            f"changing the trust policy needs {res.describe_missing() or 'valid signatures'} "
            f"of version {old.version}; sign with one key per admin"
            + (f" ({'; '.join(res.integrity)})" if res.integrity else "")
        )
    _write(repo, new, env)
    ledger.record(
        repo, keys[0], TRUST_UPDATE,
        {"kind": "trust", "name": "policy", "version": new.version},
        evidence={"digest": policy_digest(new), "previous": policy_digest(old)},
        note=note,
    )
    return old, new
