"""The sufficient statistics of canary analysis, per version, however they were computed.

Every check of :mod:`govctl.release.canary` needs only, for each version over the window:
the number of good records and of errors, latency quantiles, how many requests are slower
than a threshold, count/mean/standard deviation of the cost, count/max/mean of the token
counts and how many exceed a limit, and count/mean of the quality scores. So the analysis
runs as aggregate queries where the data is (DuckDB over files, SQL in a warehouse; see
:mod:`govctl.adapters.telemetry_sql`) and only these numbers reach Python. An in-memory
:class:`~govctl.release.telemetry.TelemetryBatch` (the library API, MLflow traces) gives
the same numbers through :func:`from_batch`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy loads for the in-memory reader only, not on DuckDB's path
    import numpy as np

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)
NAN = float("nan")


@dataclass
class VariantStats:
    n: int = 0
    errors: int = 0
    latency_q: tuple[float, ...] = ()  # at QUANTILES; empty when n == 0
    cost_n: int = 0
    cost_mean: float = NAN
    cost_std: float = NAN
    tokens_in_n: int = 0
    tokens_in_max: float = NAN
    tokens_out_n: int = 0
    tokens_out_max: float = NAN
    tokens_out_mean: float = NAN
    quality_n: int = 0
    quality_mean: float = NAN

    def quantile(self, q: float) -> float:
        return float(self.latency_q[QUANTILES.index(q)]) if self.n else NAN


# (version, column, threshold) -> how many good records of that version have column > threshold
Counter = Callable[[str, str, float], int]


@dataclass
class Aggregates:
    """What a telemetry source yields for an analysis: per-version statistics, the bad
    records by reason, and counts above thresholds (precomputed for the signed limits,
    otherwise asked of the source)."""

    source: str
    total: int
    variants: dict[str, VariantStats]
    bad: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    counts: dict[tuple[str, str, float], int] = field(default_factory=dict)
    counter: Counter | None = None
    explain: list[str] = field(default_factory=list)  # the queries that produced this
    window: tuple[str, str] | None = None  # (since, until), ISO: the step's window, if any

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())

    def variant(self, version: str) -> VariantStats:
        return self.variants.get(str(version)) or VariantStats()

    def count_above(self, version: str, column: str, threshold: float) -> int:
        key = (str(version), column, float(threshold))
        if key not in self.counts:
            if not self.variant(version).n:
                return 0
            assert self.counter is not None, "no source to count from"
            self.counts[key] = int(self.counter(*key))
        return self.counts[key]

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {"source": self.source, "records": self.total,
                               "bad_records": self.bad,
                               "per_version": {k: v.n for k, v in sorted(self.variants.items())}}
        if self.notes:
            out["notes"] = self.notes
        if self.window:
            out["window"] = {"since": self.window[0], "until": self.window[1]}
        return out


def _col(v: Any, column: str) -> np.ndarray:
    import numpy as np

    a = {"latency_ms": v.latency_ms, "tokens_in": v.tokens_in, "tokens_out": v.tokens_out,
         "cost_usd": v.cost_usd}[column]
    return a[~np.isnan(a)] if column != "latency_ms" else a


def from_batch(batch: Any) -> Aggregates:
    """The statistics of an in-memory batch, computed with numpy."""
    import numpy as np

    variants = {}
    for name, v in batch.variants.items():
        s = VariantStats(n=v.n)
        if v.n:
            s.errors = int(v.error.sum())
            s.latency_q = tuple(float(x) for x in np.percentile(v.latency_ms,
                                                                [q * 100 for q in QUANTILES]))
            costs = _col(v, "cost_usd")
            s.cost_n = int(costs.size)
            if costs.size:
                s.cost_mean, s.cost_std = float(costs.mean()), float(costs.std())
            tin, tout = _col(v, "tokens_in"), _col(v, "tokens_out")
            s.tokens_in_n, s.tokens_out_n = int(tin.size), int(tout.size)
            if tin.size:
                s.tokens_in_max = float(tin.max())
            if tout.size:
                s.tokens_out_max, s.tokens_out_mean = float(tout.max()), float(tout.mean())
            q = v.quality[~np.isnan(v.quality)]
            s.quality_n = int(q.size)
            if q.size:
                s.quality_mean = float(q.mean())
        variants[name] = s

    def counter(version: str, column: str, threshold: float) -> int:
        return int(np.count_nonzero(_col(batch.variant(version), column) > threshold))

    return Aggregates(batch.source, batch.total, variants, dict(batch.bad), list(batch.notes),
                      counter=counter, window=getattr(batch, "window", None))


def from_rows(source: str, rows: list[dict[str, Any]], counter: Counter | None = None,
              counts: dict[tuple[str, str, float], int] | None = None) -> Aggregates:
    """Assemble the result of the aggregate query (one row per version, or per bad reason)
    as returned by :mod:`govctl.adapters.telemetry_sql`."""
    variants: dict[str, VariantStats] = {}
    bad: dict[str, int] = {}
    total = 0
    for r in rows:
        total += int(r["n"])
        if r["bad"] is not None:
            bad[r["bad"]] = bad.get(r["bad"], 0) + int(r["n"])
            continue

        def f(key: str, r: dict[str, Any] = r) -> float:
            x = r.get(key)
            return NAN if x is None else float(x)

        variants[str(r["version"])] = VariantStats(
            n=int(r["n"]), errors=int(r["errors"]),
            latency_q=tuple(float(x) for x in r["latency_q"]),
            cost_n=int(r["cost_n"]), cost_mean=f("cost_mean"), cost_std=f("cost_std"),
            tokens_in_n=int(r["tokens_in_n"]), tokens_in_max=f("tokens_in_max"),
            tokens_out_n=int(r["tokens_out_n"]), tokens_out_max=f("tokens_out_max"),
            tokens_out_mean=f("tokens_out_mean"),
            quality_n=int(r["quality_n"]), quality_mean=f("quality_mean"))
    return Aggregates(source, total, variants, bad, counts=dict(counts or {}), counter=counter)
