"""Analytic CDFs (behind remaining-time draws) against scipy.stats and the bisection."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from funnelsim.scenario.distributions import (
    MAX_CDF,
    Beta,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    Lognormal,
    Triangular,
    Uniform,
    Weibull,
)

CASES = [
    (Exponential(mean=3.0), stats.expon(scale=3.0)),
    (Lognormal(median=2.0, p90=9.0), None),
    (Gamma(mean=4.0, sd=2.0), stats.gamma(4.0, scale=1.0)),
    (Gamma(mean=4.0, sd=40.0), stats.gamma(0.01, scale=400.0)),
    (Weibull(shape=0.7, scale=3.0), stats.weibull_min(0.7, scale=3.0)),
    (Beta(a=0.9, b=2.2), stats.beta(0.9, 2.2)),
    (Triangular(low=1.0, mode=2.0, high=6.0), stats.triang(0.2, loc=1.0, scale=5.0)),
    (Triangular(low=1.0, mode=1.0, high=6.0), stats.triang(0.0, loc=1.0, scale=5.0)),
    (Triangular(low=1.0, mode=6.0, high=6.0), stats.triang(1.0, loc=1.0, scale=5.0)),
    (Uniform(low=1.0, high=4.0), stats.uniform(loc=1.0, scale=3.0)),
]
POINTS = np.array([-1.0, 0.0, 1e-9, 0.3, 0.5, 1.0, 1.5, 2.0, 3.0, 5.5, 10.0, 100.0, 1e6])


def _reference(dist, frozen):
    if frozen is None:  # lognormal by median and p90
        return stats.lognorm(dist.sigma, scale=dist.median)
    return frozen


@pytest.mark.parametrize(("dist", "frozen"), CASES, ids=lambda c: getattr(c, "dist", ""))
def test_analytic_cdf_matches_scipy_and_stays_below_one(dist, frozen) -> None:
    got = dist.cdf(POINTS)
    want = np.minimum(_reference(dist, frozen).cdf(POINTS), MAX_CDF)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    assert np.all(got <= MAX_CDF)


@pytest.mark.parametrize(("dist", "frozen"), CASES, ids=lambda c: getattr(c, "dist", ""))
def test_analytic_cdf_agrees_with_the_bisection_on_ppf(dist, frozen) -> None:
    inner = np.linspace(0.01, 0.99, 41)
    values = dist.ppf(inner)
    np.testing.assert_allclose(dist.cdf(values), dist.bisected_cdf(values), atol=1e-12)


def test_fixed_and_empirical_cdfs_are_the_bisections() -> None:
    fixed = Fixed(value=2.0)
    np.testing.assert_array_equal(fixed.cdf(POINTS), fixed.bisected_cdf(POINTS))
    empirical = Empirical(samples=(1.0, 2.0, 2.0, 7.0))
    np.testing.assert_array_equal(empirical.cdf(POINTS), empirical.bisected_cdf(POINTS))


@pytest.mark.parametrize(("dist", "frozen"), CASES, ids=lambda c: getattr(c, "dist", ""))
def test_remaining_time_draws_stay_finite_and_above(dist, frozen) -> None:
    above = np.array([0.0, 0.5, 2.0, 50.0, 1e6])
    draws = dist.ppf_above(np.full(len(above), 0.999), above)
    assert np.all(np.isfinite(draws))
    assert np.all(draws >= above)
