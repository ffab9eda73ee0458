"""The SLO status query: good/bad event counts over several trailing windows in one pass
(the multiwindow burn-rate alerts), plus cost and tokens over the SLO window and the
calendar month so far. Pure SQL text; the engines run it."""

from __future__ import annotations

from datetime import datetime

from govctl.adapters import telemetry_sql as q


def _ts(t: datetime) -> str:
    return f"CAST('{t.isoformat()}' AS TIMESTAMP WITH TIME ZONE)"


def timestamp_expr(d: q.Dialect, kind: q.Kind | None) -> str:
    if kind is None:
        return "CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS ts"
    c = q.quote("timestamp")
    if d == "duckdb":
        return f"TRY_CAST({c} AS TIMESTAMP WITH TIME ZONE) AS ts"
    return f"CAST({c} AS TIMESTAMP WITH TIME ZONE) AS ts"


def windows(rel: str, now: datetime, spans: dict[str, datetime], month_start: datetime,
            latency_limit: float, tokens_in_limit: float, tokens_out_limit: float) -> str:
    """``spans``: window name -> its start. Columns ``<name>_n``, ``<name>_errors``,
    ``<name>_slow``; for the window named ``slo`` also cost and token columns; ``mtd_cost``."""
    good = f"bad IS NULL AND ts IS NOT NULL AND ts <= {_ts(now)}"
    cols = []
    for name, start in spans.items():
        w = f"{good} AND ts > {_ts(start)}"
        cols += [f"count(*) FILTER (WHERE {w}) AS {name}_n",
                 f"count(*) FILTER (WHERE {w} AND error) AS {name}_errors",
                 f"count(*) FILTER (WHERE {w} AND latency_ms > {latency_limit!r}) AS {name}_slow"]
    w = f"{good} AND ts > {_ts(spans['slo'])}"
    cols += [f"count(cost_usd) FILTER (WHERE {w}) AS cost_n",
             f"sum(cost_usd) FILTER (WHERE {w}) AS cost_sum",
             f"count(tokens_in) FILTER (WHERE {w}) AS tokens_in_n",
             f"count(*) FILTER (WHERE {w} AND tokens_in > {tokens_in_limit!r}) AS tokens_in_over",
             f"count(tokens_out) FILTER (WHERE {w}) AS tokens_out_n",
             f"count(*) FILTER (WHERE {w} AND tokens_out > {tokens_out_limit!r}) AS tokens_out_over",
             f"avg(tokens_in) FILTER (WHERE {w}) AS tokens_in_mean",
             f"avg(tokens_out) FILTER (WHERE {w}) AS tokens_out_mean",
             f"sum(cost_usd) FILTER (WHERE {good} AND ts >= {_ts(month_start)}) AS mtd_cost",
             "count(*) FILTER (WHERE bad IS NOT NULL) AS bad_n",
             "count(*) FILTER (WHERE bad IS NULL AND ts IS NULL) AS no_time_n",
             "count(*) AS total"]
    return f"SELECT {', '.join(cols)} FROM ({rel}) AS r"
