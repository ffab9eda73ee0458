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
            # told the canary's tolerance, the warehouse counts the requests above the
            # stable p95 x (1 + tolerance) in its main pass: no further scan
            with sources.start(source) as pending:
                agg = pending.result(LIMITS, 1 + canary.Config().max_latency_increase)
            _same(_analyze(agg), reference)
            assert not any(s.startswith("SELECT count(*) FROM") for s in agg.explain)
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


SINCE = "2026-11-22T12:00:00Z"  # the step began (its ledger entry) ...
UNTIL = "2026-11-22T13:00:00Z"  # ... and now


def _window():
    from govctl import clock

    return clock.parse_time(SINCE), clock.parse_time(UNTIL)


@pytest.fixture(scope="module")
def stepped(tmp_path_factory):
    """One step's traffic (a slower canary with more errors) among records from before the
    step (a faster canary that, counted, would hide the regression), after now, and
    without a readable time; every timestamp form the reader takes."""
    import json

    import numpy as np

    d = tmp_path_factory.mktemp("stepped")
    fresh = telemetry_gen.write(d / "fresh.jsonl", {"1": {"n": 3000},
                                                    "2": {"n": 1500, "latency_factor": 1.35,
                                                          "error_rate": 0.01}}, seed=5)
    stale = telemetry_gen.write(d / "stale.jsonl", {"1": {"n": 2000}, "2": {"n": 4000}},
                                seed=6)
    since = 1_795_348_800  # SINCE, as seconds
    forms = [lambda t: f"2026-11-22T12:{t // 60:02d}:{t % 60:02d}Z",
             lambda t: f"2026-11-22 12:{t // 60:02d}:{t % 60:02d}.250Z",
             lambda t: f"2026-11-22T14:{t // 60:02d}:{t % 60:02d}+02:00",
             lambda t: f"2026-11-22T12:{t // 60:02d}:{t % 60:02d}",  # no zone: UTC
             lambda t: f"2026-11-22T12:{t // 60:02d}:{t % 60:02d}.5+0000",
             lambda t: f"2026-11-22T07:{t // 60:02d}:{t % 60:02d}-05:00",
             lambda t: f"2026-11-22T07:{t // 60:02d}:{t % 60:02d}-0500",
             lambda t: f"{(since + t) / 1e9:.10f}e9",  # seconds, with an exponent
             lambda t: str(since + t),  # seconds
             lambda t: str((since + t) * 1000 + 7)]  # milliseconds
    rng = np.random.default_rng(9)
    records, iso = [], []
    for i, line in enumerate(fresh.read_text().splitlines()):
        r = json.loads(line)
        t = int(rng.integers(0, 3600))
        r["timestamp"] = forms[i % len(forms)](t)
        records.append(r)
        iso.append({**r, "timestamp": forms[0](t)})
    edge = [SINCE, UNTIL]  # both ends are in the window
    for i, line in enumerate(stale.read_text().splitlines()):
        r = json.loads(line)
        r["request_id"] = "old-" + r["request_id"]
        r["timestamp"] = (f"2026-11-22T11:{i % 60:02d}:00Z" if i % 2 else "2026-11-21T12:00:00Z")
        records.append(r)
        iso.append(r)
    late = [{**json.loads(line), "request_id": f"late-{i}"}
            for i, line in enumerate(stale.read_text().splitlines()[:30])]
    for i, r in enumerate(late):
        r["timestamp"] = "2026-11-22T13:00:00.001Z" if i % 2 else "2026-11-23T00:00:00Z"
    records += late
    iso += late
    for i, r in enumerate(records[:2]):
        r["timestamp"] = edge[i]
        iso[i]["timestamp"] = edge[i]
    odd = [{**records[10 + i], "request_id": f"odd-{i}", "timestamp": ts}
           for i, ts in enumerate(["", None, "yesterday", "2026-13-01T00:00:00Z",
                                   "2026-11-22T12:00:00+00", "1234-garbage"])]
    path = d / "t.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [*records, *odd]) + "\n")
    spans_of = d / "iso.jsonl"  # what spans can carry: a time on every one
    spans_of.write_text("\n".join(json.dumps(r) for r in iso) + "\n")
    return {"jsonl": path, "parquet": telemetry_gen.to_parquet(path, d / "t.parquet"),
            "csv": _csv(path, d / "t.csv"), "iso": spans_of,
            "otlp": telemetry_gen.to_otlp(spans_of, d / "spans.json", times=True)}


def _csv(jsonl, out):
    pl.read_ndjson(jsonl, schema_overrides={"timestamp": pl.Utf8}).write_csv(out)
    return out


