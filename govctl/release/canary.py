"""Canary analysis: the candidate against the agreement's limits and the stable version's
traffic in the same window, every check explained (measured values, threshold, sample
counts, the test used). Verdicts: ``pass``, ``fail``, or ``inconclusive`` (too little
data: wait, never promote or roll back on it).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from govctl.findings import Finding, Severity
from govctl.release import aggregates
from govctl.release import stats as st
from govctl.release.aggregates import Aggregates, VariantStats
from govctl.serialize import JsonFields

if TYPE_CHECKING:  # the in-memory reader (numpy) loads only where it reads
    from govctl.release.telemetry import TelemetryBatch

F = TypeVar("F", bound=Callable[..., Any])


def _quiet(fn: F) -> F:
    """Degenerate traffic (one record, every request an error, identical costs, no costs
    at all) makes NaN and infinities on purpose (a verdict of inconclusive, a rate of NaN):
    numpy's floating-point and empty-slice warnings never reach the user's terminal."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        np = sys.modules.get("numpy")  # numpy values only where the in-memory reader ran
        with np.errstate(all="ignore") if np else contextlib.nullcontext(), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return fn(*args, **kwargs)
    return wrapper  # type: ignore[return-value]


@dataclass
class Config:
    alpha: float = 0.05
    min_samples: int = 200
    max_latency_increase: float = 0.20
    max_error_rate_ratio: float = 2.0
    max_quality_drop: float = 0.05

    @classmethod
    def from_policies(cls, policies: Any, env: str) -> Config:
        rule = "GOV-CANARY-ANALYSIS"
        c = cls()
        if not policies:
            return c
        c.alpha = policies.number(rule, "alpha", env, c.alpha, low=1e-6, high=0.5)
        c.min_samples = policies.number(rule, "min_samples", env, c.min_samples, integer=True,
                                        low=1)
        c.max_latency_increase = policies.number(rule, "max_latency_increase", env,
                                                 c.max_latency_increase, low=0, high=10)
        c.max_error_rate_ratio = policies.number(rule, "max_error_rate_ratio", env,
                                                 c.max_error_rate_ratio, low=1, high=1000)
        c.max_quality_drop = policies.number(rule, "max_quality_drop", env, c.max_quality_drop,
                                             low=0, high=1)
        return c


class Verdict(StrEnum):
    """A check's or an analysis's outcome (a ``str``: compares and serializes as its
    value)."""

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"  # too little data: wait, never promote or roll back on it


@dataclass
class CheckResult(JsonFields):
    metric: str
    kind: str  # "limit" (against the agreement) or "baseline" (against stable)
    verdict: Verdict
    canary: float | None
    baseline: float | None
    threshold: float | None
    n_canary: int
    n_baseline: int
    test: str
    detail: str

    def finding(self, subject: str | None = None) -> Finding:
        """A failed check is an error, an inconclusive one a warning (wait for more
        traffic), a pass SARIF's ``pass``."""
        kind = {Verdict.PASS: "pass", Verdict.FAIL: "fail"}.get(self.verdict, "open")
        return Finding(f"canary/{self.kind}/{self.metric}", f"{self.verdict}: {self.detail}",
                       subject=subject, kind=kind,
                       severity=Severity.ERROR if self.verdict == Verdict.FAIL
                       else Severity.WARNING)


@dataclass
class Analysis:
    baseline_version: str
    canary_version: str
    verdict: Verdict
    checks: list[CheckResult]
    telemetry: dict[str, Any]
    config: Config = field(default_factory=Config)
    explain: list[str] = field(default_factory=list)  # queries run at the source

    @property
    def failed(self) -> list[CheckResult]:
        return [c for c in self.checks if c.verdict is Verdict.FAIL]

    def reason(self) -> str:
        if self.verdict is Verdict.FAIL:
            return "; ".join(f"{c.metric}: {c.detail}" for c in self.failed)
        if self.verdict is Verdict.INCONCLUSIVE:
            return "; ".join(f"{c.metric}: {c.detail}" for c in self.checks
                             if c.verdict is Verdict.INCONCLUSIVE)
        return "every check passed"

    def to_json(self) -> dict[str, Any]:
        return {"baseline": self.baseline_version, "canary": self.canary_version,
                "verdict": self.verdict, "reason": self.reason(),
                "checks": [c.to_json() for c in self.checks], "telemetry": self.telemetry,
                "config": self.config.__dict__}


