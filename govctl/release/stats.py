"""Statistics for canary analysis that stay valid when you look again and again.

A canary is analysed after every batch of traffic. Re-running a fixed-sample test
(Mann-Whitney, chi-square) at every look inflates its false-alarm rate far above its
nominal alpha. govctl uses *mixture sequential probability ratio tests* (mSPRT): the
statistic is a likelihood ratio averaged over a prior on the alternative, which under the
null hypothesis is a non-negative martingale, so by Ville's inequality
``P(ever >= 1/alpha) <= alpha`` — however often, and whenever, you look.

All the tests reduce to one: a one-sided test that a Bernoulli rate exceeds ``p0``.

- error rate, canary against stable: conditional on the total number of errors, each error
  falls in the canary with probability ``p0 = theta0 * Nc / (theta0 * Nc + Nb)`` if the
  canary's error rate is at most ``theta0`` times the stable one's. Sparse errors are
  handled exactly (no normal approximation): 0.2% -> 1% is found once a few dozen errors
  have occurred.
- latency: the fraction of canary requests slower than (1 + tolerance) x the stable p95
  is at most 5% while the canary's p95 is within tolerance.
- absolute limits from the agreement: the fraction of canary requests slower than the
  p95 limit is at most 5%; the canary's error rate is at most the limit.

The mixture is a uniform prior on ``(p0, 1)``, whose integral is a regularised incomplete
beta function, computed here in log space (Lentz's continued fraction, as in Numerical
Recipes §6.4), so no tail underflows and no numerical library is imported: the check runs
after the telemetry query, and SciPy's import alone took longer than DuckDB's query over a
million records. ``tests/test_canary_stats.py`` checks it against SciPy and against a
numerical integration of the definition.
"""

from __future__ import annotations

import math

_TINY = 1e-300
_EPS = 1e-15
_MAX_TERMS = 1_000_000  # ~sqrt(max(a, b)) terms are needed; 10^12 trials would need this


def _betaln(a: float, b: float) -> float:
    """log B(a, b); for one argument a million times the other, the asymptotic series of
    lgamma(a) - lgamma(a + b) (as Cephes' ``lbeta``), which the difference of two large
    lgamma values would lose to cancellation."""
    if a < b:
        a, b = b, a
    if a > 1e6 * b and a > 1e6:
        return (math.lgamma(b) - b * math.log(a) + b * (1 - b) / (2 * a)
                + b * (1 - b) * (1 - 2 * b) / (12 * a * a) - b * b * (1 - b) ** 2 / (12 * a ** 3))
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of I_x(a, b), for x < (a + 1) / (a + b + 2)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    h = d
    for m in range(1, _MAX_TERMS):
        m2 = 2 * m
        for aa in (m * (b - m) * x / ((qam + m2) * (a + m2)),
                   -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))):
            d = 1.0 + aa * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + aa / c
            c = c if abs(c) > _TINY else _TINY
            h *= d * c
        if abs(d * c - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta ({a}, {b}, {x}) did not converge")


def _log_reg(a: float, b: float, x: float, y: float) -> float:
    """log I_x(a, b), the regularised incomplete beta function, with y = 1 - x given."""
    if x <= 0.0:
        return -math.inf
    if y <= 0.0:
        return 0.0
    lx = math.log1p(-y) if y < 0.5 else math.log(x)  # the exact one of x and y first
    ly = math.log1p(-x) if x < 0.5 else math.log(y)
    front = a * lx + b * ly - _betaln(a, b)
    if x < (a + 1.0) / (a + b + 2.0):
        return front - math.log(a) + math.log(_fraction(a, b, x))
    upper = front - math.log(b) + math.log(_fraction(b, a, y))  # 1 - I_x(a, b) <= ~1/2
    return math.log1p(-math.exp(upper))


def _log_upper(a: float, b: float, p: float) -> float:
    """log(1 - I_p(a, b)): the Beta(a, b) mass above p (SciPy's ``log(betaincc)``)."""
    return _log_reg(b, a, 1.0 - p, p)


def log_msprt_bernoulli(x: float, n: float, p0: float, a: float = 1.0,
                        b: float = 1.0) -> float:
    """log of the mixture likelihood ratio for H1: p > p0 against H0: p = p0, after ``x``
    successes in ``n`` trials, with a Beta(a, b) prior truncated to (p0, 1)."""
    x, n = float(x), float(n)
    if not 0 <= x <= n < math.inf or math.isnan(p0):  # no evidence in impossible counts
        return -math.inf
    p0 = min(max(float(p0), 1e-12), 1 - 1e-12)
    log_num = _betaln(x + a, n - x + b) + _log_upper(x + a, n - x + b, p0)
    log_prior = _betaln(a, b) + _log_upper(a, b, p0)
    log_null = x * math.log(p0) + (n - x) * math.log1p(-p0)
    return log_num - log_prior - log_null


def rejects(x: float, n: float, p0: float, alpha: float) -> bool:
    """True when the always-valid test rejects H0 (p <= p0) at level ``alpha``."""
    return log_msprt_bernoulli(x, n, p0) >= math.log(1.0 / alpha)


def rate_ratio_p0(n_canary: int, n_baseline: int, theta0: float) -> float:
    """Probability that an error falls in the canary if its rate is theta0 x baseline's."""
    c = theta0 * n_canary
    return c / (c + n_baseline) if c + n_baseline else 0.5


def always_valid_mean_bounds(mean: float, n: int, sigma: float, alpha: float,
                             tuned_for: int = 500) -> tuple[float, float]:
    """A confidence sequence for the mean of sigma-sub-Gaussian observations (normal
    mixture boundary, Howard et al. 2021): valid simultaneously over all n.

    The mixture parameter is in the units of the intrinsic time n·sigma², so it scales with
    the data: rho = sigma²·tuned_for makes the boundary tightest around ``tuned_for``
    samples, whether the values are quality scores (~0.5) or dollars (~0.001).
    """
    if n == 0:
        return (-math.inf, math.inf)
    v = n * sigma * sigma
    rho = sigma * sigma * tuned_for
    radius = math.sqrt(2 * (v + rho) * math.log(math.sqrt((v + rho) / rho) / (alpha / 2))) / n
    return (mean - radius, mean + radius)
