"""Closed-form results the tests and notebooks share: M/M/c queues and absorbing chains.

Queues (Erlang C). An M/M/c queue has Poisson arrivals at rate ``lam``, exponential
service at rate ``mu`` per server and ``c`` servers. With offered load ``a = lam / mu``
and utilisation ``rho = a / c < 1``:

    P(wait) = C(c, a) = [a^c / c! * 1 / (1 - rho)]
                        / [sum_{k=0}^{c-1} a^k / k! + a^c / c! * 1 / (1 - rho)]
    W_q     = C(c, a) / (c * mu - lam)          (mean wait in queue)
    L_q     = lam * W_q                         (mean queue length, Little's law)

Little's law, ``L = lam * W``, holds for any stable system, whatever the distributions.

Funnels (absorbing Markov chains). A funnel without capacity limits is a Markov chain
whose transient states are the stages and whose absorbing states are the endings (won,
lost). Ordering the states transient first, the transition matrix is
``P = [[Q, R], [0, I]]``. The fundamental matrix ``N = (I - Q)^-1`` gives the expected
visits to each transient state; ``B = N R`` gives, for each starting stage, the
probability of ending in each absorbing state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _check_stable(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Validate M/M/c parameters and return the utilisation rho = lam / (c mu)."""
    if servers < 1 or int(servers) != servers:
        raise ValueError(f"servers must be a positive integer, got {servers!r}")
    if arrival_rate < 0 or service_rate <= 0:
        raise ValueError("arrival_rate must be >= 0 and service_rate > 0")
    rho = arrival_rate / (servers * service_rate)
    if rho >= 1:
        raise ValueError(f"unstable queue: rho = lam / (c mu) = {rho:.4g} >= 1")
    return rho


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Erlang C: the probability an arrival must wait in an M/M/c queue (rho < 1).

    ``C = (a^c / c!) / (1 - rho) / (sum_{k<c} a^k / k! + (a^c / c!) / (1 - rho))`` with
    ``a = lam / mu`` and ``rho = a / c``. Computed through the numerically stable Erlang B
    recursion ``B_0 = 1, B_k = a B_{k-1} / (k + a B_{k-1})`` and
    ``C = B_c / (1 - rho (1 - B_c))``.
    """
    rho = _check_stable(arrival_rate, service_rate, servers)
    a = arrival_rate / service_rate
    b = 1.0
    for k in range(1, int(servers) + 1):
        b = a * b / (k + a * b)
    return b / (1.0 - rho * (1.0 - b))


def mmc_mean_wait(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in queue of an M/M/c queue: ``W_q = C(c, a) / (c mu - lam)``."""
    _check_stable(arrival_rate, service_rate, servers)
    if arrival_rate == 0:
        return 0.0
    return erlang_c(arrival_rate, service_rate, servers) / (servers * service_rate - arrival_rate)


def mmc_mean_queue_length(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean number waiting in an M/M/c queue: ``L_q = lam W_q`` (Little's law)."""
    return littles_law_L(arrival_rate, mmc_mean_wait(arrival_rate, service_rate, servers))


def littles_law_L(arrival_rate: float, mean_time: float) -> float:  # noqa: N802
    """Little's law ``L = lam W``: mean number in a system from its rate and mean time."""
    return arrival_rate * mean_time


def absorbing_chain(Q: np.ndarray, R: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # noqa: N803
    """Fundamental matrix ``N = (I - Q)^-1`` and absorption probabilities ``B = N R``.

    ``Q`` (t x t) holds transient-to-transient and ``R`` (t x r) transient-to-absorbing
    transition probabilities; ``N[i, j]`` is the expected number of visits to ``j``
    starting from ``i``, ``B[i, k]`` the probability of ending in absorbing state ``k``.
    """
    q = np.asarray(Q, dtype=float)
    r = np.asarray(R, dtype=float)
    if q.ndim != 2 or q.shape[0] != q.shape[1]:
        raise ValueError(f"Q must be square, got shape {q.shape}")
    if r.ndim != 2 or r.shape[0] != q.shape[0]:
        raise ValueError(f"R must have {q.shape[0]} rows, got shape {r.shape}")
    n = np.linalg.inv(np.eye(q.shape[0]) - q)
    return n, n @ r


def linear_funnel_win_probability(conversion: Sequence[float]) -> np.ndarray:
    """Probability of ending won from each stage of a linear funnel, via its chain.

    Stage ``i`` moves on with probability ``conversion[i]`` (the last stage's "moving on"
    is winning) and is lost otherwise; the result ``b[i] = prod_{j >= i} conversion[j]``
    is read off column "won" of ``B = N R``.
    """
    p = np.asarray(conversion, dtype=float)
    if p.ndim != 1 or len(p) == 0:
        raise ValueError("conversion must be a non-empty sequence of probabilities")
    if np.any((p < 0) | (p > 1)):
        raise ValueError("conversion probabilities must lie in [0, 1]")
    k = len(p)
    q = np.zeros((k, k))
    q[np.arange(k - 1), np.arange(1, k)] = p[:-1]
    r = np.zeros((k, 2))
    r[-1, 0] = p[-1]
    r[:, 1] = 1.0 - p
    _, b = absorbing_chain(q, r)
    return b[:, 0]


__all__ = [
    "absorbing_chain",
    "erlang_c",
    "linear_funnel_win_probability",
    "littles_law_L",
    "mmc_mean_queue_length",
    "mmc_mean_wait",
]
