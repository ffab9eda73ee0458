"""Synthetic per-request telemetry for canary tests (seeded, vectorised)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def write(path: Path, variants: dict[str, dict], seed: int = 0, bad_lines: int = 0) -> Path:
    """variants: version -> {n, latency_factor=1, error_rate=0.002, quality=0.9}."""
    rng = np.random.default_rng(seed)
    lines = []
    for version, spec in variants.items():
        n = spec["n"]
        lat = rng.lognormal(6.2, 0.35, n) * spec.get("latency_factor", 1.0)
        err = rng.random(n) < spec.get("error_rate", 0.002)
        tin = rng.integers(200, 1200, n)
        tout = rng.integers(50, 300, n)
        q = np.clip(rng.normal(spec.get("quality", 0.9), 0.05, n), 0, 1)
        for i in range(n):
            lines.append(json.dumps({
                "request_id": f"{version}-{i}", "version": version,
                "latency_ms": round(float(lat[i]), 1), "error": bool(err[i]),
                "tokens_in": int(tin[i]), "tokens_out": int(tout[i]),
                "cost_usd": round(float(tin[i]) * 2e-6 + float(tout[i]) * 8e-6, 6),
                "timestamp": "2026-11-22T12:00:00Z", "quality": round(float(q[i]), 3)}))
    lines += ["{not json"] * bad_lines
    path.write_text("\n".join(lines) + "\n")
    return path


TABLE_COLUMNS = ("request_id text, version text, latency_ms double precision, error boolean, "
                 "tokens_in bigint, tokens_out bigint, cost_usd double precision, "
                 "timestamp text, quality double precision")


def to_parquet(jsonl: Path, out: Path) -> Path:
    import polars as pl

    pl.read_ndjson(jsonl).write_parquet(out)
    return out


def to_postgres(url: str, table: str, jsonl: Path, *, key: bool = False) -> str:
    """Load a generated JSONL file into a fresh PostgreSQL table; returns ``sql:URL#TABLE``."""
    import io

    import polars as pl
    import psycopg

    names = [c.split()[0] for c in TABLE_COLUMNS.split(", ")]
    df = pl.read_ndjson(jsonl)
    df = df.select([pl.col(n) if n in df.columns else pl.lit(None).alias(n) for n in names])
    buf = io.BytesIO()
    df.write_csv(buf)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"CREATE TABLE {table} ({TABLE_COLUMNS}"
                     + (", PRIMARY KEY (request_id))" if key else ")"))
        with conn.cursor().copy(f"COPY {table} FROM STDIN WITH (FORMAT csv, HEADER)") as cp:
            cp.write(buf.getvalue())
    return f"sql:{url}#{table}"


def drop_postgres(url: str, table: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                         autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def write_month(path: Path, version: str = "1", *, start: str = "2026-11-01T00:00:00",
                days: int = 30, per_hour: int = 60, error_rate: float = 0.002,
                burn: tuple[float, float, float] | None = None, seed: int = 0) -> Path:
    """A month of production traffic, uniform in time; ``burn`` = (first day, last day,
    error rate) raises the error rate in that span (days since ``start``, fractional)."""
    import polars as pl

    rng = np.random.default_rng(seed)
    n = days * 24 * per_hour
    offset = np.sort(rng.random(n) * days)  # days since start
    rate = np.full(n, error_rate)
    if burn:
        rate[(offset >= burn[0]) & (offset < burn[1])] = burn[2]
    t0 = np.datetime64(start, "ms")
    ts = t0 + (offset * 86_400_000).astype("timedelta64[ms]")
    tin, tout = rng.integers(200, 1200, n), rng.integers(50, 300, n)
    pl.DataFrame({
        "request_id": [f"m{i}" for i in range(n)], "version": [version] * n,
        "latency_ms": np.round(rng.lognormal(6.2, 0.35, n), 1),
        "error": rng.random(n) < rate, "tokens_in": tin, "tokens_out": tout,
        "cost_usd": np.round(tin * 2e-6 + tout * 8e-6, 6),
        "timestamp": [str(x) + "Z" for x in ts],
    }).write_ndjson(path)
    return path


def to_otlp(jsonl: Path, out: Path, version_attr: str = "govctl.version", *,
            times: bool = False) -> Path:
    """The same traffic as GenAI spans made by the OpenTelemetry SDK, encoded by its OTLP
    encoder and written as OTLP JSON, one ExportTraceServiceRequest per line (as the
    Collector's file exporter does). ``times``: each span starts at its record's ISO
    ``timestamp`` (else one second after the previous span)."""
    from datetime import datetime

    import polars as pl
    from google.protobuf.json_format import MessageToJson
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import Status, StatusCode

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("support-bot")
    start = 1_795_000_000_000_000_000
    lines = []
    for i, r in enumerate(pl.read_ndjson(jsonl).iter_rows(named=True)):
        t0 = start + i * 1_000_000_000
        if times:
            at = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
            t0 = round(at.timestamp() * 1000) * 1_000_000
        attrs = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "support-llm",
                 version_attr: r["version"],
                 "gen_ai.usage.input_tokens": r["tokens_in"],
                 "gen_ai.usage.output_tokens": r["tokens_out"],
                 "govctl.cost_usd": r["cost_usd"], "govctl.quality": r["quality"]}
        span = tracer.start_span("chat support-llm", start_time=t0, attributes=attrs)
        if r["error"]:
            span.set_status(Status(StatusCode.ERROR, "upstream failed"))
        span.end(end_time=t0 + round(r["latency_ms"] * 1_000_000))
        if len(exporter.get_finished_spans()) >= 500:
            lines.append(MessageToJson(encode_spans(exporter.get_finished_spans()), indent=None))
            exporter.clear()
    if exporter.get_finished_spans():
        lines.append(MessageToJson(encode_spans(exporter.get_finished_spans()), indent=None))
    # a child span without GenAI attributes is not a request record
    out.write_text("\n".join(lines) + "\n")
    return out


