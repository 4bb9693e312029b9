"""Random streams: lead arrivals, and each lead's own fate draws (attribution by coupling).

All randomness comes from numpy Generators seeded by ``(seed, stream)``. Lead k's fates are
row k of a row-major uniform matrix, so they do not depend on how many leads a run has or
on anything the scenario does downstream: lead 17 of replication 3 meets the same draws in
a baseline and in its variant, which makes comparisons paired.
"""

from __future__ import annotations

import datetime as dt
import functools
import heapq
import zlib
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import pandas as pd

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.scenario.models import Calendar, OutboundSource, Scenario

HOURS_PER_WEEK = 168.0
ARRIVAL_STREAM = 1
FATE_STREAM = 2
TERM_STREAM = 3
OUTBOUND_TIME_STREAM = 4
OUTBOUND_DRAW_STREAM = 5
PRODUCT_STREAM = 6
PAYMENT_STREAM = 7
BOOK_STREAM = 8
UPSELL_STREAM = 9
STAGE_STREAM = 10
FATE_BLOCK_ROWS = 1 << 15
# A RowStream holds one block per source: smaller, as many sources hold one at once.
STREAM_BLOCK_ROWS = 1 << 12
# Rows of the starting book carry source code -1 in every draw: they take their own
# stream, keyed beyond any crc32 source key, ranked by their order in the book.
BOOK_SOURCE = -1
BOOK_KEY = 1 << 32


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


@dataclass
class Arrivals:
    """Every lead's creation time, source and outbound account, and the outbound attempts."""

    times: np.ndarray
    source: np.ndarray
    account: np.ndarray
    attempts: pd.DataFrame


ATTEMPT_OUTCOMES = ("no_connect", "exhausted", "declined", "lead")


