"""The customer phase in bulk: contract errors, context transfer, cash, then the terms."""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.engine.book import BookColumn
from funnelsim.engine.customers import Upsells, max_terms, run_terms
from funnelsim.engine.fates import (
    BOOK_SOURCE,
    PAYMENT_STREAM,
    UPSELL_STREAM,
    Fate,
    draw_rows,
    draw_term_fates,
)
from funnelsim.engine.ledger import (
    LOST_AT_SEAM,
    UNDECIDED,
    floor32,
    freeze,
)
from funnelsim.scenario.models import Scenario

HOURS_PER_MONTH = 8760.0 / 12


# The terms' hours, stored like the ledger's times (rounded down to float32).
TERM_HOURS = ("start", "end", "paid_time", "upsell_time", "upsell_paid_time")
# The fates the customer phase reads (after the queued part).
CUSTOMER_FATES = (Fate.CONTRACT_ERROR, Fate.CONTEXT, Fate.EARLY_CHURN)
# The ledger columns the customer phase writes; every other one is final before it.
CUSTOMER_COLUMNS = frozenset(
    {
        "contract_error",
        "booked_arr",
        "context_transferred",
        "outcome",
        "seam",
        "loss_reason",
        "churn_time",
        "arr_at_horizon",
        "invoiced_revenue",
        "horizon_revenue",
        "terms",
        "loss_time",
    }
)
# Written once, at the end of the phase: each is held sparse as soon as it is written.
FINAL_COLUMNS = ("churn_time", "arr_at_horizon", "invoiced_revenue", "horizon_revenue", "terms")


