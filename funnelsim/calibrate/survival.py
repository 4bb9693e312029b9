"""Kaplan-Meier and Aalen-Johansen estimators for right-censored stage data, plus bootstrap.

A record still open at the export date is censored at its age: it may yet convert. A
record known never to convert (closed as lost upstream) has duration ``inf`` and no event:
it stays in the risk set for ever, which makes the Kaplan-Meier curve level off at the
share that never converts (a cure fraction) instead of counting the open ones as lost.

Records are first tallied by distinct duration (a ``Tally``: counts of censored records and
of each outcome at each time), so every estimator costs O(distinct times), not O(records),
and a bootstrap replicate is a multinomial redraw of those counts: the same distribution as
resampling records, for all replicates at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_GROUPS = 4000
CELLS_PER_CHUNK = 2_000_000


@dataclass(frozen=True)
class Tally:
    """Records counted by distinct duration: ``counts[..., k, g]`` have outcome ``k`` at
    ``times[g]`` (k = 0 censored, 1.. the competing outcomes); leading axes are replicates."""

    times: np.ndarray
    counts: np.ndarray

    @property
    def n(self) -> np.ndarray:
        """Records in the tally (per replicate)."""
        return self.counts.sum(axis=(-2, -1))


def tally(
    durations: np.ndarray, causes: np.ndarray, outcomes: int = 2, max_groups: int | None = None
) -> Tally:
    """Tally records by duration and outcome code (0 censored, 1..``outcomes``).

    With ``max_groups``, finite durations are first rounded to a grid coarse enough to give
    at most that many distinct times (used for bootstrap intervals of huge exports).
    """
    durations = np.asarray(durations, dtype=float)
    causes = np.asarray(causes).astype(np.int64)
    if max_groups is not None and len(durations):
        finite = np.isfinite(durations)
        if finite.any() and len(np.unique(durations[finite])) > max_groups:
            low, high = durations[finite].min(), durations[finite].max()
            step = (high - low) / max_groups
            durations = durations.copy()
            durations[finite] = low + np.round((durations[finite] - low) / step) * step
    index, times = pd.factorize(durations, sort=True)
    cells = np.bincount(causes * len(times) + index, minlength=(outcomes + 1) * len(times))
    return Tally(np.asarray(times, dtype=float), cells.reshape(outcomes + 1, len(times)) * 1.0)


def _curves(t: Tally) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """At-risk counts, events of each outcome, and the all-cause survival just after each time."""
    per_time = t.counts.sum(axis=-2)
    at_risk = t.n[..., None] - np.cumsum(per_time, axis=-1) + per_time
    events = t.counts[..., 1:, :]
    deaths = events.sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(at_risk > 0, 1.0 - deaths / at_risk, 1.0)
    return at_risk, events, np.cumprod(factor, axis=-1)


def conversion(t: Tally) -> np.ndarray:
    """Share that eventually has an event: 1 - S at the last time (0 with no events)."""
    _, _, survival = _curves(t)
    return 1.0 - survival[..., -1] if survival.shape[-1] else np.zeros(t.counts.shape[:-2])


def quantiles(t: Tally, probs: np.ndarray, cure: bool = True) -> np.ndarray:
    """Kaplan-Meier times by which shares ``probs`` have an event (NaN if not reached).

    With ``cure`` the share is of those who ever have one (the curve levels off); without,
    of everyone. The result has the tally's leading axes, then one entry per prob.
    """
    _, _, survival = _curves(t)
    converted = 1.0 - survival
    if cure:
        with np.errstate(divide="ignore", invalid="ignore"):
            converted = converted / converted[..., -1:]
    return _first_reaching(t.times, converted, probs)


def _first_reaching(times: np.ndarray, curve: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The first time at which a non-decreasing ``curve`` reaches each prob (NaN if never)."""
    probs = np.atleast_1d(np.asarray(probs, dtype=float))
    if curve.shape[-1] == 0:
        return np.full((*curve.shape[:-1], len(probs)), np.nan)
    reached = curve[..., None, :] >= probs[:, None] - 1e-12
    index = np.argmax(reached, axis=-1)
    found = np.take_along_axis(reached, index[..., None], axis=-1)[..., 0]
    return np.where(found, times[index], np.nan)


