"""Telemetry in a warehouse table, analysed by the warehouse: ``sql:URL#TABLE``.

The URL is an SQLAlchemy URL (``postgresql+psycopg://user@host/db``); the table holds the
record model's columns (docs/telemetry.md). The same aggregate SQL as for files runs there
(:mod:`govctl.adapters.telemetry_sql`, PostgreSQL dialect); only the per-version
aggregates come back. Credentials in the URL are never printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from govctl.adapters import telemetry_sql as q
from govctl.errors import ExternalError, InputError, NotFound

_TABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$")


@dataclass
class Result:
    rows: list[dict[str, Any]]
    counter: Any
    queries: list[str] = field(default_factory=list)
    extra_total: int = 0
    extra_bad: dict[str, int] = field(default_factory=dict)
    counts: dict[tuple[str, str, float], int] = field(default_factory=dict)


def _split(spec: str) -> tuple[str, str | None, str]:
    url, sep, table = spec.rpartition("#")
    if not sep or not url or not _TABLE.match(table):
        raise InputError("a warehouse telemetry source is sql:URL#TABLE (e.g. "
                         "sql:postgresql+psycopg://user@host/db#telemetry or "
                         "...#schema.table)")
    schema, _, name = table.rpartition(".")
    return url, schema or None, name


def display(source: str) -> str:
    """The source with any password in the URL masked."""
    return re.sub(r"(://[^:/@#]+):[^@/#]*@", r"\1:***@", source)


def aggregate(spec: str, thresholds: dict[str, float],
              window: tuple[float, float] | None = None) -> Result:
    """The aggregates of a warehouse table; with ``window`` (since, until as seconds since
    the epoch), rows outside it or without a timestamp are bad records (the rule is in the
    query, so the warehouse applies it)."""
    return prepare(spec, window).finish(thresholds)


@contextmanager
def _errors(sa: Any, where: str) -> Iterator[None]:
    try:
        yield
    except sa.exc.OperationalError as exc:
        raise ExternalError(f"{where}: cannot reach the warehouse "
                            f"({str(exc.orig).splitlines()[0][:200]})") from None
    except sa.exc.DataError as exc:  # e.g. a timestamp the regular expression let through
        raise InputError(f"{where}: a value the analysis cannot read "
                         f"({str(exc.orig).splitlines()[0][:200]})") from None


@dataclass
class Prepared:
    """The table inspected and its quantiles computed (a pass of its own, which needs no
    limits); :meth:`finish` runs the rest as one hash aggregate."""

    sa: Any
    engine: Any
    rel: str
    where: str
    queries: list[str]
    latency_q: dict[str, list[float]]
    jit: bool = False

    def finish(self, thresholds: dict[str, float], latency_factor: float | None = None
               ) -> Result:
        """``latency_factor``: also count each version's good records above each version's
        p95 x the factor (the canary's comparison with the stable version), in the same
        pass, so that no further scan asks for it."""
        sa, engine, rel, queries = self.sa, self.engine, self.rel, self.queries
        sql = q.aggregate("postgresql", rel, thresholds, with_quantiles=False)
        relative: dict[str, float] = {}
        if latency_factor is not None and len(self.latency_q) <= 8:
            p95 = q.QUANTILES.index(0.95)
            relative = {f"rel_{i}": float(qs[p95]) * latency_factor
                        for i, qs in enumerate(self.latency_q.values()) if qs}
            # a version's row holds its good records only (grouped by the bad reason)
            extra = ", ".join(f"count(*) FILTER (WHERE latency_ms > {t!r}) AS {name}"
                              for name, t in relative.items())
            if extra:
                sql = sql.replace(" FROM (", f", {extra} FROM (", 1)
        queries.append(sql)
        try:
            with _errors(sa, self.where), engine.connect() as conn:
                _tune(sa, conn, self.jit)
                # a handful of versions and reasons: hash them. The planner cannot count
                # the reasons (an expression) and would sort every row by them instead.
                conn.execute(sa.text("SET enable_sort = off"))
                rows = [dict(r._mapping) for r in conn.execute(sa.text(sql))]
        finally:
            engine.dispose()
        counts = {}
        for r in rows:
            r["latency_q"] = self.latency_q.get(r["version"], []) if r["bad"] is None else []
            if r["bad"] is None:
                for name, t in relative.items():
                    counts[(str(r["version"]), "latency_ms", t)] = int(r[name])

        def counter(version: str, column: str, threshold: float) -> int:
            stmt = q.count_above(rel, ":v", column, ":t")
            queries.append(stmt.replace(":v", "'" + version.replace("'", "''") + "'")
                           .replace(":t", repr(threshold)))
            try:
                with _errors(sa, self.where), engine.connect() as c:
                    _tune(sa, c, self.jit)
                    return int(c.execute(sa.text(stmt), {"v": version, "t": threshold}
                                         ).scalar())
            finally:
                engine.dispose()

        return Result(rows, counter, queries, counts=counts)


def prepare(spec: str, window: tuple[float, float] | None = None,
            quantiles: Literal["auto", "sort", "counts"] = "auto") -> Prepared:
    """Inspect the table and compute its latency quantiles. ``quantiles``: ``"sort"``
    (percentile_cont), ``"counts"`` (:func:`telemetry_sql.quantiles_from_counts`, the same
    numbers) or ``"auto"``: counts when the table's statistics say few distinct latencies
    (:func:`by_counts`)."""
    import sqlalchemy as sa

    url, schema, table = _split(spec)
    where = display("sql:" + spec)
    try:
        engine = sa.create_engine(url)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise InputError(f"{where}: not a usable database URL "
                         f"({type(exc).__name__})") from None
    if engine.dialect.name != "postgresql":
        raise InputError(f"{where}: govctl runs the analysis SQL on PostgreSQL-compatible "
                         f"warehouses; {engine.dialect.name} is not one yet (docs/telemetry.md "
                         "shows the mapping)")
    try:
        with _errors(sa, where), engine.connect() as conn:
            return _prepare(sa, conn, schema, table, where, window, quantiles)
    finally:
        engine.dispose()


# A table estimated to hold at least this many rows is scanned with JIT-compiled
# expressions (the bad-record reasons, on every row)
JIT_MIN_ROWS = 5_000_000
_JIT = ("SET jit = on", "SET jit_above_cost = 0", "SET jit_optimize_above_cost = 0",
        "SET jit_inline_above_cost = -1")


def _tune(sa: Any, conn: Any, jit: bool = False) -> None:
    """JIT off, or (``jit``) on without inlining. PostgreSQL's own thresholds compile
    these one-off queries, inlining too, for seconds in every worker (measured: 3 s of a
    7 s query on 2M rows); the planner's costs cannot tell, since a disabled sort adds
    its penalty to them. Compiled without inlining, the expressions cost 0.1-1 s per
    process and make a scan of 10M rows 10-30% faster, hence only for big tables."""
    try:
        for stmt in _JIT if jit else ("SET jit = off",):
            conn.execute(sa.text(stmt))
    except sa.exc.DBAPIError:  # a server without the setting (PostgreSQL < 11, others)
        conn.rollback()


def _prepare(sa: Any, conn: Any, schema: str | None, table: str, where: str,
             window: tuple[float, float] | None, quantiles: str) -> Prepared:
    insp = sa.inspect(conn)
    if not insp.has_table(table, schema=schema):
        raise NotFound(f"{where}: no table {table!r}" + (f" in schema {schema!r}" if schema
                                                          else ""))
    cols = {c["name"]: str(c["type"]) for c in insp.get_columns(table, schema=schema)}
    kinds = {f: (q.kind_of(cols[f]) if f in cols else None) for f in q.FIELDS}
    src = (q.quote(schema) + "." if schema else "") + q.quote(table)
    queries: list[str] = []
    dup = None
    if kinds["request_id"] and not _unique(insp, schema, table):
        check = f"SELECT count(request_id) - count(DISTINCT request_id) FROM {src}"
        queries.append(check)
        if conn.execute(sa.text(check)).scalar():
            order = "timestamp NULLS LAST, ctid" if "timestamp" in cols else "ctid"
            dup = (f"request_id IS NOT NULL AND row_number() OVER (PARTITION BY request_id "
                   f"ORDER BY {order}) > 1")
    ts_kind = q.ts_kind(cols["timestamp"]) if "timestamp" in cols else None
    rel = q.normalized("postgresql", kinds, src, duplicates=dup, window=window,
                       ts_kind=ts_kind)
    stats = _stats(sa, conn, src, queries)
    counted = by_counts(*stats) if quantiles == "auto" else quantiles == "counts"
    jit = stats[0] is not None and stats[0] >= JIT_MIN_ROWS
    _tune(sa, conn, jit)
    # two statements, each one pass: the quantiles and the rest (a hash aggregate), rather
    # than sorting every column for the ordered-set aggregate. The quantiles: from each
    # version's count of every distinct latency (a hash aggregate; sorting is what the
    # planner would pick, misled by the bad-record filter) when the table's statistics say
    # there are few, else percentile_cont sorting (version, latency) only
    if counted:
        conn.execute(sa.text("SET LOCAL enable_sort = off"))
    sql = q.quantiles_from_counts(rel) if counted else q.quantiles(rel)
    queries.append(sql)
    latency_q = {r[0]: list(r[1]) for r in conn.execute(sa.text(sql))}
    return Prepared(sa, conn.engine, rel, where, queries, latency_q, jit)


# The counts of distinct latencies replace the sort when the table has at least this many
# rows (below, sorting is cheap anyway) and at most a twentieth as many (version, latency)
# pairs, as estimated from the table's statistics (ANALYZE; none: sort)
COUNTS_MIN_ROWS = 100_000
COUNTS_MAX_SHARE = 1 / 20


def by_counts(rows: float | None, latencies: float | None, versions: float | None) -> bool:
    """Whether the quantiles are cheaper from counts of distinct latencies, given the
    table's estimated rows and ``pg_stats.n_distinct`` of latency_ms and version (a
    negative n_distinct is a fraction of the rows; None: not analysed)."""
    if rows is None or latencies is None or rows < COUNTS_MIN_ROWS:
        return False

    def distinct(nd: float) -> float:
        return -nd * rows if nd < 0 else nd

    pairs = distinct(latencies) * max(1.0, distinct(versions) if versions is not None else 1.0)
    return pairs <= rows * COUNTS_MAX_SHARE


_STATS = ("SELECT c.reltuples, {latency}, {version} FROM pg_class c WHERE c.oid = "
          "to_regclass(:t)")
_N_DISTINCT = ("(SELECT s.n_distinct FROM pg_stats s JOIN pg_namespace ns ON ns.nspname = "
               "s.schemaname WHERE ns.oid = c.relnamespace AND s.tablename = c.relname AND "
               "s.attname = '{column}' ORDER BY s.inherited DESC LIMIT 1)")


def _stats(sa: Any, conn: Any, src: str, queries: list[str]
           ) -> tuple[float | None, float | None, float | None]:
    """The planner's statistics of the table: rows, n_distinct of latency_ms and version
    (None where unknown: never analysed, a view, a warehouse without pg_stats)."""
    sql = _STATS.format(latency=_N_DISTINCT.format(column="latency_ms"),
                        version=_N_DISTINCT.format(column="version"))
    queries.append(sql.replace(":t", "'" + src.replace("'", "''") + "'"))
    try:
        row = conn.execute(sa.text(sql), {"t": src}).first()
    except sa.exc.DBAPIError:
        conn.rollback()
        return None, None, None
    if row is None or row[0] is None or row[0] < 0:  # -1: never analysed (PostgreSQL 14+)
        return None, None, None
    return float(row[0]), _float(row[1]), _float(row[2])


def _float(x: Any) -> float | None:
    return None if x is None else float(x)


def _unique(insp: Any, schema: str | None, table: str) -> bool:
    """True when the table itself guarantees one row per request_id (no check needed)."""
    if insp.get_pk_constraint(table, schema=schema).get("constrained_columns") == ["request_id"]:
        return True
    if any(u["column_names"] == ["request_id"]
           for u in insp.get_unique_constraints(table, schema=schema)):
        return True
    return any(i.get("unique") and i["column_names"] == ["request_id"]
               for i in insp.get_indexes(table, schema=schema))


def query_windows(spec: str, build: Any) -> dict[str, Any]:
    """One query over the table's normalized records (with ``ts``); ``build(rel)`` is the SQL."""
    import sqlalchemy as sa

    from govctl.adapters import slo_sql

    url, schema, table = _split(spec)
    where = display("sql:" + spec)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            insp = sa.inspect(conn)
            if not insp.has_table(table, schema=schema):
                raise NotFound(f"{where}: no table {table!r}")
            cols = {c["name"]: str(c["type"]) for c in insp.get_columns(table, schema=schema)}
            kinds = {f: (q.kind_of(cols[f]) if f in cols else None) for f in q.FIELDS}
            src = (q.quote(schema) + "." if schema else "") + q.quote(table)
            ts = slo_sql.timestamp_expr("postgresql", q.kind_of(cols["timestamp"])
                                        if "timestamp" in cols else None)
            rel = q.normalized("postgresql", kinds, src, extra=(ts,))
            return dict(conn.execute(sa.text(build(rel))).one()._mapping)
    except sa.exc.OperationalError as exc:
        raise ExternalError(f"{where}: cannot reach the warehouse "
                            f"({str(exc.orig).splitlines()[0][:200]})") from None
    finally:
        engine.dispose()
