"""The trust policy: who may sign what (modelled on TUF's root metadata).

``policies/trust.yaml`` is the readable current version. Every version ever adopted is kept
as a DSSE envelope in ``policies/trust.history/NNNN.json``; version 1 is signed by its own
admins (its digest is pinned in ``govctl.toml``), and each later version by a threshold of
the *previous* version's admins. ``verify`` walks that chain and checks that the YAML is
exactly the last signed version, so a hand edit is reported as tampering (exit 4).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govctl import clock, probe
from govctl.config import GovernedRepo
from govctl.documents import DocumentError, load_model, model_from_data
from govctl.errors import CheckFailed, IntegrityError, NotFound
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes, digest
from govctl.signing.dsse import Envelope
from govctl.trust.schema import (
    DEFAULT_REQUIREMENTS,
    DEFAULT_VALIDITY,
    ROLE_RE,
    ROLES,
    SCHEMA,
    TRUST_UPDATE,
    Requirement,
    Signer,
    TrustPolicy,
)
from govctl.trust.threshold import ThresholdResult, evaluate, may_act

# the document's names stay importable from here, where they lived before the split
__all__ = [
    "DEFAULT_REQUIREMENTS", "DEFAULT_VALIDITY", "ROLE_RE", "ROLES", "SCHEMA", "TRUST_UPDATE",
    "Requirement", "Signer", "ThresholdResult", "TrustPolicy", "TrustReport", "changed_fields",
    "evaluate", "history", "load_verified", "may_act", "policy_digest", "read_current",
    "root_digest", "trusted_keys", "verify",
]


def read_current(repo: GovernedRepo) -> TrustPolicy:
    """The trust policy as the YAML says (not verified: see :func:`verify`)."""
    if not repo.trust_file.exists():
        raise NotFound(
            f"{repo.rel(repo.trust_file)} does not exist",
            hint="run 'govctl init --admin NAME'",
        )
    return load_model(TrustPolicy, repo.trust_file, source=repo.rel(repo.trust_file))


def history(repo: GovernedRepo) -> list[tuple[TrustPolicy, Envelope]]:
    """Every signed version, oldest first, parsed (signatures not yet checked)."""
    files = sorted(repo.trust_history.glob("*.json")) if repo.trust_history.is_dir() else []
    out = []
    for n, path in enumerate(files, 1):
        source = repo.rel(path)
        if path.name != f"{n:04d}.json":
            raise IntegrityError(f"{source}: expected {n:04d}.json (a version is missing)")
        env = Envelope.loads(path.read_bytes(), source=source)
        if env.payload_type != dsse.TRUST_POLICY:
            raise IntegrityError(f"{source}: not a trust policy envelope ({env.payload_type})")
        try:
            policy = model_from_data(TrustPolicy, env.payload_json(source=source), source)
        except DocumentError as exc:
            raise IntegrityError(f"{source}: signed payload is invalid: {exc}") from None
        if policy.version != n:
            raise IntegrityError(f"{source}: holds version {policy.version}, expected {n}")
        out.append((policy, env))
    if not out:
        raise IntegrityError(f"{repo.rel(repo.trust_history)}: no signed trust policy versions")
    return out


@dataclass
class TrustReport:
    policy: TrustPolicy
    versions: int
    expired: bool
    problems: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": not self.problems and not self.expired,
            "version": self.policy.version,
            "versions_checked": self.versions,
            "expires": self.policy.expires,
            "expired": self.expired,
            "problems": self.problems,
            "signers": [
                {"name": s.name, "key_id": s.key_id, "roles": s.roles} for s in self.policy.signers
            ],
        }


def _field_diff(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += _field_diff(a.get(k), b.get(k), f"{path}.{k}" if path else str(k))
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out += _field_diff(x, y, f"{path}[{i}]")
        return out
    return [] if a == b else [path or "(document)"]


def changed_fields(old: Any, new: Any) -> list[str]:
    """Dotted paths of the fields that differ between two JSON-like documents."""
    return _field_diff(old, new)


def verify(repo: GovernedRepo, *, at: datetime | None = None) -> TrustReport:
    """Verify the whole chain and the YAML against its last signed version.

    Raises :class:`IntegrityError` on tampering; returns a report whose ``expired`` flag
    the caller turns into exit 1.
    """
    probe.count(probe.TRUST)
    at = at or clock.now()
    chain = history(repo)
    pinned = repo.settings.get("trust_root")
    found = _payload_digest(chain[0][1])
    if pinned and pinned != found:
        raise IntegrityError(
            f"trust policy version 1 is not the one pinned in govctl.toml "
            f"(trust_root {pinned[:23]}..., found {found[:23]}...)"
        )
    problems: list[str] = []
    prev: TrustPolicy | None = None
    for policy, env in chain:
        signer_policy = prev or policy  # version 1 is signed by its own admins
        res = evaluate(
            env,
            signer_policy,
            TRUST_UPDATE,
            payload_type=dsse.TRUST_POLICY,
            at=at,
            source=f"trust version {policy.version}",
        )
        # Expired signer keys do not invalidate history they signed while valid.
        res.integrity = [p for p in res.integrity if p not in res.expired]
        if res.integrity:
            raise IntegrityError("; ".join(res.integrity))
        if res.missing:
            raise IntegrityError(
                f"trust version {policy.version} lacks signatures: {res.describe_missing()} "
                f"(of version {signer_policy.version})"
            )
        prev = policy
    _check_against_ledger(repo, chain)
    latest, latest_env = chain[-1]
    current = read_current(repo)
    if canonical_bytes(current.to_doc()) != latest_env.payload:
        fields = changed_fields(latest.to_doc(), current.to_doc())
        raise IntegrityError(
            f"{repo.rel(repo.trust_file)} differs from signed version {latest.version}: "
            f"changed {', '.join(fields[:8]) or 'formatting of signed fields'} "
            "(edited by hand?)",
            hint="restore it with 'git checkout policies/trust.yaml', or make the change "
            "with 'govctl trust' commands",
        )
    expired = latest.expires_at <= at
    if expired:
        problems.append(f"trust policy version {latest.version} expired {latest.expires}")
    return TrustReport(latest, len(chain), expired, problems)


def _check_against_ledger(repo: GovernedRepo, chain: list[tuple[TrustPolicy, Envelope]]) -> None:
    """Every trust change the ledger records must be in the repo's history, unchanged.

    The history files live in git, so ``git checkout`` of an older trust.yaml plus deleting
    the newest history file would otherwise bring a removed signer back; the ledger
    (append-only, signed) remembers the newest version, like TUF's rollback protection.
    """
    from govctl.ledger.log import Ledger

    ledger = Ledger.for_repo(repo)
    if not ledger.exists():
        return  # a fresh clone without its ledger: nothing recorded to compare with
    for e in ledger.entries(action=TRUST_UPDATE):
        v, recorded = e.subject.get("version"), (e.evidence or {}).get("digest")
        if not isinstance(v, int) or v < 1:
            continue
        if v > len(chain):
            raise CheckFailed(
                f"the ledger records trust policy version {v} (entry {e.seq}) but this "
                f"checkout's history ends at version {len(chain)}: it is behind, or the "
                "policy was rolled back by hand",
                hint="git pull; if the history files were deleted, restore them from git",
            )
        policy, env = chain[v - 1]
        # the signed payload is the policy's canonical JSON, so its hash is the policy's
        # digest; only a payload encoded otherwise needs the policy re-canonicalised
        if recorded and _payload_digest(env) != recorded and policy_digest(policy) != recorded:
            raise IntegrityError(
                f"trust policy version {v} in policies/trust.history differs from the one "
                f"the ledger recorded (entry {e.seq}): the history was rewritten"
            )


def load_verified(repo: GovernedRepo, *, at: datetime | None = None) -> TrustPolicy:
    """The current trust policy after full verification; fails closed when expired."""
    report = verify(repo, at=at)
    if report.expired:
        raise CheckFailed(
            report.problems[0], hint="admins renew it with 'govctl trust renew --expires DATE'"
        )
    return report.policy


def _payload_digest(env: Envelope) -> str:
    return "sha256:" + hashlib.sha256(env.payload).hexdigest()


def root_digest(repo: GovernedRepo) -> str:
    """Digest of signed version 1, pinned in ``govctl.toml`` as ``trust_root``."""
    return _payload_digest(history(repo)[0][1])


def policy_digest(policy: TrustPolicy) -> str:
    return digest(policy.to_doc())


def trusted_keys(repo: GovernedRepo) -> dict[str, str]:
    """Every key id that any signed trust policy version lists, with its signer name."""
    out: dict[str, str] = {}
    for policy, _env in history(repo):
        for s in policy.signers:
            out[s.key_id] = s.name
    return out