def cumulative_incidence(t: Tally) -> np.ndarray:
    """Aalen-Johansen cumulative incidence of each outcome by time: [..., outcome, time]."""
    at_risk, events, survival = _curves(t)
    before = np.concatenate([np.ones_like(survival[..., :1]), survival[..., :-1]], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(at_risk[..., None, :] > 0, events / at_risk[..., None, :], 0.0)
    return np.cumsum(before[..., None, :] * hazard, axis=-1)


def incidence(t: Tally, which: int = 1) -> np.ndarray:
    """Cumulative incidence of outcome ``which`` at the end: the share that ever has it,
    with the other outcome competing (records ending that way leave the risk set)."""
    cif = cumulative_incidence(t)
    if cif.shape[-1] == 0:
        return np.zeros(t.counts.shape[:-2])
    return cif[..., which - 1, -1]


def share_won(t: Tally) -> np.ndarray:
    """Probability a deal ends in outcome 1 rather than 2, open deals censored (NaN if none)."""
    cif = cumulative_incidence(t)
    if cif.shape[-1] == 0:
        return np.full(t.counts.shape[:-2], np.nan)
    won, lost = cif[..., 0, -1], cif[..., 1, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(won + lost > 0, won / (won + lost), np.nan)


def outcome_quantiles(t: Tally, which: int, probs: np.ndarray) -> np.ndarray:
    """Time quantiles among records ending in outcome ``which`` (Aalen-Johansen)."""
    cif = cumulative_incidence(t)[..., which - 1, :]
    if cif.shape[-1] == 0:
        return np.full((*cif.shape[:-1], len(np.atleast_1d(probs))), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = cif / cif[..., -1:]
    return _first_reaching(t.times, share, probs)


def bootstrap(
    statistic: Callable[[Tally], np.ndarray],
    t: Tally,
    rng: np.random.Generator,
    replicates: int = 200,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic``: records resampled as multinomial
    redraws of the tally's counts, in chunks of replicates to bound memory."""
    cells = t.counts.reshape(-1)
    n = int(cells.sum().round())
    if n == 0 or replicates < 1:
        return float("nan"), float("nan")
    chunk = max(1, CELLS_PER_CHUNK // max(len(cells), 1))
    values = []
    for start in range(0, replicates, chunk):
        size = min(chunk, replicates - start)
        draws = rng.multinomial(n, cells / n, size=size).astype(float)
        values.append(np.asarray(statistic(Tally(t.times, draws.reshape(size, *t.counts.shape)))))
    found = np.concatenate([np.ravel(v) for v in values])
    found = found[np.isfinite(found)]
    if len(found) == 0:
        return float("nan"), float("nan")
    alpha = (1 - level) / 2
    low, high = np.quantile(found, [alpha, 1 - alpha])
    return float(low), float(high)


def estimate(
    statistic: Callable[[Tally], np.ndarray],
    durations: np.ndarray,
    causes: np.ndarray,
    rng: np.random.Generator,
    replicates: int,
    outcomes: int = 2,
) -> tuple[float, tuple[float, float]]:
    """``statistic`` on the exact tally and its bootstrap 95% interval (on a tally coarsened
    to at most MAX_GROUPS distinct times, which bounds the work for huge exports)."""
    value = float(statistic(tally(durations, causes, outcomes)))
    coarse = tally(durations, causes, outcomes, max_groups=MAX_GROUPS)
    return value, bootstrap(statistic, coarse, rng, replicates)


# Record-level conveniences (one array of durations, events or outcome codes).


def kaplan_meier(durations: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Event times and the survival S(t) just after each (records with ``inf`` never leave)."""
    t = tally(durations, np.asarray(events, dtype=bool), outcomes=1)
    _, _, survival = _curves(t)
    has_event = t.counts[1] > 0
    return t.times[has_event], survival[has_event]


def km_conversion(durations: np.ndarray, events: np.ndarray) -> float:
    """Share that eventually converts: 1 - S at the last event time (0 with no events)."""
    return float(conversion(tally(durations, np.asarray(events, dtype=bool), outcomes=1)))


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
    return quantiles(tally(durations, np.asarray(events, dtype=bool), outcomes=1), probs, cure)


def aalen_johansen(durations: np.ndarray, cause: np.ndarray) -> tuple[float, float, float]:
    """Cumulative incidence of cause 1 and cause 2 at the end, and the share still open.

    ``cause`` is 0 for censored records, 1 or 2 for the two competing outcomes (won, lost).
    """
    t = tally(durations, cause)
    if not t.counts[1:].any():
        return 0.0, 0.0, 1.0
    cif = cumulative_incidence(t)
    _, _, survival = _curves(t)
    return float(cif[0, -1]), float(cif[1, -1]), float(survival[-1])


def cif_quantiles(
    durations: np.ndarray, cause: np.ndarray, which: int, probs: np.ndarray
) -> np.ndarray:
    """Time quantiles among records ending in ``which`` (Aalen-Johansen; NaN past the last)."""
    cause = np.asarray(cause)
    if not (cause == which).any():
        return np.full(len(np.atleast_1d(probs)), np.nan)
    return outcome_quantiles(tally(durations, cause), which, probs)


def win_share(durations: np.ndarray, cause: np.ndarray) -> float:
    """Probability an opportunity ends won rather than lost, open deals censored."""
    return float(share_won(tally(durations, cause)))
