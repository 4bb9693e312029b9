"""The theory module against hand-solved cases and independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from funnelsim import theory


def _birth_death_mmc(lam: float, mu: float, c: int, n_max: int = 4000) -> tuple[float, float]:
    """P(wait) and L_q of M/M/c from its stationary birth-death distribution (truncated)."""
    n = np.arange(n_max)
    a = lam / mu
    log_p = np.where(
        n < c,
        n * math.log(a) - np.array([math.lgamma(k + 1) for k in n]),
        c * math.log(a) - math.lgamma(c + 1) + (n - c) * math.log(a / c),
    )
    p = np.exp(log_p - log_p.max())
    p /= p.sum()
    return float(p[n >= c].sum()), float(((n - c).clip(min=0) * p).sum())


def test_erlang_c_single_server_is_rho() -> None:
    """With one server an arrival waits exactly when the server is busy: P(wait) = rho."""
    for rho in (0.1, 0.5, 0.9, 0.99):
        assert theory.erlang_c(rho * 2.0, 2.0, 1) == pytest.approx(rho, rel=1e-12)


def test_erlang_c_textbook_two_servers() -> None:
    """M/M/2 with a = 1 (rho = 0.5): C = (1/2 / 0.5) / (1 + 1 + 1) = 1/3."""
    assert theory.erlang_c(1.0, 1.0, 2) == pytest.approx(1 / 3, rel=1e-12)
    assert theory.mmc_mean_wait(1.0, 1.0, 2) == pytest.approx(1 / 3, rel=1e-12)


def test_mm1_mean_wait_closed_form() -> None:
    """M/M/1: W_q = rho / (mu - lam)."""
    lam, mu = 0.7, 1.3
    assert theory.mmc_mean_wait(lam, mu, 1) == pytest.approx((lam / mu) / (mu - lam), rel=1e-12)


@pytest.mark.parametrize(("lam", "mu", "c"), [(1.5, 1.0, 3), (2.7, 1.0, 3), (9.0, 1.0, 10)])
def test_erlang_c_matches_birth_death_chain(lam: float, mu: float, c: int) -> None:
    """Erlang C and L_q agree with the M/M/c stationary distribution computed directly."""
    p_wait, l_q = _birth_death_mmc(lam, mu, c)
    assert theory.erlang_c(lam, mu, c) == pytest.approx(p_wait, rel=1e-9)
    assert theory.mmc_mean_queue_length(lam, mu, c) == pytest.approx(l_q, rel=1e-9)


def test_erlang_c_refuses_unstable_queue() -> None:
    with pytest.raises(ValueError, match="unstable"):
        theory.erlang_c(3.0, 1.0, 3)
    with pytest.raises(ValueError, match="servers"):
        theory.erlang_c(1.0, 1.0, 0)


def test_littles_law_identity() -> None:
    """L = lam W, and on a sample path that starts and ends empty it holds exactly."""
    assert theory.littles_law_L(2.5, 4.0) == pytest.approx(10.0)
    assert theory.mmc_mean_queue_length(2.7, 1.0, 3) == pytest.approx(
        2.7 * theory.mmc_mean_wait(2.7, 1.0, 3)
    )
    rng = np.random.default_rng(0)
    arrive = np.sort(rng.uniform(0, 100, 50))
    leave = arrive + rng.exponential(3.0, 50)
    horizon = leave.max()
    grid = np.linspace(0, horizon, 400_001)
    in_system = (arrive[:, None] <= grid) & (grid < leave[:, None])
    time_average = in_system.sum(axis=0)[:-1].mean()
    expected = theory.littles_law_L(len(arrive) / horizon, float(np.mean(leave - arrive)))
    assert time_average == pytest.approx(expected, rel=1e-3)


def test_absorbing_chain_hand_solved() -> None:
    """Two stages with recycling: A -> B (0.5) or lost; B -> won 0.6, back to A 0.2, lost 0.2.

    b_A = 0.5 b_B and b_B = 0.6 + 0.2 b_A give b_B = 2/3, b_A = 1/3;
    N = (I - Q)^-1 = [[1, 0.5], [0.2, 1]] / 0.9.
    """
    q = np.array([[0.0, 0.5], [0.2, 0.0]])
    r = np.array([[0.0, 0.5], [0.6, 0.2]])
    n, b = theory.absorbing_chain(q, r)
    np.testing.assert_allclose(n, np.array([[1.0, 0.5], [0.2, 1.0]]) / 0.9, rtol=1e-12)
    np.testing.assert_allclose(b[:, 0], [1 / 3, 2 / 3], rtol=1e-12)
    np.testing.assert_allclose(b.sum(axis=1), 1.0, rtol=1e-12)


def test_linear_funnel_is_product_of_conversions() -> None:
    """In a linear funnel the chance of winning from stage i is the product of later rates."""
    conversion = [0.5, 0.4, 0.3]
    np.testing.assert_allclose(
        theory.linear_funnel_win_probability(conversion), [0.06, 0.12, 0.3], rtol=1e-12
    )
    with pytest.raises(ValueError):
        theory.linear_funnel_win_probability([0.5, 1.5])
