"""The trust policy: who may sign what (modelled on TUF's root metadata).

``policies/trust.yaml`` is the readable current version. Every version ever adopted is kept
as a DSSE envelope in ``policies/trust.history/NNNN.json``; version 1 is signed by its own
admins (its digest is pinned in ``govctl.toml``), and each later version by a threshold of
the *previous* version's admins. ``verify`` walks that chain and checks that the YAML is
exactly the last signed version, so a hand edit is reported as tampering (exit 4).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from govctl import clock, probe
from govctl.config import GovernedRepo
from govctl.documents import DocumentError, dump_yaml, load_model, model_from_data
from govctl.errors import CheckFailed, InputError, IntegrityError, NotFound
from govctl.fsutil import atomic_write
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes, digest
from govctl.signing.dsse import Envelope, Signature, b64d, b64e
from govctl.signing.keys import SigningKey, key_id, verify_signature

SCHEMA = "govctl.trust/v1"
ROLES = ("admin", "eng-lead", "product-owner", "compliance", "ml-engineer", "releaser", "oncall")
ROLE_RE = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
TRUST_UPDATE = "trust.update"

#: Who may do what, out of the box. ``roles`` is a k-of-n threshold per role (all must be
#: met, signers counted by unique public key); ``any_of`` lets one signer holding any of
#: the listed roles act alone.
DEFAULT_REQUIREMENTS: dict[str, dict[str, Any]] = {
    TRUST_UPDATE: {"roles": {"admin": 1}},
    "agreement.sign": {"roles": {"eng-lead": 1, "product-owner": 1, "compliance": 1}},
    "agreement.budget": {"roles": {"product-owner": 1}},
    "checklist.signoff": {"any_of": ["compliance", "eng-lead", "product-owner", "oncall"]},
    "waiver.grant": {"any_of": ["compliance", "admin"]},
    "data.add": {"any_of": ["ml-engineer", "eng-lead", "admin"]},
    "model.register": {"any_of": ["ml-engineer", "eng-lead", "admin"]},
    "prompt.register": {"any_of": ["ml-engineer", "eng-lead", "admin"]},
    "promote.staging": {"any_of": ["ml-engineer", "releaser"]},
    "promote.production": {"any_of": ["releaser"]},
    "canary.advance": {"any_of": ["releaser", "ml-engineer"]},
    "rollback": {"any_of": ["releaser", "oncall"]},
    "lock.break": {"any_of": ["admin", "oncall"]},
    "slo.record": {"any_of": ["releaser", "oncall", "eng-lead"]},
}
DEFAULT_VALIDITY = timedelta(days=365)


class Signer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
    key_id: str = Field(pattern=r"^[0-9a-f]{64}$")
    public_key: str
    roles: list[str] = Field(min_length=1)
    valid_until: str | None = None

    @field_validator("roles")
    @classmethod
    def _roles(cls, roles: list[str]) -> list[str]:
        for role in roles:
            if not ROLE_RE.match(role):
                raise ValueError(f"invalid role id {role!r}")
        if len(set(roles)) != len(roles):
            raise ValueError("a role is listed twice")
        return roles

    @model_validator(mode="after")
    def _key(self) -> Signer:
        try:
            raw = b64d(self.public_key, "public_key")
        except IntegrityError:
            raise ValueError("public_key is not base64") from None
        if len(raw) != 32:
            raise ValueError("public_key must be a raw 32-byte Ed25519 key in base64")
        if key_id(raw) != self.key_id:
            raise ValueError("key_id is not the SHA-256 of public_key")
        if self.valid_until is not None:
            clock.parse_time(self.valid_until)
        return self

    @property
    def public_raw(self) -> bytes:
        return b64d(self.public_key, "public_key")

    def active(self, at: datetime) -> bool:
        return self.valid_until is None or clock.parse_time(self.valid_until) > at


class Requirement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    roles: dict[str, int] = Field(default_factory=dict)
    any_of: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _shape(self) -> Requirement:
        if not self.roles and not self.any_of:
            raise ValueError("a requirement needs 'roles' (thresholds) or 'any_of'")
        for role, count in self.roles.items():
            if not ROLE_RE.match(role):
                raise ValueError(f"invalid role id {role!r}")
            if count < 1:
                raise ValueError(f"threshold for {role!r} must be at least 1")
        return self


class TrustPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_: str = Field(SCHEMA, alias="schema")
    version: int = Field(ge=1)
    expires: str
    signers: list[Signer]
    requirements: dict[str, Requirement]

    @field_validator("schema_")
    @classmethod
    def _schema(cls, value: str) -> str:
        if value != SCHEMA:
            raise ValueError(f"unsupported schema {value!r}, expected {SCHEMA!r}")
        return value

    @field_validator("expires")
    @classmethod
    def _expires(cls, value: str) -> str:
        try:
            clock.parse_time(value)
        except ValueError:
            raise ValueError("not an ISO 8601 time") from None
        return value

    @model_validator(mode="after")
    def _unique(self) -> TrustPolicy:
        for attr in ("name", "key_id", "public_key"):
            values = [getattr(s, attr) for s in self.signers]
            dup = {v for v in values if values.count(v) > 1}
            if dup:
                raise ValueError(f"signers share a {attr}: {sorted(dup)[0]}")
        if TRUST_UPDATE not in self.requirements:
            raise ValueError(f"requirements must define {TRUST_UPDATE!r}")
        return self

    def to_doc(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)

    def signer(self, name: str) -> Signer:
        for s in self.signers:
            if s.name == name:
                return s
        raise NotFound(f"no signer named {name!r} in trust policy version {self.version}")

    def signer_by_key(self, kid: str) -> Signer | None:
        for s in self.signers:
            if s.key_id == kid:
                return s
        return None

    def requirement(self, action: str) -> Requirement:
        req = self.requirements.get(action)
        if req is None:
            raise InputError(f"the trust policy has no requirement for {action!r}")
        return req

    @property
    def expires_at(self) -> datetime:
        return clock.parse_time(self.expires)


@dataclass
class ThresholdResult:
    """How a set of signatures measures up against one requirement."""

    action: str
    met: bool
    counted: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)
    integrity: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

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
            result.integrity.append(f"{source}: {signer.name}'s key expired {signer.valid_until}")
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


# --- files ------------------------------------------------------------------------------

HEADER = (
    "# govctl trust policy. Signed: every version is in policies/trust.history/.\n"
    "# Do not edit by hand (verification will report it as tampering); change it with\n"
    "# 'govctl trust add/remove/renew', signed by a threshold of admins.\n"
)


def _history_file(repo: GovernedRepo, version: int) -> Path:
    return repo.trust_history / f"{version:04d}.json"


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
        res.integrity = [p for p in res.integrity if "expired" not in p]
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
    if not ledger.store.exists():
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
        if recorded and policy_digest(chain[v - 1][0]) != recorded:
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


def _payload_digest(env: Envelope) -> str:
    return "sha256:" + hashlib.sha256(env.payload).hexdigest()


def root_digest(repo: GovernedRepo) -> str:
    """Digest of signed version 1, pinned in ``govctl.toml`` as ``trust_root``."""
    return _payload_digest(history(repo)[0][1])


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
            f"of version {old.version}; pass --key once per admin"
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


def policy_digest(policy: TrustPolicy) -> str:
    return digest(policy.to_doc())


def trusted_keys(repo: GovernedRepo) -> dict[str, str]:
    """Every key id that any signed trust policy version lists, with its signer name."""
    out: dict[str, str] = {}
    for policy, _env in history(repo):
        for s in policy.signers:
            out[s.key_id] = s.name
    return out
