"""Counting signatures against a requirement: which signers' signatures verify over the
exact envelope bytes, per role, and what is still missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from govctl import clock
from govctl.signing import dsse
from govctl.signing.dsse import Envelope
from govctl.signing.keys import SigningKey, verify_signature
from govctl.trust.schema import Signer, TrustPolicy


@dataclass
class ThresholdResult:
    """How a set of signatures measures up against one requirement."""

    action: str
    met: bool
    counted: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    integrity: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the ``integrity`` messages about signers whose keys had expired at the time asked
    expired: list[str] = field(default_factory=list)

    def describe_missing(self) -> str:
        return ", ".join(f"{n} more {role}" for role, n in self.missing.items())

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "met": self.met,
            "counted": self.counted,
            "missing": self.missing,
            "integrity": self.integrity,
            "notes": self.notes,
        }


def evaluate(
    envelope: Envelope,
    policy: TrustPolicy,
    action: str,
    *,
    payload_type: str,
    at: datetime | None = None,
    source: str = "envelope",
) -> ThresholdResult:
    """Check every signature over the exact envelope bytes and count signers per role.

    Each signer counts once per role however many times they signed; signers are
    identified by public key, never by the keyid string the envelope claims.
    """
    at = at or clock.now()
    result = ThresholdResult(action, False)
    if envelope.payload_type != payload_type:
        result.integrity.append(
            f"{source}: signed as {envelope.payload_type!r}, not {payload_type!r} "
            "(a signature from another document kind)"
        )
        return result
    message = dsse.pae(envelope.payload_type, envelope.payload)
    by_role: dict[str, set[bytes]] = {}
    names: dict[bytes, str] = {}
    for i, sig in enumerate(envelope.signatures, 1):
        signer = policy.signer_by_key(sig.keyid)
        if signer is None:
            # the keyid is only a hint: try every signer before calling the key unknown
            signer = next(
                (s for s in policy.signers if verify_signature(s.public_raw, sig.sig, message)),
                None,
            )
            if signer is None:
                result.integrity.append(
                    f"{source}: signature #{i} is by key {sig.keyid[:16] or '?'}... which is not "
                    f"in trust policy version {policy.version}"
                )
                continue
        elif not verify_signature(signer.public_raw, sig.sig, message):
            result.integrity.append(
                f"{source}: signature #{i} claims to be {signer.name}'s but does not verify "
                "over these bytes"
            )
            continue
        if not signer.active(at):
            expired = f"{source}: {signer.name}'s key expired {signer.valid_until}"
            result.integrity.append(expired)
            result.expired.append(expired)
            continue
        if signer.public_raw in names:
            result.notes.append(f"{signer.name} signed more than once; counted once")
        names[signer.public_raw] = signer.name
        for role in signer.roles:
            by_role.setdefault(role, set()).add(signer.public_raw)
    req = policy.requirement(action)
    result.counted = {
        role: sorted(names[k] for k in keys) for role, keys in sorted(by_role.items())
    }
    for role, need in req.roles.items():
        have = len(by_role.get(role, ()))
        if have < need:
            result.missing[role] = need - have
    if req.any_of and not any(by_role.get(r) for r in req.any_of):
        result.missing["|".join(req.any_of)] = 1
    result.met = not result.missing and not result.integrity
    return result


def may_act(policy: TrustPolicy, key: SigningKey, action: str, at: datetime | None = None) -> Signer:
    """Deprecated spelling of :func:`govctl.trust.authz.authorize`; returns the Signer."""
    from govctl.trust.authz import authorize

    return policy.signer(authorize(policy, action, key, at=at).name)