def run_customers(
    scenario: Scenario,
    seed: int,
    items: np.ndarray,
    fates: dict[Fate, np.ndarray],
    columns: dict[str, np.ndarray],
    perfect: frozenset[int],
    churn_u: np.ndarray | None = None,
    book_term_start: BookColumn | None = None,
    item_times: dict[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Contract errors, context transfer, then the term loop for every invoiced customer.

    ``fates`` (and ``item_times``) are aligned with ``items``: the queued part's items
    that can close a deal, among them every won deal and every new customer.

    ``book_term_start`` (per ledger row, NaN elsewhere) is the current term's start of
    each of the starting book's customers: they join the term loop at time 0.
    ``item_times`` holds the items' invoice and onboarded times in float64 (the ledger
    stores them rounded): the terms start from the exact times.
    """
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
    kept = 1.0 - seam2.contract_error_value_loss
    fell_through = (columns["outcome"] == LOST_AT_SEAM) & (columns["seam"] == 2)
    # Booked ARR only where a deal was won and did not fall through (0 elsewhere).
    booking = np.flatnonzero(columns["won"] & ~fell_through)
    del fell_through
    booked_arr = np.zeros(n)
    booked_arr[booking] = _booked(columns["deal_value"], error, booking, kept)
    columns["booked_arr"] = booked_arr
    del booked_arr
    freeze(columns, ("booked_arr", "contract_error"))
    context = np.zeros(n, dtype=bool)
    context[items] = fates[Fate.CONTEXT] < seam3.context_transfer_prob
    columns["context_transferred"] = context & ~np.isnan(columns["invoice_time"])
    freeze(columns, ("context_transferred",))
    book_customer = np.zeros(n, dtype=bool)
    if book_term_start is not None:
        book_customer = book_term_start.finite()
    customers = np.flatnonzero(~np.isnan(columns["invoice_time"]) | book_customer)
    mature = book_customer[customers]
    start = _exact(columns, "invoice_time", customers, items, item_times)
    if mature.any():
        start = np.where(mature, book_term_start[customers], start)
    early_u = np.zeros(len(customers))
    at_item = np.searchsorted(items, customers[~mature])
    early_u[~mature] = fates[Fate.EARLY_CHURN][at_item]
    source = draw_source(columns)
    names = tuple(scenario.sources)
    term_u = draw_term_fates(seed, source, names, max_terms(scenario), rows=customers)
    result = run_terms(
        scenario,
        customers,
        start,
        _booked(columns["deal_value"], error, customers, kept),
        context[customers] | (3 in perfect),
        _exact(columns, "onboarded_time", customers, items, item_times),
        early_u,
        term_u,
        perfect,
        *_cash_and_products(scenario, seed, columns, customers, churn_u, start, mature),
        mature=mature if mature.any() else None,
        upsell=_upsells(scenario, seed, source, columns["segment"], customers),
        stored=TERM_HOURS,
    )
    columns["outcome"][customers] = result.outcome
    columns["seam"][customers] = result.seam
    columns["loss_reason"][customers] = result.reason
    final = (
        floor32(result.churn_time),
        result.arr_at_horizon,
        result.invoiced_revenue,
        result.horizon_revenue,
        result.n_terms,
    )
    for name, values in zip(FINAL_COLUMNS, final, strict=True):
        columns[name][customers] = values
        freeze(columns, (name,))
    lost = customers[result.outcome == LOST_AT_SEAM]
    columns["loss_time"][lost] = floor32(result.churn_time[result.outcome == LOST_AT_SEAM])
    return result.terms


def _booked(value: np.ndarray, error: np.ndarray, rows: np.ndarray, kept: float) -> np.ndarray:
    """The deal value booked at ``rows``: a contract error keeps only ``kept`` of it."""
    return value[rows] * np.where(error[rows], kept, 1.0)


def _exact(
    columns: dict[str, np.ndarray],
    name: str,
    rows: np.ndarray,
    items: np.ndarray,
    item_times: dict[str, np.ndarray] | None,
) -> np.ndarray:
    """Column ``name`` at ``rows`` in float64: the items' exact times where given."""
    values = columns[name][rows].astype(np.float64)
    if item_times is None or len(items) == 0:
        return values
    at = np.minimum(np.searchsorted(items, rows), len(items) - 1)
    hit = items[at] == rows
    values[hit] = item_times[name][at[hit]]
    return values


def _cash_and_products(
    scenario: Scenario,
    seed: int,
    columns: dict[str, np.ndarray],
    customers: np.ndarray,
    churn_u: np.ndarray | None,
    start: np.ndarray,
    mature: np.ndarray,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Hours to collect each term's invoice; with products, each customer's ramp and churn.

    Collection delays come from their own stream (keyed by source and rank), one uniform
    per term. A product's monthly churn p strikes at the end of month M after go-live,
    with P(M > m) = (1 - p)^m, drawn at the lead's own product-churn uniform. A book
    customer is past its ramp, and its (memoryless) monthly churn counts from time 0.
    """
    n_terms = max_terms(scenario)
    pay_u = draw_rows(
        seed,
        PAYMENT_STREAM,
        draw_source(columns),
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
        ramp[mature] = 1.0
    churn_at = None
    monthly = np.array([p.monthly_churn for p in products])[product]
    if monthly.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            months = np.ceil(np.log(churn_u[customers]) / np.log1p(-monthly))
        months = np.where(monthly > 0, np.maximum(months, 1.0), np.inf)
        churn_at = np.where(mature, 0.0, start) + months * HOURS_PER_MONTH
    return pay_hours, ramp, churn_at


def draw_source(columns: dict[str, np.ndarray]) -> np.ndarray:
    """The source code each row draws by: the book's records draw from the book's stream."""
    book = columns.get("from_book")
    if book is None or not book.any():
        return columns["source"]
    return np.where(book, BOOK_SOURCE, columns["source"])


def _upsells(
    scenario: Scenario,
    seed: int,
    source: np.ndarray,
    segment: np.ndarray,
    customers: np.ndarray,
) -> Upsells | None:
    """Customers' upsell rates and uniforms (None when no segment has a rate)."""
    spec = scenario.seam4.upsell
    rates = np.array([spec.rate(name) for name in scenario.segments])
    if not (rates > 0).any():
        return None
    width = 2 * max_terms(scenario)
    u = draw_rows(
        seed, UPSELL_STREAM, source, tuple(scenario.sources), width, customers, list(range(width))
    ).T
    return Upsells(rate=rates[segment[customers]], u=u, uplift=spec.uplift)