@_quiet
def variant_stats(s: VariantStats) -> dict[str, Any]:
    """Summary of one variant's traffic (for the ledger, reports and charts)."""
    if not s.n:
        return {"n": 0}
    # decimal strings: this goes into signed ledger entries, which hold no floats
    return {
        "n": s.n,
        "latency_ms": dict(zip(["p5", "p25", "p50", "p75", "p90", "p95", "p99"],
                               [f"{float(x):.6g}" for x in s.latency_q], strict=True)),
        "error_rate": f"{s.errors / s.n:.6g}",
        "errors": s.errors,
        "cost_per_request_usd": f"{s.cost_mean:.6g}" if s.cost_n else None,
    }


@_quiet
def analyze(batch: TelemetryBatch | Aggregates, baseline_version: str, canary_version: str,
            limits: dict[str, Decimal], config: Config | None = None, *,
            require_baseline: bool = True) -> Analysis:
    """Check the canary against the signed limits and against the stable version.

    ``batch`` is in-memory telemetry or the aggregates a source computed where the data is
    (:mod:`govctl.release.aggregates`); every check needs only those.

    A check passes only when the data are sufficient *and* the estimate is within its
    tolerance; "not yet proven bad" with the estimate beyond it is inconclusive, never a
    pass. ``require_baseline`` (off only at a 100% step, where the stable version gets no
    traffic) makes a window without stable records inconclusive.
    """
    cfg = config or Config()
    agg = batch if isinstance(batch, Aggregates) else aggregates.from_batch(batch)
    bv, cv = str(baseline_version), str(canary_version)
    base, can = agg.variant(bv), agg.variant(cv)
    checks: list[CheckResult] = []
    enough = can.n >= cfg.min_samples
    enough_both = enough and base.n >= cfg.min_samples
    short = (f"needs {cfg.min_samples} requests per variant "
             f"(canary {can.n}, stable {base.n})")

    def add(metric: str, kind: str, verdict: Verdict, canary: float | None, baseline: float | None,
            threshold: float | None, test: str, detail: str, nb: int | None = None) -> None:
        checks.append(CheckResult(metric, kind, verdict, canary, baseline, threshold, can.n,
                                  base.n if nb is None else nb, test, detail))

    def exceed(column: str, n: int, threshold: float, p0: float) -> tuple[bool, int]:
        x = agg.count_above(cv, column, threshold)
        return bool(st.rejects(x, n, p0, cfg.alpha)), x

    # --- absolute limits from the signed agreement --------------------------------
    if "latency_p95_ms" in limits:
        limit = float(limits["latency_p95_ms"])
        p95 = can.quantile(0.95)
        rejected, x = exceed("latency_ms", can.n, limit, 0.05) if can.n else (False, 0)
        verdict = (Verdict.FAIL if rejected else Verdict.INCONCLUSIVE if not enough
                   else Verdict.PASS if p95 <= limit else Verdict.INCONCLUSIVE)
        add("latency_p95_ms", "limit", verdict, p95, base.quantile(0.95), limit,
            "mSPRT: share of requests above the limit > 5%",
            f"{x} of {can.n} canary requests above {limit:g} ms" if enough or rejected
            else short)
    if "error_rate" in limits:
        limit = float(limits["error_rate"])
        errs = can.errors
        rate = errs / can.n if can.n else float("nan")
        rejected = bool(st.rejects(errs, can.n, limit, cfg.alpha)) if can.n else False
        verdict = (Verdict.FAIL if rejected else Verdict.INCONCLUSIVE if not enough
                   else Verdict.PASS if rate <= limit else Verdict.INCONCLUSIVE)
        add("error_rate", "limit", verdict, rate,
            base.errors / base.n if base.n else None, limit,
            "mSPRT: error rate > limit", f"{errs} errors in {can.n} canary requests"
            if enough or rejected else short)
    if "cost_per_request_usd" in limits:
        limit = float(limits["cost_per_request_usd"])
        mean = can.cost_mean if can.cost_n else float("nan")
        if can.cost_n < cfg.min_samples:
            verdict, detail = Verdict.INCONCLUSIVE, f"{can.cost_n} requests report cost; {short}"
        else:
            lo, _hi = st.always_valid_mean_bounds(mean, can.cost_n, can.cost_std or 1e-9,
                                                  cfg.alpha)
            verdict = Verdict.FAIL if lo > limit else Verdict.PASS if mean <= limit else Verdict.INCONCLUSIVE
            detail = f"mean over {can.cost_n} requests, always-valid lower bound {lo:.6g}"
        add("cost_per_request_usd", "limit", verdict, mean,
            base.cost_mean if base.n and base.cost_n else None, limit,
            "mean vs limit (normal-mixture confidence sequence)", detail)
    for metric, column, n_vals, vmax in (
            ("tokens_in_max", "tokens_in", can.tokens_in_n, can.tokens_in_max),
            ("tokens_out_max", "tokens_out", can.tokens_out_n, can.tokens_out_max)):
        if metric not in limits:
            continue
        limit = float(limits[metric])
        if not n_vals:
            continue
        rejected, x = exceed(column, n_vals, limit, 0.01)
        verdict = (Verdict.FAIL if rejected else Verdict.INCONCLUSIVE if n_vals < cfg.min_samples
                   else Verdict.PASS if x <= 0.01 * n_vals else Verdict.INCONCLUSIVE)
        add(metric, "limit", verdict, float(vmax), None, limit,
            "mSPRT: share of requests over the token limit > 1%",
            f"{x} of {n_vals} canary requests over {limit:g} tokens")

    # --- against the stable version in the same window -----------------------------
    if base.n:
        base_p95, can_p95 = base.quantile(0.95), can.quantile(0.95)
        bound = base_p95 * (1 + cfg.max_latency_increase)
        rejected, x = exceed("latency_ms", can.n, bound, 0.05) if can.n else (False, 0)
        verdict = (Verdict.FAIL if rejected else Verdict.INCONCLUSIVE if not enough_both
                   else Verdict.PASS if can_p95 <= bound else Verdict.INCONCLUSIVE)
        add("latency_p95_ms", "baseline", verdict, can_p95, base_p95, bound,
            f"mSPRT: share of canary above stable p95 x {1 + cfg.max_latency_increase:g} > 5%",
            f"{x} of {can.n} canary requests above {bound:.1f} ms" if enough_both or rejected
            else short)
        e_c, e_b = can.errors, base.errors
        p0 = st.rate_ratio_p0(can.n, base.n, cfg.max_error_rate_ratio)
        rejected = bool(st.rejects(e_c, e_c + e_b, p0, cfg.alpha)) if e_c + e_b else False
        # the observed share of errors that hit the canary, against the share the
        # tolerated ratio allows (no errors at all: within)
        within = e_c == 0 or e_c / (e_c + e_b) <= p0
        verdict = (Verdict.FAIL if rejected else Verdict.INCONCLUSIVE if not enough_both
                   else Verdict.PASS if within else Verdict.INCONCLUSIVE)
        add("error_rate", "baseline", verdict, e_c / can.n if can.n else None,
            e_b / base.n, cfg.max_error_rate_ratio,
            f"mSPRT on errors conditional on their total: rate ratio > "
            f"{cfg.max_error_rate_ratio:g}", f"{e_c} canary / {e_b} stable errors"
            if enough_both or rejected else short)
        if can.quality_n and base.quality_n:
            qc, qb = can.quality_mean, base.quality_mean
            _lo, hi = st.always_valid_mean_bounds(qc, can.quality_n, 0.5, cfg.alpha)
            floor = qb - cfg.max_quality_drop
            verdict = (Verdict.FAIL if hi < floor else Verdict.INCONCLUSIVE
                       if min(can.quality_n, base.quality_n) < cfg.min_samples or qc < floor
                       else Verdict.PASS)
            add("quality", "baseline", verdict, qc, qb, floor,
                "confidence sequence on the canary mean vs stable mean - tolerance",
                f"upper bound {hi:.3f} over {can.quality_n} scores", nb=base.quality_n)
        if can.tokens_out_n and base.tokens_out_n:
            tc, tb = can.tokens_out_mean, base.tokens_out_mean
            ratio = float(tc / tb) if tb else float("nan")
            add("tokens_out", "baseline", Verdict.PASS if enough_both else Verdict.INCONCLUSIVE,
                tc, tb, None, "reported, not judged", f"mean tokens out ratio {ratio:.2f}")
    elif require_baseline:
        add("baseline", "baseline", Verdict.INCONCLUSIVE, None, None, None,
            "the stable version must be in the window to compare against",
            f"no telemetry records for the stable version v{baseline_version}"
            if baseline_version else "no stable version to compare against", nb=0)
    verdicts = {c.verdict for c in checks}
    verdict = (Verdict.FAIL if Verdict.FAIL in verdicts else Verdict.INCONCLUSIVE
               if Verdict.INCONCLUSIVE in verdicts or not checks or not enough else Verdict.PASS)
    summary = agg.summary()
    summary["variants"] = {"baseline": variant_stats(base), "canary": variant_stats(can)}
    return Analysis(str(baseline_version), str(canary_version), verdict, checks, summary, cfg)
