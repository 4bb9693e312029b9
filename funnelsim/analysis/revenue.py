"""Money: retention, costs, unit economics (CAC, payback), sources and the quarterly pipeline.

Pure functions: a ledger (and, where prices or headcount are needed, its scenario) in, a
tidy DataFrame out. Ratios with a zero denominator are NaN, never an exception. Years are
8760 hours and quarters a quarter of that, counted from the scenario's start.
"""

from __future__ import annotations

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
    quarter_index,
    quarter_starts,
    ratio,
    terms_column,
)
from funnelsim.engine.ledger import Ledger
from funnelsim.scenario.models import Comp, OutboundSource, Scenario

COST_CATEGORIES: tuple[str, ...] = ("marketing", "sales", "finance", "cs", "tools", "other")
MONTHS_PER_YEAR = 12.0
HOURS_PER_MONTH = HOURS_PER_YEAR / MONTHS_PER_YEAR


def retention(ledger: Ledger) -> pd.DataFrame:
    """Net and gross revenue retention over decided contract terms, as metric/value rows.

    A term is decided when its status is not ``in_force``. NRR is the sum of ``next_arr``
    over the sum of ``arr``; GRR caps each term's next ARR at its ARR (expansion does not
    count). Rows nrr, grr (NaN without decided terms) and decided_terms.
    """
    values = retention_values(ledger)
    return pd.DataFrame({"metric": list(values), "value": list(values.values())})


def retention_values(ledger: Ledger) -> dict[str, float]:
    """:func:`retention`'s figures by metric (made once per ledger inside
    ``shared_per_ledger``), for callers that read one value."""
    return dict(per_ledger("retention", ledger, lambda: _retention_values(ledger)))


def _retention_values(ledger: Ledger) -> dict[str, float]:
    decided = terms_column(ledger, "status") != "in_force"
    arr = np.asarray(terms_column(ledger, "arr"), dtype=float)[decided]
    next_arr = np.nan_to_num(
        np.asarray(terms_column(ledger, "next_arr"), dtype=float)[decided], nan=0.0
    )
    total = float(arr.sum())
    return {
        "nrr": ratio(next_arr.sum(), total),
        "grr": ratio(np.minimum(next_arr, arr).sum(), total),
        "decided_terms": float(decided.sum()),
    }


