"""Canary analysis as SQL: the record model's validation and the aggregates every check
needs, for DuckDB (files) and PostgreSQL-compatible warehouses. Pure string building; the
engines (:mod:`govctl.adapters.duckdb_engine`, :mod:`govctl.adapters.warehouse`) run it.

A source column is one of ``bool``, ``int``, ``num`` (floating), ``text`` or missing; the
expressions below turn each into what the in-memory reader makes of it, so a record is
good or bad, and for the same reason, whichever engine reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

Dialect = Literal["duckdb", "postgresql"]
Kind = Literal["bool", "int", "num", "text"]

FIELDS = ("request_id", "version", "latency_ms", "error", "tokens_in", "tokens_out",
          "cost_usd", "quality")
OPTIONAL = ("cost_usd", "tokens_in", "tokens_out", "quality")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99)

# the first reason that applies is the one counted (as in govctl.release.telemetry)
REASONS = ("duplicate request_id", "missing version", "missing or invalid latency_ms",
           "cost, tokens or quality not a finite number", "missing or invalid error flag",
           "quality outside 0-1", "negative cost or tokens",
           "cost, tokens or quality not a number")
# with a step window (since, until), after the reasons above
WINDOW_REASONS = ("missing timestamp", "unreadable timestamp",
                  "timestamp before this step began", "timestamp after now")
# ISO 8601 as the in-memory reader takes it: a date, T or space, a time (one-digit hour
# too), optional fraction, optional Z, +hh:mm or +hhmm (none: UTC)
_ISO = (r"^[0-9]{4}-((0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-9])|(0[13-9]|1[0-2])-30|"
        r"(0[13578]|1[02])-31)[T ]([01]?[0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?"
        r"(Z|[+-][0-9]{2}:?[0-9]{2})?$")
_ZONED = r"(Z|[+-][0-9]{2}:?[0-9]{2})$"

_DIGITS = r"[0-9]+(\.[0-9]*)?"  # seconds or milliseconds, as written most of the time
_DIGIT_SET = "(" + ", ".join(f"'{i}'" for i in range(10)) + ")"  # not a range: collations
_NUMBER = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ts_kind(type_name: str) -> str:
    """The ``timestamp`` column's kind: ``time`` for a date/time type, else as
    :func:`kind_of`."""
    t = type_name.upper()
    if "TIMESTAMP" in t or t.startswith(("DATE", "TIME")):
        return "time"
    return kind_of(type_name)


def kind_of(type_name: str) -> Kind:
    """A column's kind from its SQL type name (DuckDB's or a warehouse's)."""
    t = type_name.upper()
    if t.startswith("BOOL"):
        return "bool"
    if any(x in t for x in ("INT", "HUGEINT")) and "INTERVAL" not in t:
        return "int"
    if any(x in t for x in ("DOUBLE", "FLOAT", "REAL", "DECIMAL", "NUMERIC")):
        return "num"
    return "text"


def _text(d: Dialect, expr: str) -> str:
    return f"CAST({expr} AS {'VARCHAR' if d == 'duckdb' else 'TEXT'})"


def _double(d: Dialect, c: str, kind: Kind | None) -> str:
    if kind is None:
        return "CAST(NULL AS DOUBLE PRECISION)"
    if kind in ("int", "num"):
        return f"CAST({c} AS DOUBLE PRECISION)"
    if kind == "bool":
        return "CAST(NULL AS DOUBLE PRECISION)"
    if d == "duckdb":
        return f"TRY_CAST({c} AS DOUBLE)"
    return (f"CASE WHEN {c} ~ '{_NUMBER}' OR lower(trim({c})) IN ('nan', 'inf', 'infinity', "
            f"'-inf', '-infinity') THEN CAST({c} AS DOUBLE PRECISION) END")


def _error(d: Dialect, c: str, kind: Kind | None) -> str:
    if kind is None:
        return "CAST(NULL AS BOOLEAN)"
    if kind == "bool":
        return c
    if kind == "int":
        return f"CASE WHEN {c} IN (0, 1) THEN {c} = 1 END"
    text = _text(d, c)
    # as written most of the time first, without lower()'s copy of every value
    return (f"CASE WHEN {text} IN ('true', '1') THEN TRUE WHEN {text} IN ('false', '0') THEN "
            f"FALSE WHEN lower({text}) IN ('true', '1') THEN TRUE WHEN lower({text}) IN "
            "('false', '0') THEN FALSE END")


