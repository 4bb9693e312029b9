"""Results on the calendar: one row per calendar month of a replication, and bands over many.

Months are calendar months from the scenario's ``start_date`` (the first and the last may
be partial: the run starts on ``start_date`` and ends at the horizon); quarters are
calendar quarters (``2027-Q1``). Per month:

* ``new_bookings``: booked ARR of the deals won in the month;
* the ARR bridge ``arr_start + arr_new + arr_expansion - arr_contraction - arr_churn =
  arr_end`` (:mod:`funnelsim.analysis.arr`; a book customer's ARR is in month 1's start);
* ``revenue`` recognised in the month (each term's ARR over its days in the month, ramps
  and upsells included), so the months add up to ``horizon_revenue``;
* ``pipeline`` (deal value of the opportunities open at the month's end) and, per sales
  stage, ``pipeline:<stage>``; ``coverage``: that pipeline over the bookings of the next
  three months (NaN where the horizon cuts them short or nothing was booked);
* ``customers`` with ARR at the month's end, ``headcount`` (employed heads of every
  team at the month's end) and ``headcount:<team>``;
* cash: ``cash_in``, ``cash_out``, ``net_cash`` and ``cumulative_cash`` of
  :func:`funnelsim.analysis.cashflow.cashflow` over the same months.

Every flow column (bookings, ARR movements, revenue, cash) sums over the months to the
run's total.
"""

from __future__ import annotations

import datetime as dt
import functools

import numpy as np
import pandas as pd
from scipy import special

from funnelsim.analysis._common import (
    HOURS_PER_DAY,
    from_book,
    horizon_hours,
    observed,
    terms_column,
)
from funnelsim.analysis.arr import ARR_KINDS, SIGN, arr_events, kind_codes
from funnelsim.analysis.cashflow import cashflow, headcount_steps
from funnelsim.analysis.stages import open_pipeline_by_stage
from funnelsim.engine.customers import HOURS_PER_MONTH, HOURS_PER_YEAR, ramp_area
from funnelsim.engine.ledger import Ledger
from funnelsim.experiment.stats import CONFIDENCE, t_interval
from funnelsim.scenario.models import Scenario

CALENDAR_COLUMNS: tuple[str, ...] = ("month", "quarter", "start", "days")
BRIDGE_COLUMNS: tuple[str, ...] = (
    "arr_start",
    "arr_new",
    "arr_expansion",
    "arr_contraction",
    "arr_churn",
    "arr_end",
)
CASH_COLUMNS: tuple[str, ...] = ("cash_in", "cash_out", "net_cash", "cumulative_cash")
# Columns that are flows over the month (they add up over months to the run's totals).
FLOW_COLUMNS: tuple[str, ...] = (
    "new_bookings",
    "arr_new",
    "arr_expansion",
    "arr_contraction",
    "arr_churn",
    "revenue",
    "cash_in",
    "cash_out",
    "net_cash",
)
COVERAGE_MONTHS = 3


def calendar_months(start: dt.date, horizon: float) -> tuple[np.ndarray, pd.DataFrame]:
    """Hour edges of the calendar months a run covers, and their labels.

    Returns the edges (0, each first of a month inside the run, the horizon) and a frame
    with month (``2027-01``), quarter (``2027-Q1``), start (date) and days.
    """
    edges, labels = _calendar_months(start, float(horizon))
    return edges.copy(), labels.copy()


@functools.lru_cache(maxsize=16)
def _calendar_months(start: dt.date, horizon: float) -> tuple[np.ndarray, pd.DataFrame]:
    """:func:`calendar_months`, made once per start and horizon (a replication asks for
    it several times); callers get copies. Months are stepped with ``datetime``: pandas'
    date ranges and periods cost each new worker process ~20 ms on first use."""
    starts = [start]
    day = _next_month(start)
    while (day - start).days * 24.0 < horizon:
        starts.append(day)
        day = _next_month(day)
    hours = np.array([(day - start).days * 24.0 for day in starts], dtype=float)
    edges = np.append(hours, horizon)
    labels = pd.DataFrame(
        {
            "month": [f"{day.year:04d}-{day.month:02d}" for day in starts],
            "quarter": [f"{day.year}-Q{(day.month - 1) // 3 + 1}" for day in starts],
            "start": np.array(starts, dtype=object),
            "days": np.diff(edges) / HOURS_PER_DAY,
        }
    )
    return edges, labels