def costs(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """Costs over the horizon: leads per source, each team's loaded cost, tools.

    Columns item, category, cost. Items are ``leads:<source>`` (leads created times the
    source's cost per lead, category marketing), ``team:<team>`` (employed person-years x
    the yearly cost per head: ``comp.base_per_year`` if given, else ``cost_per_year``;
    person-years follow the hiring plan, attrition and vacancies, each person prorated by
    employed time; category by the stage the team serves: seam 1 team, fallback and AE
    team sales, deal desk finance, onboarding team cs, a team serving none other),
    ``overtime:<team>`` (employed person-years x the yearly overtime pay per head, for
    teams with ``overtime_hours_per_week``),
    ``commission:<team>`` (:func:`commission_cost`), ``bonus:<team>`` (handoff bonus x
    accepted leads the team handed to sales, :func:`handoffs`) and ``tools`` (tools per
    year x horizon years). Made once per ledger inside ``shared_per_ledger``; each caller
    gets its own copy.
    """
    made = per_ledger(f"costs:{id(scenario)}", ledger, lambda: _costs(ledger, scenario))
    return made.copy()


def cost_items(ledger: Ledger, scenario: Scenario) -> tuple[list[str], list[str], np.ndarray]:
    """:func:`costs` as its item names, categories and costs (read-only; made once per
    ledger inside ``shared_per_ledger``): for sums over a few items without a frame."""

    def make() -> tuple[list[str], list[str], np.ndarray]:
        table = per_ledger(f"costs:{id(scenario)}", ledger, lambda: _costs(ledger, scenario))
        cost = table["cost"].to_numpy(dtype=float, copy=True)
        cost.flags.writeable = False
        return table["item"].astype(str).tolist(), table["category"].astype(str).tolist(), cost

    return per_ledger(f"cost_items:{id(scenario)}", ledger, make)


def _costs(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    years = horizon_hours(ledger) / HOURS_PER_YEAR
    leads = _leads_per_source(ledger)
    rows = [
        (f"leads:{name}", "marketing", float(leads[i] * source.cost_per_lead))
        for i, (name, source) in enumerate(scenario.sources.items())
    ]
    rows += outbound_attempt_costs(ledger, scenario)
    category = _team_categories(scenario)
    for name, team in scenario.teams.items():
        person_years = _person_years(ledger, name, team.headcount, years)
        rows.append((f"team:{name}", category[name], person_years * team.yearly_cost_per_head))
        if team.overtime_hours_per_week > 0:
            overtime = person_years * team.yearly_overtime_cost_per_head
            rows.append((f"overtime:{name}", category[name], overtime))
        comp = team.comp
        if comp is not None and comp.commission_rate > 0:
            rows.append((f"commission:{name}", category[name], commission_cost(ledger, comp)))
        if comp is not None and comp.handoff_bonus > 0:
            bonus = comp.handoff_bonus * handoffs(ledger, scenario, name)
            rows.append((f"bonus:{name}", category[name], float(bonus)))
    rows.append(("tools", "tools", float(scenario.costs.tools_per_year * years)))
    return pd.DataFrame(rows, columns=["item", "category", "cost"])


def commission_cost(ledger: Ledger, comp: Comp) -> float:
    """Commission paid within the horizon: rate x booked ARR of each won deal, in equal
    monthly parts over ``commission_months`` from the time it was won."""
    won_time = observed(ledger, "won_time")
    booked = np.asarray(ledger.columns["booked_arr"], dtype=float)
    deals = np.isfinite(won_time) & (booked > 0)
    months = comp.commission_months
    pay_times = won_time[deals][:, None] + np.arange(months)[None, :] * HOURS_PER_MONTH
    paid_parts = (pay_times < horizon_hours(ledger)).sum(axis=1)
    return float(np.sum(comp.commission_rate * booked[deals] * paid_parts / months))


def handoffs(ledger: Ledger, scenario: Scenario, team: str) -> int:
    """Accepted leads (SQLs) a seam 1 team handed to sales; the fallback's were re-routed."""
    accepted = np.isfinite(observed(ledger, "sql_time"))
    rerouted = ledger.columns["rerouted"].astype(bool)
    mine = np.zeros(len(accepted), dtype=bool)
    if team == scenario.seam1.team:
        mine |= ~rerouted
    if team == scenario.seam1.fallback_team:
        mine |= rerouted
    return int(np.sum(accepted & mine))


def _person_years(ledger: Ledger, name: str, headcount: int, years: float) -> float:
    """Employed person-years of a team in the run (headcount x years for a fixed team)."""
    employed = ledger.meta.get("team_employed_hours", {})
    if name in employed:
        return float(employed[name]) / HOURS_PER_YEAR
    return float(headcount * years)


def unit_economics(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """CAC and CAC payback: what a won deal costs to acquire and how long it takes to earn back.

    Acquisition cost = lead costs + the SDR (seam 1), fallback and AE teams' costs + tools.
    CAC = acquisition cost / won deals of leads created in the run (booked: fell-through
    deals are not won; the starting book's opportunities were acquired before); payback
    months = CAC / (booked ARR per won deal x gross margin / 12). Columns metric, value,
    unit; CAC and payback are NaN with no won deals (or no booked ARR).
    """
    values = unit_economics_values(ledger, scenario)
    currency = scenario.currency
    units = (currency, "deals", currency, currency, "share", "months")
    return pd.DataFrame(
        [
            (metric, value, unit)
            for (metric, value), unit in zip(values.items(), units, strict=True)
        ],
        columns=["metric", "value", "unit"],
    )


def unit_economics_values(ledger: Ledger, scenario: Scenario) -> dict[str, float]:
    """:func:`unit_economics`' figures by metric (made once per ledger inside
    ``shared_per_ledger``), for callers that read one value."""
    key = f"unit_economics:{id(scenario)}"
    return dict(per_ledger(key, ledger, lambda: _unit_economics_values(ledger, scenario)))


def _unit_economics_values(ledger: Ledger, scenario: Scenario) -> dict[str, float]:
    acquisition = _acquisition_cost(ledger, scenario)
    new_deals = closed_won(ledger) & ~from_book(ledger)
    won = int(new_deals.sum())
    cac = ratio(acquisition, won)
    arr_per_deal = ratio(float(ledger.columns["booked_arr"][new_deals].sum()), won)
    margin = scenario.costs.gross_margin
    return {
        "acquisition_cost": acquisition,
        "won_deals": float(won),
        "cac": cac,
        "booked_arr_per_won_deal": arr_per_deal,
        "gross_margin": margin,
        "cac_payback_months": ratio(cac, arr_per_deal * margin / MONTHS_PER_YEAR),
    }


def by_source(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """Per source: volume, cost, conversion and revenue, and the source's own CAC.

    Columns source, leads, lead_cost (cost per lead, plus cost per attempt for an outbound
    source), mqls, sqls, won_deals, booked_arr, horizon_revenue, cac. A source's CAC is its
    lead cost plus the acquisition teams' costs (SDR, fallback, AE; see
    :func:`unit_economics`) allocated by its share of SQLs, over its won deals (NaN with
    none).
    """
    c = ledger.columns
    n_sources = len(ledger.source_names)
    new = ~from_book(ledger)
    source = c["source"][new]
    mql = np.isfinite(observed(ledger, "mql_time"))
    sql = np.isfinite(observed(ledger, "sql_time"))
    won = closed_won(ledger)

    def per_source(weights: np.ndarray) -> np.ndarray:
        weights = np.asarray(weights, dtype=float)[new]
        return np.bincount(source, weights=weights, minlength=n_sources)

    leads = _leads_per_source(ledger)
    lead_cost = leads * np.array([s.cost_per_lead for s in scenario.sources.values()])
    attempt_cost = dict(
        (item.removeprefix("attempts:"), cost)
        for item, _, cost in outbound_attempt_costs(ledger, scenario)
    )
    lead_cost = lead_cost + np.array([attempt_cost.get(name, 0.0) for name in scenario.sources])
    sqls = per_source(sql)
    team_cost = _acquisition_team_cost(ledger, scenario)
    total_sqls = sqls.sum()
    allocated = team_cost * sqls / total_sqls if total_sqls else np.zeros(n_sources)
    won_deals = per_source(won)
    with np.errstate(divide="ignore", invalid="ignore"):
        cac = np.where(won_deals > 0, (lead_cost + allocated) / won_deals, np.nan)
    table = pd.DataFrame(
        {
            "source": pd.Categorical(
                list(ledger.source_names), categories=list(ledger.source_names)
            ),
            "leads": leads.astype(np.int64),
            "lead_cost": lead_cost,
            "mqls": per_source(mql).astype(np.int64),
            "sqls": sqls.astype(np.int64),
            "won_deals": won_deals.astype(np.int64),
            "booked_arr": per_source(c["booked_arr"]),
            "horizon_revenue": per_source(c["horizon_revenue"]),
            "cac": cac,
        }
    )
    return table


def pipeline(ledger: Ledger) -> pd.DataFrame:
    """Per quarter: open pipeline at its start, value won in it, coverage and velocity.

    Columns quarter (1-based), start_day, open_pipeline (deal value of opportunities open
    at the quarter's start), won_value (deal value won in the quarter), coverage
    (open_pipeline / won_value), opps_created, mean_deal_value (of those created),
    win_rate and mean_cycle_days (over opportunities closed in the quarter) and
    velocity_per_day = opps_created x mean_deal_value x win_rate / mean_cycle_days.
    Undefined ratios are NaN; a quarter with no opportunities created has velocity 0.
    """
    c = ledger.columns
    starts = quarter_starts(ledger)
    n_quarters = len(starts)
    is_opp = c["opportunity"].astype(bool)
    opp_time = np.where(is_opp, observed(ledger, "opp_time"), np.nan)
    is_opp &= np.isfinite(opp_time)
    close_time = np.where(is_opp, observed(ledger, "close_time"), np.nan)
    value = np.asarray(c["deal_value"], dtype=float)
    won = is_opp & closed_won(ledger) & np.isfinite(close_time)
    closed = is_opp & np.isfinite(close_time)

    # Open at a quarter's start: created at or before it, not closed by then.
    open_until = np.where(np.isfinite(close_time), close_time, np.inf)
    open_at = (opp_time[None, :] <= starts[:, None]) & (open_until[None, :] > starts[:, None])
    open_pipeline = (open_at * np.where(is_opp, value, 0.0)[None, :]).sum(axis=1)

    def per_quarter(times: np.ndarray, mask: np.ndarray, weights: np.ndarray) -> np.ndarray:
        q = quarter_index(np.where(mask, times, np.nan), n_quarters)
        keep = q >= 0
        return np.bincount(q[keep], weights=weights[keep], minlength=n_quarters)

    ones = np.ones(len(value))
    won_value = per_quarter(close_time, won, value)
    created = per_quarter(opp_time, is_opp, ones)
    created_value = per_quarter(opp_time, is_opp, value)
    n_closed = per_quarter(close_time, closed, ones)
    n_won = per_quarter(close_time, won, ones)
    cycle_days = np.nan_to_num((close_time - opp_time) / HOURS_PER_DAY, nan=0.0)
    cycle_sum = per_quarter(close_time, closed, cycle_days)
    with np.errstate(divide="ignore", invalid="ignore"):
        coverage = np.where(won_value > 0, open_pipeline / won_value, np.nan)
        mean_deal_value = np.where(created > 0, created_value / created, np.nan)
        win_rate = np.where(n_closed > 0, n_won / n_closed, np.nan)
        mean_cycle = np.where(n_closed > 0, cycle_sum / n_closed, np.nan)
        velocity = np.where(mean_cycle > 0, created_value * win_rate / mean_cycle, np.nan)
    return pd.DataFrame(
        {
            "quarter": np.arange(1, n_quarters + 1, dtype=np.int64),
            "start_day": starts / HOURS_PER_DAY,
            "open_pipeline": open_pipeline,
            "won_value": won_value,
            "coverage": coverage,
            "opps_created": created.astype(np.int64),
            "mean_deal_value": mean_deal_value,
            "win_rate": win_rate,
            "mean_cycle_days": mean_cycle,
            "velocity_per_day": velocity,
        }
    )


def acquisition_teams(scenario: Scenario) -> tuple[str, ...]:
    """The teams whose cost is acquisition cost: seam 1 (SDR), its fallback and the AEs."""
    names = (scenario.seam1.team, scenario.seam1.fallback_team, scenario.sales.team)
    return tuple(dict.fromkeys(n for n in names if n is not None))


def _acquisition_cost(ledger: Ledger, scenario: Scenario) -> float:
    """Lead costs + acquisition team costs + tools over the horizon."""
    items, categories, cost = cost_items(ledger, scenario)
    team_items = _acquisition_items(scenario)
    mask = [
        c in ("marketing", "tools") or i in team_items
        for i, c in zip(items, categories, strict=True)
    ]
    return float(np.sum(cost[np.array(mask, dtype=bool)]))


def _acquisition_items(scenario: Scenario) -> set[str]:
    """Cost items of the acquisition teams: pay, overtime, commission and handoff bonuses."""
    return {
        f"{kind}:{name}"
        for name in acquisition_teams(scenario)
        for kind in ("team", "overtime", "commission", "bonus")
    }


def _acquisition_team_cost(ledger: Ledger, scenario: Scenario) -> float:
    """Acquisition teams' pay, commission and bonuses over the horizon."""
    items, _, cost = cost_items(ledger, scenario)
    team_items = _acquisition_items(scenario)
    return float(np.sum(cost[np.array([i in team_items for i in items], dtype=bool)]))


def _leads_per_source(ledger: Ledger) -> np.ndarray:
    """Leads created in the run per source code (the starting book's were paid for before)."""
    source = ledger.columns["source"][~from_book(ledger)]
    return np.bincount(source, minlength=len(ledger.source_names))


def _team_categories(scenario: Scenario) -> dict[str, str]:
    """Cost category of each team, from the stage it serves (sales wins a tie)."""
    category = dict.fromkeys(scenario.teams, "other")
    category[scenario.seam3.team] = "cs"
    category[scenario.seam2.team] = "finance"
    for name in acquisition_teams(scenario):
        category[name] = "sales"
    return category


def outbound_attempt_costs(ledger: Ledger, scenario: Scenario) -> list[tuple[str, str, float]]:
    """Cost rows ``attempts:<source>`` (attempts x cost per attempt) of outbound sources."""
    attempts = ledger.outbound_attempts
    rows = []
    for name, source in scenario.sources.items():
        if isinstance(source, OutboundSource):
            n = 0 if attempts is None else int((attempts["source"] == name).sum())
            rows.append((f"attempts:{name}", "marketing", float(n * source.cost_per_attempt)))
    return rows
