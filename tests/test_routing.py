"""Routing: deterministic, sticky, nested buckets; Router reading MLflow; traces as telemetry."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from govctl.release import routing


@given(st.text(min_size=1), st.text(), st.text())
def test_bucket_is_deterministic_and_in_range(service, salt, key):
    b = routing.bucket(service, salt, key)
    assert 0 <= b < routing.BUCKETS
    assert b == routing.bucket(service, salt, key)


@given(st.text(min_size=1), st.integers(0, 10_000), st.integers(0, 10_000))
def test_buckets_are_nested(key, w1, w2):
    lo, hi = sorted((w1, w2))
    if routing.assign("svc", key, lo) == "canary":
        assert routing.assign("svc", key, hi) == "canary"


@given(st.sampled_from([500, 2500, 5000]), st.integers(0, 2**31))
@settings(max_examples=10, deadline=None)
def test_proportions_within_tolerance(weight, seed):
    n = 20_000
    hits = sum(routing.assign("svc", f"{seed}-{i}", weight) == "canary" for i in range(n))
    p = weight / 10_000
    assert abs(hits / n - p) < 4 * (p * (1 - p) / n) ** 0.5 + 1e-9


def test_salt_changes_assignment():
    a = [routing.bucket("svc", "a", str(i)) for i in range(200)]
    b = [routing.bucket("svc", "b", str(i)) for i in range(200)]
    assert a != b


def test_first_release_routes_everything_to_the_candidate(signers, repo, clone_template):
    clone_template("first")
    router = routing.Router.for_repo(str(repo), "support-bot", ttl_seconds=0)
    # a first release has no stable version: everything goes to the candidate
    assert {router.route(f"s{i}") for i in range(50)} == {("canary", "1")}


def test_router_reads_weight_and_versions_from_mlflow(signers, repo, clone_template):
    clone_template("second")  # v1 stable, v2 a 5% canary
    router = routing.Router.for_repo(str(repo), "support-bot", ttl_seconds=0)
    routes = [router.route(f"session-{i}") for i in range(2000)]
    share = sum(1 for variant, _ in routes if variant == "canary") / len(routes)
    assert 0.03 < share < 0.07  # 5% canary
    assert {v for variant, v in routes if variant == "canary"} == {"2"}
    assert {v for variant, v in routes if variant == "stable"} == {"1"}
    assert router.route("session-1") == router.route("session-1")  # sticky


def _serve(router, n: int, **tags) -> None:
    import mlflow

    @mlflow.trace
    def answer(q: str) -> str:
        variant, version = router.route(q)
        routing.tag_trace(version, variant=variant, tokens_in=120, tokens_out=40,
                          cost_usd=0.0004, **tags)
        return "ok"

    for i in range(n):
        answer(f"q{i}")


def test_traces_become_telemetry(signers, repo, cli, clone_template, monkeypatch):
    import mlflow

    from govctl.adapters import mlflowstore, mlflowtraces
    from govctl.config import find_repo
    from govctl.release import telemetry

    clone_template("second")
    router = routing.Router.for_repo(str(repo), "support-bot", ttl_seconds=0)
    mlflow.set_experiment(experiment_id=mlflowstore.configure(find_repo()))
    _serve(router, 120)
    batch = telemetry.read("mlflow:govctl", find_repo())
    assert batch.total == 120 and batch.bad_total == 0
    assert batch.variant("1").n + batch.variant("2").n == 120 and batch.variant("2").n > 0
    assert float(batch.variant("1").cost_usd[0]) == 0.0004
    # the step began at the template's fixed time; the traces were served just now, in
    # real time: judge the step's window up to the real clock
    monkeypatch.delenv("GOVCTL_NOW")
    res = cli("canary", "analyze", "support-bot", "--telemetry", "mlflow:govctl", "--json")
    assert res.code == 5  # a hundred requests: inconclusive, never a decision
    assert sum(res.json["telemetry"]["per_version"].values()) == 120
    # a capped read says so (the cap lowered here so the test need not log 100,000 traces)
    monkeypatch.setattr(mlflowtraces, "MAX_TRACES", 50)
    res = cli("canary", "analyze", "support-bot", "--telemetry", "mlflow:govctl")
    assert "read the newest 50 traces only" in res.err


def test_a_recorded_latency_wins_over_the_trace_duration(repo, tmp_path):
    """tag_trace(latency_ms=...) (e.g. the endpoint's own timing, or the demo's latency
    model) is what the analysis sees; without it, the span's wall-clock duration."""
    import mlflow

    from govctl.adapters import mlflowstore, mlflowtraces
    from govctl.config import find_repo

    gr = find_repo()
    mlflowstore.configure(gr)
    mlflow.set_experiment(experiment_id=mlflowstore.experiment(gr, "served"))

    class Fixed:
        def route(self, key):
            return "stable", "7"

    _serve(Fixed(), 3, latency_ms=4321.5)
    _serve(Fixed(), 2)
    records = mlflowtraces.read(gr, "served")
    recorded = sorted(float(r["latency_ms"]) for r in records)
    assert len(records) == 5 and recorded[-3:] == [4321.5] * 3
    assert all(0 <= x < 4321.5 for x in recorded[:2])  # the spans' own durations
    # the embedded store keeps trace data inside .govctl (MLflow 3 puts span data in the
    # store's database or under .govctl/mlartifacts, by version), never in ./mlruns (the
    # span data is written by MLflow's background exporter: drain it before looking)
    mlflow.flush_trace_async_logging()
    assert not (repo / "mlruns").exists() and not (tmp_path / "mlruns").exists()
    outside = [p for p in tmp_path.rglob("*")
               if "trace" in p.name and ".govctl" not in p.relative_to(tmp_path).parts]
    assert outside == []