def to_openmetrics(jsonl: Path, out: Path, end: int, window: int = 3600, step: int = 15
                   ) -> Path:
    """The same traffic as Prometheus would have scraped it over ``window`` seconds ending
    at ``end`` (unix seconds): request counters by version and error, a latency histogram,
    cost and quality summaries; OpenMetrics text for ``promtool tsdb
    create-blocks-from openmetrics``."""
    import polars as pl

    df = pl.read_ndjson(jsonl)
    edges = [round(0.025 * i, 3) for i in range(1, 161)]
    times = list(range(end - window, end + 1, step))
    fam: dict[str, list[str]] = {"govctl_requests": [], "govctl_request_duration_seconds": [],
                                 "govctl_cost_usd": [], "govctl_quality": []}
    for version in sorted(df["version"].unique().to_list()):
        part = df.filter(pl.col("version") == version)
        k = part.height
        # request i lands at an even spread over the window (first sample counts none)
        at = np.floor(np.arange(k) * (len(times) - 1) / k).astype(int) + 1
        lat = part["latency_ms"].to_numpy() / 1000
        err = part["error"].to_numpy()
        cost, qual = part["cost_usd"].to_numpy(), part["quality"].to_numpy()
        for i, t in enumerate(times):
            seen = at <= i
            lab = f'version="{version}"'
            for flag in ("false", "true"):
                c = int(np.count_nonzero(seen & (err == (flag == "true"))))
                fam["govctl_requests"].append((f'govctl_requests_total{{{lab},error="{flag}"}}', t, c))
            for le in edges:
                c = int(np.count_nonzero(seen & (lat <= le)))
                fam["govctl_request_duration_seconds"].append(
                    (f'govctl_request_duration_seconds_bucket{{{lab},le="{le}"}}', t, c))
            n = int(seen.sum())
            fam["govctl_request_duration_seconds"] += [
                (f'govctl_request_duration_seconds_bucket{{{lab},le="+Inf"}}', t, n),
                (f"govctl_request_duration_seconds_count{{{lab}}}", t, n),
                (f"govctl_request_duration_seconds_sum{{{lab}}}", t, float(lat[seen].sum()))]
            fam["govctl_cost_usd"] += [(f"govctl_cost_usd_count{{{lab}}}", t, n),
                                       (f"govctl_cost_usd_sum{{{lab}}}", t, float(cost[seen].sum()))]
            fam["govctl_quality"] += [(f"govctl_quality_count{{{lab}}}", t, n),
                                      (f"govctl_quality_sum{{{lab}}}", t, float(qual[seen].sum()))]
    types = {"govctl_requests": "counter", "govctl_request_duration_seconds": "histogram",
             "govctl_cost_usd": "summary", "govctl_quality": "summary"}
    lines = []
    for name, samples in fam.items():
        lines.append(f"# TYPE {name} {types[name]}")
        # one series after another, each in time order
        samples.sort(key=lambda s: (s[0], s[1]))
        lines += [f"{series} {value} {t}" for series, t, value in samples]
    lines.append("# EOF")
    out.write_text("\n".join(lines) + "\n")
    return out
