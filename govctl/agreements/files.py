"""Agreement files: where they live, reading and validating one, and the template.

``agreements/SERVICE.yaml`` is the document; ``SERVICE.sigs/`` its signatures
(:mod:`govctl.agreements.signatures`); ``SERVICE.signed.json`` the last fully signed copy.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from govctl import clock
from govctl.agreements.schema import SERVICE_RE, Agreement
from govctl.config import GovernedRepo
from govctl.documents import DocumentError, Problem, load_model, model_from_data, parse_yaml
from govctl.errors import InputError, IntegrityError, NotFound
from govctl.fsutil import atomic_write
from govctl.signing import dsse
from govctl.signing.canonical import canonical_bytes
from govctl.signing.dsse import Envelope


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


def existing_path(repo: GovernedRepo, service: str) -> Path:
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


def load_envelope(path: Path, source: str) -> Envelope | None:
    if not path.exists():
        return None
    return Envelope.loads(path.read_bytes(), source=source)


def agreement_envelope(path: Path, source: str) -> Envelope | None:
    """An agreement's signature envelope; one of another document kind is tampering."""
    env = load_envelope(path, source)
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
