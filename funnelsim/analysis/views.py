"""Small tables behind before/after charts, reduced from one ledger where it is simulated.

A comparison of several options keeps no ledgers (they are large); each replication keeps
instead what the per-option charts draw: first-response times (speed to lead), weekly
team load, closed-won-to-invoice days (quote-to-cash), customer retention by month since
go-live, and the monthly cash margin that gives an option's payback.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from funnelsim.analysis._common import (
    HOURS_PER_DAY,
    HOURS_PER_YEAR,
    closed_won,
    durations,
    horizon_hours,
    observed,
)
from funnelsim.analysis.cashflow import cashflow
from funnelsim.calibrate.survival import kaplan_meier
from funnelsim.engine.ledger import CHURNED, LOST_AT_SEAM, Ledger
from funnelsim.scenario.models import Scenario

HOURS_PER_MONTH = HOURS_PER_YEAR / 12
VIEW_NAMES = ("response_hours", "team_load", "quote_to_cash_days", "retention")


def response_hours(ledger: Ledger) -> np.ndarray:
    """Hours from MQL to first response of every lead answered within the horizon."""
    return durations(observed(ledger, "mql_time"), observed(ledger, "first_response"))


def quote_to_cash_days(ledger: Ledger) -> np.ndarray:
    """Days from closed-won to the first invoice of every booked deal invoiced in time."""
    won = closed_won(ledger)
    start = np.where(won, observed(ledger, "won_time"), np.nan)
    return durations(start, observed(ledger, "invoice_time")) / HOURS_PER_DAY


def retention(ledger: Ledger) -> np.ndarray:
    """Share of customers still active m months after go-live, for m = 0, 1, 2, ...

    Kaplan-Meier from each customer's first invoice (its go-live) to its churn (lost at
    seam 3 or 4, or churned later), customers
    still active at the horizon censored there, so late cohorts count for as long as they
    were seen. One value per month up to the horizon.
    """
    horizon = horizon_hours(ledger)
    live = observed(ledger, "invoice_time")
    customers = np.isfinite(live)
    months = np.arange(int(np.ceil(horizon / HOURS_PER_MONTH)) + 1)
    if not customers.any():
        return np.full(len(months), np.nan)
    c = ledger.columns
    churn = np.fmin(observed(ledger, "churn_time"), observed(ledger, "loss_time"))[customers]
    outcome, seam = c["outcome"][customers], c["seam"][customers]
    left = (outcome == CHURNED) | ((outcome == LOST_AT_SEAM) & (seam >= 3))
    churned = left & np.isfinite(churn)
    end = np.where(churned, churn, horizon)
    times, survival = kaplan_meier((end - live[customers]) / HOURS_PER_MONTH, churned)
    if len(times) == 0:  # nobody churned
        return np.ones(len(months))
    index = np.searchsorted(times, months, side="right") - 1
    return np.where(index >= 0, survival[np.maximum(index, 0)], 1.0)


def monthly_cash_margin(ledger: Ledger, scenario: Scenario) -> np.ndarray:
    """Per month: gross margin x cash collected net of fees, minus cash spent."""
    table = cashflow(ledger, scenario)
    margin = scenario.costs.gross_margin * table["cash_in"].to_numpy(dtype=float)
    return margin - table["cash_out"].to_numpy(dtype=float)


def views(ledger: Ledger, scenario: Scenario) -> dict[str, Any]:
    """Every view of one replication, by name (see :data:`VIEW_NAMES`)."""
    load = ledger.team_levels[["team", "week", "occupancy", "queue_length"]]
    return {
        "response_hours": response_hours(ledger).astype(np.float32),
        "team_load": load.reset_index(drop=True),
        "quote_to_cash_days": quote_to_cash_days(ledger).astype(np.float32),
        "retention": retention(ledger),
    }
