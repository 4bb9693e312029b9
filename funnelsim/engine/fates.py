"""Random streams: lead arrivals, and each lead's own fate draws (attribution by coupling).

All randomness comes from numpy Generators seeded by ``(seed, stream)``. Lead k's fates are
row k of a row-major uniform matrix, so they do not depend on how many leads a run has or
on anything the scenario does downstream: lead 17 of replication 3 meets the same draws in
a baseline and in its variant, which makes comparisons paired.
"""

from __future__ import annotations

import zlib
from enum import IntEnum

import numpy as np

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.scenario.models import Scenario

HOURS_PER_WEEK = 168.0
ARRIVAL_STREAM = 1
FATE_STREAM = 2
TERM_STREAM = 3


class Fate(IntEnum):
    """Columns of the per-lead uniform matrix: one per decision or duration."""

    SEGMENT = 0
    FIT = 1
    SCORE_NOISE = 2
    DEAL_VALUE = 3
    RESURFACE = 4
    RESURFACE_DELAY = 5
    STALE = 6
    QUALIFY = 7
    ACCEPT = 8
    RESPONSE_DELAY = 9
    SDR_WORK = 10
    FALLBACK_DELAY = 11
    FALLBACK_WORK = 12
    DISCOVERY = 13
    OPPORTUNITY = 14
    CYCLE = 15
    WIN = 16
    LOST_REASON = 17
    SLIP = 18
    SLIP_DAYS = 19
    STALE_STAGE = 20
    NONSTANDARD = 21
    APPROVAL = 22
    DEAL_DESK_WORK = 23
    FALLTHROUGH = 24
    CONTRACT_ERROR = 25
    INVOICE_DELAY = 26
    CONTEXT = 27
    ONBOARDING = 28
    EARLY_CHURN = 29


class TermFate(IntEnum):
    """Per-term columns of the renewal uniforms: term k uses columns k*3 .. k*3+2."""

    RENEW = 0
    CHANGE = 1
    UPLIFT = 2


def stream(seed: int, kind: int, key: int = 0) -> np.random.Generator:
    """A Generator for one purpose, independent of every other stream of the same seed."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), kind, key]))


def source_key(name: str) -> int:
    """A stable integer key for a source name, so adding a source leaves others' draws."""
    return zlib.crc32(name.encode("utf-8"))


def draw_arrivals(scenario: Scenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Poisson arrival times (hours) and source index per lead, sorted by time.

    Each source is a non-homogeneous Poisson process: its weekly rate, scaled by a
    monthly seasonality multiplier and, when the source sets ``business_hours_share``,
    concentrated into the scenario calendar's open hours. Times come from the source's
    own stream of unit exponential spacings mapped through the inverse cumulative
    intensity, so the k-th lead of a source keeps its draws when the rate changes: it
    only arrives earlier or later. That keeps comparisons of arrival rates paired.
    """
    horizon = scenario.horizon_hours
    edges, month_index, open_share = _hour_grid(scenario, horizon)
    times: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    for index, (name, source) in enumerate(scenario.sources.items()):
        rng = stream(seed, ARRIVAL_STREAM, source_key(name))
        rate_per_hour = source.leads_per_week / HOURS_PER_WEEK
        season = np.ones(12) if source.seasonality is None else np.asarray(source.seasonality)
        weight = _hour_weights(open_share, source.business_hours_share)
        intensity = rate_per_hour * season[month_index] * weight * np.diff(edges)
        cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
        spacings = _cumulative_exponentials(rng, cumulative[-1])
        arrivals = np.interp(spacings, cumulative, edges)
        times.append(arrivals)
        sources.append(np.full(len(arrivals), index, dtype=np.int16))
    all_times = np.concatenate(times) if times else np.empty(0)
    all_sources = np.concatenate(sources) if sources else np.empty(0, dtype=np.int16)
    order = np.argsort(all_times, kind="stable")
    return all_times[order], all_sources[order]


def _hour_grid(scenario: Scenario, horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly edges over the horizon, each hour's calendar month, and its open share."""
    edges = np.append(np.arange(0.0, horizon, 1.0), horizon)
    start = np.datetime64(scenario.start_date, "h")
    months = (start + edges[:-1].astype("timedelta64[h]")).astype("datetime64[M]")
    month_index = months.astype(np.int64) % 12
    calendar = WorkCalendar(scenario.calendar, scenario.start_date, horizon + 24.0)
    open_share = np.diff(calendar.working_hours_array(edges)) / np.diff(edges)
    return edges, month_index, open_share


def _hour_weights(open_share: np.ndarray, business_share: float | None) -> np.ndarray:
    """Relative arrival intensity per hour, averaging 1, for a business-hours share."""
    if business_share is None:
        return np.ones(len(open_share))
    mean_open = float(open_share.mean())
    if mean_open <= 0.0 or mean_open >= 1.0:
        return np.ones(len(open_share))
    inside = business_share / mean_open
    outside = (1.0 - business_share) / (1.0 - mean_open)
    return inside * open_share + outside * (1.0 - open_share)


def _cumulative_exponentials(rng: np.random.Generator, total: float) -> np.ndarray:
    """Partial sums of unit exponentials below ``total``, drawn in blocks (prefix-stable)."""
    if total <= 0:
        return np.empty(0)
    block = int(total + 4 * np.sqrt(total) + 16)
    sums: list[np.ndarray] = []
    reached = 0.0
    while reached <= total:
        chunk = reached + np.cumsum(rng.standard_exponential(block))
        sums.append(chunk)
        reached = float(chunk[-1])
    points = np.concatenate(sums)
    return points[points < total]


def draw_fates(seed: int, source: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """The (n_leads, len(Fate)) matrix of uniforms, keyed by source and rank within it.

    The k-th lead of a source always gets row k of that source's own stream, whatever
    the other sources do and however many leads there are.
    """
    fates = np.empty((len(source), len(Fate)))
    for index, name in enumerate(names):
        mask = source == index
        rows = stream(seed, FATE_STREAM, source_key(name)).random((int(mask.sum()), len(Fate)))
        fates[mask] = rows
    return fates


def draw_term_fates(
    seed: int, source: np.ndarray, names: tuple[str, ...], n_terms: int
) -> np.ndarray:
    """The (n_leads, n_terms * len(TermFate)) renewal uniforms, keyed like the fates."""
    width = n_terms * len(TermFate)
    fates = np.empty((len(source), width))
    for index, name in enumerate(names):
        mask = source == index
        fates[mask] = stream(seed, TERM_STREAM, source_key(name)).random((int(mask.sum()), width))
    return fates
