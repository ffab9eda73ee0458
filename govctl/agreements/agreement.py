"""Signed SLO and budget agreements: the numbers a service must meet and the money it may
spend, signed by the people accountable for it.

``agreements/SERVICE.yaml`` is the document. ``agreements/SERVICE.sig.json`` is a DSSE
envelope (payload type ``govctl.dsse.AGREEMENT``) over the RFC 8785 canonical JSON of the
validated document, collecting one signature per signer. When the envelope first meets
every requirement it is copied to ``agreements/SERVICE.signed.json``: the last fully signed
version, which ``diff`` compares against. Editing any number makes the signatures fall
away: they no longer cover the document's bytes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from govctl import clock, trust
from govctl.config import GovernedRepo
from govctl.documents import DocumentError, Problem, load_model, model_from_data, parse_yaml
from govctl.errors import (
    EXIT_CHECK_FAILED,
    EXIT_INTEGRITY,
    EXIT_OK,
    CheckFailed,
    InputError,
    IntegrityError,
    NotFound,
)
from govctl.fsutil import atomic_write
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes, digest
from govctl.signing.dsse import Envelope
from govctl.signing.keys import SigningKey

SCHEMA: Final = "govctl.agreement/v1"
SIGN = "agreement.sign"
BUDGET = "agreement.budget"
SERVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
EXPIRING_SOON = timedelta(days=30)

DecimalStr = Annotated[
    str,
    Field(
        pattern=r"^(0|[1-9][0-9]*)(\.[0-9]+)?$",
        description="a non-negative decimal written as a quoted string, e.g. \"0.01\"",
    ),
]
Fraction = DecimalStr
Count = Annotated[StrictInt, Field(ge=0)]
PosCount = Annotated[StrictInt, Field(ge=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError(
                f"{value!r} is a float; write integers, or decimals as quoted strings "
                f"(\"{value}\")"
            )
        return value


class Latency(_Strict):
    p50: PosCount | None = None
    p95: PosCount
    p99: PosCount | None = None


class Slo(_Strict):
    latency_ms: Latency
    ttft_p95_ms: PosCount | None = Field(None, description="time to first token, if streamed")
    availability: Fraction
    error_rate: Fraction
    peak_requests_per_second: PosCount
    under_peak: str = Field(min_length=1, description="expected behaviour under traffic spikes")

    @field_validator("availability", "error_rate")
    @classmethod
    def _fraction(cls, value: str) -> str:
        if Decimal(value) > 1:
            raise ValueError("must be a fraction between 0 and 1")
        return value


class Budget(_Strict):
    max_cost_per_request_usd: DecimalStr
    monthly_budget_usd: DecimalStr
    max_tokens_in: PosCount
    max_tokens_out: PosCount


class Quality(_Strict):
    eval_dataset: str = Field(min_length=1, description="inventory name of the held-out set")
    minimums: dict[str, Fraction] = Field(min_length=1)
    max_regression: dict[str, Fraction] = Field(default_factory=dict)


class Governance(_Strict):
    citations_required: StrictBool
    allowed_tools: list[str]
    data_access_scopes: list[str]
    log_retention_days: Count
    pii_redaction_required: StrictBool


class Fallback(_Strict):
    modes: list[Literal["sources-only", "smaller-model", "ask-user", "human-handoff"]] = Field(
        min_length=1
    )
    user_message: str = Field(min_length=1)


class Ownership(_Strict):
    rollback_owner: str = Field(min_length=1)
    incident_contact: str = Field(min_length=1)
    escalation: list[str] = Field(min_length=1)


class Agreement(_Strict):
    schema_: Literal["govctl.agreement/v1"] = Field(SCHEMA, alias="schema")
    service: str = Field(pattern=SERVICE_RE.pattern)
    version: PosCount
    effective: date
    expires: date
    slo: Slo
    budget: Budget
    quality: Quality
    governance: Governance
    fallback: Fallback
    ownership: Ownership

    def to_doc(self) -> dict[str, Any]:
        """The signed form: validated, defaults filled, dates as ISO strings."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def limits(self) -> dict[str, Decimal]:
        """Absolute limits by canonical metric name (the canary and gate read these)."""
        out = {
            "latency_p95_ms": Decimal(self.slo.latency_ms.p95),
            "error_rate": Decimal(self.slo.error_rate),
            "availability": Decimal(self.slo.availability),
            "cost_per_request_usd": Decimal(self.budget.max_cost_per_request_usd),
            "tokens_in_max": Decimal(self.budget.max_tokens_in),
            "tokens_out_max": Decimal(self.budget.max_tokens_out),
        }
        if self.slo.latency_ms.p50 is not None:
            out["latency_p50_ms"] = Decimal(self.slo.latency_ms.p50)
        if self.slo.latency_ms.p99 is not None:
            out["latency_p99_ms"] = Decimal(self.slo.latency_ms.p99)
        if self.slo.ttft_p95_ms is not None:
            out["ttft_p95_ms"] = Decimal(self.slo.ttft_p95_ms)
        return out

    def quality_minimums(self) -> dict[str, Decimal]:
        return {k: Decimal(v) for k, v in self.quality.minimums.items()}

    def max_regression(self) -> dict[str, Decimal]:
        return {k: Decimal(v) for k, v in self.quality.max_regression.items()}


