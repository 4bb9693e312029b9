"""Deferred revenue and cash: what a slow quote-to-cash pushes later without losing it.

A contract term starts at its invoice, so every day between closed-won and the invoice
moves the customer's revenue and first payment a day later. Nothing is lost over the
customer's life, so this is never leakage; within the horizon it shows as revenue and
cash that arrive after it instead of inside it. Pure functions of the ledger.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.analysis._common import (
    HOURS_PER_DAY,
    HOURS_PER_YEAR,
    closed_won,
    horizon_hours,
    terms_column,
)
from funnelsim.engine.ledger import Ledger

DEFERRAL_METRICS: tuple[str, ...] = ("deferred_deals", "deferred_revenue", "deferred_cash")


def deferral(ledger: Ledger) -> pd.DataFrame:
    """Quote-to-cash deferral of one replication, as metric/value rows.

    - deferred_deals: booked deals won within the horizon, each waiting from closed-won to
      its invoice (or to the horizon when not yet invoiced);
    - mean_deferral_days: their mean wait;
    - deferred_revenue: revenue the wait moved past the horizon, ``booked_arr x wait``;
    - deferred_cash: first payments the wait moved past the horizon: a deal whose first
      invoice would have been paid inside the horizon had it been invoiced at the win
      (paid ``paid_time - wait``, or for a deal not invoiced by the horizon the win plus
      the run's median invoice-to-payment time) but was not (its first invoice's amount,
      or its booked ARR when not invoiced).
    """
    values = deferral_values(ledger)
    return pd.DataFrame({"metric": list(values), "value": list(values.values())})


def deferral_values(ledger: Ledger) -> dict[str, float]:
    """:func:`deferral`'s figures by metric, for callers that read one value."""
    c = ledger.columns
    horizon = horizon_hours(ledger)
    won_time = np.asarray(c["won_time"], dtype=float)
    deals = closed_won(ledger) & np.isfinite(won_time) & (won_time <= horizon)
    invoice = np.asarray(c["invoice_time"], dtype=float)
    invoiced = np.isfinite(invoice) & (invoice <= horizon)
    wait = np.where(invoiced, invoice, horizon) - won_time
    wait = np.where(deals, np.maximum(wait, 0.0), 0.0)
    booked = np.asarray(c["booked_arr"], dtype=float)
    revenue = float(np.sum(booked[deals] * wait[deals]) / HOURS_PER_YEAR)
    cash = _deferred_cash(ledger, deals & invoiced, deals & ~invoiced, wait, horizon)
    n = int(deals.sum())
    return {
        "deferred_deals": float(n),
        "mean_deferral_days": float(wait[deals].mean() / HOURS_PER_DAY) if n else np.nan,
        "deferred_revenue": revenue,
        "deferred_cash": cash,
    }


def _deferred_cash(
    ledger: Ledger, invoiced: np.ndarray, pending: np.ndarray, wait: np.ndarray, horizon: float
) -> float:
    """First payments pushed past the horizon by the wait between the win and the invoice."""
    terms = ledger.terms
    if terms.empty:
        return 0.0
    first = terms_column(ledger, "term") == 1
    lead = np.asarray(terms_column(ledger, "lead_id"), dtype=np.int64)[first]
    paid = np.nan_to_num(
        np.asarray(terms_column(ledger, "paid_time"), dtype=float)[first], nan=np.inf
    )
    amount = np.asarray(terms_column(ledger, "invoiced"), dtype=float)[first]
    mine = invoiced[lead]
    moved = mine & (paid > horizon) & (paid - wait[lead] <= horizon)
    total = float(amount[moved].sum())
    gap = paid - np.asarray(terms_column(ledger, "start"), dtype=float)[first]
    gap = gap[np.isfinite(gap)]
    if len(gap) and pending.any():
        c = ledger.columns
        on_time = c["won_time"] + float(np.median(gap)) <= horizon
        total += float(np.sum(np.asarray(c["booked_arr"], dtype=float)[pending & on_time]))
    return total
