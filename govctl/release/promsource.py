"""Prometheus as a telemetry source: ``prometheus:URL[?options]``.

As Argo Rollouts' and Flagger's Prometheus providers do, the analysis reads request
counters and latency histograms per version with PromQL over the window ending at the
evaluation time: counts from ``increase`` of the request counter, latency quantiles from
``histogram_quantile`` over ``rate`` of ``_bucket``, and the share above a threshold from
the buckets (linear within a bucket, like histogram_quantile). Cost and quality come from
counter/summary pairs when present. Histograms are approximations: place bucket
boundaries at the signed limits (docs/telemetry.md).

Options: ``window`` (PromQL duration, default 1h), ``at`` (unix seconds; default now),
``requests``, ``errors_label``, ``duration``, ``version_label``, ``selector`` (extra label
matchers), ``cost``, ``quality``.
"""

from __future__ import annotations

import math
from typing import Any

from govctl.release import aggregates
from govctl.release.aggregates import QUANTILES, Aggregates, VariantStats

DEFAULTS = {"window": "1h", "at": "", "requests": "govctl_requests_total",
            "errors_label": "error", "duration": "govctl_request_duration_seconds",
            "version_label": "version", "selector": "", "cost": "govctl_cost_usd",
            "quality": "govctl_quality"}


def queries(o: dict[str, str]) -> dict[str, str]:
    v, w, sel = o["version_label"], o["window"], o["selector"]
    s = "{" + sel + "}" if sel else ""
    e = "{" + ",".join(x for x in (sel, f'{o["errors_label"]}="true"') if x) + "}"
    out = {"n": f"sum by ({v}) (increase({o['requests']}{s}[{w}]))",
           "errors": f"sum by ({v}) (increase({o['requests']}{e}[{w}]))",
           "buckets": f"sum by ({v}, le) (increase({o['duration']}_bucket{s}[{w}]))",
           "cost_sum": f"sum by ({v}) (increase({o['cost']}_sum{s}[{w}]))",
           "cost_count": f"sum by ({v}) (increase({o['cost']}_count{s}[{w}]))",
           "quality_sum": f"sum by ({v}) (increase({o['quality']}_sum{s}[{w}]))",
           "quality_count": f"sum by ({v}) (increase({o['quality']}_count{s}[{w}]))"}
    for q in QUANTILES:
        out[f"q{q}"] = (f"histogram_quantile({q}, sum by ({v}, le) "
                        f"(rate({o['duration']}_bucket{s}[{w}])))")
    return out


def _above(buckets: list[tuple[float, float]], x: float) -> float:
    """Requests above x (seconds) from cumulative buckets, linear within a bucket."""
    total = buckets[-1][1]
    prev_le, prev_c = 0.0, 0.0
    for le, c in buckets:
        if x < le:
            if math.isinf(le):
                return total - prev_c
            frac = (x - prev_le) / (le - prev_le) if le > prev_le else 1.0
            return total - (prev_c + frac * (c - prev_c))
        prev_le, prev_c = le, c
    return 0.0


def aggregate(spec: str, repo: Any, limits_at: dict[str, float],
              span: tuple[float, float] | None = None) -> Aggregates:
    """``span`` (since, until; seconds since the epoch), a canary step's window: the
    queries' range is the step (``at`` = until, range = until - since, whole seconds
    rounded up), whatever ``window=``/``at=`` say."""
    from govctl import clock
    from govctl.adapters import prometheus
    from govctl.release.sources import _options

    url, _, query = spec.partition("?")
    o = {**DEFAULTS, **_options("prometheus:" + spec, query, DEFAULTS)}
    if span is not None:
        o["at"], o["window"] = repr(span[1]), f"{max(1, math.ceil(span[1] - span[0]))}s"
    at = float(o["at"]) if o["at"] else clock.now().timestamp()
    qs = queries(o)
    v = o["version_label"]
    res = {k: prometheus.query(url, promql, at) for k, promql in qs.items()}

    def by_version(key: str) -> dict[str, float]:
        return {m.get(v, ""): val for m, val in res[key] if not math.isnan(val)}

    buckets: dict[str, list[tuple[float, float]]] = {}
    for m, val in res["buckets"]:
        buckets.setdefault(m.get(v, ""), []).append((float(m["le"]), val))
    for b in buckets.values():
        b.sort()
    n, errs = by_version("n"), by_version("errors")
    cost_s, cost_c = by_version("cost_sum"), by_version("cost_count")
    qual_s, qual_c = by_version("quality_sum"), by_version("quality_count")
    quant = {q: by_version(f"q{q}") for q in QUANTILES}
    variants = {}
    for version, count in n.items():
        if not version or round(count) <= 0:
            continue
        s = VariantStats(n=round(count), errors=round(errs.get(version, 0.0)))
        s.latency_q = tuple(quant[q].get(version, float("nan")) * 1000 for q in QUANTILES)
        if cost_c.get(version):
            s.cost_n = round(cost_c[version])
            s.cost_mean = cost_s.get(version, 0.0) / cost_c[version]
            s.cost_std = s.cost_mean  # unknown from counters: a conservative stand-in
        if qual_c.get(version):
            s.quality_n = round(qual_c[version])
            s.quality_mean = qual_s.get(version, 0.0) / qual_c[version]
        variants[version] = s

    def counter(version: str, column: str, threshold: float) -> int:
        b = buckets.get(version)
        if column != "latency_ms" or not b:
            return 0
        return round(_above(b, threshold / 1000))

    agg = aggregates.Aggregates(f"prometheus:{url}", sum(s.n for s in variants.values()),
                                variants, counter=counter)
    agg.explain = [f"{k}: {q}" for k, q in qs.items()]
    agg.notes.append(f"counts and latency from Prometheus over {o['window']} "
                     "(histogram quantiles are interpolated)")
    return agg
