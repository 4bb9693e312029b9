"""Helpers shared by the analysis modules: observed times, summaries, quarters, safe ratios.

The ledger records a few times past the horizon (a slot taken before the horizon whose
calendar opens after it, a discovery that ends after it). Analyses read times through
:func:`observed`, which treats anything after the horizon as not yet reached, so every
figure describes what was seen within the simulated period.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import TypeVar

import numpy as np
import pandas as pd

from funnelsim.engine.ledger import LOST_AT_SEAM, Ledger

T = TypeVar("T")
# Tables made once per ledger inside ``shared_per_ledger`` (None outside it).
_SHARED: ContextVar[dict[tuple[str, int], object] | None] = ContextVar(
    "funnelsim_shared_per_ledger", default=None
)

HOURS_PER_DAY = 24.0
# SimPy's clock accumulates timeouts, so an event due at t can fire at t - 1e-15: a
# duration that small below zero is rounding, read as zero.
ROUNDING_HOURS = 1e-9
HOURS_PER_YEAR = 8760.0
QUARTER_HOURS = HOURS_PER_YEAR / 4.0
# Groups this small are summed by ``group_sums`` itself (one numpy step per row of the
# largest group), larger ones by pandas' groupby.
SMALL_GROUP_ROWS = 16


@contextlib.contextmanager
def shared_per_ledger() -> Iterator[None]:
    """Inside the block, :func:`per_ledger` makes each table once per ledger: for one
    replication's reductions, which read a ledger that no longer changes and never
    modify the tables they are given."""
    token = _SHARED.set({})
    try:
        yield
    finally:
        _SHARED.reset(token)


def per_ledger(name: str, ledger: Ledger, make: Callable[[], T]) -> T:
    """``make()``, or inside :func:`shared_per_ledger` the table already made under
    ``name`` for this ledger."""
    shared = _SHARED.get()
    if shared is None:
        return make()
    key = (name, id(ledger))
    if key not in shared:
        shared[key] = make()
    return shared[key]  # type: ignore[return-value]


def group_sums(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group (``codes`` in 0..n_groups-1) the sum of each column of ``values`` over its
    rows, zero for a group without rows: pandas' groupby sum on integer codes, so the
    sums are bit for bit those of the groupby over named keys it replaces (pandas adds
    with compensation, numpy's bincount would differ in the last bit). Done here as pandas
    does it where that is cheap: sorted codes without NaN by ``np.add.reduceat``, other
    groups of at most ``SMALL_GROUP_ROWS`` rows with compensation (:func:`_kahan_down`)."""
    values = np.asarray(values, dtype=float)
    flat = values.ndim == 1
    values = values[:, None] if flat else values
    codes = np.asarray(codes, dtype=np.int64)
    counts = np.bincount(codes, minlength=n_groups) if len(codes) else np.zeros(n_groups, int)
    if len(codes) and (codes[1:] >= codes[:-1]).all() and not np.isnan(values).any():
        # Sorted codes and no NaN: pandas adds each group's rows with ``np.add.reduceat``.
        starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        out = np.zeros((n_groups, values.shape[1]))
        out[codes[starts]] = np.add.reduceat(values.T, starts, axis=1).T
    elif len(codes) and counts.max() <= SMALL_GROUP_ROWS:
        order = np.argsort(codes, kind="stable")
        sorted_codes = codes[order]
        rank = np.arange(len(codes)) - np.searchsorted(sorted_codes, sorted_codes)
        # Row r of each group in layer r; a group with fewer rows has NaN there (skipped).
        layers = np.full((int(counts.max()), n_groups, values.shape[1]), np.nan)
        layers[rank, sorted_codes] = values[order]
        out = _kahan_down(layers)
    else:
        frame = pd.DataFrame(values)
        sums = frame.groupby(codes, sort=True).sum()
        out = np.zeros((n_groups, values.shape[1]))
        out[sums.index.to_numpy()] = sums.to_numpy()
    return out[:, 0] if flat else out


