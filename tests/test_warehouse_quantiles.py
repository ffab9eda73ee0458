"""PostgreSQL quantiles from counts of distinct latencies (a hash aggregate) are
percentile_cont's, to the bit; the table's statistics choose between the two."""

from __future__ import annotations

import dataclasses
import json
import os
from decimal import Decimal

import pytest
import telemetry_gen
from conftest import need

from govctl.adapters import telemetry_sql, warehouse
from govctl.release import canary, sources, telemetry

PG = os.environ.get("GOVCTL_TEST_POSTGRES_URL")
LIMITS = {"latency_p95_ms": Decimal("900"), "error_rate": Decimal("0.01"),
          "tokens_in_max": Decimal("1150"), "tokens_out_max": Decimal("290")}


def _dsn() -> str:
    assert PG
    return PG.replace("postgresql+psycopg://", "postgresql://")


def _sql(*statements: str) -> None:
    import psycopg

    with psycopg.connect(_dsn(), autocommit=True) as conn:
        for s in statements:
            conn.execute(s)


def test_counts_give_percentile_conts_numbers_and_the_same_verdict(tmp_path):
    need("postgres", PG, "GOVCTL_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    # ties (0.1 ms resolution), interpolated and exact positions, a version of one, two
    # and three records, bad records that must not count
    path = telemetry_gen.write(tmp_path / "t.jsonl", {
        "1": {"n": 3001}, "2": {"n": 1500, "latency_factor": 1.35, "error_rate": 0.01}},
        seed=5)
    extra = [{"request_id": f"x{i}", "version": v, "latency_ms": lat, "error": False}
             for i, (v, lat) in enumerate([("3", 7.0), ("4", 1.0), ("4", 2.5), ("5", 3.0),
                                           ("5", 3.0), ("5", 10.0), ("1", -1.0),
                                           ("2", None), ("", 5.0)])]
    with path.open("a") as f:
        f.write("".join(json.dumps(r) + "\n" for r in extra))
    table = f"govctl_q_{os.getpid()}"
    source = telemetry_gen.to_postgres(PG, table, path)
    spec = source[len("sql:"):]
    try:
        sort = warehouse.prepare(spec, quantiles="sort")
        counts = warehouse.prepare(spec, quantiles="counts")
        assert "percentile_cont" in sort.queries[-1]
        assert "percentile_cont" not in counts.queries[-1]
        assert counts.queries[-1] == telemetry_sql.quantiles_from_counts(sort.rel)
        assert set(sort.latency_q) == set(counts.latency_q) == {"1", "2", "3", "4", "5"}
        for version, qs in sort.latency_q.items():
            assert len(qs) == len(telemetry_sql.QUANTILES)
            # the same floats, not merely close ones
            assert [x.hex() for x in counts.latency_q[version]] == [x.hex() for x in qs]
        assert counts.latency_q["4"][2] == 1.75 and counts.latency_q["5"][2] == 3.0
        # the whole analysis: statistics, bad records and verdict as the in-memory reader's
        reference = canary.analyze(telemetry.read_jsonl(path), "1", "2", LIMITS,
                                   canary.Config())
        factor = 1 + canary.Config().max_latency_increase
        for prepared in (sort, counts):
            agg = sources._assemble(source, prepared.finish(sources.thresholds(LIMITS),
                                                            factor), sources.thresholds(LIMITS))
            result = canary.analyze(agg, "1", "2", LIMITS, canary.Config())
            assert result.verdict == reference.verdict == "fail"
            assert agg.bad == telemetry.read_jsonl(path).bad
            assert [(c.metric, c.verdict, c.detail) for c in result.checks] == \
                [(c.metric, c.verdict, c.detail) for c in reference.checks]
    finally:
        telemetry_gen.drop_postgres(PG, table)


def test_the_table_statistics_choose_counts_for_few_distinct_latencies():
    need("postgres", PG, "GOVCTL_TEST_POSTGRES_URL is not set: no PostgreSQL to test against")
    rows = warehouse.COUNTS_MIN_ROWS
    tables = {"few": f"govctl_qf_{os.getpid()}", "many": f"govctl_qm_{os.getpid()}"}
    latency = {"few": "round((100 + 900 * random())::numeric, 0)::double precision",
               "many": "100 + 900 * random()"}
    try:
        for kind, table in tables.items():
            _sql(f"DROP TABLE IF EXISTS {table}",
                 # no autovacuum: the test says when the table is analysed
                 f"CREATE TABLE {table} WITH (autovacuum_enabled = false) AS SELECT "
                 "'r' || i AS request_id, "
                 f"(1 + i % 2)::text AS version, {latency[kind]} AS latency_ms, "
                 f"false AS error FROM generate_series(1, {rows}) AS i")
        spec = f"{PG}#{tables['few']}"
        # not analysed: no statistics, so percentile_cont
        assert "percentile_cont" in warehouse.prepare(spec).queries[-1]
        _sql(*(f"ANALYZE {t}" for t in tables.values()))
        few = warehouse.prepare(spec)
        assert "percentile_cont" not in few.queries[-1]
        assert few.latency_q == warehouse.prepare(spec, quantiles="sort").latency_q
        many = warehouse.prepare(f"{PG}#{tables['many']}")
        assert "percentile_cont" in many.queries[-1]
        # JIT for big tables only; compiled or not, the same numbers
        assert not few.jit and rows < warehouse.JIT_MIN_ROWS
        limits = {"latency_ms": 500.0}
        plain = few.finish(limits, 1.01)
        compiled = dataclasses.replace(few, jit=True).finish(limits, 1.01)
        assert compiled.rows == plain.rows and compiled.counts == plain.counts
        assert all(plain.counts.values()) and all(r["above_latency_ms"] for r in plain.rows)
        agg = sources.aggregate(f"sql:{spec}")
        assert agg.total == rows and {v: s.n for v, s in agg.variants.items()} == \
            {"1": rows // 2, "2": rows // 2}
    finally:
        for t in tables.values():
            _sql(f"DROP TABLE IF EXISTS {t}")


@pytest.mark.parametrize(("stats", "expected"), [
    ((10_000_000, 8022, 2), True),          # tenths of a millisecond
    ((10_000_000, -1, 2), False),           # every latency distinct
    ((10_000_000, -0.2, 2), False),         # a fifth of the rows distinct
    ((10_000_000, 150_000, 3), True),
    ((10_000_000, 200_000, 5), False),      # a million pairs: more than a twentieth
    ((50_000, 100, 2), False),              # small: sorting is cheap
    ((None, None, None), False),            # no statistics
    ((10_000_000, None, 2), False),
    ((10_000_000, 1000, None), True),
])
def test_counts_are_chosen_from_the_estimated_pairs(stats, expected):
    assert warehouse.by_counts(*stats) is expected
