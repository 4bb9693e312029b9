"""The customer phase in bulk: contract errors, context transfer, cash, then the terms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.engine.customers import max_terms, run_terms
from funnelsim.engine.fates import (
    PAYMENT_STREAM,
    Fate,
    draw_rows,
    draw_term_fates,
)
from funnelsim.engine.ledger import (
    LOST_AT_SEAM,
    UNDECIDED,
)
from funnelsim.scenario.models import Scenario

HOURS_PER_MONTH = 8760.0 / 12


def run_customers(
    scenario: Scenario,
    seed: int,
    items: np.ndarray,
    fates: dict[Fate, np.ndarray],
    columns: dict[str, np.ndarray],
    perfect: frozenset[int],
    churn_u: np.ndarray | None = None,
) -> pd.DataFrame:
    """Contract errors, context transfer, then the term loop for every invoiced customer."""
    seam2, seam3 = scenario.seam2, scenario.seam3
    won = ~np.isnan(columns["contract_done"]) & (columns["outcome"] == UNDECIDED)
    # Every won deal and every customer is an item of the queued part; others never draw.
    n = len(won)
    error = np.zeros(n, dtype=bool)
    error[items] = fates[Fate.CONTRACT_ERROR] < seam2.contract_error_prob
    error &= won
    if 2 in perfect:
        error[:] = False
    columns["contract_error"] = error
    booked = columns["deal_value"] * np.where(error, 1.0 - seam2.contract_error_value_loss, 1.0)
    fell_through = (columns["outcome"] == LOST_AT_SEAM) & (columns["seam"] == 2)
    columns["booked_arr"] = np.where(columns["won"] & ~fell_through, booked, 0.0)
    context = np.zeros(n, dtype=bool)
    context[items] = fates[Fate.CONTEXT] < seam3.context_transfer_prob
    columns["context_transferred"] = context & ~np.isnan(columns["invoice_time"])
    customers = np.flatnonzero(~np.isnan(columns["invoice_time"]))
    at_item = np.searchsorted(items, customers)
    term_u = draw_term_fates(
        seed, columns["source"], tuple(scenario.sources), max_terms(scenario), rows=customers
    )
    result = run_terms(
        scenario,
        customers,
        columns["invoice_time"][customers],
        booked[customers],
        context[customers] | (3 in perfect),
        columns["onboarded_time"][customers],
        fates[Fate.EARLY_CHURN][at_item],
        term_u,
        perfect,
        *_cash_and_products(scenario, seed, columns, customers, churn_u),
    )
    columns["outcome"][customers] = result.outcome
    columns["seam"][customers] = result.seam
    columns["loss_reason"][customers] = result.reason
    columns["churn_time"][customers] = result.churn_time
    columns["arr_at_horizon"][customers] = result.arr_at_horizon
    columns["invoiced_revenue"][customers] = result.invoiced_revenue
    columns["horizon_revenue"][customers] = result.horizon_revenue
    columns["terms"][customers] = result.n_terms
    lost = customers[result.outcome == LOST_AT_SEAM]
    columns["loss_time"][lost] = result.churn_time[result.outcome == LOST_AT_SEAM]
    return result.terms


def _cash_and_products(
    scenario: Scenario,
    seed: int,
    columns: dict[str, np.ndarray],
    customers: np.ndarray,
    churn_u: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Hours to collect each term's invoice; with products, each customer's ramp and churn.

    Collection delays come from their own stream (keyed by source and rank), one uniform
    per term. A product's monthly churn p strikes at the end of month M after go-live,
    with P(M > m) = (1 - p)^m, drawn at the lead's own product-churn uniform.
    """
    n_terms = max_terms(scenario)
    pay_u = draw_rows(
        seed,
        PAYMENT_STREAM,
        columns["source"],
        tuple(scenario.sources),
        n_terms,
        customers,
        list(range(n_terms)),
    ).T
    pay_hours = scenario.costs.collection_days.ppf(pay_u.ravel()).reshape(pay_u.shape) * 24.0
    if scenario.products is None or churn_u is None:
        return pay_hours, None, None
    products = list(scenario.products.values())
    product = columns["product"][customers]
    ramp = None
    width = max(len(p.ramp_months) for p in products)
    if width:
        table = np.ones((len(products), width))
        for code, spec in enumerate(products):
            table[code, : len(spec.ramp_months)] = spec.ramp_months
        ramp = table[product]
    churn_at = None
    monthly = np.array([p.monthly_churn for p in products])[product]
    if monthly.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            months = np.ceil(np.log(churn_u[customers]) / np.log1p(-monthly))
        months = np.where(monthly > 0, np.maximum(months, 1.0), np.inf)
        churn_at = columns["invoice_time"][customers] + months * HOURS_PER_MONTH
    return pay_hours, ramp, churn_at