def _next_month(day: dt.date) -> dt.date:
    """The first day of the month after ``day``'s."""
    return dt.date(day.year + 1, 1, 1) if day.month == 12 else dt.date(day.year, day.month + 1, 1)


def timeseries(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """One replication per calendar month (the module docstring lists the columns)."""
    horizon = horizon_hours(ledger)
    edges, labels = calendar_months(scenario.start_date, horizon)
    n = len(labels)
    c = ledger.columns
    # Every column made first, then one frame (adding columns one by one costs more).
    table: dict[str, object] = {name: labels[name] for name in labels.columns}
    bookings = _per_interval(edges, observed(ledger, "won_time"), c["booked_arr"])
    table["new_bookings"] = bookings
    bridge = arr_bridge(ledger, edges)
    for name in BRIDGE_COLUMNS:
        table[name] = bridge[name]
    table["revenue"] = monthly_revenue(ledger, scenario, edges)
    pipeline = open_pipeline_by_stage(ledger, edges[1:])
    table["pipeline"] = pipeline.sum(axis=1)
    for index, stage in enumerate(ledger.stage_names):
        table[f"pipeline:{stage}"] = pipeline[:, index]
    table["coverage"] = _coverage(table["pipeline"], bookings)
    table["customers"] = bridge["customers"]
    heads = _headcount(ledger, edges[1:])
    table["headcount"] = sum(heads.values()) if heads else np.zeros(n)
    for team, values in heads.items():
        table[f"headcount:{team}"] = values
    cash = cashflow(ledger, scenario, edges)
    for name in CASH_COLUMNS:
        table[name] = cash[name].to_numpy()
    return pd.DataFrame(table)


def arr_bridge(ledger: Ledger, edges: np.ndarray) -> dict[str, np.ndarray]:
    """Per interval of ``edges``: ARR at its start and end, each movement, customers at end.

    An event exactly at the horizon (a renewal on the last day) falls in the last month,
    so the last month's end is the ARR at the horizon.
    """
    events = arr_events(ledger)
    times = events["time"].to_numpy(dtype=float)
    amount = events["amount"].to_numpy(dtype=float)
    kind = kind_codes(events)
    n = len(edges) - 1
    index = _interval(edges, times)
    moves = {
        name: np.bincount(index[kind == code], amount[kind == code], minlength=n)
        for code, name in enumerate(ARR_KINDS)
    }
    signed = sum(SIGN[name] * moves[name] for name in ARR_KINDS)
    end = np.cumsum(signed)
    start = np.concatenate([[0.0], end[:-1]]) + moves["start"]
    lead = events["lead_id"].to_numpy(dtype=np.int64)
    signs = np.array([SIGN[name] for name in ARR_KINDS])[kind] if len(kind) else np.zeros(0)
    customers = _customers(lead, index, signs * amount, n)
    return {
        "arr_start": start,
        "arr_new": moves["new"],
        "arr_expansion": moves["expansion"],
        "arr_contraction": moves["contraction"],
        "arr_churn": moves["churn"],
        "arr_end": end,
        "customers": customers,
    }


def _customers(lead: np.ndarray, index: np.ndarray, signed: np.ndarray, n: int) -> np.ndarray:
    """Customers with ARR above 1e-9 at the end of each interval, from ARR events (their
    lead, interval and signed amount): each lead's ARR is its events added one by one in
    interval order (ties in event order), as a running sum from zero would have it."""
    if len(lead) == 0:
        return np.zeros(n)
    # Events by lead, then interval, then event order; each lead's running sums in a row.
    order = np.lexsort((np.arange(len(lead)), index, lead))
    lead, index, signed = lead[order], index[order], signed[order]
    starts = np.flatnonzero(np.r_[True, lead[1:] != lead[:-1]])
    group = np.cumsum(np.r_[True, lead[1:] != lead[:-1]]) - 1
    rank = np.arange(len(lead)) - starts[group]
    running = np.zeros((len(starts), int(rank.max()) + 1))
    running[group, rank] = signed
    running = np.cumsum(running, axis=1)[group, rank]
    holds = running > 1e-9
    held_before = np.where(rank > 0, np.r_[False, holds[:-1]], False)
    change = holds.astype(np.int64) - held_before.astype(np.int64)
    return np.cumsum(np.bincount(index, change, minlength=n)).astype(float)


def monthly_revenue(ledger: Ledger, scenario: Scenario, edges: np.ndarray) -> np.ndarray:
    """Revenue recognised in each interval of ``edges``: every term's ARR over its time in
    it (from its in-run start to its end, the horizon at the latest), ramped as the engine
    ramps a product's first months, plus each upsell from its time to the term's end."""
    terms = ledger.terms
    horizon = horizon_hours(ledger)
    arr = np.asarray(terms_column(ledger, "arr"), dtype=float)
    begin = np.maximum(np.asarray(terms_column(ledger, "start"), dtype=float), 0.0)
    stop = np.minimum(np.asarray(terms_column(ledger, "end"), dtype=float), horizon)
    ramp, go_live = _ramps(ledger, scenario, terms)
    points = np.clip(edges[None, :], begin[:, None], np.maximum(stop, begin)[:, None])
    if ramp is None:
        earned = arr[:, None] * (points - begin[:, None]) / HOURS_PER_YEAR
    else:
        months = (points - go_live[:, None]) / HOURS_PER_MONTH
        area = np.stack([ramp_area(ramp, months[:, j]) for j in range(months.shape[1])], axis=1)
        earned = arr[:, None] / 12 * (area - area[:, :1])
    revenue = np.diff(earned, axis=1).sum(axis=0)
    if "upsell_arr" in terms:
        up = np.asarray(terms_column(ledger, "upsell_arr"), dtype=float)
        at = np.asarray(terms_column(ledger, "upsell_time"), dtype=float)
        has = up > 0
        if has.any():
            lo, hi = at[has], np.maximum(stop[has], at[has])
            span = np.clip(edges[None, :], lo[:, None], hi[:, None]) - lo[:, None]
            revenue += np.diff(up[has][:, None] * span / HOURS_PER_YEAR, axis=1).sum(axis=0)
    return revenue


def timeseries_bands(frame: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Per month and metric over replications: mean with its confidence interval, and the
    10th, 50th and 90th percentiles across replications (the fan chart's bands).

    ``frame`` is :func:`timeseries` of several replications stacked with a
    ``replication`` column. Columns month, quarter, start, days, metric, mean, ci_low,
    ci_high, p10, p50, p90, n.
    """
    keys = ["month", "quarter", "start", "days"]
    metrics = frame.columns[~frame.columns.isin([*keys, "replication"])]
    # The groups the long (melted) frame grouped by keys and metric would give, in its
    # order (metric by metric, the months in order of first appearance), made from one
    # grouping of the wide frame's rows: each month's replications in row order.
    months = frame.groupby(keys, sort=False, observed=True).ngroup().to_numpy()
    firsts = np.unique(months, return_index=True)[1]
    count = len(firsts)
    table = frame.iloc[np.tile(firsts, len(metrics))][keys].reset_index(drop=True)
    table["metric"] = metrics.repeat(count)
    order = np.argsort(months, kind="stable")
    wide = frame[metrics].to_numpy(dtype=float)
    values = wide[order].T.reshape(-1)
    sizes = np.tile(np.bincount(months, minlength=count), len(metrics))
    # One row of values per group (its replications in order); groups whose values are
    # not all finite, or not as many as the others', are done one by one.
    stats = np.full((len(table), 7), np.nan)
    stats[:, 6] = 0
    if len(values) and (sizes == sizes[0]).all():
        matrix = values.reshape(len(sizes), sizes[0])
        whole = np.isfinite(matrix).all(axis=1)
        stats[whole] = _band_rows(matrix[whole], confidence)
        ragged = np.flatnonzero(~whole)
    else:
        ragged = np.arange(len(sizes))
    ends = np.cumsum(sizes)
    for g in ragged:
        group = values[ends[g] - sizes[g] : ends[g]]
        group = group[np.isfinite(group)]
        mean, low, high = t_interval(group, confidence)
        quantiles = np.quantile(group, [0.1, 0.5, 0.9]) if len(group) else [np.nan] * 3
        stats[g] = (mean, low, high, *quantiles, len(group))
    for i, name in enumerate(["mean", "ci_low", "ci_high", "p10", "p50", "p90"]):
        table[name] = stats[:, i]
    table["n"] = stats[:, 6].astype(np.int64)
    return table


def _band_rows(matrix: np.ndarray, confidence: float) -> np.ndarray:
    """:func:`timeseries_bands`' figures for rows of finite values: mean, its Student-t
    interval (as ``t_interval`` computes it), 10th/50th/90th percentiles, count."""
    rows, n = matrix.shape
    out = np.full((rows, 7), np.nan)
    out[:, 6] = n
    if n == 0:
        return out
    out[:, 0] = matrix.mean(axis=1)
    if n >= 2:
        half = special.stdtrit(n - 1, 0.5 + confidence / 2) * matrix.std(axis=1, ddof=1)
        half /= np.sqrt(n)
        out[:, 1] = out[:, 0] - half
        out[:, 2] = out[:, 0] + half
    out[:, 3:6] = np.quantile(matrix, [0.1, 0.5, 0.9], axis=1).T
    return out


def _interval(edges: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Interval index of each time (the horizon itself in the last interval)."""
    index = np.searchsorted(edges, times, side="right") - 1
    return np.clip(index, 0, len(edges) - 2)


def _per_interval(edges: np.ndarray, times: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Sum of ``weights`` per interval of ``edges`` over the finite times inside them."""
    times = np.asarray(times, dtype=float)
    keep = np.isfinite(times) & (times >= edges[0]) & (times <= edges[-1])
    index = _interval(edges, times[keep])
    weights = np.asarray(weights, dtype=float)[keep]
    return np.bincount(index, weights=weights, minlength=len(edges) - 1)


def _coverage(pipeline: np.ndarray, bookings: np.ndarray) -> np.ndarray:
    """Open pipeline at each month's end over the bookings of the next three months."""
    n = len(bookings)
    out = np.full(n, np.nan)
    for month in range(n - COVERAGE_MONTHS):
        ahead = bookings[month + 1 : month + 1 + COVERAGE_MONTHS].sum()
        if ahead > 0:
            out[month] = pipeline[month] / ahead
    return out


def _headcount(ledger: Ledger, times: np.ndarray) -> dict[str, np.ndarray]:
    """Employed heads of each team at each time, from the ledger of team capacity."""
    out: dict[str, np.ndarray] = {}
    for team, (changed, values) in headcount_steps(ledger).items():
        at = np.searchsorted(changed, times, side="right") - 1
        out[team] = np.where(at >= 0, values[np.maximum(at, 0)], 0.0)
    return out


def _ramps(
    ledger: Ledger, scenario: Scenario, terms: pd.DataFrame
) -> tuple[np.ndarray | None, np.ndarray]:
    """Each term's product ramp (None when no product ramps) and its customer's go-live.

    As in the engine: a customer goes live at its first term's start; the starting book's
    customers are past their ramp.
    """
    lead = np.asarray(terms_column(ledger, "lead_id"), dtype=np.int64)
    go_live = np.full(len(terms), -np.inf)
    products = list((scenario.products or {}).values())
    width = max((len(p.ramp_months) for p in products), default=0)
    if not width:
        return None, go_live
    first = terms[terms["term"] == 1].set_index("lead_id")["start"]
    go_live = first.reindex(lead).to_numpy(dtype=float)
    table = np.ones((len(products), width))
    for code, spec in enumerate(products):
        table[code, : len(spec.ramp_months)] = spec.ramp_months
    product = ledger.columns["product"][lead]
    ramp = table[np.maximum(product, 0)]
    mature = from_book(ledger)[lead] & (go_live <= 0)
    ramp[mature | (product < 0)] = 1.0
    go_live = np.where(mature, 0.0, go_live)
    return ramp, go_live
