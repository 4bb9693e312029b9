"""Attributed leakage: leads, ARR and horizon revenue lost at each seam, by reason.

This is the *attributed* measure of DESIGN.md ("Leakage has two honest measures"): the
value of what each seam lost, estimated from the same ledger. The *counterfactual*
measure (the paired difference against a run with the seam made perfect) lives with the
experiments. Pure functions: a ledger and its scenario in, tidy DataFrames out.

In one sentence: **a lost lead is worth what comparable leads of the same run earned
(per unit of deal value, same segment, same quarter), scaled down by the share of the
lost flow that the downstream teams' idle capacity could have absorbed.** So leakage
adds up: realised revenue + attributed leakage = potential revenue
(:func:`reconciliation`), and it never claims more than existing capacity could have
turned into revenue.

Per lost lead (``share`` is its capacity share, below), by how far it got, so a new
loss reason is valued by the same rules:

- Lost before a win (seam 1's scored_out, went_cold, rejected, ...; any reason of a lead
  never won): ARR ``deal_value x p_close_and_stay[segment] x share`` (see
  :func:`close_and_stay_probability`); horizon revenue ``deal_value x r x share``, where
  ``r`` is the horizon revenue per unit of deal value of the fit SQLs of the lead's
  segment whose SQL time fell in the quarter of its loss (renewals, churn, contract
  errors and the time left included; all segments of that quarter if the segment had
  none there).
- Won but not booked (seam 2 fell_through): ARR ``deal_value``; horizon revenue
  ``deal_value x r``, ``r`` over the booked deals of its segment won in the same quarter.
- Seam 2 contract_error (no lead is lost): ``deals_affected`` is the booked deals with an
  error; ARR ``deal_value - booked_arr``; horizon revenue ``horizon_revenue x (deal_value -
  booked_arr) / booked_arr``.
- A customer lost (seams 3 and 4: missing_context, slow_onboarding, late_renewal): the
  ARR of the term that ended in churn; horizon revenue that ARR over the years left, the later terms
  renewed at the run's net revenue retention (capped at 100%).

Slow quote-to-cash loses nothing: it *defers* revenue and cash, a measure of its own
(:mod:`funnelsim.analysis.deferral`), never in these totals.

**Capacity share.** A lead lost before a gating stage (first response, sales, deal desk)
would have needed a slot there. Stage by stage, in the order a lead meets them, the flow
the lost leads would have sent (each weighted by the share that got past the earlier
stages; the deal desk by the run's chance that a fit SQL reaches it) is compared with the
stage's idle paid hours (:func:`funnelsim.analysis.capacity.headroom`); where it exceeds it,
every such lead's share is cut to ``spare / demand``. Losses after every gating stage
(fell through, churn) keep a share of 1.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.analysis._common import (
    HOURS_PER_YEAR,
    QUARTER_HOURS,
    closed_won,
    from_book,
    group_sums,
    terms_column,
)
from funnelsim.analysis.capacity import GATING_STAGES, spare_items
from funnelsim.analysis.revenue import retention_values
from funnelsim.engine.ledger import IN_FLIGHT, LOST_AT_SEAM, SEAM_REASONS, Ledger
from funnelsim.scenario.models import Scenario

LEAKAGE_COLUMNS: tuple[str, ...] = (
    "leads_lost",
    "deals_affected",
    "arr_lost",
    "horizon_revenue_lost",
)
# Reasons that shift revenue later without losing it: their own measure, not leakage.
DEFERRAL_REASONS: frozenset[str] = frozenset({"slow_quote_to_cash"})


def leakage_reasons() -> list[tuple[int, str]]:
    """(seam, reason) of every leakage row, in the ledger's order (deferrals left out)."""
    return [
        (seam, reason)
        for seam, reasons in SEAM_REASONS.items()
        for reason in reasons
        if reason not in DEFERRAL_REASONS
    ]


def close_and_stay_probability(ledger: Ledger) -> pd.DataFrame:
    """Per segment, the chance a fit lead reaching sales closes and stays: seam 1's ARR.

    Columns segment, p_win, first_term_churn, p_close_and_stay. ``p_win`` is the share of
    fit leads with an SQL time whose outcome is decided (not in flight) that were won and
    did not fall through at seam 2; ``first_term_churn`` is the churned share of customers
    whose first term was decided; ``p_close_and_stay = p_win * (1 - first_term_churn)``.
    A segment with no data for an estimate gets 0 for it.
    """
    segments = ledger.segment_names
    rows = [(name, *row) for name, row in zip(segments, _close_and_stay(ledger), strict=True)]
    table = pd.DataFrame(rows, columns=["segment", "p_win", "first_term_churn", "p_close_and_stay"])
    table["segment"] = pd.Categorical(table["segment"], categories=list(ledger.segment_names))
    return table


