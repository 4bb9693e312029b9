"""The headline: one replication's key figures in one tidy table (metric, value, unit).

It runs once per replication, so it stays vectorised: every figure comes from the
analysis functions beside it, each a handful of numpy operations over the ledger.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.analysis._common import HOURS_PER_DAY, durations, observed, ratio
from funnelsim.analysis.arr import arr_at, arr_events, trailing_values
from funnelsim.analysis.deferral import deferral_values
from funnelsim.analysis.forecast import forecast_errors
from funnelsim.analysis.funnel import stage_masks
from funnelsim.analysis.revenue import retention_values, unit_economics_values
from funnelsim.analysis.timing import closed_opportunities, first_response_values
from funnelsim.engine.ledger import Ledger
from funnelsim.scenario.models import Scenario

# Funnel stage (from stage_counts) -> headline metric and unit.
STAGE_METRICS: tuple[tuple[str, str, str], ...] = (
    ("leads", "leads", "leads"),
    ("mql", "mqls", "leads"),
    ("sql", "sqls", "leads"),
    ("opportunity", "opportunities", "opportunities"),
    ("won", "won_deals", "deals"),
    ("active_customer", "active_customers", "customers"),
)
MONEY_COLUMNS: tuple[str, ...] = (
    "booked_arr",
    "arr_at_horizon",
    "horizon_revenue",
    "invoiced_revenue",
)


def headline(
    ledger: Ledger,
    scenario: Scenario,
    pipeline: pd.DataFrame | None = None,
    weighted: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Key figures of one replication (columns metric, value, unit), for summaries and CIs.

    Rows: funnel counts (leads .. active_customers), booked_arr, arr_at_horizon,
    horizon_revenue, invoiced_revenue, win_rate (won / closed opportunities),
    median_sales_cycle_days, median_first_response_hours, sla_compliance,
    median_quote_to_cash_days (closed-won to invoice), deferred_revenue and deferred_cash
    (what slow quote-to-cash moved past the horizon, :mod:`funnelsim.analysis.deferral`;
    deferred, not lost), nrr, grr (trailing twelve months to the horizon over the whole
    book, :func:`funnelsim.analysis.arr.trailing_retention`), renewal_nrr and renewal_grr
    (over the contract terms decided in the run), cac, cac_payback_months, forecast_mape,
    lead_to_customer (active customers / leads), arr_at_start (the starting book's ARR)
    and customers_at_horizon (every customer with ARR at the horizon, the book's
    included). The funnel counts (leads .. active_customers) follow the leads the run
    created; ``won_deals`` counts booked deals: one that fell through in contract review
    is not won. Undefined figures are NaN. ``pipeline``: the ledger's
    :func:`funnelsim.analysis.forecast.pipeline_by_quarter` and ``weighted`` its
    ``stage_weighted`` with the scenario's weights, when already made.
    """
    return metric_table(headline_rows(ledger, scenario, pipeline, weighted))


def metric_table(rows: list[tuple[str, float, str]]) -> pd.DataFrame:
    """Rows (metric, value, unit) as a table with float values, built column by column
    (quicker than from the row tuples, the same frame)."""
    return pd.DataFrame(
        {
            "metric": [row[0] for row in rows],
            "value": np.array([row[1] for row in rows], dtype=float),
            "unit": [row[2] for row in rows],
        }
    )


def headline_rows(
    ledger: Ledger,
    scenario: Scenario,
    pipeline: pd.DataFrame | None = None,
    weighted: pd.DataFrame | None = None,
) -> list[tuple[str, float, str]]:
    """:func:`headline`'s rows, for a caller that adds rows before making the table."""
    currency = scenario.currency
    counts = {stage: float(int(mask.sum())) for stage, mask in stage_masks(ledger).items()}
    rows: list[tuple[str, float, str]] = [
        (metric, counts[stage], unit) for stage, metric, unit in STAGE_METRICS
    ]
    rows += [(name, float(ledger.columns[name].sum()), currency) for name in MONEY_COLUMNS]

    closed, won, cycle_days = closed_opportunities(ledger)
    response = first_response_values(ledger, scenario)
    quote_days = durations(observed(ledger, "won_time"), observed(ledger, "invoice_time"))
    retained = retention_values(ledger)
    trailing = trailing_values(ledger)
    events = arr_events(ledger)
    forecast = forecast_errors(ledger, scenario, pipeline, weighted)
    economics = unit_economics_values(ledger, scenario)
    deferred = deferral_values(ledger)
    rows += [
        ("win_rate", ratio(int(won.sum()), int(closed.sum())), "share"),
        ("median_sales_cycle_days", _median(cycle_days[closed]), "days"),
        ("median_first_response_hours", float(response["median_hours"]), "hours"),
        ("sla_compliance", float(response["sla_compliance"]), "share"),
        ("median_quote_to_cash_days", _median(quote_days / HOURS_PER_DAY), "days"),
        ("deferred_revenue", float(deferred["deferred_revenue"]), currency),
        ("deferred_cash", float(deferred["deferred_cash"]), currency),
        ("nrr", float(trailing["nrr"]), "share"),
        ("grr", float(trailing["grr"]), "share"),
        ("renewal_nrr", float(retained["nrr"]), "share"),
        ("renewal_grr", float(retained["grr"]), "share"),
        ("cac", float(economics["cac"]), currency),
        ("cac_payback_months", float(economics["cac_payback_months"]), "months"),
        ("forecast_mape", forecast[0], "share"),
        ("forecast_mape_fitted", forecast[1], "share"),
        ("lead_to_customer", ratio(counts["active_customer"], counts["leads"]), "share"),
        ("arr_at_start", float(arr_at(ledger, 0.0, events).sum()), currency),
        ("customers_at_horizon", float((ledger.columns["arr_at_horizon"] > 0).sum()), "customers"),
    ]
    return rows


def _median(values: np.ndarray) -> float:
    """Median, NaN for no values."""
    return float(np.median(values)) if len(values) else np.nan
