"""Telemetry sources for analysis: where the records are, and how their aggregates are
computed there.

``FILE.jsonl`` / ``FILE.csv`` / ``FILE.parquet`` (local or ``s3://``), run in DuckDB;
``sql:URL#TABLE``, a warehouse table, in its own SQL; ``otlp:FILE.json``, OpenTelemetry
GenAI spans; ``prometheus:URL``, PromQL over request counters and latency histograms;
``mlflow:EXPERIMENT``, traces read into memory (at most 100,000). See docs/telemetry.md.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from govctl.errors import InputError
from govctl.release import aggregates
from govctl.release.aggregates import Aggregates

PREFIXES = ("mlflow:", "sql:", "otlp:", "prometheus:")
Window = tuple[datetime, datetime]


def thresholds(limits: dict[str, Decimal]) -> dict[str, float]:
    """The signed limits each good record is compared with (counted in the main query)."""
    out = {}
    for column, limit in (("latency_ms", "latency_p95_ms"), ("tokens_in", "tokens_in_max"),
                          ("tokens_out", "tokens_out_max")):
        if limit in limits:
            out[column] = float(limits[limit])
    return out


def _assemble(source: str, result: Any, limits_at: dict[str, float]) -> Aggregates:
    counts = {}
    for r in result.rows:
        if r["bad"] is None:
            for column, t in limits_at.items():
                counts[(str(r["version"]), column, float(t))] = int(r[f"above_{column}"])
    agg = aggregates.from_rows(source, result.rows, result.counter, counts)
    agg.total += result.extra_total
    for k, v in result.extra_bad.items():
        agg.bad[k] = agg.bad.get(k, 0) + v
    agg.bad = {k: agg.bad[k] for k in sorted(agg.bad)}
    agg.explain = list(result.queries)
    return agg


def _options(source: str, query: str, allowed: dict[str, str]) -> dict[str, str]:
    """``?name=value&...`` after a source: which attribute or metric holds what."""
    out = {}
    for part in filter(None, query.split("&")):
        name, sep, value = part.partition("=")
        if not sep or name not in allowed or not value:
            raise InputError(f"telemetry source {source}: unknown option {part!r} (options: "
                             f"{', '.join(f'{k}=' for k in allowed)})")
        out[name] = value
    return out


def aggregate(source: str, repo: Any = None, limits: dict[str, Decimal] | None = None,
              window: Window | None = None) -> Aggregates:
    """The analysis aggregates of ``source``, computed where the data is. With ``window``
    (since, until): a canary step's own records only; one outside it or without a
    timestamp is a bad record, by reason, in every source's query (the in-memory reader's
    rules: :func:`govctl.release.telemetry.read`). Prometheus has no records outside its
    range: the window is the range (``at`` its end)."""
    limits_at = thresholds(limits or {})
    span = (window[0].timestamp(), window[1].timestamp()) if window else None
    if source.startswith("mlflow:"):
        from govctl.release import telemetry

        return aggregates.from_batch(telemetry.read(source, repo, window))
    if source.startswith("prometheus:"):
        from govctl.release import promsource

        agg = promsource.aggregate(source[len("prometheus:"):], repo, limits_at, span)
    elif source.startswith("sql:"):
        from govctl.adapters import warehouse

        result = warehouse.aggregate(source[len("sql:"):], limits_at, span)
        agg = _assemble(warehouse.display(source), result, limits_at)
    elif source.startswith("otlp:"):
        from govctl.adapters import otlp

        path, _, query = source[len("otlp:"):].partition("?")
        if not Path(path).is_file():
            raise InputError(f"telemetry source {source}: {path} is not a file")
        attrs = _options(source, query, otlp.DEFAULTS)
        agg = _assemble(source, otlp.aggregate(path, limits_at, attrs, span), limits_at)
    else:
        from govctl.adapters import duckdb_engine

        if "://" not in source and not Path(source).is_file():
            raise InputError(f"telemetry source {source} is not a file (or one of "
                             f"{', '.join(p + '…' for p in PREFIXES)})")
        duckdb_engine.fmt_of(source)
        agg = _assemble(source, duckdb_engine.aggregate(source, limits_at, span), limits_at)
    if window:
        from govctl.clock import to_iso

        agg.window = (to_iso(window[0]), to_iso(window[1]))
    return agg
