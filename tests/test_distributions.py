"""Distributions: samples agree with the analytic mean; ppf is a proper inverse CDF."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import TypeAdapter
from scipy import stats

from funnelsim.scenario.distributions import Distribution

CONFIDENCE = 0.999
N_SAMPLES = 200_000

SPECS = [
    {"dist": "fixed", "value": 3.0},
    {"dist": "exponential", "mean": 2.5},
    {"dist": "lognormal", "median": 6, "p90": 48},
    {"dist": "lognormal", "median": 12_000, "p90": 30_000},
    {"dist": "gamma", "mean": 45, "sd": 20},
    {"dist": "gamma", "mean": 3, "sd": 6},
    {"dist": "weibull", "shape": 1.5, "scale": 10},
    {"dist": "triangular", "low": 1, "mode": 2, "high": 7},
    {"dist": "triangular", "low": 0, "mode": 0, "high": 4},
    {"dist": "beta", "a": 2, "b": 5},
    {"dist": "uniform", "low": 0.5, "high": 3},
    {"dist": "empirical", "samples": [1, 2, 2, 5, 10]},
]
IDS = [f"{s['dist']}-{i}" for i, s in enumerate(SPECS)]
ADAPTER = TypeAdapter(Distribution)


def _parse(spec: dict):
    return ADAPTER.validate_python(spec)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_sample_mean_within_ci_of_analytic_mean(spec: dict) -> None:
    dist = _parse(spec)
    x = dist.sample(np.random.default_rng(2024), N_SAMPLES)
    sd = x.std(ddof=1)
    if sd == 0:
        assert x.mean() == pytest.approx(dist.mean()) and dist.variance() == 0
        return
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, N_SAMPLES - 1) * sd / np.sqrt(N_SAMPLES)
    assert abs(x.mean() - dist.mean()) <= half, (x.mean(), dist.mean(), half)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_sample_variance_close_to_analytic(spec: dict) -> None:
    """The sample variance is within its large-sample CI (from the fourth moment)."""
    dist = _parse(spec)
    x = dist.sample(np.random.default_rng(7), N_SAMPLES)
    centred = x - x.mean()
    m4 = np.mean(centred**4)
    s2 = x.var(ddof=1)
    se = np.sqrt(max(m4 - s2**2, 0.0) / N_SAMPLES)
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    assert abs(s2 - dist.variance()) <= z * se + 1e-12 * max(1.0, dist.variance())


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_ppf_is_monotone(spec: dict) -> None:
    dist = _parse(spec)
    u = np.linspace(0.0, 1.0, 10_001)[:-1]
    values = dist.ppf(u)
    assert np.all(np.isfinite(values))
    assert np.all(np.diff(values) >= 0)


@pytest.mark.parametrize(("median", "p90"), [(6, 48), (1, 4), (12_000, 30_000), (0.5, 1.5)])
def test_lognormal_reproduces_median_and_p90(median: float, p90: float) -> None:
    dist = _parse({"dist": "lognormal", "median": median, "p90": p90})
    np.testing.assert_allclose(dist.ppf(np.array([0.5, 0.9])), [median, p90], rtol=1e-12)
    x = dist.sample(np.random.default_rng(5), N_SAMPLES)
    # The sample quantiles agree too, within the binomial CI of the empirical CDF.
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    for q, value in ((0.5, median), (0.9, p90)):
        share_below = np.mean(x <= value)
        assert abs(share_below - q) <= z * np.sqrt(q * (1 - q) / N_SAMPLES)


def test_bare_number_is_fixed() -> None:
    dist = _parse(0)
    assert dist.dist == "fixed" and dist.mean() == 0.0
    assert np.all(dist.ppf(np.array([0.1, 0.9])) == 0.0)
