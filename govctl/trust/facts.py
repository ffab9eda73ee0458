"""What the authority replay reads of each trust policy version, as plain data: the
signers' names, key ids, public keys and roles, and the roles each requirement names.

``audit verify`` builds them from the validated documents; ``audit verify --fast`` keeps
them in this clone's mark (:mod:`govctl.ledger.verified`) beside the digest of the history
files they came from (:func:`history_digest`), and a run over byte-identical files reads
them back instead of building the document model again."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from govctl.errors import IntegrityError
from govctl.signing.dsse import b64d
from govctl.signing.keys import key_id

if TYPE_CHECKING:
    from govctl.config import GovernedRepo
    from govctl.trust.schema import TrustPolicy


@dataclass(frozen=True)
class SignerFacts:
    name: str
    key_id: str
    public_key: str
    roles: tuple[str, ...]

    @property
    def public_raw(self) -> bytes:
        return b64d(self.public_key, "public_key")


@dataclass(frozen=True)
class RequirementFacts:
    roles: dict[str, int]
    any_of: tuple[str, ...]


@dataclass(frozen=True)
class PolicyFacts:
    version: int
    signers: tuple[SignerFacts, ...]
    requirements: dict[str, RequirementFacts]

    def signer_by_key(self, kid: str) -> SignerFacts | None:
        for s in self.signers:
            if s.key_id == kid:
                return s
        return None


def of(policy: TrustPolicy) -> PolicyFacts:
    return PolicyFacts(
        policy.version,
        tuple(SignerFacts(s.name, s.key_id, s.public_key, tuple(s.roles)) for s in policy.signers),
        {k: RequirementFacts(dict(r.roles), tuple(r.any_of)) for k, r in policy.requirements.items()})


def to_json(chain: list[PolicyFacts]) -> list[dict[str, Any]]:
    return [{"version": p.version,
             "signers": [[s.name, s.key_id, s.public_key, list(s.roles)] for s in p.signers],
             "requirements": {k: [r.roles, list(r.any_of)] for k, r in p.requirements.items()}}
            for p in chain]


def from_json(data: Any) -> list[PolicyFacts]:
    """The chain :func:`to_json` wrote; ValueError for anything else (a mark edited by
    hand is then not used)."""
    try:
        chain = [PolicyFacts(
            int(p["version"]),
            tuple(SignerFacts(str(n), str(k), str(pub), tuple(str(r) for r in roles))
                  for n, k, pub, roles in p["signers"]),
            {str(k): RequirementFacts({str(r): int(c) for r, c in roles.items()},
                                      tuple(str(a) for a in any_of))
             for k, (roles, any_of) in p["requirements"].items()})
            for p in data]
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"not a trust chain: {exc}") from None
    if not chain or [p.version for p in chain] != list(range(1, len(chain) + 1)):
        raise ValueError("not a trust chain: versions out of order")
    for p in chain:
        for s in p.signers:
            try:
                ok = key_id(s.public_raw) == s.key_id
            except IntegrityError:
                ok = False
            if not ok:
                raise ValueError(f"not a trust chain: {s.name}'s key does not match its id")
    return chain


def history_digest(repo: GovernedRepo) -> str:
    """The SHA-256 of the trust history files' names and bytes, in order: which history
    an authority replay judged by."""
    h = hashlib.sha256()
    folder = repo.trust_history
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        data = path.read_bytes()
        h.update(b"%d:%b%d:%b" % (len(path.name), path.name.encode(), len(data), data))
    return h.hexdigest()
