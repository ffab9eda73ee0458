"""One analysis, wherever the telemetry is: the in-memory reader, DuckDB over JSONL, CSV
and Parquet, and PostgreSQL give the same statistics and the same verdicts."""

from __future__ import annotations

import os
from decimal import Decimal

import polars as pl
import pytest
import telemetry_gen
from conftest import need

from govctl.errors import InputError
from govctl.release import canary, sources, telemetry

PG = os.environ.get("GOVCTL_TEST_POSTGRES_URL")
LIMITS = {"latency_p95_ms": Decimal("900"), "error_rate": Decimal("0.01"),
          "cost_per_request_usd": Decimal("0.02"), "tokens_in_max": Decimal("1150"),
          "tokens_out_max": Decimal("290")}


@pytest.fixture(scope="module")
def traffic(tmp_path_factory):
    d = tmp_path_factory.mktemp("traffic")
    path = telemetry_gen.write(d / "t.jsonl", {"1": {"n": 3000},
                                               "2": {"n": 1500, "latency_factor": 1.35,
                                                     "error_rate": 0.01}}, seed=3)
    csv = d / "t.csv"
    pl.read_ndjson(path).write_csv(csv)
    return {"jsonl": path, "csv": csv, "parquet": telemetry_gen.to_parquet(path, d / "t.parquet")}


def _checks(result):
    return [(c.metric, c.kind, c.verdict) for c in result.checks]


def _same(a, b):
    assert a.verdict == b.verdict
    assert _checks(a) == _checks(b)
    for x, y in zip(a.checks, b.checks, strict=True):
        for f in ("canary", "baseline", "threshold"):
            u, v = getattr(x, f), getattr(y, f)
            assert (u is None) == (v is None), (x.metric, f)
            if u is not None:
                assert u == pytest.approx(v, rel=1e-9, nan_ok=True), (x.metric, f)
        assert x.detail == y.detail
    assert a.telemetry["variants"] == b.telemetry["variants"]
    assert a.telemetry["bad_records"] == b.telemetry["bad_records"]
    assert a.telemetry["per_version"] == b.telemetry["per_version"]


def _analyze(batch):
    return canary.analyze(batch, "1", "2", LIMITS, canary.Config())


def test_duckdb_sources_match_the_in_memory_reader(traffic):
    reference = _analyze(telemetry.read_jsonl(traffic["jsonl"]))
    assert reference.verdict == "fail"  # a slower canary with 5x the errors
    for kind in ("jsonl", "csv", "parquet"):
        agg = sources.aggregate(str(traffic[kind]), limits=LIMITS)
        _same(_analyze(agg), reference)
        assert any("quantile_cont" in s for s in agg.explain)


def test_postgres_table_matches(traffic):
    need("postgres", PG, "GOVCTL_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    reference = _analyze(telemetry.read_jsonl(traffic["jsonl"]))
    for key in (False, True):
        table = f"govctl_tele_{os.getpid()}_{int(key)}"
        source = telemetry_gen.to_postgres(PG, table, traffic["jsonl"], key=key)
        try:
            agg = sources.aggregate(source, limits=LIMITS)
            _same(_analyze(agg), reference)
            assert any("percentile_cont" in s for s in agg.explain)
            # the table's key proves there are no duplicates: no check query
            assert any("count(DISTINCT request_id)" in s for s in agg.explain) is not key
        finally:
            telemetry_gen.drop_postgres(PG, table)


def test_postgres_counts_bad_rows_like_files(tmp_path):
    need("postgres", PG, "GOVCTL_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    import json

    rows = [{"request_id": "a", "version": "1", "latency_ms": 100, "error": False},
            {"request_id": "a", "version": "1", "latency_ms": -5, "error": False},
            {"request_id": "b", "version": "1", "latency_ms": -5, "error": False},
            {"request_id": "c", "version": None, "latency_ms": 5, "error": False},
            {"request_id": "d", "version": "1", "latency_ms": 5, "error": None},
            {"request_id": "e", "version": "1", "latency_ms": 5, "error": True,
             "quality": 1.5},
            {"request_id": "f", "version": "1", "latency_ms": 5, "error": True,
             "cost_usd": -1}]
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    expected = telemetry.read_jsonl(path)
    table = f"govctl_bad_{os.getpid()}"
    source = telemetry_gen.to_postgres(PG, table, path)
    try:
        for src in (source, str(path)):
            agg = sources.aggregate(src)
            assert agg.bad == expected.bad and agg.total == expected.total == 7
            assert {k: v.n for k, v in agg.variants.items()} == {"1": 1}
    finally:
        telemetry_gen.drop_postgres(PG, table)


def test_warehouse_source_errors_are_named_without_the_password():
    with pytest.raises(InputError, match="sql:URL#TABLE"):
        sources.aggregate("sql:postgresql+psycopg://u:secret@127.0.0.1/x")
    need("postgres", PG, "GOVCTL_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    with pytest.raises(InputError) as exc:
        sources.aggregate(f"sql:{PG}#no_such_table_here")
    assert "no table 'no_such_table_here'" in exc.value.message
    with pytest.raises(Exception) as exc:
        sources.aggregate("sql:postgresql+psycopg://u:secret@127.0.0.1:1/x#t")
    assert "secret" not in str(exc.value) and "***" in str(exc.value)


def test_otlp_genai_spans_match(traffic, tmp_path):
    reference = _analyze(telemetry.read_jsonl(traffic["jsonl"]))
    spans = telemetry_gen.to_otlp(traffic["jsonl"], tmp_path / "spans.json")
    _same(_analyze(sources.aggregate(f"otlp:{spans}", limits=LIMITS)), reference)
    # the version read from another attribute, named in the source
    other = telemetry_gen.to_otlp(traffic["jsonl"], tmp_path / "other.json",
                                  version_attr="app.model_version")
    agg = sources.aggregate(f"otlp:{other}?version=app.model_version", limits=LIMITS)
    _same(_analyze(agg), reference)
    with pytest.raises(InputError, match="unknown option"):
        sources.aggregate(f"otlp:{other}?model=x")