def _kahan_down(layers: np.ndarray) -> np.ndarray:
    """Sums down the first axis as pandas' groupby sum adds a group's rows: in order, with
    Kahan's compensation, NaN skipped, a compensation an overflow or an infinity made
    infinite or NaN reset to 0 (pandas GH#60303)."""
    total = np.zeros(layers.shape[1:])
    compensation = np.zeros(layers.shape[1:])
    with np.errstate(invalid="ignore", over="ignore"):
        for layer in layers:
            y = layer - compensation
            t = total + y
            c = (t - total) - y
            c[~np.isfinite(c)] = 0.0
            keep = ~np.isnan(layer)
            np.copyto(compensation, c, where=keep)
            np.copyto(total, t, where=keep)
    return total


def terms_column(ledger: Ledger, name: str) -> np.ndarray:
    """A column of ``ledger.terms`` as a read-only numpy array (read once per ledger inside
    :func:`shared_per_ledger`: several reductions read the same columns)."""

    def make() -> np.ndarray:
        values = ledger.terms[name].to_numpy()
        values.flags.writeable = False
        return values

    return per_ledger(f"terms:{name}", ledger, make)


def horizon_hours(ledger: Ledger) -> float:
    """The ledger's horizon in hours."""
    return float(ledger.meta["horizon_hours"])


def observed(ledger: Ledger, name: str) -> np.ndarray:
    """A time column with times after the horizon set to NaN (not reached within it)."""
    values = np.asarray(ledger.columns[name], dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(values <= horizon_hours(ledger), values, np.nan)


def from_book(ledger: Ledger) -> np.ndarray:
    """Records of the starting book (customers, open opportunities, queued leads)."""
    flags = ledger.columns.get("from_book")
    if flags is None:
        return np.zeros(ledger.n_leads, dtype=bool)
    return np.asarray(flags, dtype=bool)


def fell_through(ledger: Ledger) -> np.ndarray:
    """Deals won in sales that fell apart in contract review (lost at seam 2, fell_through)."""
    c = ledger.columns
    code = ledger.reason_names.index("fell_through")
    return (c["outcome"] == LOST_AT_SEAM) & (c["seam"] == 2) & (c["loss_reason"] == code)


def closed_won(ledger: Ledger) -> np.ndarray:
    """Won deals that were booked: sales won them and they did not fall through at seam 2.

    Every count of won deals (funnel, win rate, CAC) uses this, so a deal that fell
    through is never counted as won.
    """
    return ledger.columns["won"].astype(bool) & ~fell_through(ledger)


def durations(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Finite ``end - start`` values for leads that reached both times (rounding to zero)."""
    delta = end - start
    delta = delta[np.isfinite(delta)]
    return np.where((delta < 0) & (delta > -ROUNDING_HOURS), 0.0, delta)


def summary(values: np.ndarray) -> tuple[int, float, float, float]:
    """n, mean, median and 90th percentile of ``values`` (NaN statistics when empty)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return 0, np.nan, np.nan, np.nan
    mean = float(values.mean())
    median, p90 = np.quantile(values, [0.5, 0.9])
    return len(values), mean, float(median), float(p90)


def ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, NaN when the denominator is zero (never an exception)."""
    return float(numerator) / float(denominator) if denominator else np.nan


def quarter_starts(ledger: Ledger) -> np.ndarray:
    """Start hour of each quarter (a quarter of a 365-day year) within the horizon."""
    horizon = horizon_hours(ledger)
    return np.arange(0.0, horizon, QUARTER_HOURS)


def quarter_index(times: np.ndarray, n_quarters: int) -> np.ndarray:
    """Quarter number of each time (-1 for NaN or outside the quarters)."""
    with np.errstate(invalid="ignore"):
        index = np.floor(np.asarray(times, dtype=float) / QUARTER_HOURS)
    valid = np.isfinite(index) & (index >= 0) & (index < n_quarters)
    return np.where(valid, index, -1).astype(np.int64)
