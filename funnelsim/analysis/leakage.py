"""Attributed leakage: leads, ARR and horizon revenue lost at each seam, by reason.

This is the *attributed* measure of DESIGN.md ("Leakage has two honest measures"): the
expected value of what each seam lost, estimated from the same ledger. The
*counterfactual* measure (the paired difference against a run with the seam made perfect)
lives with the experiments, not here. Pure functions: a ledger in, tidy DataFrames out.

Per (seam, reason), with ``H`` the horizon in hours and years of 8760 hours:

- Seam 1 (scored_out, unrouted, stale_contact, went_cold, rejected): each lost lead is
  worth ``deal_value * p_close_and_stay[segment]`` of ARR (see
  :func:`close_and_stay_probability`) and that ARR times
  ``max(0, H - loss_time - lag[segment]) / 8760`` of horizon revenue, where ``lag`` is the
  segment's median time from SQL to invoice among its customers (0 if it has none).
- Seam 2 fell_through: ``deal_value`` of ARR, ``deal_value * max(0, H - loss_time) / 8760``
  of horizon revenue.
- Seam 2 contract_error (leads with ``contract_error``; no lead is lost): ARR
  ``deal_value - booked_arr``; horizon revenue ``horizon_revenue * (deal_value -
  booked_arr) / booked_arr`` (0 when nothing was booked).
- Seam 2 slow_quote_to_cash (no lead is lost, no ARR lost): revenue deferred by the
  quote-to-cash delay, ``booked_arr * (min(invoice_time, H) - won_time) / 8760`` over won
  deals that did not fall through (not invoiced by the horizon counts up to ``H``).
- Seams 3 and 4 (missing_context, slow_onboarding, late_renewal): the ARR of the term
  that ended in churn, and that ARR times ``max(0, H - churn_time) / 8760``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.engine.ledger import IN_FLIGHT, LOST_AT_SEAM, SEAM_REASONS, Ledger

HOURS_PER_YEAR = 8760.0
LEAKAGE_COLUMNS: tuple[str, ...] = ("leads_lost", "arr_lost", "horizon_revenue_lost")


def close_and_stay_probability(ledger: Ledger) -> pd.DataFrame:
    """Per segment, the chance a fit lead reaching sales closes and stays: seam 1's value.

    Columns segment, p_win, first_term_churn, p_close_and_stay. ``p_win`` is the share of
    fit leads with an SQL time whose outcome is decided (not in flight) that were won and
    did not fall through at seam 2; ``first_term_churn`` is the churned share of customers
    whose first term was decided; ``p_close_and_stay = p_win * (1 - first_term_churn)``.
    A segment with no data for an estimate gets 0 for it.
    """
    c = ledger.columns
    segment = c["segment"]
    outcome = c["outcome"]
    fell_through = _fell_through(ledger)
    resolved_sql = c["is_fit"] & np.isfinite(c["sql_time"]) & (outcome != IN_FLIGHT)
    closed = c["won"] & ~fell_through
    terms = ledger.terms
    first = terms[(terms["term"] == 1) & (terms["status"] != "in_force")]
    first_segment = segment[first["lead_id"].to_numpy(dtype=np.int64)]
    first_churned = (first["status"] == "churned").to_numpy()
    rows = []
    for code, name in enumerate(ledger.segment_names):
        base = resolved_sql & (segment == code)
        p_win = _share(closed[base])
        churn = _share(first_churned[first_segment == code])
        rows.append((name, p_win, churn, p_win * (1.0 - churn)))
    table = pd.DataFrame(rows, columns=["segment", "p_win", "first_term_churn", "p_close_and_stay"])
    table["segment"] = pd.Categorical(table["segment"], categories=list(ledger.segment_names))
    return table


def attributed_leakage(ledger: Ledger) -> pd.DataFrame:
    """Leads, ARR and horizon revenue lost per (seam, reason): where revenue leaks and how much.

    One row for every reason in ``SEAM_REASONS`` (zero rows kept, so tables are stable),
    columns seam, reason, leads_lost, arr_lost, horizon_revenue_lost; the module docstring
    gives each reason's formula.
    """
    c = ledger.columns
    horizon = float(ledger.meta["horizon_hours"])
    reason_code = {name: code for code, name in enumerate(ledger.reason_names)}
    lost = c["outcome"] == LOST_AT_SEAM
    deal_value = c["deal_value"]
    loss_time = c["loss_time"]
    segment = c["segment"]

    p_stay = close_and_stay_probability(ledger)["p_close_and_stay"].to_numpy(dtype=float)
    lag = _sql_to_invoice_lag(ledger)
    seam1_arr = deal_value * p_stay[segment]
    seam1_years = _years_left(horizon, loss_time + lag[segment])
    churned_arr = _churned_term_arr(ledger)
    churn_years = _years_left(horizon, c["churn_time"])

    rows = []
    for seam, reasons in SEAM_REASONS.items():
        for reason in reasons:
            mask = lost & (c["seam"] == seam) & (c["loss_reason"] == reason_code[reason])
            leads_lost = int(mask.sum())
            if seam == 1:
                arr = seam1_arr[mask].sum()
                revenue = (seam1_arr[mask] * seam1_years[mask]).sum()
            elif reason == "fell_through":
                arr = deal_value[mask].sum()
                revenue = (deal_value[mask] * _years_left(horizon, loss_time[mask])).sum()
            elif reason == "contract_error":
                arr, revenue = _contract_error(ledger)
            elif reason == "slow_quote_to_cash":
                arr, revenue = 0.0, _deferred_revenue(ledger, horizon)
            else:
                arr = churned_arr[mask].sum()
                revenue = (churned_arr[mask] * churn_years[mask]).sum()
            rows.append((seam, reason, leads_lost, float(arr), float(revenue)))
    table = pd.DataFrame(rows, columns=["seam", "reason", *LEAKAGE_COLUMNS])
    table["seam"] = table["seam"].astype(np.int64)
    table["leads_lost"] = table["leads_lost"].astype(np.int64)
    return table


def leakage_by_seam(ledger: Ledger) -> pd.DataFrame:
    """Attributed leakage summed per seam (seams 1-4 always present), for the headline view."""
    table = attributed_leakage(ledger)
    summed = table.groupby("seam", sort=True)[list(LEAKAGE_COLUMNS)].sum()
    summed = summed.reindex(list(SEAM_REASONS), fill_value=0).reset_index()
    summed["seam"] = summed["seam"].astype(np.int64)
    summed["leads_lost"] = summed["leads_lost"].astype(np.int64)
    return summed


def _fell_through(ledger: Ledger) -> np.ndarray:
    """Won deals that fell apart in contract review (lost at seam 2, reason fell_through)."""
    c = ledger.columns
    code = ledger.reason_names.index("fell_through")
    return (c["outcome"] == LOST_AT_SEAM) & (c["seam"] == 2) & (c["loss_reason"] == code)


def _share(flags: np.ndarray) -> float:
    """Mean of boolean flags, 0 for an empty selection."""
    return float(flags.mean()) if len(flags) else 0.0


def _years_left(horizon: float, at: np.ndarray) -> np.ndarray:
    """Years from ``at`` to the horizon, never negative (NaN times count as none left)."""
    with np.errstate(invalid="ignore"):
        left = np.maximum(0.0, horizon - np.asarray(at, dtype=float)) / HOURS_PER_YEAR
    return np.nan_to_num(left, nan=0.0)


def _sql_to_invoice_lag(ledger: Ledger) -> np.ndarray:
    """Per segment code, median hours from SQL to invoice over its customers (0 if none)."""
    c = ledger.columns
    invoiced = np.isfinite(c["invoice_time"]) & np.isfinite(c["sql_time"])
    delay = c["invoice_time"] - c["sql_time"]
    lag = np.zeros(len(ledger.segment_names))
    for code in range(len(lag)):
        values = delay[invoiced & (c["segment"] == code)]
        if len(values):
            lag[code] = float(np.median(values))
    return lag


def _churned_term_arr(ledger: Ledger) -> np.ndarray:
    """Per lead, the ARR of the contract term that ended in churn (0 if none)."""
    arr = np.zeros(ledger.n_leads)
    terms = ledger.terms
    churned = terms[terms["status"] == "churned"]
    np.add.at(arr, churned["lead_id"].to_numpy(dtype=np.int64), churned["arr"].to_numpy(float))
    return arr


def _contract_error(ledger: Ledger) -> tuple[float, float]:
    """ARR eroded by manual contract errors, and horizon revenue lost in proportion."""
    c = ledger.columns
    mask = c["contract_error"].astype(bool)
    eroded = c["deal_value"][mask] - c["booked_arr"][mask]
    booked = c["booked_arr"][mask]
    ratio = np.divide(eroded, booked, out=np.zeros(len(booked)), where=booked > 0)
    return float(eroded.sum()), float((c["horizon_revenue"][mask] * ratio).sum())


def _deferred_revenue(ledger: Ledger, horizon: float) -> float:
    """Revenue deferred between closed-won and invoice (or the horizon) on booked deals."""
    c = ledger.columns
    mask = c["won"].astype(bool) & ~_fell_through(ledger)
    invoiced = np.where(np.isfinite(c["invoice_time"]), c["invoice_time"], horizon)
    delay = np.minimum(invoiced, horizon)[mask] - c["won_time"][mask]
    return float((c["booked_arr"][mask] * delay).sum() / HOURS_PER_YEAR)
