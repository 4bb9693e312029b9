"""Kaplan-Meier and Aalen-Johansen estimators for right-censored stage data, plus bootstrap.

A record still open at the export date is censored at its age: it may yet convert. A
record known never to convert (closed as lost upstream) has duration ``inf`` and no event:
it stays in the risk set for ever, which makes the Kaplan-Meier curve level off at the
share that never converts (a cure fraction) instead of counting the open ones as lost.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def kaplan_meier(durations: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Event times and the survival S(t) just after each (records with ``inf`` never leave)."""
    durations = np.asarray(durations, dtype=float)
    events = np.asarray(events, dtype=bool)
    times = np.unique(durations[events])
    if len(times) == 0:
        return times, np.ones(0)
    ordered = np.sort(durations)
    at_risk = len(ordered) - np.searchsorted(ordered, times, side="left")
    event_times = np.sort(durations[events])
    deaths = np.searchsorted(event_times, times, "right") - np.searchsorted(
        event_times, times, "left"
    )
    return times, np.cumprod(1.0 - deaths / at_risk)


def km_conversion(durations: np.ndarray, events: np.ndarray) -> float:
    """Share that eventually converts: 1 - S at the last event time (0 with no events)."""
    _, survival = kaplan_meier(durations, events)
    return float(1.0 - survival[-1]) if len(survival) else 0.0


def km_quantile(
    durations: np.ndarray, events: np.ndarray, q: float = 0.5, cure: bool = True
) -> float:
    """Time by which a share ``q`` have converted (NaN if not reached).

    With ``cure`` the share is of those who ever convert (the curve levels off); without,
    of everyone (every record ends in an event, e.g. an opportunity closes).
    """
    return float(km_quantiles(durations, events, np.array([q]), cure)[0])


def km_quantiles(
    durations: np.ndarray, events: np.ndarray, probs: np.ndarray, cure: bool = True
) -> np.ndarray:
    """Kaplan-Meier quantiles at ``probs`` (NaN beyond the last event)."""
    times, survival = kaplan_meier(durations, events)
    if len(times) == 0:
        return np.full(len(probs), np.nan)
    converted = 1.0 - survival
    share = converted / converted[-1] if cure else converted
    index = np.searchsorted(share, np.asarray(probs) - 1e-12, side="left")
    out = times[np.minimum(index, len(times) - 1)]
    return np.where(index < len(times), out, np.nan)


def aalen_johansen(durations: np.ndarray, cause: np.ndarray) -> tuple[float, float, float]:
    """Cumulative incidence of cause 1 and cause 2 at the end, and the share still open.

    ``cause`` is 0 for censored records, 1 or 2 for the two competing outcomes (won, lost).
    """
    durations = np.asarray(durations, dtype=float)
    cause = np.asarray(cause)
    events = cause > 0
    times = np.unique(durations[events])
    if len(times) == 0:
        return 0.0, 0.0, 1.0
    ordered = np.sort(durations)
    at_risk = len(ordered) - np.searchsorted(ordered, times, side="left")
    d1 = _count_at(durations[cause == 1], times)
    d2 = _count_at(durations[cause == 2], times)
    survival = np.cumprod(1.0 - (d1 + d2) / at_risk)
    before = np.concatenate([[1.0], survival[:-1]])
    cif1 = float(np.sum(before * d1 / at_risk))
    cif2 = float(np.sum(before * d2 / at_risk))
    return cif1, cif2, float(survival[-1])


def cif_quantiles(
    durations: np.ndarray, cause: np.ndarray, which: int, probs: np.ndarray
) -> np.ndarray:
    """Time quantiles among records ending in ``which`` (Aalen-Johansen; NaN past the last)."""
    durations = np.asarray(durations, dtype=float)
    cause = np.asarray(cause)
    times = np.unique(durations[cause > 0])
    if not (cause == which).any():
        return np.full(len(probs), np.nan)
    ordered = np.sort(durations)
    at_risk = len(ordered) - np.searchsorted(ordered, times, side="left")
    d_all = _count_at(durations[cause > 0], times)
    d_this = _count_at(durations[cause == which], times)
    survival = np.cumprod(1.0 - d_all / at_risk)
    before = np.concatenate([[1.0], survival[:-1]])
    cif = np.cumsum(before * d_this / at_risk)
    share = cif / cif[-1]
    index = np.searchsorted(share, np.asarray(probs) - 1e-12, side="left")
    out = times[np.minimum(index, len(times) - 1)]
    return np.where(index < len(times), out, np.nan)


def win_share(durations: np.ndarray, cause: np.ndarray) -> float:
    """Probability an opportunity ends won rather than lost, open deals censored."""
    cif1, cif2, _ = aalen_johansen(durations, cause)
    return cif1 / (cif1 + cif2) if cif1 + cif2 > 0 else float("nan")


def _count_at(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    return np.searchsorted(values, times, "right") - np.searchsorted(values, times, "left")


def bootstrap_interval(
    statistic: Callable[..., float],
    arrays: tuple[np.ndarray, ...],
    rng: np.random.Generator,
    replicates: int = 200,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*arrays)``, resampling records."""
    n = len(arrays[0])
    if n == 0:
        return float("nan"), float("nan")
    values = np.empty(replicates)
    for b in range(replicates):
        index = rng.integers(0, n, n)
        values[b] = statistic(*(a[index] for a in arrays))
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)