# Metrics where larger is better; every other limit is an upper bound.
_AT_LEAST = {"availability"}


@dataclass
class SloCheck:
    metric: str
    measured: Decimal | None
    threshold: Decimal
    comparator: str  # "<=" or ">="
    verdict: str  # pass | fail | missing

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "measured": None if self.measured is None else str(self.measured),
            "threshold": str(self.threshold),
            "comparator": self.comparator,
            "verdict": self.verdict,
        }

    def __str__(self) -> str:
        shown = "no data" if self.measured is None else str(self.measured)
        return f"{self.metric}: {shown} (must be {self.comparator} {self.threshold}) {self.verdict}"


def check_measurements(
    agreement: Agreement, measured: Mapping[str, Decimal | int | float]
) -> list[SloCheck]:
    """Each limit and quality minimum of the agreement against measured values.

    ``measured`` uses the names of :meth:`Agreement.limits` and the quality metric names.
    A metric with no measurement is reported as ``missing`` (callers decide whether that
    blocks); nothing is silently skipped.
    """
    checks = []
    targets: list[tuple[str, Decimal, str]] = [
        (name, value, ">=" if name in _AT_LEAST else "<=")
        for name, value in agreement.limits().items()
    ]
    targets += [(name, value, ">=") for name, value in agreement.quality_minimums().items()]
    for name, threshold, comparator in targets:
        raw = measured.get(name)
        if raw is None:
            checks.append(SloCheck(name, None, threshold, comparator, "missing"))
            continue
        value = Decimal(str(raw))
        ok = value >= threshold if comparator == ">=" else value <= threshold
        checks.append(SloCheck(name, value, threshold, comparator, "pass" if ok else "fail"))
    return checks


# --- files ---------------------------------------------------------------------------------


def check_service_name(service: str) -> str:
    if not SERVICE_RE.match(service or ""):
        raise InputError(
            f"invalid service name {service!r}: use letters, digits, '.', '_' or '-' "
            "(the MLflow registered-model name)"
        )
    return service


def agreement_path(repo: GovernedRepo, service: str) -> Path:
    return repo.agreements / f"{check_service_name(service)}.yaml"


def signature_path(repo: GovernedRepo, service: str) -> Path:
    return repo.agreements / f"{service}.sig.json"


def signed_path(repo: GovernedRepo, service: str) -> Path:
    return repo.agreements / f"{service}.signed.json"


def services(repo: GovernedRepo) -> list[str]:
    if not repo.agreements.is_dir():
        return []
    return sorted(p.stem for p in repo.agreements.glob("*.yaml"))


def _existing(repo: GovernedRepo, service: str) -> Path:
    path = agreement_path(repo, service)
    if not path.exists():
        known = ", ".join(services(repo)) or "none yet"
        raise NotFound(
            f"no agreement for service {service!r} (known: {known})",
            hint=f"create one with 'govctl agreement new {service}'",
        )
    return path


def load_agreement(path: Path, *, source: str | None = None) -> Agreement:
    """Read and validate an agreement file; errors name file, line and field."""
    agreement = load_model(Agreement, path, source=source)
    expected = Path(path).stem
    if agreement.service != expected:
        raise DocumentError(
            [
                Problem(
                    source or str(path), None, "service",
                    f"{agreement.service!r} does not match the file name {expected!r}",
                )
            ]
        )
    if agreement.expires <= agreement.effective:
        raise InputError(f"{source or path}: expires must be after effective")
    try:
        canonical_bytes(agreement.to_doc())
    except InputError as exc:
        raise InputError(f"{source or path}: {exc.message}") from None
    return agreement


def _load_envelope(path: Path, source: str) -> Envelope | None:
    if not path.exists():
        return None
    return Envelope.loads(path.read_bytes(), source=source)


