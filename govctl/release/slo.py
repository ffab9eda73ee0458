"""After launch: the signed agreement watched as error budgets with multiwindow,
multi-burn-rate alerts, and exported as Prometheus alerting rules and OpenSLO documents.

Objectives, all from the *signed* agreement (an unsigned edit counts for nothing):

- availability: good requests (not errors) / all requests >= ``slo.availability``;
  error budget ``1 - availability``.
- error rate: errors / requests <= ``slo.error_rate`` (the budget is the rate itself).
- latency: requests slower than ``slo.latency_ms.p95`` at most 5% (the budget).

Burn rate = observed bad fraction / budget fraction. Alerts follow the Google SRE
workbook (chapter 5, table 5-8) for a 30-day SLO: an alert fires only when both its long
and its short window burn faster than the factor, so it resets quickly once fixed.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from govctl import clock
from govctl.config import GovernedRepo
from govctl.errors import InputError

# name, long window, short window, burn factor, severity; budget share consumed at alert
ALERTS = (("page-1h", timedelta(hours=1), timedelta(minutes=5), 14.4, "page"),
          ("page-6h", timedelta(hours=6), timedelta(minutes=30), 6.0, "page"),
          ("ticket-1d", timedelta(days=1), timedelta(hours=2), 3.0, "ticket"),
          ("ticket-3d", timedelta(days=3), timedelta(hours=6), 1.0, "ticket"))
LATENCY_BUDGET = Decimal("0.05")  # p95 objective: at most 5% of requests slower


def _span_name(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"w{s}"


def parse_window(text: str) -> timedelta:
    units = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    t = text.strip().lower()
    if len(t) < 2 or t[-1] not in units or not t[:-1].isdigit() or int(t[:-1]) == 0:
        raise InputError(f"window {text!r}: use a whole number and a unit, e.g. 30d, 12h",
                         field="window")
    return timedelta(seconds=int(t[:-1]) * units[t[-1]])


@dataclass
class Objective:
    name: str
    target: str  # the signed number
    budget: float  # allowed bad fraction
    bad: int
    total: int
    burn: dict[str, float] = field(default_factory=dict)  # window -> burn rate
    alerts: list[dict[str, Any]] = field(default_factory=list)

    @property
    def budget_remaining(self) -> float | None:
        if not self.total:
            return None
        return 1 - (self.bad / self.total) / self.budget if self.budget else None

    def to_json(self) -> dict[str, Any]:
        rem = self.budget_remaining
        return {"objective": self.name, "target": self.target, "bad": self.bad,
                "total": self.total, "budget_remaining": None if rem is None else round(rem, 6),
                "burn_rates": {k: round(v, 4) for k, v in self.burn.items()},
                "alerts": self.alerts}


@dataclass
class SloStatus:
    service: str
    source: str
    at: str
    window: str
    digest: str
    objectives: list[Objective]
    spend: dict[str, Any]
    usage: dict[str, Any]
    notes: list[str]

    @property
    def firing(self) -> list[str]:
        out = [f"{o.name}: {a['alert']} ({a['severity']})" for o in self.objectives
               for a in o.alerts if a["firing"]]
        out += [f"{o.name}: error budget exhausted" for o in self.objectives
                if o.budget_remaining is not None and o.budget_remaining < 0]
        if self.spend.get("over_budget"):
            out.append("spend: monthly forecast over the signed budget")
        if self.usage.get("cost_per_request_over"):
            out.append("cost per request over the signed limit")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"service": self.service, "source": self.source, "at": self.at,
                "window": self.window, "agreement_digest": self.digest,
                "ok": not self.firing, "firing": self.firing,
                "objectives": [o.to_json() for o in self.objectives], "spend": self.spend,
                "usage": self.usage, "notes": self.notes}


def _agreement(repo: GovernedRepo, service: str) -> tuple[Any, str]:
    from govctl import agreements
    from govctl.signing.canonical import digest

    ag = agreements.signed_agreement(repo, service)  # signed numbers only
    return ag, digest(ag.to_doc())


def _query(source: str, build: Any) -> dict[str, Any]:
    from pathlib import Path

    if source.startswith("sql:"):
        from govctl.adapters import warehouse

        return warehouse.query_windows(source[len("sql:"):], build)
    if "://" not in source and not Path(source).is_file():
        raise InputError(f"telemetry source {source} is not a file (or sql:URL#TABLE)")
    from govctl.adapters import duckdb_engine

    return duckdb_engine.query_windows(source, build)


def status(repo: GovernedRepo, service: str, source: str, window: str = "30d",
           at: datetime | None = None) -> SloStatus:
    from govctl.adapters import slo_sql

    ag, dig = _agreement(repo, service)
    now = at or clock.now()
    span = parse_window(window)
    spans = {"slo": now - span}
    for _name, long, short, _f, _s in ALERTS:
        spans[_span_name(long)] = now - long
        spans[_span_name(short)] = now - short
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    lat = float(ag.slo.latency_ms.p95)
    row = _query(source, lambda rel: slo_sql.windows(
        rel, now, spans, month_start, lat, float(ag.budget.max_tokens_in),
        float(ag.budget.max_tokens_out)))
    objectives = []
    for name, target, budget, bad_col in (
            ("availability", ag.slo.availability, 1 - Decimal(ag.slo.availability), "errors"),
            ("error_rate", ag.slo.error_rate, Decimal(ag.slo.error_rate), "errors"),
            ("latency_p95_ms", ag.slo.latency_ms.p95, LATENCY_BUDGET, "slow")):
        b = float(budget)
        o = Objective(name, str(target), b, int(row[f"slo_{bad_col}"]), int(row["slo_n"]))

        def burn(w: timedelta, col: str = bad_col, b: float = b) -> float:
            n = int(row[f"{_span_name(w)}_n"])
            return (int(row[f"{_span_name(w)}_{col}"]) / n) / b if n and b else 0.0

        for alert, long, short, factor, severity in ALERTS:
            bl, bs = burn(long), burn(short)
            o.burn[_label(long)], o.burn[_label(short)] = bl, bs
            o.alerts.append({"alert": alert, "severity": severity, "factor": factor,
                             "windows": [_label(long), _label(short)],
                             "firing": bl > factor and bs > factor})
        objectives.append(o)
    days = calendar.monthrange(now.year, now.month)[1]
    elapsed = (now - month_start).total_seconds() / (days * 86400)
    mtd = float(row["mtd_cost"] or 0)
    monthly = float(ag.budget.monthly_budget_usd)
    forecast = mtd / elapsed if elapsed > 0 else 0.0
    spend = {"month_to_date_usd": round(mtd, 6), "forecast_usd": round(forecast, 2),
             "monthly_budget_usd": str(ag.budget.monthly_budget_usd),
             "month_elapsed": round(elapsed, 4), "over_budget": forecast > monthly}
    n_cost = int(row["cost_n"])
    cpr = float(row["cost_sum"]) / n_cost if n_cost else None
    limit_cpr = float(ag.budget.max_cost_per_request_usd)
    usage = {"requests": int(row["slo_n"]),
             "cost_per_request_usd": None if cpr is None else round(cpr, 8),
             "max_cost_per_request_usd": str(ag.budget.max_cost_per_request_usd),
             "cost_per_request_over": cpr is not None and cpr > limit_cpr,
             "tokens_in_mean": _r(row["tokens_in_mean"]),
             "tokens_out_mean": _r(row["tokens_out_mean"]),
             "tokens_in_over_limit": int(row["tokens_in_over"]),
             "tokens_out_over_limit": int(row["tokens_out_over"]),
             "max_tokens_in": ag.budget.max_tokens_in,
             "max_tokens_out": ag.budget.max_tokens_out}
    notes = []
    if row["bad_n"]:
        notes.append(f"{row['bad_n']} bad records not used (canary analyze lists them by reason)")
    if row["no_time_n"]:
        notes.append(f"{row['no_time_n']} records without a readable timestamp not used")
    if not row["slo_n"]:
        notes.append(f"no requests in the {window} window ending {clock.to_iso(now)}")
    return SloStatus(service, _display(source), clock.to_iso(now), window, dig, objectives,
                     spend, usage, notes)


def _r(x: Any) -> float | None:
    return None if x is None else round(float(x), 3)


def _label(d: timedelta) -> str:
    s = int(d.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"{s // size}{unit}"
    return f"{s}s"


def _display(source: str) -> str:
    import re

    return re.sub(r"(://[^:/@#]+):[^@/#]*@", r"\1:***@", source)


def record(repo: GovernedRepo, key: Any, result: SloStatus) -> Any:
    """A signed ``slo.status`` ledger entry: plain JSON, numbers as decimal strings."""
    from govctl import ledger, trust

    policy = trust.load_verified(repo)
    if "slo.record" in policy.requirements:
        trust.may_act(policy, key, "slo.record")
    elif policy.signer_by_key(key.key_id) is None:  # a policy from before slo.record
        trust.may_act(policy, key, "canary.advance")
    evidence = {
        "at": result.at, "window": result.window, "source": result.source,
        "agreement_digest": result.digest, "ok": not result.firing, "firing": result.firing,
        "objectives": {o.name: {"target": o.target, "bad": o.bad, "total": o.total,
                                "budget_remaining": None if o.budget_remaining is None
                                else f"{o.budget_remaining:.6g}"} for o in result.objectives},
        "spend": {"month_to_date_usd": f"{result.spend['month_to_date_usd']:.6g}",
                  "forecast_usd": f"{result.spend['forecast_usd']:.6g}",
                  "monthly_budget_usd": result.spend["monthly_budget_usd"]},
    }
    return ledger.record(repo, key, "slo.status", {"kind": "service", "name": result.service},
                         evidence=evidence, note="ok" if not result.firing else "burning")


def check(repo: GovernedRepo, service: str, source: str, window: str = "30d",
          at: str | None = None, *, record_with: Any = None) -> tuple[SloStatus, Any]:
    """:func:`status` at ``at`` (an ISO 8601 time; default now) and, given a signing key,
    the signed ``slo.status`` ledger entry :func:`record` writes (else None)."""
    when = None
    if at is not None:
        try:
            when = clock.parse_time(at)
        except ValueError:
            raise InputError(f"at {at!r} is not an ISO 8601 time") from None
    result = status(repo, service, source, window, when)
    return result, record(repo, record_with, result) if record_with is not None else None
