"""OpenTelemetry GenAI spans as telemetry: ``otlp:FILE.json`` (what the Collector's file
exporter writes: OTLP JSON, one ``ExportTraceServiceRequest`` per line, or one document).

A span is a record when it carries the version attribute or any ``gen_ai.*`` attribute.
Mapping (GenAI semantic conventions): ``gen_ai.usage.input_tokens`` -> tokens_in,
``gen_ai.usage.output_tokens`` -> tokens_out, end - start -> latency_ms,
``status.code == 2`` (``STATUS_CODE_ERROR``) -> error, traceId:spanId -> request_id;
version, cost and quality from configurable attributes. Parsed and aggregated in DuckDB.
"""

from __future__ import annotations

from typing import Any

from govctl.adapters import duckdb_engine as engine

DEFAULTS = {"version": "govctl.version", "cost": "govctl.cost_usd",
            "quality": "govctl.quality", "tokens_in": "gen_ai.usage.input_tokens",
            "tokens_out": "gen_ai.usage.output_tokens"}


def _value(key: str) -> str:
    a = (f"list_filter(json_extract(s, '$.attributes[*]'), lambda a: json_extract_string(a, "
         f"'$.key') = {engine._lit(key)})[1]")
    return (f"coalesce(json_extract_string({a}, '$.value.stringValue'), "
            f"json_extract_string({a}, '$.value.intValue'), "
            f"json_extract_string({a}, '$.value.doubleValue'), "
            f"json_extract_string({a}, '$.value.boolValue'))")


def spans_sql(path: str, attrs: dict[str, str]) -> str:
    p = engine._lit(path)
    version = attrs["version"]
    keys = "json_extract_string(s, '$.attributes[*].key')"
    has = (f"len(list_filter({keys}, lambda k: k = {engine._lit(version)} OR "
           "starts_with(k, 'gen_ai.'))) > 0")
    code = "json_extract_string(s, '$.status.code')"
    fields = {
        "request_id": "json_extract_string(s, '$.traceId') || ':' || "
                      "json_extract_string(s, '$.spanId')",
        "version": _value(version),
        "latency_ms": "CAST((CAST(json_extract_string(s, '$.endTimeUnixNano') AS HUGEINT) - "
                      "CAST(json_extract_string(s, '$.startTimeUnixNano') AS HUGEINT)) / 1e6 "
                      "AS VARCHAR)",
        "error": f"CASE WHEN {code} IN ('2', 'STATUS_CODE_ERROR') THEN 'true' ELSE 'false' END",
        "tokens_in": _value(attrs["tokens_in"]),
        "tokens_out": _value(attrs["tokens_out"]),
        "cost_usd": _value(attrs["cost"]),
        "quality": _value(attrs["quality"]),
        "timestamp": "CAST(make_timestamp(CAST(CAST(json_extract_string(s, "
                     "'$.startTimeUnixNano') AS HUGEINT) // 1000 AS BIGINT)) AS VARCHAR) || 'Z'",
    }
    spans = ("(SELECT unnest(json_extract(json, "
             "'$.resourceSpans[*].scopeSpans[*].spans[*]')) AS s "
             f"FROM read_json_objects({p}, format='auto')) AS sp")
    cols = ", ".join(f"{v} AS {k}" for k, v in fields.items())
    return f"(SELECT {cols} FROM {spans} WHERE {has}) AS otlp"


def prepare(path: str, attrs: dict[str, str] | None = None,
            window: tuple[float, float] | None = None, con: Any = None) -> Any:
    """The spans parsed into the engine's table of normalized records (see
    :func:`govctl.adapters.duckdb_engine.prepare`)."""
    import duckdb

    from govctl.errors import InputError

    con = con if con is not None else engine.connect()
    try:
        return engine.materialized(con, spans_sql(path, {**DEFAULTS, **(attrs or {})}),
                                   window)
    except (duckdb.Error, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not readable OTLP JSON ({engine._first_line(exc)})") from None


def aggregate(path: str, thresholds: dict[str, float], attrs: dict[str, str] | None = None,
              window: tuple[float, float] | None = None) -> Any:
    return prepare(path, attrs, window).finish(thresholds)