def _isnan(d: Dialect, expr: str) -> str:
    return f"isnan({expr})" if d == "duckdb" else f"({expr} = 'NaN'::double precision)"


def _nonfinite(d: Dialect, expr: str) -> str:
    if d == "duckdb":
        return f"NOT isfinite({expr})"
    return (f"({expr} IN ('NaN'::double precision, 'Infinity'::double precision, "
            f"'-Infinity'::double precision))")


def timestamp(d: Dialect, kind: str | None) -> tuple[str, str]:
    """SQL for the ``timestamp`` column as the in-memory reader reads it: (is it missing,
    seconds since the epoch or NULL if unreadable). Numbers are seconds, or milliseconds
    above 1e11 (MLflow); text is ISO 8601 (``Z``, an offset, or none: UTC) or a number;
    date/time columns are taken as they are (without a zone: UTC). Milliseconds kept."""
    c = quote("timestamp")
    if kind is None:
        return "TRUE", "CAST(NULL AS DOUBLE PRECISION)"
    if kind in ("int", "num"):
        x = f"CAST({c} AS DOUBLE PRECISION)"
        return f"{c} IS NULL", f"CASE WHEN {x} > 1e11 THEN {x} / 1000 ELSE {x} END"
    if kind == "bool":
        return f"{c} IS NULL", "CAST(NULL AS DOUBLE PRECISION)"
    if kind == "time":
        if d == "duckdb":
            return f"{c} IS NULL", f"epoch_ms(CAST({c} AS TIMESTAMPTZ)) / 1000.0"
        return f"{c} IS NULL", f"floor(extract(epoch FROM {c}) * 1000) / 1000.0"
    if d == "duckdb":
        def parse(t: str) -> str:
            x = f"TRY_CAST({t} AS DOUBLE)"
            return (f"CASE WHEN regexp_full_match({t}, '{_ISO}') THEN epoch_ms(TRY_CAST({t} AS "
                    f"TIMESTAMPTZ)) / 1000.0 ELSE (CASE WHEN {x} > 1e11 THEN {x} / 1000 ELSE "
                    f"{x} END) END")

        # the common forms first, as they are; a failed cast to a number costs more than
        # the expression test, and trimming copies every value
        t = _text(d, c)
        x = f"TRY_CAST({t} AS DOUBLE)"
        epoch = (f"CASE WHEN regexp_full_match({t}, '{_ISO}') THEN epoch_ms(TRY_CAST({t} AS "
                 f"TIMESTAMPTZ)) / 1000.0 WHEN regexp_full_match({t}, '{_DIGITS}') THEN "
                 f"(CASE WHEN {x} > 1e11 THEN {x} / 1000 ELSE {x} END) ELSE "
                 f"{parse(f'trim({t})')} END")
        return f"({c} IS NULL OR {t} = '')", epoch
    t = f"trim({_text(d, c)})"
    num = _double(d, t, "text")
    # once the ISO expression matched, the zone is a Z or a +hh:mm/+hhmm at the end (the
    # time's last five characters hold no sign otherwise): no second expression
    zoned = (f"CASE WHEN right({t}, 1) = 'Z' OR substr({t}, length({t}) - 5, 1) IN ('+', '-') "
             f"OR substr({t}, length({t}) - 4, 1) IN ('+', '-') THEN CAST({t} AS "
             f"TIMESTAMPTZ) ELSE CAST({t} AS TIMESTAMP) AT TIME ZONE 'UTC' END")
    iso = (f"CASE WHEN {t} ~ '{_ISO}' THEN floor(extract(epoch FROM {zoned}) * 1000) "
           "/ 1000.0 END")
    # a digit then '-' as the 4th and 5th characters is no number (a sign there follows an
    # 'e'): the usual ISO text skips the number test
    return (f"({c} IS NULL OR {_text(d, c)} = '')",
            f"CASE WHEN substr({t}, 5, 1) = '-' AND substr({t}, 4, 1) IN {_DIGIT_SET} "
            f"THEN {iso} WHEN {num} IS NOT NULL THEN (CASE WHEN {num} > 1e11 THEN {num} / 1000 "
            f"ELSE {num} END) ELSE {iso} END")


Window = tuple[float, float]  # (since, until), seconds since the epoch


