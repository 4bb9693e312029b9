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

    Each source is a non-homogeneous Poisson process whose weekly rate is scaled by its
    monthly seasonality multiplier. Times come from the source's own stream of unit
    exponential spacings mapped through the inverse cumulative intensity, so the k-th
    lead of a source keeps its draws when the rate changes: it only arrives earlier or
    later. That keeps comparisons of arrival rates paired.
    """
    horizon = scenario.horizon_hours
    month_edges, month_index = _month_edges(scenario, horizon)
    times: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    for index, (name, source) in enumerate(scenario.sources.items()):
        rng = stream(seed, ARRIVAL_STREAM, source_key(name))
        rate_per_hour = source.leads_per_week / HOURS_PER_WEEK
        season = np.ones(12) if source.seasonality is None else np.asarray(source.seasonality)
        intensity = rate_per_hour * season[month_index] * np.diff(month_edges)
        cumulative = np.concatenate([[0.0], np.cumsum(intensity)])
        spacings = _cumulative_exponentials(rng, cumulative[-1])
        arrivals = np.interp(spacings, cumulative, month_edges)
        times.append(arrivals)
        sources.append(np.full(len(arrivals), index, dtype=np.int16))
    all_times = np.concatenate(times) if times else np.empty(0)
    all_sources = np.concatenate(sources) if sources else np.empty(0, dtype=np.int16)
    order = np.argsort(all_times, kind="stable")
    return all_times[order], all_sources[order]


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


def _month_edges(scenario: Scenario, horizon: float) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock hour edges of calendar months over the horizon, and each month's index."""
    start = np.datetime64(scenario.start_date, "D")
    first_month = start.astype("datetime64[M]")
    n_months = int(np.ceil(horizon / (24 * 28))) + 2
    months = first_month + np.arange(n_months + 1)
    edges = (months.astype("datetime64[D]") - start).astype(float) * 24.0
    edges = np.clip(edges, 0.0, horizon)
    keep = np.concatenate([[True], np.diff(edges) > 0])
    edges = edges[keep]
    month_numbers = (months[:-1].astype(int) % 12)[keep[1:]]
    return edges, month_numbers[: len(edges) - 1]
