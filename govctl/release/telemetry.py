"""Per-request telemetry: readers for JSONL, CSV and MLflow traces, into columnar arrays.

One record per request: ``request_id``, ``version`` (the model version that served it),
``latency_ms``, ``error`` (true/false), ``tokens_in``, ``tokens_out``, ``cost_usd``,
``timestamp``, optional ``session_id`` and ``quality`` (0-1). Records that cannot be used
are counted by reason and reported, never silently dropped.

Reading dominates analysis time, so files go through polars (a vectorised reader); a file
with malformed lines falls back to a line-by-line reader that counts each bad line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from govctl.errors import InputError

FIELDS = ("request_id", "version", "latency_ms", "error", "tokens_in", "tokens_out",
          "cost_usd", "timestamp", "session_id", "quality")


@dataclass
class Variant:
    version: str
    latency_ms: np.ndarray
    error: np.ndarray
    cost_usd: np.ndarray
    tokens_in: np.ndarray
    tokens_out: np.ndarray
    quality: np.ndarray  # NaN where absent

    @property
    def n(self) -> int:
        return int(self.latency_ms.size)


@dataclass
class TelemetryBatch:
    source: str
    variants: dict[str, Variant]
    total: int
    bad: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    window: tuple[str, str] | None = None  # (since, until), ISO; records outside are bad

    @property
    def bad_total(self) -> int:
        return sum(self.bad.values())

    def variant(self, version: str) -> Variant:
        v = self.variants.get(str(version))
        if v is None:
            empty = np.empty(0)
            return Variant(str(version), empty, empty.astype(bool), empty, empty, empty, empty)
        return v

    def summary(self) -> dict[str, Any]:
        out = {"source": self.source, "records": self.total, "bad_records": self.bad,
               "per_version": {k: v.n for k, v in sorted(self.variants.items())}}
        if self.notes:
            out["notes"] = self.notes
        if self.window:
            out["window"] = {"since": self.window[0], "until": self.window[1]}
        return out


USED = ("version", "latency_ms", "error", "tokens_in", "tokens_out", "cost_usd", "quality")


def _error_flag(dtype: Any) -> Any:
    """An expression turning the ``error`` column, whatever JSON/CSV made of it, into
    True/False/None (None: unusable)."""
    import polars as pl

    col = pl.col("error")
    if dtype == pl.Boolean:
        return col
    if dtype.is_integer():
        return pl.when(col.is_in([0, 1])).then(col == 1).otherwise(None)
    text = col.cast(pl.Utf8, strict=False).str.to_lowercase()
    return (pl.when(text.is_in(["true", "1"])).then(True)
            .when(text.is_in(["false", "0"])).then(False).otherwise(None))


Window = tuple[datetime, datetime]


def _epoch_seconds() -> Any:
    """``timestamp`` as seconds since the epoch: ISO 8601 (``Z``, an offset, or naive UTC)
    or a number (seconds, or milliseconds as MLflow traces give them); null if unreadable."""
    import polars as pl

    c = pl.col("timestamp").cast(pl.Utf8, strict=False).str.strip_chars()
    iso = c.str.replace(r"Z$", "+00:00").str.replace(" ", "T").str.to_datetime(
        format="%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_zone="UTC")
    naive = c.str.replace(" ", "T").str.to_datetime(
        format="%Y-%m-%dT%H:%M:%S%.f", strict=False, time_zone="UTC")
    num = c.cast(pl.Float64, strict=False)
    return (pl.when(num.is_not_null())
            .then(pl.when(num > 1e11).then(num / 1000).otherwise(num))
            .otherwise(pl.coalesce(iso, naive).dt.epoch("ms") / 1000))


def _window_reasons(window: Window | None) -> list[tuple[str, Any]]:
    """A step is judged on its own window only: records from before it began (an earlier
    step, the previous release) or without a time cannot count for it."""
    import polars as pl

    if window is None:
        return []
    since, until = (w.timestamp() for w in window)
    ts = pl.col("_ts")
    raw = pl.col("_ts_raw")
    return [
        ("missing timestamp", raw.is_null() | (raw == "")),
        ("unreadable timestamp", ts.is_null()),
        ("timestamp before this step began", ts < since),
        ("timestamp after now", ts > until),
    ]


def _from_frame(frame: Any, source: str, total: int | None, bad: dict[str, int],
                window: Window | None = None) -> TelemetryBatch:
    """Validate and split a (lazy) polars frame into per-version numpy columns, counting
    unusable records by reason (with ``window``, records outside it too). One vectorised
    pass; no per-record Python."""
    import polars as pl

    from govctl.clock import to_iso

    lf = frame.lazy()
    schema = lf.collect_schema()
    missing = [c for c in (*USED, "request_id", "timestamp") if c not in schema]
    if missing:
        lf = lf.with_columns([pl.lit(None).alias(c) for c in missing])
        schema = lf.collect_schema()
    optional = ("cost_usd", "tokens_in", "tokens_out", "quality")
    num = [pl.col(c).cast(pl.Float64, strict=False) for c in ("latency_ms", *optional)]
    # an optional number that is present but not a number is a bad record, not a null
    unreadable = pl.lit(False)
    for c in optional:
        if not schema[c].is_numeric():
            unreadable = unreadable | (pl.col(c).is_not_null()
                                       & pl.col(c).cast(pl.Float64, strict=False).is_null())
    rid = pl.col("request_id").cast(pl.Utf8, strict=False)
    lf = lf.select(
        pl.col("version").cast(pl.Utf8, strict=False),
        *num,
        _error_flag(schema["error"]).alias("error"),
        unreadable.alias("_unreadable"),
        (rid.is_not_null() & ~rid.is_first_distinct()).alias("_duplicate"),
        pl.col("timestamp").cast(pl.Utf8, strict=False).alias("_ts_raw"),
        _epoch_seconds().alias("_ts"),
    )
    reasons = [
        ("duplicate request_id", pl.col("_duplicate")),
        ("missing version", pl.col("version").is_null() | (pl.col("version") == "")),
        ("missing or invalid latency_ms", pl.col("latency_ms").is_null()
         | (pl.col("latency_ms") < 0) | ~pl.col("latency_ms").is_finite()),
        # Infinity, NaN, 1e999: never a measurement (would turn a p95 into NaN)
        ("cost, tokens or quality not a finite number", pl.any_horizontal(
            [(~pl.col(c).is_finite()).fill_null(False) for c in optional])),
        ("missing or invalid error flag", pl.col("error").is_null()),
        ("quality outside 0-1", (pl.col("quality") < 0) | (pl.col("quality") > 1)),
        ("negative cost or tokens", (pl.col("cost_usd") < 0) | (pl.col("tokens_in") < 0)
         | (pl.col("tokens_out") < 0)),
        ("cost, tokens or quality not a number", pl.col("_unreadable")),
        *_window_reasons(window),
    ]
    # the first reason that applies is the one counted
    reason = pl.lit(None, dtype=pl.Utf8)
    for text, cond in reversed(reasons):
        reason = pl.when(cond.fill_null(False)).then(pl.lit(text)).otherwise(reason)
    df = lf.with_columns(reason.alias("_bad")).collect()
    counts = df.get_column("_bad").drop_nulls().value_counts()
    for text, n in counts.iter_rows():
        bad[text] = bad.get(text, 0) + int(n)
    good = df.filter(pl.col("_bad").is_null())
    variants = {}
    for (version,), part in good.partition_by("version", as_dict=True).items():
        variants[str(version)] = Variant(
            str(version),
            part.get_column("latency_ms").to_numpy(),
            part.get_column("error").to_numpy().astype(bool),
            part.get_column("cost_usd").fill_null(np.nan).to_numpy(),
            part.get_column("tokens_in").fill_null(np.nan).to_numpy(),
            part.get_column("tokens_out").fill_null(np.nan).to_numpy(),
            part.get_column("quality").fill_null(np.nan).to_numpy(),
        )
    span = (to_iso(window[0]), to_iso(window[1])) if window else None
    return TelemetryBatch(source, variants, df.height if total is None else total, bad,
                          window=span)


def _read_lines(path: Path) -> tuple[Any, int, dict[str, int]]:
    import orjson
    import polars as pl

    rows: list[Any] = []
    bad: dict[str, int] = {}
    total = 0
    with path.open("rb") as fh:
        for line in fh:
            if not line.strip():
                continue
            total += 1
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                bad["invalid JSON"] = bad.get("invalid JSON", 0) + 1
                continue
            if not isinstance(rec, dict):
                bad["not a JSON object"] = bad.get("not a JSON object", 0) + 1
                continue
            rows.append({k: (None if rec.get(k) is None else str(rec.get(k))) for k in FIELDS})
    return pl.DataFrame(rows, schema={k: pl.Utf8 for k in FIELDS}), total, bad


def read_jsonl(path: Path, window: Window | None = None) -> TelemetryBatch:
    import polars as pl

    try:
        return _from_frame(pl.scan_ndjson(path, infer_schema_length=10_000), str(path), None, {},
                           window)
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError,
            pl.exceptions.InvalidOperationError, ValueError):
        # a line polars cannot take as the others (a list where a text was: cast fails)
        df, total, bad = _read_lines(path)
        return _from_frame(df, str(path), total, bad, window)


def read_csv(path: Path, window: Window | None = None) -> TelemetryBatch:
    import polars as pl

    try:
        df = pl.read_csv(path, infer_schema_length=0)  # all columns as text; cast later
    except pl.exceptions.NoDataError as exc:
        raise InputError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    except pl.exceptions.ComputeError:
        # a malformed line: read row by row and count the bad ones, like JSONL
        df, total, bad = _read_csv_rows(path)
        return _from_frame(df, str(path), total, bad, window)
    return _from_frame(df, str(path), None, {}, window)


def _read_csv_rows(path: Path) -> tuple[Any, int, dict[str, int]]:
    import csv

    import polars as pl

    bad: dict[str, int] = {}
    rows: list[dict[str, str | None]] = []
    total = 0
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise InputError(f"{path}: not a readable CSV file (no header)")
        cols = [h.strip() for h in header]
        for row in reader:
            if not row:
                continue
            total += 1
            if len(row) != len(cols):
                bad["malformed CSV line"] = bad.get("malformed CSV line", 0) + 1
                continue
            rec = dict(zip(cols, row, strict=True))
            rows.append({k: rec.get(k) or None for k in FIELDS})
    return pl.DataFrame(rows, schema={k: pl.Utf8 for k in FIELDS}), total, bad


def from_records(records: list[dict[str, Any]], source: str = "records",
                 window: Window | None = None) -> TelemetryBatch:
    """Telemetry from Python dicts (the library API and the MLflow trace reader)."""
    import polars as pl

    rows = [{k: (None if r.get(k) is None else str(r.get(k))) for k in FIELDS} for r in records]
    return _from_frame(pl.DataFrame(rows, schema={k: pl.Utf8 for k in FIELDS}), source,
                       len(rows), {}, window)


def read(source: str, repo: Any = None, window: Window | None = None) -> TelemetryBatch:
    """``FILE.jsonl``, ``FILE.csv`` or ``mlflow:EXPERIMENT`` (traces tagged with the served
    version by :func:`govctl.routing.tag_trace`). With ``window`` (since, until), records
    outside it or without a timestamp are counted as bad, by reason."""
    if source.startswith("mlflow:"):
        from govctl.adapters import mlflowtraces

        records = mlflowtraces.read(repo, source[len("mlflow:"):])
        batch = from_records(records, source, window)
        if len(records) >= mlflowtraces.MAX_TRACES:
            batch.notes.append(f"read the newest {mlflowtraces.MAX_TRACES:,} traces only "
                               "(older traces were not analysed)")
        return batch
    path = Path(source)
    if not path.is_file():
        raise InputError(f"telemetry source {source} is not a file (or mlflow:EXPERIMENT)")
    if path.suffix == ".csv":
        return read_csv(path, window)
    if path.suffix in (".jsonl", ".ndjson", ".json"):
        return read_jsonl(path, window)
    raise InputError(f"{source}: unknown telemetry format; use .jsonl, .csv or mlflow:EXPERIMENT")
