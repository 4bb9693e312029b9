"""The fast beta quantile against scipy's ``betaincinv``: a tiny stated bound, monotone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from funnelsim.scenario.beta_quantile import FAST_RANGE, beta_ppf
from funnelsim.scenario.distributions import Beta

# The documented bound: |x - betaincinv| <= REL * min(x, 1 - x) + ABS, or a better root.
REL = 1e-13
ABS = 4 * np.finfo(float).eps
TAILS = np.array([0.0, 2.0**-53, 1e-12, 1e-9, 6e-6, 0.5, 1 - 6e-6, 1 - 1e-9, 1 - 1e-12])
SHAPES = st.floats(0.3, 20.0)
# The baseline's fits, both ends of the tested range and the borders of the fast path.
CASES = [(0.9, 2.2), (1.5, 2.0), (4.0, 1.5), (0.3, 0.3), (20.0, 20.0), (0.3, 20.0), (20.0, 0.3)]
CASES += [(FAST_RANGE[0], FAST_RANGE[1]), (FAST_RANGE[1], FAST_RANGE[0]), (2.0, 5.0)]


def _assert_close(a: float, b: float, u: np.ndarray) -> None:
    exact = special.betaincinv(a, b, u)
    fast = beta_ppf(a, b, u)
    assert fast.shape == exact.shape
    both_nan = np.isnan(exact) & np.isnan(fast)
    bound = REL * np.minimum(exact, 1.0 - exact) + ABS
    close = np.abs(fast - exact) <= bound
    # betaincinv itself strays at places (Beta(1.75, 1.75) at 0.5 gives 0.5 + 1e-12): there
    # the fast quantile must be the better root of betainc(a, b, x) = u.
    better = np.abs(special.betainc(a, b, fast) - u) <= np.abs(special.betainc(a, b, exact) - u)
    ok = both_nan | close | better
    assert ok.all(), (a, b, u[~ok], fast[~ok] - exact[~ok])


def _dense(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    tails = 10.0 ** -rng.uniform(0.0, 15.0, 2_000)
    return np.concatenate([np.linspace(0.0, 1.0, 20_001)[:-1], rng.random(5_000), tails, 1 - tails])


@pytest.mark.parametrize(("a", "b"), CASES)
def test_dense_grid_within_bound_and_monotone(a: float, b: float) -> None:
    u = np.sort(np.concatenate([_dense(int(a * 100 + b)), TAILS]))
    _assert_close(a, b, u)
    x = beta_ppf(a, b, np.linspace(0.0, 1.0, 200_001)[:-1])
    assert np.all(np.diff(x) >= 0.0)


@settings(max_examples=200, deadline=None)
@given(a=SHAPES, b=SHAPES, u=st.lists(st.floats(0.0, 1.0, exclude_max=True), max_size=50))
def test_random_shapes_and_uniforms_within_bound(a: float, b: float, u: list[float]) -> None:
    _assert_close(a, b, np.concatenate([np.array(u, dtype=float), TAILS]))


@settings(max_examples=30, deadline=None)
@given(a=SHAPES, b=SHAPES)
def test_random_shapes_monotone_on_a_dense_grid(a: float, b: float) -> None:
    u = np.sort(np.concatenate([np.linspace(0.0, 1.0, 50_001)[:-1], 10.0 ** -np.arange(6, 16)]))
    x = beta_ppf(a, b, u)
    assert np.all(np.diff(x) >= 0.0)


def test_a_better_root_where_betaincinv_strays() -> None:
    half = beta_ppf(1.75, 1.75, np.array([0.5]))
    assert abs(special.betaincinv(1.75, 1.75, 0.5) - 0.5) > 1e-13
    assert abs(half[0] - 0.5) <= ABS


def test_elementwise_whatever_the_array_holds() -> None:
    """A lead's fit must not depend on the other leads drawn with it (blocks, variants)."""
    u = _dense(3)
    whole = beta_ppf(0.9, 2.2, u)
    pieces = np.concatenate([beta_ppf(0.9, 2.2, part) for part in np.array_split(u, 7)])
    one_by_one = np.array([beta_ppf(0.9, 2.2, np.array([v]))[0] for v in u[::97]])
    np.testing.assert_array_equal(whole, pieces)
    np.testing.assert_array_equal(whole[::97], one_by_one)


@pytest.mark.parametrize(("a", "b"), [(1.0, 2.0), (3.0, 1.0), (0.1, 2.0), (200.0, 3.0)])
def test_outside_the_fast_path_is_exactly_betaincinv(a: float, b: float) -> None:
    u = _dense(4)
    np.testing.assert_array_equal(beta_ppf(a, b, u), special.betaincinv(a, b, u))


def test_distribution_uses_it_with_any_shape_of_input() -> None:
    dist = Beta(a=1.5, b=2.0)
    u = np.random.default_rng(5).random((3, 4))
    assert dist.ppf(u).shape == (3, 4)
    np.testing.assert_array_equal(dist.ppf(u), beta_ppf(1.5, 2.0, u))
    assert dist.ppf(np.float64(0.25)).shape == ()
