"""Telemetry files (JSONL, CSV, Parquet; local paths or s3://) analysed in DuckDB.

The only module importing duckdb. The record model's rules are the SQL of
:mod:`govctl.adapters.telemetry_sql`; here a file becomes a relation and the aggregate
query runs over it. Text formats are parsed once into a compact typed temporary table
(DuckDB spills it to disk past its memory limit), so the second query an analysis needs
(the canary's count above the stable p95) does not parse the file again; Parquet is
queried in place. No record reaches Python.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govctl.adapters import telemetry_sql as q
from govctl.errors import InputError

MEMORY_LIMIT = os.environ.get("GOVCTL_DUCKDB_MEMORY", "512MB")
_JSON_COLUMNS = "{" + ", ".join(f"'{f}': 'VARCHAR'" for f in q.FIELDS) + "}"
_LINES = ("read_csv({path}, columns={{'line': 'VARCHAR'}}, delim=chr(30), quote='', "
          "escape='', header=false, auto_detect=false, strict_mode=false)")
# JSONL read with these types and no type detection (a pass over the file of its own): a
# value that does not fit (text in a number field, an object) makes DuckDB refuse the
# file, and the next reader (every field as text, then line by line) takes over.
_TYPED = {"request_id": "VARCHAR", "version": "VARCHAR", "latency_ms": "DOUBLE",
          "error": "VARCHAR", "tokens_in": "DOUBLE", "tokens_out": "DOUBLE",
          "cost_usd": "DOUBLE", "quality": "DOUBLE"}
Window = tuple[float, float]


@dataclass
class Result:
    rows: list[dict[str, Any]]
    counter: Any
    queries: list[str] = field(default_factory=list)
    extra_total: int = 0
    extra_bad: dict[str, int] = field(default_factory=dict)


@dataclass
class Prepared:
    """A source parsed and checked (the expensive part, independent of the signed limits):
    ``rel`` is the SQL of its normalized records; :meth:`finish` aggregates them."""

    con: Any
    rel: str
    queries: list[str] = field(default_factory=list)
    extra_total: int = 0
    extra_bad: dict[str, int] = field(default_factory=dict)
    where: str = ""

    def finish(self, thresholds: dict[str, float]) -> Result:
        import duckdb

        con, rel, queries = self.con, self.rel, self.queries
        sql = q.aggregate("duckdb", rel, thresholds)
        queries.append(sql)
        try:
            rows = _fetch(con, sql)
        except (duckdb.Error, UnicodeDecodeError) as exc:  # Parquet is read here, in place
            raise InputError(f"{self.where}: not readable telemetry ({_first_line(exc)})"
                             ) from None

        def counter(version: str, column: str, threshold: float) -> int:
            stmt = q.count_above(rel, "$1", column, "$2")
            queries.append(stmt.replace("$1", _lit(version)).replace("$2", repr(threshold)))
            return int(con.execute(stmt, [version, threshold]).fetchone()[0])

        return Result(rows, counter, queries, self.extra_total, dict(self.extra_bad))


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _struct(types: dict[str, str]) -> str:
    return "{" + ", ".join(f"'{k}': '{v}'" for k, v in types.items()) + "}"


def connect() -> Any:
    """A connection for one analysis: bounded memory (spilling to a temporary directory
    removed at exit), UTC, S3-compatible storage from the environment."""
    import duckdb

    # DuckDB makes the directory only if it spills; removed at exit either way
    spill = os.path.join(tempfile.gettempdir(), f"govctl-duckdb-{uuid.uuid4().hex}")
    atexit.register(shutil.rmtree, spill, True)
    con = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": spill,
                                 "preserve_insertion_order": False})
    try:
        con.execute("SET TimeZone = 'UTC'")  # a timestamp without a zone is UTC
    except duckdb.Error:
        pass  # no ICU: zone-less timestamps are UTC already
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint:  # S3-compatible storage (MinIO, Ceph, R2): credentials from the environment
        host = endpoint.split("://", 1)[-1].rstrip("/")
        con.execute(f"SET s3_endpoint={_lit(host)}")
        con.execute(f"SET s3_use_ssl={'true' if endpoint.startswith('https') else 'false'}")
        con.execute("SET s3_url_style='path'")
    return con



def _fetch(con: Any, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def fmt_of(path: str) -> str:
    low = path.lower()
    for suffix, fmt in ((".jsonl", "json"), (".ndjson", "json"), (".json", "json"),
                        (".csv", "csv"), (".parquet", "parquet"), (".pq", "parquet")):
        if low.endswith(suffix):
            return fmt
    raise InputError(f"{path}: unknown telemetry format; use .jsonl, .csv, .parquet, "
                     "otlp:FILE, prometheus:URL, sql:URL#TABLE or mlflow:EXPERIMENT")


def aggregate(path: str, thresholds: dict[str, float], window: Window | None = None) -> Result:
    """The aggregates of a telemetry file; with ``window`` (since, until as seconds since
    the epoch), records outside it or without a timestamp are bad records."""
    return prepare(path, window).finish(thresholds)


def prepare(path: str, window: Window | None = None, con: Any = None) -> Prepared:
    """Parse and check a telemetry file (JSONL, CSV: into a temporary table; Parquet: in
    place); the slow part of an analysis, which needs neither the limits nor MLflow."""
    import duckdb

    con = con if con is not None else connect()
    fmt = fmt_of(path)
    p = _lit(path)
    try:
        if fmt == "parquet":
            return _in_place(con, f"read_parquet({p})", window, path)
        if fmt == "json":
            ts = {"timestamp": "VARCHAR"} if window else {}
            typed = f"read_json({p}, format='newline_delimited', columns={_struct({**_TYPED, **ts})})"
            kinds = {f: q.kind_of(t) for f, t in _TYPED.items()}
            try:
                return materialized(con, typed, window, kinds=kinds, ts_kind="text")
            except (duckdb.InvalidInputException, duckdb.ConversionException,
                    UnicodeDecodeError):  # DuckDB's error, its quote cut mid-character
                pass
            texts = {f: "VARCHAR" for f in (*q.FIELDS, *ts)}
            src = f"read_json({p}, format='newline_delimited', columns={_struct(texts)})"
            kinds = {f: "text" for f in q.FIELDS}
        else:
            src = f"read_csv({p}, all_varchar=true, header=true, delim=',', quote='\"')"
            kinds = None
        try:
            return materialized(con, src, window, kinds=kinds,
                                ts_kind="text" if kinds else None)
        except (duckdb.InvalidInputException, UnicodeDecodeError):
            pass  # a malformed line: count the bad ones instead of rejecting the file
        if fmt == "json":
            return _json_lines(con, p, window)
        return _csv_rejects(con, p, window)
    except duckdb.IOException as exc:
        raise InputError(f"{path}: cannot read the telemetry ({_first_line(exc)})") from None
    except (duckdb.Error, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not readable telemetry ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    # DuckDB quotes the offending line in its message, cut at a byte count: a cut through a
    # multi-byte character makes the message undecodable, and the Python binding raises
    # UnicodeDecodeError instead of DuckDB's own error
    if isinstance(exc, UnicodeDecodeError):
        return "DuckDB refused a line it could not quote"
    return (str(exc).splitlines() or [type(exc).__name__])[0][:300]


# A source's columns, described once per connection (an analysis asks for its kinds and its
# timestamp's kind). Keyed by the connection object itself, weakly: a key of id(con) outlived
# its connection, and a new connection at the same address was handed the columns of the
# file as it was read before (a CSV rewritten with a new column read as without it).
_DESCRIBED: weakref.WeakKeyDictionary[Any, dict[str, dict[str, str]]] = \
    weakref.WeakKeyDictionary()


def _columns(con: Any, src: str) -> dict[str, str]:
    seen = _DESCRIBED.setdefault(con, {})
    if src not in seen:
        seen[src] = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    return seen[src]


def _kinds(con: Any, src: str) -> dict[str, q.Kind | None]:
    cols = _columns(con, src)
    return {f: (q.kind_of(cols[f]) if f in cols else None) for f in q.FIELDS}


def _ts_kind(con: Any, src: str) -> str | None:
    cols = _columns(con, src)
    return q.ts_kind(cols["timestamp"]) if "timestamp" in cols else None


_RID = "CASE WHEN request_id IS NOT NULL THEN hash(request_id) END AS rid"
_ORDERED = "(SELECT *, row_number() OVER () AS _rn FROM {src}) AS s"
_DUP = ("request_id IS NOT NULL AND row_number() OVER (PARTITION BY CAST(request_id AS "
        "VARCHAR) ORDER BY _rn) > 1")


def materialized(con: Any, src: str, window: Window | None, extra_total: int = 0,
                 extra_bad: dict[str, int] | None = None, *,
                 kinds: Mapping[str, q.Kind | None] | None = None,
                 ts_kind: str | None = None) -> Prepared:
    """Parse ``src`` once into a compact typed temporary table of normalized records
    (DuckDB spills it to disk past its memory limit), to be aggregated: the canary's
    second question (how many requests above the stable p95) reads the table, not the
    file. ``kinds`` given: the column types are known (no DESCRIBE)."""
    if kinds is None:
        kinds, ts_kind = _kinds(con, src), (_ts_kind(con, src) if window else None)
    queries = []
    rid = (_RID,) if kinds["request_id"] else ()
    make = q.normalized("duckdb", kinds, src, extra=rid, window=window, ts_kind=ts_kind)
    con.execute(f"CREATE OR REPLACE TEMP TABLE t AS {make}")
    queries.append(f"CREATE TEMP TABLE t AS {make}")
    if kinds["request_id"]:
        dup = con.execute("SELECT count(rid) - count(DISTINCT rid) FROM t").fetchone()[0]
        queries.append("SELECT count(rid) - count(DISTINCT rid) FROM t")
        if dup:
            # repeated request ids (or a hash collision): the exact rule, first one kept
            con.execute("SET preserve_insertion_order=true")
            make = q.normalized("duckdb", kinds, _ORDERED.format(src=src), duplicates=_DUP,
                                window=window, ts_kind=ts_kind)
            con.execute(f"CREATE OR REPLACE TEMP TABLE t AS {make}")
            queries.append(f"CREATE TEMP TABLE t AS {make}")
    return Prepared(con, "SELECT * FROM t", queries, extra_total, dict(extra_bad or {}))


def _in_place(con: Any, src: str, window: Window | None, path: str) -> Prepared:
    kinds = _kinds(con, src)
    queries: list[str] = []
    dup = None
    if kinds["request_id"]:
        check = (f"SELECT count(request_id) - count(DISTINCT hash(CAST(request_id AS VARCHAR))) "
                 f"FROM {src}")
        queries.append(check)
        if con.execute(check).fetchone()[0]:
            src, dup = _ORDERED.format(src=src), _DUP
    rel = q.normalized("duckdb", kinds, src, duplicates=dup, window=window,
                       ts_kind=_ts_kind(con, src) if window else None)
    return Prepared(con, rel, queries, where=path)


def _json_lines(con: Any, p: str, window: Window | None) -> Prepared:
    """JSONL with malformed lines: each line is checked, and a bad one counted by reason."""
    lines = (f"(SELECT line, CASE WHEN json_valid(line) THEN json_type(line) END AS jt "
             f"FROM {_LINES.format(path=p)} WHERE line IS NOT NULL AND trim(line) <> '') AS l")
    counts = con.execute(
        "SELECT count(*) FILTER (WHERE jt IS NULL), count(*) FILTER (WHERE jt <> 'OBJECT') "
        f"FROM {lines}").fetchone()
    bad = {k: int(v) for k, v in (("invalid JSON", counts[0]),
                                  ("not a JSON object", counts[1])) if v}
    src = f"(SELECT {', '.join(_EXTRACT)} FROM {lines} WHERE jt = 'OBJECT') AS lines"
    return materialized(con, src, window, sum(bad.values()), bad,
                        kinds={f: "text" for f in q.FIELDS}, ts_kind="text")


def _csv_rejects(con: Any, p: str, window: Window | None) -> Prepared:
    """CSV with ragged lines: DuckDB sets them aside; each is one bad record."""
    src = (f"read_csv({p}, all_varchar=true, header=true, delim=',', quote='\"', "
           "ignore_errors=true, store_rejects=true)")
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw AS SELECT * FROM {src}")
    rejected = con.execute("SELECT count(DISTINCT line) FROM reject_errors").fetchone()[0]
    bad = {"malformed CSV line": int(rejected)} if rejected else {}
    return materialized(con, "raw", window, int(rejected), bad)


def query_windows(path: str, build: Any) -> dict[str, Any]:
    """Run one query over the file's normalized records (with ``ts``); ``build(rel)``
    returns the SQL. One pass, nothing materialised."""
    import duckdb

    from govctl.adapters import slo_sql

    con = connect()
    fmt = fmt_of(path)
    p = _lit(path)
    srcs = {"parquet": [f"read_parquet({p})"],
            "json": [f"read_json({p}, format='newline_delimited', columns={_JSON_TS})",
                     f"(SELECT {', '.join(_EXTRACT)} FROM {_LINES.format(path=p)} WHERE "
                     "line IS NOT NULL AND json_valid(line) AND "
                     "json_type(CASE WHEN json_valid(line) THEN line END) = 'OBJECT') AS l"],
            "csv": [f"read_csv({p}, all_varchar=true, header=true, delim=',', quote='\"', "
                    "ignore_errors=true)"]}[fmt]
    last: Exception | None = None
    for src in srcs:
        try:
            kinds = _kinds(con, src)
            ts_kind = _kinds_ts(con, src)
            rel = q.normalized("duckdb", kinds, src,
                               extra=(slo_sql.timestamp_expr("duckdb", ts_kind),))
            return _fetch(con, build(rel))[0]
        except duckdb.InvalidInputException as exc:
            last = exc
        except (duckdb.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not readable telemetry ({_first_line(exc)})") from None
    raise InputError(f"{path}: not readable telemetry ({_first_line(last or Exception())})")


_JSON_TS = _JSON_COLUMNS[:-1] + ", 'timestamp': 'VARCHAR'}"
_EXTRACT = [f"json_extract_string(line, '$.{f}') AS {f}" for f in (*q.FIELDS, "timestamp")]


def _kinds_ts(con: Any, src: str) -> q.Kind | None:
    cols = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    return q.kind_of(cols["timestamp"]) if "timestamp" in cols else None
