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
beta function, computed in log space with SciPy.
"""

from __future__ import annotations

import numpy as np
from scipy import special


def log_msprt_bernoulli(x: np.ndarray | int, n: np.ndarray | int, p0: np.ndarray | float,
                        a: float = 1.0, b: float = 1.0) -> np.ndarray:
    """log of the mixture likelihood ratio for H1: p > p0 against H0: p = p0, after ``x``
    successes in ``n`` trials, with a Beta(a, b) prior truncated to (p0, 1). Vectorised."""
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    p0 = np.clip(np.asarray(p0, dtype=float), 1e-12, 1 - 1e-12)
    with np.errstate(divide="ignore"):
        log_num = (special.betaln(x + a, n - x + b)
                   + np.log(special.betaincc(x + a, n - x + b, p0)))
        log_prior = special.betaln(a, b) + np.log(special.betaincc(a, b, p0))
        log_null = x * np.log(p0) + (n - x) * np.log1p(-p0)
    return log_num - log_prior - log_null


def rejects(x: np.ndarray | int, n: np.ndarray | int, p0: np.ndarray | float,
            alpha: float) -> np.ndarray:
    """True where the always-valid test rejects H0 (p <= p0) at level ``alpha``."""
    return log_msprt_bernoulli(x, n, p0) >= np.log(1.0 / alpha)


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
        return (-np.inf, np.inf)
    v = n * sigma * sigma
    rho = sigma * sigma * tuned_for
    radius = np.sqrt(2 * (v + rho) * np.log(np.sqrt((v + rho) / rho) / (alpha / 2))) / n
    return (mean - radius, mean + radius)