def normalized(d: Dialect, kinds: Mapping[str, Kind | None], src: str, *,
               duplicates: str | None = None, where: str | None = None,
               extra: tuple[str, ...] = (), window: Window | None = None,
               ts_kind: str | None = None) -> str:
    """SELECT over ``src`` yielding ``version, latency_ms, error, cost_usd, tokens_in,
    tokens_out, quality, bad`` (bad: the reason, NULL for a good record).

    ``duplicates``: an SQL boolean expression over ``src`` marking a repeated request_id
    (None: the caller proved there are none). ``window`` (since, until): a record without
    a readable ``timestamp`` (of kind ``ts_kind``) in since <= t <= until is bad, by the
    reasons of :data:`WINDOW_REASONS`, as in the in-memory reader."""
    c = {f: quote(f) for f in FIELDS}
    num = {f: _double(d, c[f], kinds.get(f)) for f in ("latency_ms", *OPTIONAL)}
    version = _text(d, c["version"]) if kinds.get("version") else "CAST(NULL AS VARCHAR)"
    unreadable = " OR ".join(
        f"({c[f]} IS NOT NULL AND {num[f]} IS NULL)" for f in OPTIONAL
        if kinds.get(f) in ("text", "bool")) or "FALSE"
    # inner: each cast once; outer: the reasons over the cast values
    inner = [f"{version} AS version", *(f"{num[f]} AS {f}" for f in ("latency_ms", *OPTIONAL)),
             f"{_error(d, c['error'], kinds.get('error'))} AS error",
             f"{unreadable} AS unreadable_", f"{duplicates or 'FALSE'} AS duplicate_", *extra]
    # only a floating or text column can hold NaN or an infinity (an integer or boolean
    # column's value, cast, is finite or NULL): no test for the others, on every row
    floating = [f for f in OPTIONAL if kinds.get(f) in ("num", "text")]
    latency = ("latency_ms IS NULL OR latency_ms < 0"
               + (f" OR {_nonfinite(d, 'latency_ms')}"
                  if kinds.get("latency_ms") in ("num", "text") else ""))
    conds = [
        "duplicate_" if duplicates else "FALSE",
        "version IS NULL OR version = ''",
        latency,
        " OR ".join(_nonfinite(d, f) for f in floating) or "FALSE",
        "error IS NULL",
        "quality < 0 OR quality > 1",
        "cost_usd < 0 OR tokens_in < 0 OR tokens_out < 0",
        "unreadable_" if unreadable != "FALSE" else "FALSE",
    ]
    texts = list(REASONS)
    if window is not None:
        missing, epoch = timestamp(d, ts_kind)
        inner += [f"{missing} AS ts_missing_", f"{epoch} AS ts_"]
        since, until = (_literal(w) for w in window)
        conds += ["ts_missing_", "ts_ IS NULL", f"ts_ < {since}", f"ts_ > {until}"]
        texts += WINDOW_REASONS
    reason = "CASE " + " ".join(f"WHEN {cond} THEN '{text}'" for cond, text in
                                zip(conds, texts, strict=True) if cond != "FALSE") + " END"
    names = [e.rsplit(" AS ", 1)[1] for e in extra]
    cols = ["version", "latency_ms", "error", *OPTIONAL, f"{reason} AS bad", *names]
    body = f"SELECT {', '.join(inner)} FROM {src}" + (f" WHERE {where}" if where else "")
    if window is not None and d == "postgresql":
        # a fence: PostgreSQL would pull the subquery up and parse the timestamp once per
        # reason that reads it (three times a record); OFFSET 0 keeps each cast to once
        body += " OFFSET 0"
    return f"SELECT {', '.join(cols)} FROM ({body}) AS n"


def _literal(x: float) -> str:
    return repr(float(x)) if x == x and abs(x) != float("inf") else "NULL"


def quantiles(rel: str) -> str:
    """PostgreSQL: the good records' latency quantiles per version, on its own. An
    ordered-set aggregate makes PostgreSQL sort its input by the groups; sorting only
    (version, latency_ms) is much cheaper than sorting every column the other aggregates
    read, which then run as a hash aggregate (:func:`aggregate` with quantiles=False)."""
    qs = ", ".join(str(q) for q in QUANTILES)
    return (f"SELECT version, percentile_cont(ARRAY[{qs}]) WITHIN GROUP (ORDER BY "
            f"latency_ms) AS latency_q FROM ({rel}) AS r WHERE bad IS NULL GROUP BY version")