def _agreement_envelope(path: Path, source: str) -> Envelope | None:
    """An agreement's signature envelope; one of another document kind is tampering."""
    env = _load_envelope(path, source)
    if env is not None and env.payload_type != dsse.AGREEMENT:
        raise IntegrityError(f"{source} holds a {env.payload_type!r} envelope, not an "
                             "agreement's")
    return env


TEMPLATE = """\
# Operational service agreement for {service}. Signed: after any change, every role in the
# trust policy's 'agreement.sign' requirement (default: eng-lead, product-owner,
# compliance) signs again with 'govctl agreement sign {service} --key NAME'; the budget also
# needs the 'agreement.budget' role (default: product-owner).
# Numbers are integers, or decimals written as quoted strings ("0.01") - never floats.
schema: govctl.agreement/v1
service: {service}
version: 1                      # bump when you amend the agreement
effective: {effective}          # first day the agreement applies
expires: {expires}              # signatures stop counting after this day

slo:
  latency_ms:                   # end-to-end request latency, milliseconds
    p50: 600
    p95: 1500
    p99: 3000
  ttft_p95_ms: 800              # time to first token if streamed (delete if not streamed)
  availability: "0.995"         # fraction of successful minutes per month
  error_rate: "0.01"            # maximum fraction of failed requests
  peak_requests_per_second: 20  # throughput the service must sustain at peak
  under_peak: "Queue up to 2 s, then answer in sources-only mode; never exceed the budget."

budget:
  max_cost_per_request_usd: "0.02"   # model + retrieval cost of one request
  monthly_budget_usd: "3000"
  max_tokens_in: 4000                # per request, prompt + retrieved context
  max_tokens_out: 800

quality:
  eval_dataset: {service}-eval      # inventory name of the held-out evaluation set
  minimums:                          # eval metrics the model version must reach
    accuracy: "0.85"
    groundedness: "0.90"
  max_regression:                    # tolerated drop against the production version
    accuracy: "0.02"

governance:
  citations_required: true           # answers must cite their sources
  allowed_tools: [search_help_center]
  data_access_scopes: ["help-center:public"]
  log_retention_days: 30             # logged prompts and outputs
  pii_redaction_required: true       # redact PII before anything is stored

fallback:
  modes: [sources-only, smaller-model, human-handoff]
  user_message: "We're running in a limited mode right now; here are the most relevant articles."

ownership:
  rollback_owner: releaser-on-duty
  incident_contact: oncall@example.com
  escalation: [eng-lead, product-owner]
"""


def new(repo: GovernedRepo, service: str, *, at: datetime | None = None) -> Path:
    path = agreement_path(repo, service)
    if path.exists():
        raise InputError(f"{repo.rel(path)} already exists", hint="edit it, then sign it again")
    today = (at or clock.now()).date()
    text = TEMPLATE.format(
        service=service, effective=today.isoformat(),
        expires=today.replace(year=today.year + 1).isoformat(),
    )
    # the template must itself be valid
    data, node = parse_yaml(text, repo.rel(path))
    model_from_data(Agreement, data, repo.rel(path), node)
    atomic_write(path, text)
    return path


# --- verification --------------------------------------------------------------------------


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
    path = _existing(repo, service)
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


def sign(
    repo: GovernedRepo, service: str, key: SigningKey, *, at: datetime | None = None
) -> tuple[AgreementReport, bool]:
    """Add ``key``'s signature over the current document. Returns (report, already_signed).

    The signer must hold a role one of the agreement requirements names. A signature
    envelope over an older version of the document is replaced (its fully signed form is
    kept in ``SERVICE.signed.json``).
    """
    at = at or clock.now()
    path = _existing(repo, service)
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


def diff(repo: GovernedRepo, service: str) -> dict[str, Any]:
    """What changed since the last fully signed version: field -> {signed, now}."""
    path = _existing(repo, service)
    current = load_agreement(path, source=repo.rel(path)).to_doc()
    signed_file = signed_path(repo, service)
    env = _agreement_envelope(signed_file, repo.rel(signed_file))
    if env is None:
        return {"service": service, "signed_version": None, "changes": None}
    _check_signed_copy(repo, env, repo.rel(signed_file))
    signed = env.payload_json(source=repo.rel(signed_file))
    changes = {}
    for f in trust.changed_fields(signed, current):
        changes[f] = {"signed": _at(signed, f), "now": _at(current, f)}
    return {"service": service, "signed_version": signed.get("version"), "changes": changes}


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
    except Exception:
        roles = ["eng-lead", "product-owner", "compliance"]
    return False, roles