def test_every_source_judges_the_step_on_its_own_window(stepped):
    """The same traffic, records from before the step among it: every source counts the
    same bad records by the same reasons and gives the in-memory reader's verdict."""
    window = _window()
    reference = _analyze(telemetry.read_jsonl(stepped["jsonl"], window))
    assert reference.verdict == "fail"
    assert reference.telemetry["bad_records"] == {
        "missing timestamp": 2, "timestamp after now": 30,
        "timestamp before this step began": 6000, "unreadable timestamp": 4}
    assert reference.telemetry["per_version"] == {"1": 3000, "2": 1500}
    # without the window every record would count, the earlier traffic among them
    assert telemetry.read_jsonl(stepped["jsonl"]).summary()["per_version"] == {
        "1": 5036, "2": 5500}
    sources_ = [str(stepped[k]) for k in ("jsonl", "parquet", "csv")]
    if PG:
        table = f"govctl_step_{os.getpid()}"
        sources_.append(telemetry_gen.to_postgres(PG, table, stepped["jsonl"]))
    try:
        for source in sources_:
            agg = sources.aggregate(source, limits=LIMITS, window=window)
            _same(_analyze(agg), reference)
            assert agg.window == (SINCE, UNTIL)
            assert agg.total == reference.telemetry["records"] == 10_536
    finally:
        if PG:
            telemetry_gen.drop_postgres(PG, table)
    # spans always carry their start time: the same records, each with one
    iso_ref = _analyze(telemetry.read_jsonl(stepped["iso"], window))
    assert iso_ref.telemetry["bad_records"] == {"timestamp after now": 30,
                                                "timestamp before this step began": 6000}
    _same(_analyze(sources.aggregate(f"otlp:{stepped['otlp']}", limits=LIMITS,
                                     window=window)), iso_ref)
    assert iso_ref.verdict == reference.verdict


def test_a_read_started_early_is_stopped_or_reports_in_the_caller(traffic, tmp_path):
    """analyze starts reading the telemetry while it verifies the agreement: a read nobody
    collects is stopped on leaving, and a source's error is raised where the result is
    asked for, in the caller's thread."""
    big = tmp_path / "big.jsonl"
    big.write_bytes(traffic["jsonl"].read_bytes() * 40)  # 180,000 records
    with sources.start(str(big)) as pending:
        pass
    assert pending._thread is not None and not pending._thread.is_alive()
    with sources.start(str(tmp_path / "missing.jsonl")) as pending:
        with pytest.raises(InputError, match="is not a file"):
            pending.result(LIMITS)
    with sources.start(str(traffic["jsonl"])) as pending:
        agg = pending.result(LIMITS)
    assert agg.total == 4500 and agg.count_above("2", "latency_ms", 900.0) > 0


@pytest.mark.parametrize("field", ["latency_ms", "quality", "error"])
def test_a_long_non_ascii_value_is_a_bad_record_in_every_engine(tmp_path, field):
    """DuckDB quotes the offending line in its error, cut at a byte count: cut through a
    multi-byte character, the message is undecodable and the Python binding raises
    UnicodeDecodeError (found by the fuzz suite: exit 70). The record is bad, the file
    is read, and both engines count it for the same reason."""
    import json

    good = [{"request_id": f"r{i}", "version": "1", "latency_ms": 100.0 + i, "error": False}
            for i in range(3)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                            for r in [{**good[0], "request_id": "x", field: "é" * 300},
                                      *good]), encoding="utf-8")
    reference = telemetry.read_jsonl(path).bad
    assert sum(reference.values()) == 1
    assert sources.aggregate(str(path)).bad == reference


def test_a_rewritten_file_is_described_afresh(tmp_path):
    """Each read describes the file it reads: a cache of DuckDB's column descriptions
    keyed by id(connection) handed a new connection at a reused address the columns of
    the file as it was before (a CSV rewritten with a cost column read without it, so a
    cost of "lots" passed as a good record; seen once in CI, at random)."""
    path = tmp_path / "t.csv"
    t = "2026-11-22T12:00:00Z"
    without = f"request_id,version,latency_ms,error,timestamp\n1,1,100,false,{t}\n"
    with_cost = ("request_id,version,latency_ms,error,timestamp,cost_usd\n"
                 f"1,1,100,false,{t},0.001\n2,1,120,false,{t},lots\n")
    for _ in range(25):  # a connection is freed and its address reused between reads
        path.write_text(without)
        assert sources.aggregate(str(path)).bad == {}
        path.write_text(with_cost)
        assert sources.aggregate(str(path)).bad == {"cost, tokens or quality not a number": 1}


def test_a_nested_value_in_a_record_is_a_bad_record_not_a_crash(tmp_path):
    """A list where a text belongs (``"timestamp": [null]``, found by the fuzz suite): the
    in-memory reader falls back to reading line by line, like any line polars cannot
    take, and the record is bad for its reason."""
    import json

    good = [{"request_id": f"r{i}", "version": "1", "latency_ms": 100.0, "error": False,
             "timestamp": "2026-11-22T12:00:00Z"} for i in range(3)]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n"
                            for r in [*good, {**good[0], "request_id": "x",
                                              "timestamp": [None]}]))
    batch = telemetry.read_jsonl(path, _window())
    assert batch.bad == {"unreadable timestamp": 1}
    assert {v: len(x.latency_ms) for v, x in batch.variants.items()} == {"1": 3}
    # every record so (polars then types the column as a list, and casting it fails)
    path.write_text("".join(json.dumps({**r, "timestamp": [None]}) + "\n" for r in good))
    assert telemetry.read_jsonl(path, _window()).bad == {"unreadable timestamp": 3}