def draw_arrivals(scenario: Scenario, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Arrival times (hours) and source index per lead, sorted by time.

    Each inbound source is a non-homogeneous Poisson process: its weekly rate, scaled by a
    monthly seasonality multiplier and, when the source sets ``business_hours_share``,
    concentrated into the scenario calendar's open hours. Times come from the source's
    own stream of unit exponential spacings mapped through the inverse cumulative
    intensity, so the k-th lead of a source keeps its draws when the rate changes: it
    only arrives earlier or later. That keeps comparisons of arrival rates paired.
    Outbound sources' leads come from their connect attempts (:func:`draw_outbound`).
    """
    arrivals = draw_all_arrivals(scenario, seed)
    return arrivals.times, arrivals.source


def draw_all_arrivals(scenario: Scenario, seed: int) -> Arrivals:
    """All leads (inbound and outbound) sorted by time, with accounts and attempt logs."""
    horizon = float(scenario.horizon_hours)
    grid = (scenario.calendar, scenario.start_date, horizon)
    edges, _, open_share = _hour_grid(*grid)
    times: list[np.ndarray] = []
    sources: list[np.ndarray] = []
    accounts: list[np.ndarray] = []
    logs: list[pd.DataFrame] = []
    for index, (name, source) in enumerate(scenario.sources.items()):
        if isinstance(source, OutboundSource):
            arrivals, account, log = draw_outbound(
                seed, name, source, edges, _hour_weights(open_share, 1.0)
            )
            log.insert(0, "source", name)
            logs.append(log)
        else:
            rng = stream(seed, ARRIVAL_STREAM, source_key(name))
            cumulative = _inbound_intensity(
                *grid, source.leads_per_week, source.seasonality, source.business_hours_share
            )
            spacings = _cumulative_exponentials(rng, cumulative[-1])
            arrivals = np.interp(spacings, cumulative, edges)
            account = np.full(len(arrivals), -1, dtype=np.int32)
        times.append(arrivals)
        sources.append(np.full(len(arrivals), index, dtype=np.int16))
        accounts.append(account)
    all_times = np.concatenate(times) if times else np.empty(0)
    all_sources = np.concatenate(sources) if sources else np.empty(0, dtype=np.int16)
    all_accounts = np.concatenate(accounts) if accounts else np.empty(0, dtype=np.int32)
    order = np.argsort(all_times, kind="stable")
    attempts = pd.concat(logs, ignore_index=True) if logs else _empty_attempts()
    return Arrivals(all_times[order], all_sources[order], all_accounts[order], attempts)


def draw_outbound(
    seed: int, name: str, spec: OutboundSource, edges: np.ndarray, weight: np.ndarray
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """An outbound source's leads (times, accounts) and its attempt log.

    Attempt times are a Poisson process at ``attempts_per_week`` (relative intensity
    ``weight`` per hour of ``edges``, from the source's own stream); attempt j uses row j
    of its own uniforms (connect, accept, retry delay), all drawn in bulk. Each attempt
    takes the account whose retry or cooling-off ended first, else the next account never
    tried; with neither, the attempt is idle (the market is worked out for now).
    """
    key = source_key(name)
    rate_per_hour = spec.attempts_per_week / HOURS_PER_WEEK
    cumulative = np.concatenate([[0.0], np.cumsum(rate_per_hour * weight * np.diff(edges))])
    at = np.interp(
        _cumulative_exponentials(stream(seed, OUTBOUND_TIME_STREAM, key), cumulative[-1]),
        cumulative,
        edges,
    )
    u = stream(seed, OUTBOUND_DRAW_STREAM, key).random((len(at), 3))
    connect = u[:, 0] < spec.connect_prob
    accept = u[:, 1] < spec.accept_prob
    retry_hours = spec.retry_days.ppf(u[:, 2]) * 24.0
    cooling_hours = spec.cooling_off_days * 24.0
    tries = np.zeros(spec.accounts, dtype=np.int64)
    due: list[tuple[float, int]] = []
    fresh = 0
    log_time: list[float] = []
    log_account: list[int] = []
    log_try: list[int] = []
    log_outcome: list[int] = []
    for j, t in enumerate(at.tolist()):
        if due and due[0][0] <= t:
            account = heapq.heappop(due)[1]
        elif fresh < spec.accounts:
            account = fresh
            fresh += 1
        else:
            continue
        tries[account] += 1
        log_time.append(t)
        log_account.append(account)
        log_try.append(int(tries[account]))
        if connect[j] and accept[j]:
            outcome = 3
        elif connect[j] or tries[account] >= spec.max_attempts:
            outcome = 2 if connect[j] else 1
            tries[account] = 0
            heapq.heappush(due, (t + cooling_hours, account))
        else:
            outcome = 0
            heapq.heappush(due, (t + float(retry_hours[j]), account))
        log_outcome.append(outcome)
    outcome_codes = np.asarray(log_outcome, dtype=np.int8)
    log = pd.DataFrame(
        {
            "time": np.asarray(log_time, dtype=float),
            "account": np.asarray(log_account, dtype=np.int32),
            "attempt": np.asarray(log_try, dtype=np.int32),
            "outcome": pd.Categorical.from_codes(outcome_codes, categories=list(ATTEMPT_OUTCOMES)),
        }
    )
    is_lead = outcome_codes == 3
    return log["time"].to_numpy()[is_lead], log["account"].to_numpy()[is_lead], log


def _empty_attempts() -> pd.DataFrame:
    """The attempt log of a run without outbound sources (a copy of one made per process)."""
    return _no_attempts().copy()


@functools.lru_cache(maxsize=1)
def _no_attempts() -> pd.DataFrame:
    """The empty attempt log, made once (its categorical columns cost ~0.4 ms a frame)."""
    return pd.DataFrame(
        {
            "source": pd.Series(dtype=object),
            "time": pd.Series(dtype=float),
            "account": pd.Series(dtype=np.int32),
            "attempt": pd.Series(dtype=np.int32),
            "outcome": pd.Categorical([], categories=list(ATTEMPT_OUTCOMES)),
        }
    )


@functools.lru_cache(maxsize=8)
def _hour_grid(
    calendar: Calendar, start_date: dt.date, horizon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly edges over the horizon, each hour's calendar month, and its open share.

    Made once per calendar, start and horizon (a replication's scenario arrives as a new
    copy, so the key is its content); the arrays are read-only."""
    edges = np.append(np.arange(0.0, horizon, 1.0), horizon)
    start = np.datetime64(start_date, "h")
    months = (start + edges[:-1].astype("timedelta64[h]")).astype("datetime64[M]")
    month_index = months.astype(np.int64) % 12
    work = WorkCalendar(calendar, start_date, horizon + 24.0)
    open_share = np.diff(work.working_hours_array(edges)) / np.diff(edges)
    return _read_only(edges), _read_only(month_index), _read_only(open_share)


@functools.lru_cache(maxsize=32)
def _inbound_intensity(
    calendar: Calendar,
    start_date: dt.date,
    horizon: float,
    leads_per_week: float,
    seasonality: tuple[float, ...] | None,
    business_hours_share: float | None,
) -> np.ndarray:
    """An inbound source's expected arrivals from the start to each hour edge (0 first):
    made once per source and calendar like :func:`_hour_grid`; read-only."""
    edges, month_index, open_share = _hour_grid(calendar, start_date, horizon)
    rate_per_hour = leads_per_week / HOURS_PER_WEEK
    season = np.ones(12) if seasonality is None else np.asarray(seasonality)
    weight = _hour_weights(open_share, business_hours_share)
    intensity = rate_per_hour * season[month_index] * weight * np.diff(edges)
    return _read_only(np.concatenate([[0.0], np.cumsum(intensity)]))


def _read_only(array: np.ndarray) -> np.ndarray:
    """``array``, locked against writes: a cached array is shared by every run."""
    array.flags.writeable = False
    return array


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


def draw_fates(
    seed: int,
    source: np.ndarray,
    names: tuple[str, ...],
    rows: np.ndarray | None = None,
    columns: tuple[Fate, ...] = tuple(Fate),
) -> dict[Fate, np.ndarray]:
    """Columns of the (n_leads, len(Fate)) uniform matrix for some rows, keyed by ``Fate``.

    The k-th lead of a source always gets row k of that source's own stream, whatever
    the other sources do and however many leads there are. ``rows`` (sorted lead indices,
    all leads when None) and ``columns`` pick what is kept, so the full matrix never sits
    in memory; each returned column is aligned with ``rows``.
    """
    block = draw_rows(seed, FATE_STREAM, source, names, len(Fate), rows, [int(c) for c in columns])
    return {Fate(c): block[i] for i, c in enumerate(columns)}


def draw_term_fates(
    seed: int,
    source: np.ndarray,
    names: tuple[str, ...],
    n_terms: int,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """The (len(rows), n_terms * len(TermFate)) renewal uniforms, keyed like the fates."""
    width = n_terms * len(TermFate)
    return draw_rows(seed, TERM_STREAM, source, names, width, rows, list(range(width))).T


def draw_rows(
    seed: int,
    kind: int,
    source: np.ndarray,
    names: tuple[str, ...],
    width: int,
    rows: np.ndarray | None,
    columns: list[int],
) -> np.ndarray:
    """Some rows and columns of a per-source row-major uniform matrix, column-major out.

    Each source's stream is drawn in blocks of rows (the same numbers as one big draw)
    and only the wanted cells are kept; drawing stops after the last wanted row. Rows of
    source ``BOOK_SOURCE`` (the starting book) draw from the book's own stream.
    """
    rows = np.arange(len(source)) if rows is None else np.asarray(rows, dtype=np.int64)
    out = np.empty((len(columns), len(rows)))
    row_source = source[rows]
    keys = [(index, source_key(name)) for index, name in enumerate(names)]
    for index, key in [*keys, (BOOK_SOURCE, BOOK_KEY)]:
        leads = np.flatnonzero(source == index)
        at = np.flatnonzero(row_source == index)
        if len(at) == 0:
            continue
        rank = np.searchsorted(leads, rows[at])
        rng = stream(seed, kind, key)
        for begin in range(0, int(rank[-1]) + 1, FATE_BLOCK_ROWS):
            size = min(FATE_BLOCK_ROWS, len(leads) - begin)
            block = rng.random((size, width))
            lo, hi = np.searchsorted(rank, (begin, begin + size))
            if hi - lo == size:
                out[:, at[lo:hi]] = block[:, columns].T
            elif hi > lo:
                out[:, at[lo:hi]] = block[rank[lo:hi] - begin][:, columns].T
    return out


class RowStream:
    """Rows of a per-source row-major uniform matrix, read in pieces in row order.

    The same numbers as :func:`draw_rows`, but each source's stream is drawn once, a
    block at a time, however many pieces ask for its rows: a piece's rows must come
    after every row an earlier piece asked for. Only each source's current block is held.
    """

    def __init__(
        self, seed: int, kind: int, source: np.ndarray, names: tuple[str, ...], width: int
    ) -> None:
        self.seed, self.kind, self.width = seed, kind, width
        self.source = source
        self.keys = {index: source_key(name) for index, name in enumerate(names)}
        self.keys[BOOK_SOURCE] = BOOK_KEY
        # Each row's rank among its source's rows, and each source's row count.
        self.rank = np.zeros(len(source), dtype=np.int32 if len(source) < 2**31 else np.int64)
        self.count: dict[int, int] = {}
        for index in self.keys:
            leads = np.flatnonzero(source == index)
            self.rank[leads] = np.arange(len(leads))
            self.count[index] = len(leads)
        self._state: dict[int, tuple[np.random.Generator, int, np.ndarray]] = {}

    def take(self, rows: np.ndarray, columns: list[int]) -> np.ndarray:
        """The cells (``columns`` x ``rows``) of ``rows`` (strictly increasing row indices)."""
        out = np.empty((len(columns), len(rows)))
        row_source = self.source[rows]
        # Every column in order, or consecutive rows of a block: read as views, not copies.
        every = list(columns) == list(range(self.width))
        for index in np.unique(row_source).tolist():
            at = np.flatnonzero(row_source == index)
            rank = self.rank[rows[at]]
            lo = 0
            while lo < len(at):
                begin, block = self._block(int(index), int(rank[lo]))
                hi = lo + int(np.searchsorted(rank[lo:], begin + len(block)))
                first, last = int(rank[lo]) - begin, int(rank[hi - 1]) - begin
                if last - first == hi - lo - 1:
                    cells = block[first : last + 1]
                else:
                    cells = block[rank[lo:hi] - begin]
                out[:, at[lo:hi]] = (cells if every else cells[:, columns]).T
                lo = hi
        return out

    def _block(self, index: int, rank: int) -> tuple[int, np.ndarray]:
        """The block of source ``index``'s stream holding row ``rank`` (drawn on)."""
        if index not in self._state:
            rng = stream(self.seed, self.kind, self.keys[index])
            self._state[index] = (rng, 0, np.empty((0, self.width)))
        rng, begin, block = self._state[index]
        if rank < begin:
            raise ValueError("RowStream: rows must be asked for in increasing order")
        while rank >= begin + len(block):
            begin += len(block)
            size = min(STREAM_BLOCK_ROWS, self.count[index] - begin)
            block = rng.random((size, self.width))
        self._state[index] = (rng, begin, block)
        return begin, block