def _close_and_stay(ledger: Ledger) -> list[tuple[float, float, float]]:
    """Per segment code: p_win, first_term_churn and p_close_and_stay."""
    c = ledger.columns
    segment = c["segment"]
    resolved_sql = c["is_fit"] & np.isfinite(c["sql_time"]) & (c["outcome"] != IN_FLIGHT)
    closed = closed_won(ledger)
    status = terms_column(ledger, "status")
    lead = np.asarray(terms_column(ledger, "lead_id"), dtype=np.int64)
    first = (terms_column(ledger, "term") == 1) & (status != "in_force")
    # A book customer's term in force at the start is not its first: no early churn.
    first &= ~(from_book(ledger)[lead] & (terms_column(ledger, "start") <= 0))
    first_segment = segment[lead[first]]
    first_churned = status[first] == "churned"
    rows = []
    for code in range(len(ledger.segment_names)):
        p_win = _share(closed[resolved_sql & (segment == code)])
        churn = _share(first_churned[first_segment == code])
        rows.append((p_win, churn, p_win * (1.0 - churn)))
    return rows


def lost_lead_values(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """Per lead lost at a seam: its uncapped value, capacity share and attributed value.

    Columns lead_id, seam, reason, arr, horizon_revenue (what the lead would have brought
    with unlimited downstream capacity), capacity_share, arr_lost and horizon_revenue_lost
    (the two values times the share). The module docstring gives the formulas.
    """
    values = pd.DataFrame(_lost_leads(ledger, scenario))
    names = np.asarray(ledger.reason_names, dtype=object)
    values.insert(2, "reason", names[values.pop("reason_code").to_numpy()].astype(str))
    return values


def _lost_leads(ledger: Ledger, scenario: Scenario) -> dict[str, np.ndarray]:
    """:func:`lost_lead_values`' columns with the reason as its code (``reason_code``)."""
    c = ledger.columns
    horizon = float(ledger.meta["horizon_hours"])
    lost = np.flatnonzero(c["outcome"] == LOST_AT_SEAM)
    seam = c["seam"][lost].astype(np.int64)
    reason_code = c["loss_reason"][lost]
    deal_value = c["deal_value"][lost]
    segment = c["segment"][lost]
    loss_time = c["loss_time"][lost]

    arr = np.zeros(len(lost))
    revenue = np.zeros(len(lost))
    churned = seam >= 3
    won = np.isfinite(c["won_time"][lost]) & ~churned
    first = ~won & ~churned
    p_stay = np.array([row[2] for row in _close_and_stay(ledger)], dtype=float)
    fit_sql = c["is_fit"].astype(bool) & np.isfinite(c["sql_time"])
    per_value = _revenue_per_value(ledger, fit_sql, c["sql_time"])
    arr[first] = deal_value[first] * p_stay[segment[first]]
    revenue[first] = deal_value[first] * per_value(segment[first], loss_time[first])

    booked_value = _revenue_per_value(ledger, closed_won(ledger), c["won_time"])
    arr[won] = deal_value[won]
    revenue[won] = deal_value[won] * booked_value(segment[won], c["won_time"][lost][won])

    term_arr = _churned_term_arr(ledger)[lost]
    years_left = _years_left(horizon, c["churn_time"][lost])
    arr[churned] = term_arr[churned]
    revenue[churned] = term_arr[churned] * _retained_years(
        years_left[churned], _term_years(ledger), _net_retention(ledger)
    )

    share = _capacity_shares(ledger, scenario, lost, first)
    return {
        "lead_id": lost.astype(np.int64),
        "seam": seam,
        "reason_code": reason_code.astype(np.int64),
        "arr": arr,
        "horizon_revenue": revenue,
        "capacity_share": share,
        "arr_lost": arr * share,
        "horizon_revenue_lost": revenue * share,
    }


def attributed_leakage(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """Leads, deals, ARR and horizon revenue lost per (seam, reason): where revenue leaks.

    One row for every reason of :func:`leakage_reasons` (zero rows kept, so tables are
    stable), columns seam, reason, leads_lost, deals_affected (leads lost, or for contract
    errors the booked deals with one), arr_lost, horizon_revenue_lost; capacity-aware as
    the module docstring says.
    """
    # Grouped by (seam, reason code): the same groups, rows and sums as by the names.
    lost = _lost_leads(ledger, scenario)
    names = ledger.reason_names
    width = len(names)
    cell = lost["seam"] * width + lost["reason_code"]
    size = int(cell.max(initial=-1)) + 1
    count = np.bincount(cell, minlength=size)
    values = np.column_stack([lost["arr_lost"], lost["horizon_revenue_lost"]])
    arr_sum, revenue_sum = group_sums(cell, values, size).T
    found = {
        (int(key // width), names[key % width]): (
            int(count[key]),
            float(arr_sum[key]),
            float(revenue_sum[key]),
        )
        for key in np.flatnonzero(count)
    }
    error_deals, error_arr, error_revenue = _contract_error(ledger)
    rows = []
    for seam, reason in leakage_reasons():
        if reason == "contract_error":
            rows.append((seam, reason, 0, error_deals, error_arr, error_revenue))
            continue
        leads, arr, revenue = found.get((seam, reason), (0, 0.0, 0.0))
        rows.append((seam, reason, leads, leads, arr, revenue))
    # Column by column in their final types: the frame the row tuples cast would make.
    seam, reason, *values = zip(*rows, strict=True)
    types = (np.int64, np.int64, float, float)
    table = {"seam": np.array(seam, dtype=np.int64), "reason": list(reason)}
    for name, column, dtype in zip(LEAKAGE_COLUMNS, values, types, strict=True):
        table[name] = np.array(column, dtype=dtype)
    return pd.DataFrame(table)


def leakage_by_seam(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """Attributed leakage summed per seam (seams 1-4 always present), for the headline view."""
    table = attributed_leakage(ledger, scenario)
    summed = table.groupby("seam", sort=True)[list(LEAKAGE_COLUMNS)].sum()
    summed = summed.reindex(list(SEAM_REASONS), fill_value=0).reset_index()
    return summed.astype({"seam": np.int64, "leads_lost": np.int64, "deals_affected": np.int64})


def reconciliation(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """Realised, lost and potential horizon revenue: leakage that adds up.

    Rows (metric, value): realised_revenue (the ledger's horizon revenue), one
    ``seamN_revenue_lost`` per seam, attributed_revenue_lost (their sum) and
    potential_revenue = realised + lost, computed lead by lead (each lead's realised
    revenue plus, if it was lost, its attributed value), so the two sides are summed
    independently and a lost lead counted twice or not at all would show.
    """
    c = ledger.columns
    table = attributed_leakage(ledger, scenario)
    per_seam = table.groupby("seam")["horizon_revenue_lost"].sum()
    values = lost_lead_values(ledger, scenario)
    per_lead = np.asarray(c["horizon_revenue"], dtype=float).copy()
    np.add.at(per_lead, values["lead_id"].to_numpy(), values["horizon_revenue_lost"].to_numpy())
    per_lead += _contract_error_revenue(ledger)
    rows = [("realised_revenue", float(np.sum(c["horizon_revenue"])))]
    rows += [(f"seam{seam}_revenue_lost", float(per_seam.get(seam, 0.0))) for seam in SEAM_REASONS]
    rows.append(("attributed_revenue_lost", float(table["horizon_revenue_lost"].sum())))
    rows.append(("potential_revenue", float(per_lead.sum())))
    return pd.DataFrame(rows, columns=["metric", "value"])


def _capacity_shares(
    ledger: Ledger, scenario: Scenario, lost: np.ndarray, before_win: np.ndarray
) -> np.ndarray:
    """Per lost lead, the share of it the gating stages' idle capacity could have taken.

    Only leads lost before a win need a stage they never started; won deals and
    customers passed every gating stage already.
    """
    c = ledger.columns
    share = np.ones(len(lost))
    spare = spare_items(ledger, scenario)
    reach_desk = _desk_given_sql(ledger)
    before_sales = ~np.isfinite(c["ae_start"][lost])
    for stage, column in GATING_STAGES:
        need = (before_win & ~np.isfinite(c[column][lost])).astype(float)
        if stage == "deal_desk":
            need = np.where(before_sales, need * reach_desk, need)
        demand = float(np.sum(need * share))
        room = float(spare.get(stage, np.inf))
        if demand > room:
            share = np.where(need > 0, share * room / demand, share)
    return share


def _desk_given_sql(ledger: Ledger) -> float:
    """Share of decided fit SQLs that reached the deal desk (a finished contract)."""
    c = ledger.columns
    sql = c["is_fit"].astype(bool) & np.isfinite(c["sql_time"]) & (c["outcome"] != IN_FLIGHT)
    return _share(np.isfinite(c["contract_done"][sql]))


def _revenue_per_value(ledger: Ledger, comparable: np.ndarray, times: np.ndarray):
    """A lookup (segment codes, times) -> horizon revenue per unit of deal value earned by
    the comparable leads of that segment whose ``times`` fell in the same quarter; the
    quarter's other segments stand in for a segment with none there, else 0."""
    c = ledger.columns
    n_segments = max(len(ledger.segment_names), 1)
    horizon = float(ledger.meta["horizon_hours"])
    n_quarters = max(int(np.ceil(horizon / QUARTER_HOURS)), 1)
    quarter = _quarter(times[comparable], n_quarters)
    cell = c["segment"][comparable] * n_quarters + quarter
    size = n_segments * n_quarters
    revenue = np.bincount(cell, c["horizon_revenue"][comparable], minlength=size)
    value = np.bincount(cell, c["deal_value"][comparable], minlength=size)
    pooled_revenue = revenue.reshape(n_segments, n_quarters).sum(axis=0)
    pooled_value = value.reshape(n_segments, n_quarters).sum(axis=0)
    pooled = np.divide(
        pooled_revenue, pooled_value, out=np.zeros(n_quarters), where=pooled_value > 0
    )
    own = np.divide(revenue, value, out=np.tile(pooled, n_segments), where=value > 0)

    def lookup(segment: np.ndarray, at: np.ndarray) -> np.ndarray:
        return own[segment * n_quarters + _quarter(at, n_quarters)]

    return lookup


def _quarter(times: np.ndarray, n_quarters: int) -> np.ndarray:
    """Quarter index of each time, clipped into the horizon's quarters (NaN as the first)."""
    index = np.floor(np.nan_to_num(np.asarray(times, dtype=float), nan=0.0) / QUARTER_HOURS)
    return np.clip(index, 0, n_quarters - 1).astype(np.int64)


def _retained_years(years_left: np.ndarray, term_years: float, nrr: float) -> np.ndarray:
    """Expected ARR-years in ``years_left`` for a customer who stays this term and then
    renews each later term at ``nrr`` (the net retention of one term)."""
    if term_years <= 0 or len(years_left) == 0:
        return years_left
    n_terms = int(np.ceil(float(years_left.max()) / term_years)) + 1
    k = np.arange(n_terms)
    overlap = np.clip(years_left[:, None] - k[None, :] * term_years, 0.0, term_years)
    return overlap @ (nrr**k)


def _term_years(ledger: Ledger) -> float:
    """The median length of the run's contract terms, in years (1 without terms)."""
    terms = ledger.terms
    if terms.empty:
        return 1.0
    length = (terms["end"] - terms["start"]).to_numpy(dtype=float)
    length = length[np.isfinite(length) & (length > 0)]
    return float(np.median(length)) / HOURS_PER_YEAR if len(length) else 1.0


def _net_retention(ledger: Ledger) -> float:
    """The run's net revenue retention per term, capped at 1 (1 without decided terms)."""
    value = float(retention_values(ledger)["nrr"])
    return min(value, 1.0) if np.isfinite(value) else 1.0


def _share(flags: np.ndarray) -> float:
    """Mean of boolean flags, 0 for an empty selection."""
    return float(flags.mean()) if len(flags) else 0.0


def _years_left(horizon: float, at: np.ndarray) -> np.ndarray:
    """Years from ``at`` to the horizon, never negative (NaN times count as none left)."""
    with np.errstate(invalid="ignore"):
        left = np.maximum(0.0, horizon - np.asarray(at, dtype=float)) / HOURS_PER_YEAR
    return np.nan_to_num(left, nan=0.0)


def _churned_term_arr(ledger: Ledger) -> np.ndarray:
    """Per lead, the ARR of the contract term that ended in churn (0 if none)."""
    arr = np.zeros(ledger.n_leads)
    churned = terms_column(ledger, "status") == "churned"
    lead = np.asarray(terms_column(ledger, "lead_id"), dtype=np.int64)[churned]
    np.add.at(arr, lead, np.asarray(terms_column(ledger, "arr"), dtype=float)[churned])
    return arr


def _contract_error(ledger: Ledger) -> tuple[int, float, float]:
    """Booked deals with a manual contract error, the ARR it eroded, and horizon revenue
    lost in proportion."""
    c = ledger.columns
    mask = _with_error(ledger)
    eroded = c["deal_value"][mask] - c["booked_arr"][mask]
    return int(mask.sum()), float(eroded.sum()), float(_contract_error_revenue(ledger).sum())


def _contract_error_revenue(ledger: Ledger) -> np.ndarray:
    """Per lead, horizon revenue lost to a contract error: its revenue x eroded / booked."""
    c = ledger.columns
    mask = _with_error(ledger)
    eroded = np.where(mask, c["deal_value"] - c["booked_arr"], 0.0)
    booked = np.asarray(c["booked_arr"], dtype=float)
    ratio = np.divide(eroded, booked, out=np.zeros(len(booked)), where=mask & (booked > 0))
    return np.asarray(c["horizon_revenue"], dtype=float) * ratio


def _with_error(ledger: Ledger) -> np.ndarray:
    """Booked deals whose contract carried a manual error."""
    return ledger.columns["contract_error"].astype(bool) & closed_won(ledger)
