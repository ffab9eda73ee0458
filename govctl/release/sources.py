"""Telemetry sources for analysis: where the records are, and how their aggregates are
computed there.

``FILE.jsonl`` / ``FILE.csv`` / ``FILE.parquet`` (local or ``s3://``), run in DuckDB;
``sql:URL#TABLE``, a warehouse table, in its own SQL; ``otlp:FILE.json``, OpenTelemetry
GenAI spans; ``prometheus:URL``, PromQL over request counters and latency histograms;
``mlflow:EXPERIMENT``, traces read into memory (at most 100,000). See docs/telemetry.md.
"""

from __future__ import annotations

import threading
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
    counts.update(getattr(result, "counts", {}))
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
    with start(source, repo, window) as pending:
        return pending.result(limits)


def start(source: str, repo: Any = None, window: Window | None = None) -> Pending:
    """Begin reading ``source`` in a thread (files are parsed, warehouse quantiles and
    PromQL queried) while the caller verifies the agreement whose limits
    :meth:`Pending.result` takes. Use as a context manager: leaving it stops a read whose
    result nobody asked for."""
    return Pending(source, repo, window)


class Pending:
    def __init__(self, source: str, repo: Any, window: Window | None) -> None:
        self.source, self.repo, self.window = source, repo, window
        self._span = (window[0].timestamp(), window[1].timestamp()) if window else None
        self._finish: Any = None
        self._error: BaseException | None = None
        self._con: Any = None  # DuckDB's, to interrupt
        self._local = not source.startswith(("sql:", "prometheus:"))  # read by DuckDB here
        self._stop = False
        self._thread: threading.Thread | None = None
        if not source.startswith("mlflow:"):  # MLflow's client is read in the caller's thread
            self._thread = threading.Thread(target=self._run, name="govctl-telemetry",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._finish = self._prepare()
        except BaseException as exc:  # noqa: BLE001 (raised by result(), in the caller)
            self._error = exc

    def _prepare(self) -> Any:
        """The part that needs no limits; returns ``limits_at -> Aggregates``."""
        source, span = self.source, self._span
        if source.startswith("prometheus:"):
            from govctl.release import promsource

            agg = promsource.aggregate(source[len("prometheus:"):], self.repo, {}, span)
            return lambda limits_at, factor: agg
        if source.startswith("sql:"):
            from govctl.adapters import warehouse

            done = warehouse.prepare(source[len("sql:"):], span)
            return lambda limits_at, factor: _assemble(
                warehouse.display(source), done.finish(limits_at, factor), limits_at)
        from govctl.adapters import duckdb_engine

        if source.startswith("otlp:"):
            from govctl.adapters import otlp

            path, _, query = source[len("otlp:"):].partition("?")
            if not Path(path).is_file():
                raise InputError(f"telemetry source {source}: {path} is not a file")
            attrs = _options(source, query, otlp.DEFAULTS)
            done = otlp.prepare(path, attrs, span, self._connect())
        else:
            if "://" not in source and not Path(source).is_file():
                raise InputError(f"telemetry source {source} is not a file (or one of "
                                 f"{', '.join(p + '…' for p in PREFIXES)})")
            duckdb_engine.fmt_of(source)
            done = duckdb_engine.prepare(source, span, self._connect())
        return lambda limits_at, factor: _assemble(source, done.finish(limits_at), limits_at)

    def _connect(self) -> Any:
        from govctl.adapters import duckdb_engine

        self._con = duckdb_engine.connect()
        if self._stop:
            raise InputError("the telemetry read was stopped")
        return self._con

    def result(self, limits: dict[str, Decimal] | None = None,
               latency_factor: float | None = None) -> Aggregates:
        """The aggregates, with counts above the signed limits. ``latency_factor`` (the
        canary's 1 + tolerated latency increase): a source that would scan again for the
        count above the stable p95 x factor (a warehouse) counts it in its main pass."""
        limits_at = thresholds(limits or {})
        if self._thread is None:
            from govctl.release import telemetry

            return aggregates.from_batch(telemetry.read(self.source, self.repo, self.window))
        self._thread.join()
        if self._error is not None:
            raise self._error
        agg: Aggregates = self._finish(limits_at, latency_factor)
        if self.window:
            from govctl.clock import to_iso

            agg.window = (to_iso(self.window[0]), to_iso(self.window[1]))
        return agg

    def close(self) -> None:
        """Stop a DuckDB read still running (a warehouse or Prometheus query finishes on
        its own, in a daemon thread)."""
        self._stop = True
        t = self._thread
        while self._local and t is not None and t.is_alive():
            if self._con is not None:
                self._con.interrupt()
            t.join(0.05)

    def __enter__(self) -> Pending:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
