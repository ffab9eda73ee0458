"""The agreement document: its schema (``govctl.agreement/v1``) and the limits it sets.

Numbers are integers or decimal strings, never floats (they are signed as RFC 8785
canonical JSON). :func:`check_measurements` holds measured values against the limits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, field_validator

from govctl.findings import Finding

SCHEMA: Final = "govctl.agreement/v1"
SERVICE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")

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


class SloVerdict(StrEnum):
    """A measured value against one SLO (a ``str``: compares and serializes as its value)."""

    PASS = "pass"
    FAIL = "fail"
    MISSING = "missing"  # the measurement has no value for this metric


@dataclass
class SloCheck:
    metric: str
    measured: Decimal | None
    threshold: Decimal
    comparator: str  # "<=" or ">="
    verdict: SloVerdict

    def to_json(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "measured": None if self.measured is None else str(self.measured),
            "threshold": str(self.threshold),
            "comparator": self.comparator,
            "verdict": self.verdict,
        }

    def finding(self, subject: str | None = None) -> Finding:
        kind = {SloVerdict.PASS: "pass", SloVerdict.FAIL: "fail"}.get(self.verdict, "open")
        return Finding(f"slo/{self.metric}", str(self), subject=subject, kind=kind)

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
            checks.append(SloCheck(name, None, threshold, comparator, SloVerdict.MISSING))
            continue
        value = Decimal(str(raw))
        ok = value >= threshold if comparator == ">=" else value <= threshold
        checks.append(SloCheck(name, value, threshold, comparator,
                              SloVerdict.PASS if ok else SloVerdict.FAIL))
    return checks
