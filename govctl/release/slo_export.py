"""The signed objectives as Prometheus alerting rules and OpenSLO documents (what Sloth
and Pyrra generate), each file carrying the agreement's digest.

Metric names are configurable (defaults: ``govctl_requests_total`` with an ``error``
label, ``govctl_request_duration_seconds`` histogram, both labelled ``service``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from govctl.config import GovernedRepo
from govctl.errors import InputError
from govctl.fsutil import atomic_write
from govctl.release import slo


@dataclass
class Metrics:
    requests: str = "govctl_requests_total"
    error_label: str = "error"
    error_value: str = "true"
    duration: str = "govctl_request_duration_seconds"
    service_label: str = "service"


def _windows() -> list[str]:
    out = []
    for _n, long, short, _f, _s in slo.ALERTS:
        for w in (long, short):
            lab = slo._label(w)
            if lab not in out:
                out.append(lab)
    return out


def prometheus_rules(service: str, ag: Any, digest: str, m: Metrics) -> dict[str, Any]:
    sel = f'{m.service_label}="{service}"'
    err = f'{sel},{m.error_label}="{m.error_value}"'
    lat_s = Decimal(ag.slo.latency_ms.p95) / 1000
    budgets = {"availability": 1 - Decimal(ag.slo.availability),
               "error_rate": Decimal(ag.slo.error_rate), "latency": slo.LATENCY_BUDGET}
    rules: list[dict[str, Any]] = []
    labels = {"service": service, "agreement_digest": digest}
    for w in _windows():
        rules.append({"record": "govctl:slo_errors:ratio_rate" + w,
                      "expr": f"sum(rate({m.requests}{{{err}}}[{w}])) / "
                              f"sum(rate({m.requests}{{{sel}}}[{w}]))", "labels": labels})
        rules.append({"record": "govctl:slo_slow:ratio_rate" + w,
                      "expr": f"1 - (sum(rate({m.duration}_bucket{{{sel},le=\"{lat_s}\"}}[{w}])) / "
                              f"sum(rate({m.duration}_count{{{sel}}}[{w}])))", "labels": labels})
    alerts = []
    for objective, series in (("availability", "errors"), ("error_rate", "errors"),
                              ("latency", "slow")):
        for name, long, short, factor, severity in slo.ALERTS:
            lw, sw = slo._label(long), slo._label(short)
            thr = Decimal(str(factor)) * budgets[objective]
            sel_r = f'{{service="{service}"}}'
            alerts.append({
                "alert": f"GovctlSLOBurn_{objective}_{name.replace('-', '_')}",
                "expr": f"(govctl:slo_{series}:ratio_rate{lw}{sel_r} > {thr}) and "
                        f"(govctl:slo_{series}:ratio_rate{sw}{sel_r} > {thr})",
                "labels": {"severity": severity, "service": service, "slo": objective,
                           "agreement_digest": digest},
                "annotations": {
                    "summary": f"{service}: {objective} error budget burning {factor}x over "
                               f"{lw} and {sw}",
                    "agreement_digest": digest}})
    return {"groups": [{"name": f"govctl-slo-{service}-sli", "rules": rules},
                       {"name": f"govctl-slo-{service}-alerts", "rules": alerts}]}


def openslo(service: str, ag: Any, digest: str, m: Metrics, window: str) -> list[dict[str, Any]]:
    sel = f'{m.service_label}="{service}"'
    lat_s = Decimal(ag.slo.latency_ms.p95) / 1000
    total = f"sum(rate({m.requests}{{{sel}}}[1m]))"
    good_req = f'sum(rate({m.requests}{{{sel},{m.error_label}!="{m.error_value}"}}[1m]))'
    docs = []
    for name, target, good, tot in (
            ("availability", Decimal(ag.slo.availability), good_req, total),
            ("error-rate", 1 - Decimal(ag.slo.error_rate), good_req, total),
            ("latency-p95", 1 - slo.LATENCY_BUDGET,
             f'sum(rate({m.duration}_bucket{{{sel},le="{lat_s}"}}[1m]))',
             f"sum(rate({m.duration}_count{{{sel}}}[1m]))")):
        docs.append({
            "apiVersion": "openslo/v1", "kind": "SLO",
            "metadata": {"name": f"{service}-{name}",
                         "annotations": {"govctl/agreement-digest": digest}},
            "spec": {"service": service, "budgetingMethod": "Occurrences",
                     "timeWindow": [{"duration": window, "isRolling": True}],
                     "indicator": {"metadata": {"name": f"{service}-{name}-sli"},
                                   "spec": {"ratioMetric": {
                                       "counter": True,
                                       "good": {"metricSource": {"type": "Prometheus",
                                                                 "spec": {"query": good}}},
                                       "total": {"metricSource": {"type": "Prometheus",
                                                                  "spec": {"query": tot}}}}}},
                     "objectives": [{"displayName": name, "target": float(target)}]}})
    return docs


def export(repo: GovernedRepo, service: str, fmt: str, out: Path,
           metrics: Metrics | None = None, window: str = "30d") -> list[Path]:
    if fmt not in ("prometheus", "openslo"):
        raise InputError(f"format {fmt!r}: use prometheus or openslo", field="format")
    slo.parse_window(window)
    ag, digest = slo._agreement(repo, service)
    m = metrics or Metrics()
    header = (f"# generated by govctl slo export from the signed agreement for {service}\n"
              f"# agreement digest: {digest}\n")
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "prometheus":
        path = out / f"{service}-slo-rules.yaml"
        atomic_write(path, header + yaml.safe_dump(prometheus_rules(service, ag, digest, m),
                                                   sort_keys=False))
        return [path]
    path = out / f"{service}-openslo.yaml"
    atomic_write(path, header + yaml.safe_dump_all(openslo(service, ag, digest, m, window),
                                                   sort_keys=False))
    return [path]
