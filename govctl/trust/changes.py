"""Trust policy changes (add, remove, renew) and what the history says about past signers.

Each change is validated here, signed by a threshold of admins and recorded in the ledger
by :func:`govctl.trust.adopt.amend`; the CLI only renders the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.errors import GovctlError, InputError
from govctl.signing.dsse import b64e
from govctl.signing.keys import KeyStore, SigningKey, check_name, key_id, parse_public_key
from govctl.trust.adopt import amend
from govctl.trust.policy import ROLES, Signer, TrustPolicy, history, read_current


def known_roles(policy: TrustPolicy) -> set[str]:
    known = set(ROLES) | {x for s in policy.signers for x in s.roles}
    for req in policy.requirements.values():
        known |= set(req.roles) | set(req.any_of)
    return known


@dataclass
class Change:
    old: TrustPolicy
    new: TrustPolicy
    signer: dict[str, Any] | None = None
    dropped_roles: list[str] | None = None


def _public_key(name: str, public_key: bytes | Path | None) -> bytes:
    """Raw Ed25519 public key bytes: as given, read from a file (``govctl keys export``
    output, PEM or base64), or the key store's key called ``name``."""
    if isinstance(public_key, bytes):
        return public_key
    if public_key is None:
        return KeyStore().public(name).public_raw
    try:
        text = public_key.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        why = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise InputError(f"cannot read {public_key}: {why}") from None
    return parse_public_key(text, source=str(public_key))


def add_signer(repo: GovernedRepo, name: str, roles: list[str], keys: list[SigningKey], *,
               public_key: bytes | Path | None = None, valid_until: str | None = None,
               at: datetime | None = None) -> Change:
    """Add a signer, or replace an existing signer's roles (and key, and expiry).
    ``public_key``: raw bytes, a public key file, or None for the key store's key ``name``."""
    at = at or clock.now()
    check_name(name)
    public_raw = _public_key(name, public_key)
    if not roles:
        raise InputError("role: give at least one; nothing was changed", field="role")
    if valid_until:
        try:
            when = clock.parse_time(valid_until)
        except ValueError:
            raise InputError(f"valid_until {valid_until!r} is not an ISO date",
                             field="valid_until") from None
        if when <= at:
            raise InputError(f"valid_until {valid_until} is not in the future",
                             field="valid_until")
        valid_until = clock.to_iso(when)
    current = read_current(repo)
    known = known_roles(current)
    unknown = [x for x in roles if x not in known]
    if unknown:
        raise InputError(f"unknown role {unknown[0]!r}: no requirement of the trust policy "
                         f"uses it (roles: {', '.join(sorted(known))}); nothing was changed")
    kid = key_id(public_raw)
    clash = next((s for s in current.signers if s.key_id == kid and s.name != name), None)
    if clash is not None:
        raise InputError(f"that public key already belongs to signer {clash.name!r}; each "
                         "signer needs a key of their own; nothing was changed")
    before = next((list(s.roles) for s in current.signers if s.name == name), None)
    signers = [s.model_dump(exclude_none=True) for s in current.signers if s.name != name]
    entry: dict[str, Any] = {"name": name, "key_id": kid, "public_key": b64e(public_raw),
                             "roles": list(roles)}
    if valid_until:
        entry["valid_until"] = valid_until
    old, new = amend(repo, {"signers": [*signers, entry]}, keys, at=at,
                     note=f"add {name} as {', '.join(roles)}")
    return Change(old, new, entry, [x for x in before or [] if x not in roles])


def remove_signer(repo: GovernedRepo, name: str, keys: list[SigningKey], *,
                  at: datetime | None = None) -> Change:
    current = read_current(repo)
    current.signer(name)  # NotFound with a clear message
    signers = [s.model_dump(exclude_none=True) for s in current.signers if s.name != name]
    old, new = amend(repo, {"signers": signers}, keys, at=at, note=f"remove {name}")
    return Change(old, new)


def renew(repo: GovernedRepo, expires: str, keys: list[SigningKey], *,
          at: datetime | None = None) -> Change:
    at = at or clock.now()
    try:
        when = clock.parse_time(expires)
    except ValueError:
        raise InputError(f"expires {expires!r} is not an ISO date", field="expires") from None
    if when <= at:
        raise InputError(f"expires {expires} is in the past", field="expires")
    old, new = amend(repo, {"expires": clock.to_iso(when)}, keys, at=at,
                     note=f"renew until {clock.to_iso(when)}")
    return Change(old, new)


@dataclass(frozen=True)
class Former:
    """A key some earlier trust version listed and the current one does not."""

    signer: Signer
    removed_in: int

    def describe(self) -> str:
        return f"{self.signer.name}, removed in trust version {self.removed_in}"


def former_signers(repo: GovernedRepo, current: TrustPolicy) -> dict[str, Former]:
    """key id -> the signer it belonged to and the version that dropped it (or changed it
    to another key), for every key of the signed history that ``current`` no longer lists."""
    try:
        chain = [p for p, _env in history(repo)]
    except (GovctlError, OSError):  # an unreadable history: trust verification reports it
        return {}
    out: dict[str, Former] = {}
    listed: dict[str, Signer] = {}
    for policy in chain:
        ids = {s.key_id for s in policy.signers}
        for kid, signer in list(listed.items()):
            if kid not in ids and kid not in out:
                out[kid] = Former(signer, policy.version)
        for s in policy.signers:
            listed[s.key_id] = s
    current_ids = {s.key_id for s in current.signers}
    return {k: v for k, v in out.items() if k not in current_ids}


def dead_signature(sig: Any, message: bytes, policy: TrustPolicy, former: dict[str, Former],
                   at: datetime, source: str, redo: str) -> str | None:
    """Why ``sig`` is *dead* — a genuine signature by a signer who was removed from the
    trust policy or whose key has expired — or None. A dead signature does not count, is
    reported by name and trust version, and is not an integrity failure (nothing was
    tampered with); ``redo`` says what its holder's successor must do."""
    from govctl.signing.keys import verify_signature

    signer = policy.signer_by_key(sig.keyid)
    gone = former.get(sig.keyid) if signer is None else None
    if gone is not None and verify_signature(gone.signer.public_raw, sig.sig, message):
        return f"{source}: the signature of {gone.describe()}, does not count ({redo})"
    if (signer is not None and not signer.active(at)
            and verify_signature(signer.public_raw, sig.sig, message)):
        return (f"{source}: {signer.name}'s key expired {signer.valid_until} (trust version "
                f"{policy.version}); the signature does not count ({redo})")
    return None
