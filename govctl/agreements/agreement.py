"""Signed SLO and budget agreements: verifying, signing and comparing them.

The document (:mod:`~govctl.agreements.schema`, read by :mod:`~govctl.agreements.files`)
counts when signatures by every role the trust policy's ``agreement.sign`` (and, for the
budget, ``agreement.budget``) requirement names cover the RFC 8785 canonical JSON of its
validated content (:mod:`~govctl.agreements.signatures`: one DSSE envelope per signer).
When it is first fully signed the merged envelope is copied to
``agreements/SERVICE.signed.json``: the last fully signed version, which ``diff`` compares
against. Editing any number makes the signatures fall away: they no longer cover the bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from govctl import clock, trust
from govctl.agreements.files import (
    agreement_envelope,
    agreement_path,
    check_service_name,
    existing_path,
    load_agreement,
    services,
    signed_path,
)
from govctl.agreements.schema import Agreement
from govctl.config import GovernedRepo
from govctl.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INTEGRITY,
    EXIT_OK,
    CheckFailed,
    GovctlError,
    IntegrityError,
)
from govctl.serialize import JsonFields
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes, digest
from govctl.signing.dsse import Envelope
from govctl.signing.keys import SigningKey

SIGN = "agreement.sign"
BUDGET = "agreement.budget"
EXPIRING_SOON = timedelta(days=30)

# importable from here as before the split (hooks, checklists, the registry use them)
__all__ = ["BUDGET", "EXPIRING_SOON", "SIGN", "AgreementReport", "check_service_name", "diff",
           "load_agreement", "sign", "signature_status", "signed_agreement", "verify_agreement",
           "verify_all"]


@dataclass
class AgreementReport:
    service: str
    version: int | None = None
    state: str = "unsigned"  # valid | unsigned | missing-roles | changed | expired | invalid
    exit_code: int = EXIT_CHECK_FAILED
    signers: dict[str, list[str]] = field(default_factory=dict)
    missing_roles: dict[str, int] = field(default_factory=dict)
    changed_fields: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    expires: str | None = None
    expiring_soon: bool = False
    in_force: bool = False
    digest: str | None = None
    dead: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.exit_code == EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "ok": self.ok,
            "state": self.state,
            "version": self.version,
            "digest": self.digest,
            "signers": self.signers,
            "missing_roles": self.missing_roles,
            "changed_fields": self.changed_fields,
            "expires": self.expires,
            "expiring_soon": self.expiring_soon,
            "in_force": self.in_force,
            "problems": self.problems,
            "notes": self.notes,
            "dead_signatures": self.dead,
        }


def _requirements(policy: trust.TrustPolicy) -> list[str]:
    return [a for a in (SIGN, BUDGET) if a in policy.requirements]


def verify_agreement(
    repo: GovernedRepo, service: str, *, at: datetime | None = None,
    policy: trust.TrustPolicy | None = None,
) -> AgreementReport:
    """Everything that must hold for the agreement to count, with what is wrong if not.

    Exit codes in the report: 0 valid; 1 needs work (missing roles, changed since signing,
    expired); 4 integrity (bad signature, unknown or removed key, another document kind).
    """
    at = at or clock.now()
    path = existing_path(repo, service)
    agreement = load_agreement(path, source=repo.rel(path))
    policy = policy or trust.load_verified(repo, at=at)
    doc = agreement.to_doc()
    report = AgreementReport(
        service=service, version=agreement.version, expires=agreement.expires.isoformat(),
        digest=digest(doc),
    )
    today = at.date()
    report.in_force = agreement.effective <= today < agreement.expires
    report.expiring_soon = today < agreement.expires <= (at + EXPIRING_SOON).date()
    if agreement.effective > today:
        report.notes.append(f"not in force until {agreement.effective.isoformat()}")
    payload = canonical_bytes(doc)
    from govctl.agreements import signatures as sigs

    got = sigs.collect(repo, service, payload, policy, trust.former_signers(repo, policy), at)
    report.dead = got.dead
    if not got.any_files:
        report.state = "unsigned"
        for action in _requirements(policy):
            report.missing_roles.update(trust.requirement_for(policy, action).roles)
        report.problems.append("no signatures yet")
        return report
    results = [
        trust.evaluate(got.merged, policy, action, payload_type=dsse.AGREEMENT, at=at,
                       source=repo.rel(sigs.sigs_dir(repo, service)))
        for action in _requirements(policy)
    ]
    integrity = sorted(set(got.integrity) | {p for r in results for p in r.integrity})
    for r in results:
        for role, names in r.counted.items():
            report.signers[role] = names
        for role, n in r.missing.items():
            report.missing_roles[role] = max(n, report.missing_roles.get(role, 0))
        report.notes += [n for n in r.notes if n not in report.notes]
    if integrity:
        report.state = "invalid"
        report.exit_code = EXIT_INTEGRITY
        report.problems = integrity
        return report
    if got.stale and not got.merged.signatures and not got.dead:
        source, env = got.stale[-1]
        try:
            signed_doc = env.payload_json(source=source)
        except IntegrityError as exc:
            report.state, report.exit_code = "invalid", EXIT_INTEGRITY
            report.problems = [exc.message]
            return report
        report.changed_fields = trust.changed_fields(signed_doc, doc)
        report.state = "changed"
        report.problems.append(
            "changed since it was signed: " + ", ".join(report.changed_fields)
            + " — every role must sign again"
        )
        report.missing_roles = {}
        for action in _requirements(policy):
            report.missing_roles.update(trust.requirement_for(policy, action).roles)
        report.signers = {}
        return report
    for source, _env in got.stale:
        report.notes.append(f"{source} signed an earlier version of the document; "
                            "it does not count")
    report.problems += got.dead
    if report.missing_roles:
        report.state = "missing-roles"
        report.problems.append(
            "missing signatures: " + ", ".join(f"{n} × {r}" for r, n in report.missing_roles.items())
        )
        return report
    if agreement.expires <= today:
        report.state = "expired"
        report.problems.append(f"expired on {agreement.expires.isoformat()}")
        return report
    report.state = "valid"
    report.exit_code = EXIT_OK
    return report


def verify_all(repo: GovernedRepo, service: str | None = None, *, keep_going: bool = False,
               at: datetime | None = None) -> list[AgreementReport]:
    """The report of one agreement, or of every agreement (by service name). With
    ``keep_going`` one that cannot be read or verified is reported as ``invalid`` with
    the reason, and the others are still verified."""
    out = []
    for name in [service] if service else services(repo):
        try:
            out.append(verify_agreement(repo, name, at=at))
        except GovctlError as exc:
            if not keep_going:
                raise
            out.append(AgreementReport(service=name, state="invalid", problems=[exc.message],
                                       exit_code=exc.exit_code))
    return out


def sign(
    repo: GovernedRepo, service: str, key: SigningKey, *, at: datetime | None = None
) -> tuple[AgreementReport, bool]:
    """Add ``key``'s signature over the current document. Returns (report, already_signed).

    The signer must hold a role one of the agreement requirements names. A signature
    envelope over an older version of the document is replaced (its fully signed form is
    kept in ``SERVICE.signed.json``).
    """
    at = at or clock.now()
    path = existing_path(repo, service)
    agreement = load_agreement(path, source=repo.rel(path))
    policy = trust.load_verified(repo, at=at)
    signer = trust.authorize(policy, _requirements(policy) or [SIGN], key,
                             {"kind": "service", "name": service}, at=at)
    from govctl import ledger
    from govctl.agreements import signatures as sigs

    ledger.require(repo)
    payload = canonical_bytes(agreement.to_doc())
    before = verify_agreement(repo, service, at=at, policy=policy)
    if before.state == "invalid":  # never sign next to a tampered signature file
        raise IntegrityError(
            f"{repo.rel(sigs.sigs_dir(repo, service))}: {'; '.join(before.problems)}; nothing "
            "was signed (restore the tampered file from git, or delete it: the other "
            "signatures stand)"
        )
    former = trust.former_signers(repo, policy)
    sigs.migrate_legacy(repo, service, policy, former)
    _path, already = sigs.write(repo, service, signer.name, payload, key)
    report = verify_agreement(repo, service, at=at, policy=policy)
    if report.state in ("valid", "expired") and not report.missing_roles:
        got = sigs.collect(repo, service, payload, policy, former, at)
        sigs.write_signed_copy(signed_path(repo, service), got.merged)
    ledger.record(
        repo, key, SIGN,
        {"kind": "service", "name": service, "document": "agreement",
         "version": agreement.version},
        evidence={"digest": digest(agreement.to_doc()), "state": report.state},
        note="fully signed" if report.ok else None,
    )
    return report, already


@dataclass(frozen=True)
class FieldChange(JsonFields):
    signed: Any
    now: Any


@dataclass(frozen=True)
class AgreementDiff(JsonFields):
    """What changed since the last fully signed version (``changes`` None: never fully
    signed): field -> its signed and its current value."""

    service: str
    signed_version: Any
    changes: dict[str, FieldChange] | None


def diff(repo: GovernedRepo, service: str) -> AgreementDiff:
    """What changed since the last fully signed version: field -> {signed, now}."""
    path = existing_path(repo, service)
    current = load_agreement(path, source=repo.rel(path)).to_doc()
    signed_file = signed_path(repo, service)
    env = agreement_envelope(signed_file, repo.rel(signed_file))
    if env is None:
        return AgreementDiff(service, None, None)
    _check_signed_copy(repo, env, repo.rel(signed_file))
    signed = env.payload_json(source=repo.rel(signed_file))
    changes = {f: FieldChange(_at(signed, f), _at(current, f))
               for f in trust.changed_fields(signed, current)}
    return AgreementDiff(service, signed.get("version"), changes)


def _check_signed_copy(repo: GovernedRepo, env: Envelope, source: str) -> None:
    """The last fully signed copy counts only if its signatures still verify under the
    trust policy (a hand-edited copy would make ``diff`` report numbers nobody signed)."""
    policy = trust.load_verified(repo)
    problems = [p for a in _requirements(policy)
                for p in trust.evaluate(env, policy, a, payload_type=dsse.AGREEMENT,
                                        source=source).integrity]
    if problems:
        raise IntegrityError(f"{source}: {'; '.join(sorted(set(problems)))}")


def signed_agreement(repo: GovernedRepo, service: str, *, at: datetime | None = None
                     ) -> Agreement:
    """The agreement as its signers signed it, only if it is valid and in force now.

    Everything that acts on the agreement's numbers (the canary analysis) reads them from
    here, so an edited number counts for nothing until every role has signed it again.
    """
    at = at or clock.now()
    report = verify_agreement(repo, service, at=at)
    if report.exit_code == EXIT_INTEGRITY:
        raise IntegrityError(f"agreement for {service}: {'; '.join(report.problems)}")
    if not report.ok or not report.in_force:
        why = "; ".join(report.problems + report.notes) or report.state
        raise CheckFailed(f"the agreement for {service} is not in force ({why}); its numbers "
                          "count only when fully signed",
                          hint=f"govctl agreement verify {service}")
    path = agreement_path(repo, service)
    # a valid report means the current document's canonical bytes are what was signed
    return Agreement.model_validate(load_agreement(path, source=repo.rel(path)).to_doc())


def _at(doc: Any, dotted: str) -> Any:
    node = doc
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        if part.startswith("["):
            idx = int(part[1:-1])
            node = node[idx] if isinstance(node, list) and idx < len(node) else None
        else:
            node = node.get(part) if isinstance(node, dict) else None
    return node


def signature_status(repo: GovernedRepo, path: Path) -> tuple[bool, list[str]]:
    """For hooks: does the agreement at ``path`` match its signatures? If not, which roles
    must sign again. Reads only the two files and the trust YAML (no verification chain)."""
    from govctl.agreements import signatures as sigs

    service = Path(path).stem
    found = sigs.files(repo, service)
    if not found:
        return True, []  # never signed: nothing to fall away
    agreement = load_agreement(path)
    payload = canonical_bytes(agreement.to_doc())
    for f in found:
        try:
            if Envelope.loads(f.read_bytes(), source=str(f)).payload == payload:
                return True, []
        except IntegrityError:
            continue
    try:
        policy = trust.read_current(repo)
        roles = sorted({r for a in _requirements(policy) for r in policy.requirement(a).roles})
    except GovctlError:
        roles = ["eng-lead", "product-owner", "compliance"]
    return False, roles
