"""The sequential tests: a reference implementation, and simulations of repeated looks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate

from govctl.release import stats as cs
from govctl.release.canary import Config, Verdict, analyze
from govctl.release.telemetry import TelemetryBatch, Variant


def reference_log_lr(x: int, n: int, p0: float) -> float:
    """Straight from the definition: integrate the likelihood ratio over Uniform(p0, 1)."""
    def integrand(p: float) -> float:
        return np.exp(x * np.log(p / p0) + (n - x) * np.log((1 - p) / (1 - p0)))
    peak = x / n if n else p0
    points = [peak] if p0 < peak < 1 else None
    value, _err = integrate.quad(integrand, p0, 1, limit=200, points=points)
    return float(np.log(value / (1 - p0)))


@given(st.integers(0, 40), st.integers(0, 60), st.floats(0.02, 0.9))
@settings(max_examples=60, deadline=None)
def test_closed_form_matches_numerical_integration(x, extra, p0):
    n = x + extra
    assert cs.log_msprt_bernoulli(x, n, p0) == pytest.approx(reference_log_lr(x, n, p0),
                                                             rel=1e-6, abs=1e-6)


def test_the_log_space_statistic_agrees_with_scipy_up_to_ten_million_trials():
    """govctl computes the mixture's incomplete beta itself (no SciPy import on the
    command's path). Against SciPy's betaln and betaincc at canary-scale counts: the same
    value wherever SciPy's tail does not underflow to zero (then SciPy says -inf, a ratio of
    0, and govctl a finite ratio far below any threshold: the same verdict)."""
    from scipy import special

    rng = np.random.default_rng(7)
    compared = 0
    for n in (0, 1, 3, 40, 1_000, 50_000, 750_000, 10_000_000):
        for p0 in (1e-12, 1e-5, 0.002, 0.05, 0.3, 0.5, 0.95, 1 - 1e-9, float(rng.random())):
            for x in {0, n, n // 2, int(n * p0), int(n * p0 * 1.5) + 1,
                      int(rng.integers(0, n + 1))}:
                x = min(x, n)
                q = min(max(p0, 1e-12), 1 - 1e-12)
                with np.errstate(divide="ignore"):
                    want = (special.betaln(x + 1, n - x + 1)
                            + np.log(special.betaincc(x + 1, n - x + 1, q))
                            - np.log(special.betaincc(1, 1, q))
                            - x * np.log(q) - (n - x) * np.log1p(-q))
                got = cs.log_msprt_bernoulli(x, n, p0)
                assert np.isfinite(got) or got == -np.inf
                if np.isfinite(want):
                    # Both in double precision: terms the size of lgamma(n) cancel, so
                    # each is good to ~1e-16 of that (1.5e-8 at 10^7 trials; SciPy's is
                    # off by 1.4e-9 at 750,000 of 750,000 and p0 = 1 - 1e-9, where 60-digit
                    # arithmetic gives govctl's 3.750234271429e-4)
                    tol = max(1e-9, 1e-14 * math.lgamma(n + 2))
                    assert got == pytest.approx(float(want), rel=1e-9, abs=tol), (x, n, p0)
                    compared += 1
                else:
                    assert got < np.log(1 / 0.5)  # never a rejection at any usable alpha
    assert compared > 250  # of 420 (the rest: SciPy underflowed)


def _variant(version, latency, error, quality=None):
    n = latency.size
    q = quality if quality is not None else np.full(n, np.nan)
    return Variant(version, latency, error, np.full(n, 0.001), np.full(n, 100.0),
                   np.full(n, 50.0), q)


LIMITS = {}  # comparisons against the stable version only, to measure those tests


def _simulate(rng, n_per_look, looks, base_err, can_err, lat_factor, runs):
    """Fraction of runs in which any of `looks` cumulative analyses says fail."""
    fails = 0
    for _ in range(runs):
        nb, nc = n_per_look * looks * 3, n_per_look * looks
        lat_b = rng.lognormal(5.5, 0.5, nb)
        lat_c = rng.lognormal(5.5, 0.5, nc) * lat_factor
        err_b = rng.random(nb) < base_err
        err_c = rng.random(nc) < can_err
        for k in range(1, looks + 1):
            b, c = nb * k // looks, nc * k // looks
            batch = TelemetryBatch("sim", {"1": _variant("1", lat_b[:b], err_b[:b]),
                                           "2": _variant("2", lat_c[:c], err_c[:c])}, b + c)
            if analyze(batch, "1", "2", LIMITS, Config(min_samples=100)).verdict == "fail":
                fails += 1
                break
    return fails / runs


def test_false_alarm_rate_under_repeated_looks_is_within_alpha():
    rng = np.random.default_rng(20261122)
    runs = 300
    rate = _simulate(rng, n_per_look=400, looks=10, base_err=0.01, can_err=0.01,
                     lat_factor=1.0, runs=runs)
    # alpha = 0.05 per test; two tests (latency, errors) share the run: <= 0.10 plus
    # binomial slack (3 sigma at runs=300)
    assert rate <= 0.10 + 3 * np.sqrt(0.1 * 0.9 / runs), rate


def test_detects_rare_error_rise():
    rng = np.random.default_rng(7)
    rate = _simulate(rng, n_per_look=4000, looks=5, base_err=0.002, can_err=0.01,
                     lat_factor=1.0, runs=40)
    assert rate >= 0.9


def test_detects_latency_regression():
    rng = np.random.default_rng(8)
    rate = _simulate(rng, n_per_look=300, looks=5, base_err=0.0, can_err=0.0,
                     lat_factor=1.4, runs=40)
    assert rate >= 0.9


def test_too_little_data_is_inconclusive():
    rng = np.random.default_rng(1)
    batch = TelemetryBatch("sim", {
        "1": _variant("1", rng.lognormal(5, 0.5, 10), np.zeros(10, bool)),
        "2": _variant("2", rng.lognormal(5, 0.5, 10), np.zeros(10, bool))}, 20)
    result = analyze(batch, "1", "2", {"latency_p95_ms": 10000, "error_rate": 0.01})
    assert result.verdict is Verdict.INCONCLUSIVE
    assert "needs 200 requests" in result.reason()
    # a verdict is a closed set of values, serialized as its plain string
    assert all(isinstance(c.verdict, Verdict) for c in result.checks)
    assert json.loads(json.dumps(result.to_json()))["verdict"] == "inconclusive"


def test_fixed_sample_test_rerun_at_every_look_would_not_be_valid():
    """Why the mSPRT: re-running a fixed-sample z-test at 10 looks exceeds alpha."""
    from scipy import stats

    rng = np.random.default_rng(3)
    runs, hits = 400, 0
    for _ in range(runs):
        a, b = rng.normal(size=1000), rng.normal(size=1000)
        for k in range(100, 1001, 100):
            if stats.ttest_ind(a[:k], b[:k]).pvalue < 0.05:
                hits += 1
                break
    assert hits / runs > 0.1  # the naive approach raises far more false alarms than 5%


def test_the_analysis_imports_no_scipy():
    """SciPy's import (~0.3 s of CPU) is not on a canary analysis' path, nor numpy's on
    DuckDB's (the in-memory reader loads it where it reads)."""
    import subprocess
    import sys

    from conftest import ROOT

    probe = ("import sys, govctl.release.canary, govctl.release.sources, "
             "govctl.adapters.duckdb_engine; print(sorted({m.split('.')[0] for m in sys.modules}))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert "'scipy'" not in out and "'numpy'" not in out and "'govctl'" in out


def test_impossible_counts_are_no_evidence_not_a_crash():
    """More successes than trials (or fewer than none) is a counting bug upstream: the
    statistic is -inf (never a rejection), as SciPy's NaN was, not a ValueError."""
    for x, n, p0 in ((5, 3, 0.1), (-1, 3, 0.1), (1, 3, float("nan")), (1, float("inf"), 0.1)):
        assert cs.log_msprt_bernoulli(x, n, p0) == -math.inf
        assert not cs.rejects(x, n, p0, 0.05)
