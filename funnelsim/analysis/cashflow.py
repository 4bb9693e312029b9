"""Cash: a monthly cash-flow table per replication and the metrics that follow from it.

Months are twelfths of a 365-day year (730 hours) counted from the scenario's start; the
last month may be shorter. Money in: bookings (booked ARR at the month of the win),
invoices (each contract term invoiced upfront at its start, as in the terms table, and
an upsell during a term invoiced pro rata when it happens) and
cash collected when the invoice is paid (``costs.collection_days`` after it; invoices
unpaid at the horizon stay in receivables), less payment processing fees
(``costs.payment_fee_rate`` of the cash collected). Money out: lead and outbound attempt
costs in the month they are incurred, and every other item of
:func:`funnelsim.analysis.revenue.costs` (salaries, commissions, tools, other) spread
over the months in proportion to their length, so the months add up to the run's costs.

Identities: collected + receivables = invoiced (at every month end, cumulatively), and
each column's monthly values add up to the run's total.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from funnelsim.analysis._common import (
    HOURS_PER_DAY,
    HOURS_PER_YEAR,
    closed_won,
    from_book,
    horizon_hours,
    observed,
    per_ledger,
    terms_column,
)
from funnelsim.analysis.revenue import cost_items, unit_economics_values
from funnelsim.engine.ledger import Ledger
from funnelsim.scenario.models import OutboundSource, Scenario

HOURS_PER_MONTH = HOURS_PER_YEAR / 12
CASH_OUT_COLUMNS: tuple[str, ...] = (
    "salaries",
    "commissions",
    "lead_costs",
    "tools",
    "other_costs",
)


def month_edges(ledger: Ledger) -> np.ndarray:
    """Start hour of every month within the horizon, and the horizon itself."""
    horizon = horizon_hours(ledger)
    return np.append(np.arange(0.0, horizon, HOURS_PER_MONTH), horizon)


def cashflow(ledger: Ledger, scenario: Scenario, edges: np.ndarray | None = None) -> pd.DataFrame:
    """The monthly cash-flow table of one replication.

    Columns month (1-based), start_day, days, bookings, invoiced, collected, receivables
    (invoiced but not yet collected at the month's end), fees, salaries, commissions,
    lead_costs, tools, other_costs, cash_in (collected - fees), cash_out, net_cash
    (cash_in - cash_out) and cumulative_cash. ``edges`` (hours from 0 to the horizon)
    replace the 730-hour months, e.g. by calendar months.
    """
    edges = month_edges(ledger) if edges is None else np.asarray(edges, dtype=float)
    n_months = len(edges) - 1
    widths = np.diff(edges)
    c = ledger.columns
    terms = ledger.terms

    def per_month(times: np.ndarray, weights: np.ndarray) -> np.ndarray:
        times = np.asarray(times, dtype=float)
        keep = np.isfinite(times) & (times >= 0) & (times < edges[-1])
        index = np.minimum(np.searchsorted(edges, times[keep], side="right") - 1, n_months - 1)
        return np.bincount(
            index, weights=np.asarray(weights, dtype=float)[keep], minlength=n_months
        )

    bookings = per_month(observed(ledger, "won_time"), c["booked_arr"])
    invoiced = per_month(terms_column(ledger, "start"), terms_column(ledger, "invoiced"))
    collected = per_month(terms_column(ledger, "paid_time"), terms_column(ledger, "invoiced"))
    if "upsell_invoiced" in terms:
        upsell = terms_column(ledger, "upsell_invoiced")
        invoiced = invoiced + per_month(terms_column(ledger, "upsell_time"), upsell)
        collected = collected + per_month(terms_column(ledger, "upsell_paid_time"), upsell)
    fees = collected * scenario.costs.payment_fee_rate
    lead_costs = _acquisition_spend(ledger, scenario, per_month)
    items, _, cost = cost_items(ledger, scenario)
    timed = _flags(items, lambda item: item.startswith(("leads:", "attempts:")))
    share = widths / widths.sum()
    spread = {
        "salaries": _flags(items, lambda item: item.startswith(("team:", "overtime:"))),
        "commissions": _flags(items, lambda item: "commission" in item),
        "tools": _flags(items, lambda item: item == "tools"),
    }
    out = {name: float(np.sum(cost[mask & ~timed])) * share for name, mask in spread.items()}
    out["salaries"] = _salaries_by_month(ledger, items, cost, edges)
    out["commissions"] = _commissions_by_month(ledger, scenario, per_month, n_months)
    claimed = timed | spread["salaries"] | spread["commissions"] | spread["tools"]
    other = float(np.sum(cost[~claimed])) * share
    cash_in = collected - fees
    cash_out = out["salaries"] + out["commissions"] + lead_costs + out["tools"] + other
    net = cash_in - cash_out
    return pd.DataFrame(
        {
            "month": np.arange(1, n_months + 1, dtype=np.int64),
            "start_day": edges[:-1] / HOURS_PER_DAY,
            "days": widths / HOURS_PER_DAY,
            "bookings": bookings,
            "invoiced": invoiced,
            "collected": collected,
            "receivables": np.cumsum(invoiced) - np.cumsum(collected),
            "fees": fees,
            "salaries": out["salaries"],
            "commissions": out["commissions"],
            "lead_costs": lead_costs,
            "tools": out["tools"],
            "other_costs": other,
            "cash_in": cash_in,
            "cash_out": cash_out,
            "net_cash": net,
            "cumulative_cash": np.cumsum(net),
        }
    )


def _flags(items: list[str], test: Callable[[str], bool]) -> np.ndarray:
    """A boolean per cost item: whether ``test(item)`` holds."""
    return np.array([bool(test(item)) for item in items], dtype=bool)


def _salaries_by_month(
    ledger: Ledger, items: list[str], costs: np.ndarray, edges: np.ndarray
) -> np.ndarray:
    """Each team's pay and overtime spread over the months by its employed headcount
    (hiring plans, attrition and vacancies included); a fixed team's evenly."""
    salaries = np.zeros(len(edges) - 1)
    steps = headcount_steps(ledger)
    none = (np.zeros(0), np.zeros(0))
    for item, cost in zip(items, costs.tolist(), strict=True):
        kind, _, team = item.partition(":")
        if kind not in ("team", "overtime") or cost == 0:
            continue
        person_hours = _step_integral(*steps.get(team, none), edges)
        total = person_hours.sum()
        weights = person_hours / total if total > 0 else np.diff(edges) / edges[-1]
        salaries += cost * weights
    return salaries


def headcount_steps(ledger: Ledger) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per team (in the ledger's order) the times its headcount changed, in order, and the
    heads employed from each: ``ledger.headcount`` split by team once per ledger."""
    return per_ledger("headcount_steps", ledger, lambda: _headcount_steps(ledger))


def _headcount_steps(ledger: Ledger) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    # ``ledger.headcount``'s rows read straight off ``capacity_rows``: per (team, time)
    # the last row, each team's rows in their order, sorted by time (stable).
    last: dict[tuple[str, float], int] = {}
    for index, row in enumerate(ledger.capacity_rows):
        last[(row[0], float(row[1]))] = index
    kept = sorted(last.values())
    rows = ledger.capacity_rows
    team = [str(rows[i][0]) for i in kept]
    time = np.array([rows[i][1] for i in kept], dtype=float)
    heads = np.array([int(rows[i][2]) for i in kept], dtype=np.int64).astype(float)
    out = {}
    names = list(dict.fromkeys(team))
    codes = np.array([names.index(name) for name in team], dtype=np.int64)
    for code, name in enumerate(names):
        mine = np.flatnonzero(codes == code)
        order = mine[np.argsort(time[mine], kind="stable")]
        out[name] = (time[order], heads[order])
    return out


def _step_integral(times: np.ndarray, values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Integral of a step function (value from each time on) over each interval of edges."""
    if len(times) == 0:
        return np.zeros(len(edges) - 1)
    knots = np.append(np.maximum(times, 0.0), max(edges[-1], times[-1]))
    cumulative = np.concatenate([[0.0], np.cumsum(values * np.diff(knots))])
    return np.diff(np.interp(edges, knots, cumulative))


def _commissions_by_month(
    ledger: Ledger, scenario: Scenario, per_month, n_months: int
) -> np.ndarray:
    """Commission in the months it is paid: equal parts from each deal's won time on."""
    won_time = observed(ledger, "won_time")
    booked = np.asarray(ledger.columns["booked_arr"], dtype=float)
    deals = np.isfinite(won_time) & (booked > 0)
    paid = np.zeros(n_months)
    for team in scenario.teams.values():
        comp = team.comp
        if comp is None or comp.commission_rate <= 0:
            continue
        months = comp.commission_months
        times = won_time[deals][:, None] + np.arange(months)[None, :] * HOURS_PER_MONTH
        parts = np.repeat(comp.commission_rate * booked[deals] / months, months)
        paid += per_month(times.ravel(), parts)
    return paid


def cash_metrics(
    ledger: Ledger, scenario: Scenario, table: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Burn, cash need, break-even and CAC payback on cash (columns metric, value, unit).

    Rows: invoiced, collected, receivables_at_horizon, cash_out, net_cash;
    net_burn_per_month (mean monthly cash_out - cash_in; negative when cash grows);
    peak_cash_need (the deepest cumulative deficit, 0 if never negative);
    months_to_break_even (the first month from which every month's net cash is >= 0,
    NaN if the last month still burns); cac (acquisition cost / won deals, as
    :func:`funnelsim.analysis.revenue.unit_economics`) and cac_payback_cash_months (the
    first k such that won deals observed for k months after their win have, on average,
    collected net of fees times the gross margin at least the CAC; NaN if none).
    ``table``: this ledger's :func:`cashflow`, when already made.
    """
    return pd.DataFrame(
        cash_metric_rows(ledger, scenario, table), columns=["metric", "value", "unit"]
    )


def cash_metric_rows(
    ledger: Ledger, scenario: Scenario, table: pd.DataFrame | None = None
) -> list[tuple[str, float, str]]:
    """:func:`cash_metrics`' rows (metric, value, unit), for a caller that picks a few."""
    table = cashflow(ledger, scenario) if table is None else table
    net = table["net_cash"].to_numpy()
    burning = np.flatnonzero(net < 0)
    if len(burning) == 0:
        break_even = 0.0
    elif burning[-1] == len(net) - 1:
        break_even = np.nan
    else:
        break_even = float(burning[-1] + 2)
    cac = float(unit_economics_values(ledger, scenario)["cac"])
    currency = scenario.currency
    return [
        ("invoiced", float(table["invoiced"].sum()), currency),
        ("collected", float(table["collected"].sum()), currency),
        ("receivables_at_horizon", float(table["receivables"].iloc[-1]), currency),
        ("cash_out", float(table["cash_out"].sum()), currency),
        ("net_cash", float(net.sum()), currency),
        ("net_burn_per_month", float(-net.mean()), currency),
        ("peak_cash_need", float(max(0.0, -table["cumulative_cash"].min())), currency),
        ("months_to_break_even", break_even, "months"),
        ("cac", cac, currency),
        ("cac_payback_cash_months", _cash_payback(ledger, scenario, cac), "months"),
    ]


def _cash_payback(ledger: Ledger, scenario: Scenario, cac: float) -> float:
    """Months after the win until a won deal's margin on cash collected covers the CAC."""
    won_time = observed(ledger, "won_time")
    won = np.flatnonzero(np.isfinite(won_time) & closed_won(ledger) & ~from_book(ledger))
    if len(won) == 0 or not np.isfinite(cac):
        return np.nan
    horizon = horizon_hours(ledger)
    paid = np.asarray(terms_column(ledger, "paid_time"), dtype=float)
    lead = terms_column(ledger, "lead_id")
    keep = paid < horizon
    net_rate = (1.0 - scenario.costs.payment_fee_rate) * scenario.costs.gross_margin
    amount = np.asarray(terms_column(ledger, "invoiced"), dtype=float)[keep] * net_rate
    month_after = np.maximum(np.ceil((paid[keep] - won_time[lead[keep]]) / HOURS_PER_MONTH), 1.0)
    is_won = np.zeros(len(won_time), dtype=bool)
    is_won[won] = True
    term_won = is_won[lead[keep]]
    term_won_time = won_time[lead[keep]]
    for k in range(1, int(np.ceil(horizon / HOURS_PER_MONTH)) + 1):
        cohort = won[won_time[won] + k * HOURS_PER_MONTH <= horizon]
        if len(cohort) == 0:
            break
        # A term's lead is in the cohort: won, and won early enough to be seen k months.
        in_cohort = term_won & (term_won_time + k * HOURS_PER_MONTH <= horizon)
        collected = amount[in_cohort & (month_after <= k)].sum()
        if collected / len(cohort) >= cac:
            return float(k)
    return np.nan


def _acquisition_spend(ledger: Ledger, scenario: Scenario, per_month) -> np.ndarray:
    """Lead costs by the month each lead was created, outbound attempts by attempt time."""
    c = ledger.columns
    price = np.array([s.cost_per_lead for s in scenario.sources.values()])
    new = ~from_book(ledger)
    spend = per_month(c["created"][new], price[c["source"][new]])
    attempts = ledger.outbound_attempts
    if attempts is not None and len(attempts):
        per_attempt = {
            name: s.cost_per_attempt
            for name, s in scenario.sources.items()
            if isinstance(s, OutboundSource)
        }
        cost = attempts["source"].map(per_attempt).to_numpy(dtype=float)
        spend = spend + per_month(attempts["time"].to_numpy(), cost)
    return spend