def quantiles_from_counts(rel: str) -> str:
    """PostgreSQL: the same quantiles as :func:`quantiles`, to the bit, from each version's
    count of every distinct latency (a hash aggregate, no sort of the records): cheaper
    when the latencies take few distinct values (whole or tenths of milliseconds).

    percentile_cont's rule, done here on the counts: with ``n`` values sorted, ``pos =
    p * (n - 1)``, ``lo``/``hi`` the values at rows ``floor(pos)``/``ceil(pos)`` (0-based),
    the quantile is ``lo + (pos - floor(pos)) * (hi - lo)``, or ``lo`` when the rows are
    the same; the value at row ``k`` is the least whose running count exceeds ``k``."""
    def pos(p: float) -> str:
        return f"(CAST({p} AS DOUBLE PRECISION) * CAST(n - 1 AS DOUBLE PRECISION))"

    picks = ", ".join(
        f"min(x) FILTER (WHERE upto > floor({pos(p)})) AS lo_{i}, "
        f"min(x) FILTER (WHERE upto > ceil({pos(p)})) AS hi_{i}"
        for i, p in enumerate(QUANTILES))
    values = ", ".join(
        f"CASE WHEN ceil({pos(p)}) > floor({pos(p)}) THEN lo_{i} + (({pos(p)} - "
        f"floor({pos(p)})) * (hi_{i} - lo_{i})) ELSE lo_{i} END"
        for i, p in enumerate(QUANTILES))
    counts = (f"SELECT version, latency_ms AS x, count(*) AS c FROM ({rel}) AS r "
              "WHERE bad IS NULL GROUP BY version, latency_ms")
    running = ("SELECT version, x, CAST(sum(c) OVER (PARTITION BY version ORDER BY x) AS "
               "BIGINT) AS upto, CAST(sum(c) OVER (PARTITION BY version) AS BIGINT) AS n "
               f"FROM ({counts}) AS h")
    return (f"SELECT version, ARRAY[{values}] AS latency_q FROM (SELECT version, n, {picks} "
            f"FROM ({running}) AS w GROUP BY version, n) AS s")


def aggregate(d: Dialect, rel: str, thresholds: dict[str, float], *,
              with_quantiles: bool = True) -> str:
    """One row per version (good records) and per bad reason, with every statistic the
    checks need, plus ``above_<column>``: in a version's row, how many of its good records
    exceed the threshold."""
    good = "bad IS NULL"
    qs = ", ".join(str(q) for q in QUANTILES)
    if not with_quantiles:
        quant = "NULL"
    elif d == "duckdb":
        quant = f"quantile_cont(latency_ms, [{qs}]) FILTER (WHERE {good})"
    else:
        quant = (f"percentile_cont(ARRAY[{qs}]) WITHIN GROUP (ORDER BY latency_ms) "
                 f"FILTER (WHERE {good})")
    # grouped by the bad reason, a good record's row holds good records only: the counts
    # above a threshold need no test of ``bad`` (a bad reason's row has its own, unread)
    above = ", ".join(f"count(*) FILTER (WHERE {col} > {_literal(t)}) AS above_{col}"
                      for col, t in thresholds.items())
    return (
        f"SELECT CASE WHEN {good} THEN version END AS version, bad, count(*) AS n, "
        "count(*) FILTER (WHERE error) AS errors, "
        f"{quant} AS latency_q, "
        "count(cost_usd) AS cost_n, avg(cost_usd) AS cost_mean, "
        "stddev_pop(cost_usd) AS cost_std, "
        "count(tokens_in) AS tokens_in_n, max(tokens_in) AS tokens_in_max, "
        "count(tokens_out) AS tokens_out_n, max(tokens_out) AS tokens_out_max, "
        "avg(tokens_out) AS tokens_out_mean, "
        "count(quality) AS quality_n, avg(quality) AS quality_mean"
        + (f", {above}" if above else "")
        # grouped by the columns themselves (a bad reason's row per version; the caller
        # adds them up): the planner knows how few versions there are and hashes
        + f" FROM ({rel}) AS r GROUP BY r.version, r.bad")


def count_above(rel: str, version_param: str, column: str, threshold_param: str) -> str:
    """How many good records of a version have ``column`` above a threshold."""
    assert column in ("latency_ms", "tokens_in", "tokens_out", "cost_usd")
    return (f"SELECT count(*) FROM ({rel}) AS r WHERE version = {version_param} AND "
            f"{column} > {threshold_param} AND bad IS NULL")
