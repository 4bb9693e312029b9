"""The plain versions of the per-replication reductions, as they were before they were made
cheaper: pandas frames and groupbys, one value read off a frame built for it, the Monte
Carlo's moves and-ed stage by stage. ``tests/test_reduction_equivalence.py`` pins each
rewritten function to its plain version here, bit for bit.

Each plain function is the old body; where it called another reduction it calls the
current public one, which is pinned on its own.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import special

from funnelsim.analysis._common import (
    HOURS_PER_DAY,
    QUARTER_HOURS,
    closed_won,
    durations,
    from_book,
    horizon_hours,
    observed,
    ratio,
)
from funnelsim.analysis.arr import ARR_KINDS, SIGN, arr_at, arr_events
from funnelsim.analysis.capacity import GATING_STAGES, _spare, _week_widths, stage_teams
from funnelsim.analysis.cashflow import (
    HOURS_PER_MONTH,
    _acquisition_spend,
    _commissions_by_month,
    _step_integral,
    month_edges,
)
from funnelsim.analysis.forecast import (
    METHODS,
    _mean_absolute,
    crm_close_date,
    quarter_edges,
    stage_weights,
)
from funnelsim.analysis.funnel import stage_counts
from funnelsim.analysis.headline import MONEY_COLUMNS, STAGE_METRICS
from funnelsim.analysis.leakage import (
    _contract_error,
    _desk_given_sql,
    _retained_years,
    _revenue_per_value,
    _share,
    _term_years,
    _years_left,
    leakage_reasons,
)
from funnelsim.analysis.pipeline_walk import STAGE_SAMPLES
from funnelsim.analysis.revenue import (
    MONTHS_PER_YEAR,
    _acquisition_items,
    costs,
    retention,
    unit_economics,
)
from funnelsim.analysis.stages import open_pipeline_by_stage, stage_rows, wilson
from funnelsim.analysis.timeseries import (
    BRIDGE_COLUMNS,
    CASH_COLUMNS,
    _band_rows,
    _coverage,
    _interval,
    _per_interval,
    calendar_months,
    monthly_revenue,
)
from funnelsim.analysis.timing import _response_hours, closed_opportunities, sla_clock_hours
from funnelsim.engine.ledger import IN_FLIGHT, LOST_AT_SEAM, Ledger
from funnelsim.engine.teams import HOURS_PER_WEEK
from funnelsim.experiment.stats import t_interval
from funnelsim.scenario.models import Scenario

LOAD_COLUMNS = ("team", "quarter", "occupancy", "queue_length")


# --- team load (saturation, capacity) ---------------------------------------------------


def quarterly_load(ledger: Ledger) -> pd.DataFrame:
    levels = ledger.team_levels
    horizon = float(ledger.meta["horizon_hours"])
    if levels.empty:
        return pd.DataFrame({name: [] for name in LOAD_COLUMNS})
    begin = levels["week"].to_numpy(dtype=float) * HOURS_PER_WEEK
    width = np.clip(horizon - begin, 0.0, HOURS_PER_WEEK)
    frame = pd.DataFrame(
        {
            "team": levels["team"].to_numpy(),
            "quarter": ((begin + width / 2) // QUARTER_HOURS).astype(np.int64) + 1,
            "weight": width,
            "occupancy": levels["occupancy"].to_numpy(dtype=float) * width,
            "queue_length": levels["queue_length"].to_numpy(dtype=float) * width,
        }
    )
    frame = frame[frame["weight"] > 0]
    grouped = frame.groupby(["team", "quarter"], sort=False)[
        ["weight", "occupancy", "queue_length"]
    ].sum()
    out = grouped[["occupancy", "queue_length"]].div(grouped["weight"], axis=0).reset_index()
    return out[list(LOAD_COLUMNS)]


def team_occupancy(ledger: Ledger) -> pd.Series:
    levels = ledger.team_levels
    if levels.empty:
        return pd.Series(dtype=float)
    width = _week_widths(levels["week"].to_numpy(), horizon_hours(ledger))
    busy = levels["occupancy"].to_numpy(dtype=float) * width
    frame = pd.DataFrame({"team": levels["team"], "busy": busy, "width": width})
    sums = frame.groupby("team", sort=False)[["busy", "width"]].sum()
    return (sums["busy"] / sums["width"]).rename("occupancy")


def peak_occupancy(ledger: Ledger) -> pd.Series:
    table = quarterly_load(ledger)
    return table.groupby("team", sort=False)["occupancy"].max().rename("peak_occupancy")


def headroom(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    occupancy = team_occupancy(ledger)
    levels = ledger.team_levels
    duty = levels.groupby("team", sort=False)["on_duty_hours"].sum()
    c = ledger.columns
    rerouted = c["rerouted"].astype(bool)
    teams = stage_teams(scenario)
    rows = []
    for stage, column in GATING_STAGES:
        started = np.isfinite(c[column])
        spare, items, weighted = 0.0, 0, 0.0
        for position, team in enumerate(teams[stage]):
            mine = started
            if stage == "first_response" and len(teams[stage]) > 1:
                mine = started & (rerouted if position == 1 else ~rerouted)
            n = int(mine.sum())
            spec = scenario.teams[team]
            if spec.work_time is not None:
                paid = float(duty[team]) * spec.capacity_per_head
                occ = n * spec.work_time.mean() / paid if paid > 0 else np.nan
            else:
                occ = float(occupancy.get(team, np.nan))
            spare += _spare(n, occ)
            items += n
            weighted += n * (occ if np.isfinite(occ) else 0.0)
        if not teams[stage]:
            spare = np.inf
        rows.append((stage, items, weighted / items if items else np.nan, spare))
    table = pd.DataFrame(rows, columns=["stage", "items", "utilization", "spare_items"])
    return table.astype({"items": np.int64})


# --- forecast ---------------------------------------------------------------------------


def pipeline_by_quarter(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """One row tuple per quarter and stage, then a frame of them."""
    horizon = horizon_hours(ledger)
    edges, labels = quarter_edges(scenario, horizon)
    rows = stage_rows(ledger)
    lead = rows["lead_id"].to_numpy()
    c = ledger.columns
    value = np.asarray(c["deal_value"], dtype=float)[lead]
    expected = np.asarray(c["expected_close"], dtype=float)[lead]
    won_time = observed(ledger, "won_time")[lead]
    stale = np.asarray(c["stale_stage"], dtype=bool)[lead]
    stage = rows["stage"].to_numpy(dtype=np.int64)
    entered = rows["entered"].to_numpy(dtype=float)
    left = rows["left"].to_numpy(dtype=float)
    until = np.where(np.isfinite(left), left, np.inf)
    n_stages = len(ledger.stage_names)
    push = scenario.sales.close_date_push_days * HOURS_PER_DAY
    out = []
    for q, label in enumerate(labels):
        q0, q1 = edges[q], edges[q + 1]
        inside = (entered <= q0) & (until > q0)
        recorded = np.minimum(stage + stale, n_stages - 1)
        close = crm_close_date(expected, q0, push)
        due = inside & (close >= q0) & (close < q1)
        won = inside & (won_time >= q0) & (won_time < q1)
        due_value = np.bincount(recorded[due], value[due], minlength=n_stages)
        won_value = np.bincount(recorded[won], value[won], minlength=n_stages)
        for k in range(n_stages):
            out.append((label, edges[q], k, due_value[k], won_value[k]))
    return pd.DataFrame(out, columns=["quarter", "start", "stage", "due", "won_open"])


def fit_stage_weights(pipelines: list[pd.DataFrame], fallback: np.ndarray) -> np.ndarray:
    table = pipelines[0] if len(pipelines) == 1 else pd.concat(pipelines, ignore_index=True)
    sums = table.groupby("stage")[["due", "won_open"]].sum().reindex(range(len(fallback)))
    due = sums["due"].to_numpy(dtype=float)
    won = sums["won_open"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        fitted = np.where(due > 0, won / due, fallback)
    return np.nan_to_num(fitted, nan=0.0)


def stage_weighted(pipeline: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    frame = pipeline.assign(forecast=pipeline["due"] * weights[pipeline["stage"].to_numpy()])
    grouped = frame.groupby(["quarter", "start"], sort=False)[["forecast", "won_open"]].sum()
    return grouped.rename(columns={"won_open": "actual_open"}).reset_index()


def forecast_errors(ledger: Ledger, scenario: Scenario, pipeline: pd.DataFrame) -> tuple:
    weights = stage_weights(scenario)

    def mape(table: pd.DataFrame) -> float:
        actual = table["actual_open"].to_numpy(dtype=float)
        keep = actual > 0
        if not keep.any():
            return np.nan
        forecast = table["forecast"].to_numpy()[keep]
        return float(np.mean(np.abs(forecast - actual[keep]) / actual[keep]))

    return (
        mape(stage_weighted(pipeline, weights)),
        mape(stage_weighted(pipeline, fit_stage_weights([pipeline], weights))),
    )


class StageSamples:
    """The Monte Carlo's stage draws as they were: every stall's extra days drawn through
    the distribution, each stage's times and moves sorted together."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.segments = list(scenario.segments)
        sales = scenario.sales
        self.times: list[list[np.ndarray]] = []
        self.moves: list[list[np.ndarray]] = []
        for name in self.segments:
            times, moves = [], []
            if sales.stages is None:
                won = rng.random(STAGE_SAMPLES) < sales.win_rate[name]
                u = rng.random(STAGE_SAMPLES)
                lost_cycle = (sales.lost_cycle_days or sales.cycle_days)[name]
                days = np.where(won, sales.cycle_days[name].ppf(u), lost_cycle.ppf(u))
                slips = rng.random(STAGE_SAMPLES) < sales.slip.prob
                days += np.where(slips, sales.slip.extra_days.ppf(rng.random(STAGE_SAMPLES)), 0.0)
                stage_draws = [(days, won)]
            else:
                stage_draws = []
                for stage in sales.stages.values():
                    days = stage.days_for(name).ppf(rng.random(STAGE_SAMPLES))
                    stalls = rng.random(STAGE_SAMPLES) < stage.stall.prob
                    extra = stage.stall.extra_days.ppf(rng.random(STAGE_SAMPLES))
                    days = days + np.where(stalls, extra, 0.0)
                    stage_draws.append((days, rng.random(STAGE_SAMPLES) < stage.advance_for(name)))
            for days, moved in stage_draws:
                order = np.argsort(days)
                times.append(days[order])
                moves.append(moved[order])
            self.times.append(times)
            self.moves.append(moves)

    def pipeline_wins(
        self,
        ledger: Ledger,
        q0: float,
        q1: float,
        draws: int,
        rng: np.random.Generator,
        rows: pd.DataFrame,
    ) -> np.ndarray:
        entered = rows["entered"].to_numpy(dtype=float)
        left = rows["left"].to_numpy(dtype=float)
        inside = (entered <= q0) & (np.where(np.isfinite(left), left, np.inf) > q0)
        lead = rows["lead_id"].to_numpy()[inside]
        stage = rows["stage"].to_numpy(dtype=np.int64)[inside]
        age = (q0 - entered[inside]) / HOURS_PER_DAY
        segment = ledger.columns["segment"][lead]
        value = np.asarray(ledger.columns["deal_value"], dtype=float)[lead]
        window = (q1 - q0) / HOURS_PER_DAY
        total = np.zeros(draws)
        n_stages = len(self.times[0])
        for code in range(len(self.segments)):
            for k in range(n_stages):
                mine = (segment == code) & (stage == k)
                if not mine.any():
                    continue
                times, moves = self.times[code], self.moves[code]
                first = np.searchsorted(times[k], age[mine], side="right")
                room = len(times[k]) - first
                pick = first[:, None] + (rng.random((mine.sum(), draws)) * room[:, None]).astype(
                    np.int64
                )
                pick = np.minimum(pick, len(times[k]) - 1)
                elapsed = np.maximum(times[k][pick] - age[mine][:, None], 0.0)
                alive = moves[k][pick]
                for later in range(k + 1, n_stages):
                    index = rng.integers(0, len(times[later]), (mine.sum(), draws))
                    elapsed += times[later][index]
                    alive &= moves[later][index]
                won = alive & (elapsed < window)
                total += (won * value[mine][:, None]).sum(axis=0)
        return total


def open_wins(ledger: Ledger, scenario: Scenario, draws: int) -> np.ndarray:
    """``forecast_part``'s Monte Carlo samples, drawn as they were."""
    rng = np.random.default_rng(np.random.SeedSequence([int(ledger.meta["seed"]), 0xF0CA57]))
    samples = StageSamples(scenario, rng)
    edges, _ = quarter_edges(scenario, horizon_hours(ledger))
    rows = stage_rows(ledger)
    out = np.zeros((len(edges) - 1, draws))
    for q in range(len(edges) - 1):
        out[q] = samples.pipeline_wins(ledger, edges[q], edges[q + 1], draws, rng, rows)
    return out


# --- money: retention, unit economics, deferral, first response ----------------------------


def retention_table(ledger: Ledger) -> pd.DataFrame:
    terms = ledger.terms
    decided = terms[terms["status"] != "in_force"]
    arr = decided["arr"].to_numpy(dtype=float)
    next_arr = np.nan_to_num(decided["next_arr"].to_numpy(dtype=float), nan=0.0)
    total = float(arr.sum())
    return pd.DataFrame(
        {
            "metric": ["nrr", "grr", "decided_terms"],
            "value": [
                ratio(next_arr.sum(), total),
                ratio(np.minimum(next_arr, arr).sum(), total),
                float(len(decided)),
            ],
        }
    )


def trailing_retention(ledger: Ledger) -> pd.DataFrame:
    at = horizon_hours(ledger)
    if at < 8760.0:
        values = [np.nan, np.nan, np.nan, 0.0]
    else:
        events = arr_events(ledger)
        before = arr_at(ledger, at - 8760.0, events)
        now = arr_at(ledger, at, events)
        base = before > 1e-9
        total = float(before[base].sum())
        values = [
            ratio(now[base].sum(), total),
            ratio(np.minimum(now[base], before[base]).sum(), total),
            ratio(float((now[base] > 1e-9).sum()), float(base.sum())),
            float(base.sum()),
        ]
    return pd.DataFrame(
        {"metric": ["nrr", "grr", "logo_retention", "base_customers"], "value": values}
    )


def acquisition_cost(ledger: Ledger, scenario: Scenario) -> float:
    table = costs(ledger, scenario)
    team_items = _acquisition_items(scenario)
    mask = table["category"].isin(["marketing", "tools"]) | table["item"].isin(team_items)
    return float(table.loc[mask, "cost"].sum())


def acquisition_team_cost(ledger: Ledger, scenario: Scenario) -> float:
    table = costs(ledger, scenario)
    return float(table.loc[table["item"].isin(_acquisition_items(scenario)), "cost"].sum())


def unit_economics_table(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    acquisition = acquisition_cost(ledger, scenario)
    new_deals = closed_won(ledger) & ~from_book(ledger)
    won = int(new_deals.sum())
    cac = ratio(acquisition, won)
    arr_per_deal = ratio(float(ledger.columns["booked_arr"][new_deals].sum()), won)
    margin = scenario.costs.gross_margin
    payback = ratio(cac, arr_per_deal * margin / MONTHS_PER_YEAR)
    currency = scenario.currency
    return pd.DataFrame(
        [
            ("acquisition_cost", acquisition, currency),
            ("won_deals", float(won), "deals"),
            ("cac", cac, currency),
            ("booked_arr_per_won_deal", arr_per_deal, currency),
            ("gross_margin", margin, "share"),
            ("cac_payback_months", payback, "months"),
        ],
        columns=["metric", "value", "unit"],
    )


def deferral_table(ledger: Ledger) -> pd.DataFrame:
    c = ledger.columns
    horizon = horizon_hours(ledger)
    won_time = np.asarray(c["won_time"], dtype=float)
    deals = closed_won(ledger) & np.isfinite(won_time) & (won_time <= horizon)
    invoice = np.asarray(c["invoice_time"], dtype=float)
    invoiced = np.isfinite(invoice) & (invoice <= horizon)
    wait = np.where(invoiced, invoice, horizon) - won_time
    wait = np.where(deals, np.maximum(wait, 0.0), 0.0)
    booked = np.asarray(c["booked_arr"], dtype=float)
    revenue = float(np.sum(booked[deals] * wait[deals]) / 8760.0)
    cash = deferred_cash(ledger, deals & invoiced, deals & ~invoiced, wait, horizon)
    n = int(deals.sum())
    return pd.DataFrame(
        {
            "metric": ["deferred_deals", "mean_deferral_days", "deferred_revenue", "deferred_cash"],
            "value": [
                float(n),
                float(wait[deals].mean() / HOURS_PER_DAY) if n else np.nan,
                revenue,
                cash,
            ],
        }
    )


def deferred_cash(
    ledger: Ledger, invoiced: np.ndarray, pending: np.ndarray, wait: np.ndarray, horizon: float
) -> float:
    terms = ledger.terms
    if terms.empty:
        return 0.0
    first = terms[terms["term"] == 1]
    lead = first["lead_id"].to_numpy(dtype=np.int64)
    paid = np.nan_to_num(first["paid_time"].to_numpy(dtype=float), nan=np.inf)
    amount = first["invoiced"].to_numpy(dtype=float)
    mine = invoiced[lead]
    moved = mine & (paid > horizon) & (paid - wait[lead] <= horizon)
    total = float(amount[moved].sum())
    gap = paid - first["start"].to_numpy(dtype=float)
    gap = gap[np.isfinite(gap)]
    if len(gap) and pending.any():
        c = ledger.columns
        on_time = c["won_time"] + float(np.median(gap)) <= horizon
        total += float(np.sum(np.asarray(c["booked_arr"], dtype=float)[pending & on_time]))
    return total


def first_response_table(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    from funnelsim.analysis._common import ROUNDING_HOURS, summary

    wait = _response_hours(ledger)
    n, _, median, p90 = summary(wait)
    sla = scenario.seam1.sla_hours
    compliance = np.nan
    if sla is not None and n > 0:
        compliance = float((sla_clock_hours(ledger, scenario) <= sla + ROUNDING_HOURS).mean())
    mql = observed(ledger, "mql_time")
    reached = np.isfinite(mql)
    rerouted = ratio(int((ledger.columns["rerouted"] & reached).sum()), int(reached.sum()))
    return pd.DataFrame(
        {
            "n": [n],
            "median_hours": [median],
            "p90_hours": [p90],
            "sla_hours": [np.nan if sla is None else float(sla)],
            "sla_compliance": [compliance],
            "rerouted_share": [rerouted],
        }
    ).astype({"n": np.int64})


def headline(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """The headline as it was: every figure read off its own frame."""
    from funnelsim.analysis.forecast import pipeline_by_quarter

    currency = scenario.currency
    funnel = stage_counts(ledger)
    counts = dict(zip(funnel["stage"], funnel["count"].astype(float), strict=True))
    rows = [(metric, counts[stage], unit) for stage, metric, unit in STAGE_METRICS]
    rows += [(name, float(ledger.columns[name].sum()), currency) for name in MONEY_COLUMNS]
    closed, won, cycle_days = closed_opportunities(ledger)
    response = first_response_table(ledger, scenario).iloc[0]
    quote_days = durations(observed(ledger, "won_time"), observed(ledger, "invoice_time"))
    retained = retention_table(ledger).set_index("metric")["value"]
    trailing = trailing_retention(ledger).set_index("metric")["value"]
    events = arr_events(ledger)
    forecast = forecast_errors(ledger, scenario, pipeline_by_quarter(ledger, scenario))
    economics = unit_economics_table(ledger, scenario).set_index("metric")["value"]
    deferred = deferral_table(ledger).set_index("metric")["value"]

    def median(values: np.ndarray) -> float:
        return float(np.median(values)) if len(values) else np.nan

    rows += [
        ("win_rate", ratio(int(won.sum()), int(closed.sum())), "share"),
        ("median_sales_cycle_days", median(cycle_days[closed]), "days"),
        ("median_first_response_hours", float(response["median_hours"]), "hours"),
        ("sla_compliance", float(response["sla_compliance"]), "share"),
        ("median_quote_to_cash_days", median(quote_days / HOURS_PER_DAY), "days"),
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
    table = pd.DataFrame(rows, columns=["metric", "value", "unit"])
    table["value"] = table["value"].astype(float)
    return table


# --- cash ---------------------------------------------------------------------------------


def headcount_steps(ledger: Ledger) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    levels = ledger.headcount
    team = levels["team"].to_numpy()
    time = levels["time"].to_numpy(dtype=float)
    heads = levels["headcount"].to_numpy(dtype=float)
    out = {}
    for name in dict.fromkeys(team.tolist()):
        mine = np.flatnonzero(team == name)
        order = mine[np.argsort(time[mine], kind="stable")]
        out[str(name)] = (time[order], heads[order])
    return out


def cashflow(ledger: Ledger, scenario: Scenario, edges: np.ndarray | None = None) -> pd.DataFrame:
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
    invoiced = per_month(terms["start"].to_numpy(), terms["invoiced"].to_numpy())
    collected = per_month(terms["paid_time"].to_numpy(), terms["invoiced"].to_numpy())
    if "upsell_invoiced" in terms:
        upsell = terms["upsell_invoiced"].to_numpy()
        invoiced = invoiced + per_month(terms["upsell_time"].to_numpy(), upsell)
        collected = collected + per_month(terms["upsell_paid_time"].to_numpy(), upsell)
    fees = collected * scenario.costs.payment_fee_rate
    lead_costs = _acquisition_spend(ledger, scenario, per_month)
    table = costs(ledger, scenario)
    items = table["item"].astype(str)
    timed = items.str.startswith(("leads:", "attempts:"))
    share = widths / widths.sum()
    spread = {
        "salaries": items.str.startswith(("team:", "overtime:")),
        "commissions": items.str.contains("commission"),
        "tools": items == "tools",
    }
    out = {
        name: float(table.loc[mask & ~timed, "cost"].sum()) * share for name, mask in spread.items()
    }
    out["salaries"] = _salaries_by_month(ledger, table, edges)
    out["commissions"] = _commissions_by_month(ledger, scenario, per_month, n_months)
    claimed = timed | spread["salaries"] | spread["commissions"] | spread["tools"]
    other = float(table.loc[~claimed, "cost"].sum()) * share
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


def _salaries_by_month(ledger: Ledger, table: pd.DataFrame, edges: np.ndarray) -> np.ndarray:
    salaries = np.zeros(len(edges) - 1)
    steps = headcount_steps(ledger)
    none = (np.zeros(0), np.zeros(0))
    for item, cost in zip(table["item"].astype(str), table["cost"], strict=True):
        kind, _, team = item.partition(":")
        if kind not in ("team", "overtime") or cost == 0:
            continue
        person_hours = _step_integral(*steps.get(team, none), edges)
        total = person_hours.sum()
        weights = person_hours / total if total > 0 else np.diff(edges) / edges[-1]
        salaries += cost * weights
    return salaries


def cash_payback(ledger: Ledger, scenario: Scenario, cac: float) -> float:
    won_time = observed(ledger, "won_time")
    won = np.flatnonzero(np.isfinite(won_time) & closed_won(ledger) & ~from_book(ledger))
    if len(won) == 0 or not np.isfinite(cac):
        return np.nan
    horizon = horizon_hours(ledger)
    terms = ledger.terms
    paid = terms["paid_time"].to_numpy(dtype=float)
    lead = terms["lead_id"].to_numpy()
    keep = paid < horizon
    net_rate = (1.0 - scenario.costs.payment_fee_rate) * scenario.costs.gross_margin
    amount = terms["invoiced"].to_numpy(dtype=float)[keep] * net_rate
    month_after = np.maximum(np.ceil((paid[keep] - won_time[lead[keep]]) / HOURS_PER_MONTH), 1.0)
    for k in range(1, int(np.ceil(horizon / HOURS_PER_MONTH)) + 1):
        cohort = won[won_time[won] + k * HOURS_PER_MONTH <= horizon]
        if len(cohort) == 0:
            break
        in_cohort = np.isin(lead[keep], cohort)
        collected = amount[in_cohort & (month_after <= k)].sum()
        if collected / len(cohort) >= cac:
            return float(k)
    return np.nan


def cac_and_payback(ledger: Ledger, scenario: Scenario) -> tuple[float, float]:
    """The CAC read off the unit economics frame, and the cash payback from it."""
    cac = float(unit_economics(ledger, scenario).set_index("metric")["value"]["cac"])
    return cac, cash_payback(ledger, scenario, cac)


# --- leakage ------------------------------------------------------------------------------


def close_and_stay_probability(ledger: Ledger) -> pd.DataFrame:
    c = ledger.columns
    segment = c["segment"]
    resolved_sql = c["is_fit"] & np.isfinite(c["sql_time"]) & (c["outcome"] != IN_FLIGHT)
    closed = closed_won(ledger)
    terms = ledger.terms
    first = terms[(terms["term"] == 1) & (terms["status"] != "in_force")]
    mature = from_book(ledger)[first["lead_id"].to_numpy(dtype=np.int64)] & (first["start"] <= 0)
    first = first[~mature.to_numpy()]
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


def _churned_term_arr(ledger: Ledger) -> np.ndarray:
    arr = np.zeros(ledger.n_leads)
    terms = ledger.terms
    churned = terms[terms["status"] == "churned"]
    np.add.at(arr, churned["lead_id"].to_numpy(dtype=np.int64), churned["arr"].to_numpy(float))
    return arr


def _capacity_shares(
    ledger: Ledger, scenario: Scenario, lost: np.ndarray, before_win: np.ndarray
) -> np.ndarray:
    c = ledger.columns
    share = np.ones(len(lost))
    spare = headroom(ledger, scenario).set_index("stage")["spare_items"]
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


def lost_leads(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
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
    p_stay = close_and_stay_probability(ledger)["p_close_and_stay"].to_numpy(dtype=float)
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
    nrr = float(retention(ledger).set_index("metric").at["nrr", "value"])
    net_retention = min(nrr, 1.0) if np.isfinite(nrr) else 1.0
    revenue[churned] = term_arr[churned] * _retained_years(
        years_left[churned], _term_years(ledger), net_retention
    )
    share = _capacity_shares(ledger, scenario, lost, first)
    return pd.DataFrame(
        {
            "lead_id": lost.astype(np.int64),
            "seam": seam,
            "reason_code": reason_code.astype(np.int64),
            "arr": arr,
            "horizon_revenue": revenue,
            "capacity_share": share,
            "arr_lost": arr * share,
            "horizon_revenue_lost": revenue * share,
        }
    )


def attributed_leakage(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    from funnelsim.analysis.leakage import LEAKAGE_COLUMNS

    groups = lost_leads(ledger, scenario).groupby(["seam", "reason_code"])
    sums = groups[["arr_lost", "horizon_revenue_lost"]].sum()
    names = ledger.reason_names
    found = {
        (int(seam), names[code]): (int(n), float(arr), float(revenue))
        for (seam, code), n, arr, revenue in zip(
            sums.index, groups.size(), sums["arr_lost"], sums["horizon_revenue_lost"], strict=True
        )
    }
    error_deals, error_arr, error_revenue = _contract_error(ledger)
    rows = []
    for seam, reason in leakage_reasons():
        if reason == "contract_error":
            rows.append((seam, reason, 0, error_deals, error_arr, error_revenue))
            continue
        leads, arr, revenue = found.get((seam, reason), (0, 0.0, 0.0))
        rows.append((seam, reason, leads, leads, arr, revenue))
    table = pd.DataFrame(rows, columns=["seam", "reason", *LEAKAGE_COLUMNS])
    return table.astype({"seam": np.int64, "leads_lost": np.int64, "deals_affected": np.int64})


# --- calendar months ----------------------------------------------------------------------


def arr_bridge(ledger: Ledger, edges: np.ndarray) -> dict[str, np.ndarray]:
    events = arr_events(ledger)
    times = events["time"].to_numpy(dtype=float)
    amount = events["amount"].to_numpy(dtype=float)
    kind = events["kind"].astype(str).to_numpy()
    n = len(edges) - 1
    index = _interval(edges, times)
    moves = {
        name: np.bincount(index[kind == name], amount[kind == name], minlength=n)
        for name in ARR_KINDS
    }
    signed = sum(SIGN[name] * moves[name] for name in ARR_KINDS)
    end = np.cumsum(signed)
    start = np.concatenate([[0.0], end[:-1]]) + moves["start"]
    lead = events["lead_id"].to_numpy(dtype=np.int64)
    signs = np.array([SIGN[k] for k in kind]) if len(kind) else np.zeros(0)
    customers = np.zeros(n)
    per_lead = np.zeros(ledger.n_leads)
    order = np.argsort(index, kind="stable")
    cursor = 0
    for month in range(n):
        stop = int(np.searchsorted(index[order], month, side="right"))
        chunk = order[cursor:stop]
        np.add.at(per_lead, lead[chunk], signs[chunk] * amount[chunk])
        cursor = stop
        customers[month] = float((per_lead > 1e-9).sum())
    return {
        "arr_start": start,
        "arr_new": moves["new"],
        "arr_expansion": moves["expansion"],
        "arr_contraction": moves["contraction"],
        "arr_churn": moves["churn"],
        "arr_end": end,
        "customers": customers,
    }


def timeseries(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    horizon = horizon_hours(ledger)
    edges, table = calendar_months(scenario.start_date, horizon)
    c = ledger.columns
    table["new_bookings"] = _per_interval(edges, observed(ledger, "won_time"), c["booked_arr"])
    bridge = arr_bridge(ledger, edges)
    for name in BRIDGE_COLUMNS:
        table[name] = bridge[name]
    table["revenue"] = monthly_revenue(ledger, scenario, edges)
    pipeline = open_pipeline_by_stage(ledger, edges[1:])
    table["pipeline"] = pipeline.sum(axis=1)
    for index, stage in enumerate(ledger.stage_names):
        table[f"pipeline:{stage}"] = pipeline[:, index]
    table["coverage"] = _coverage(table["pipeline"].to_numpy(), table["new_bookings"].to_numpy())
    table["customers"] = bridge["customers"]
    heads = {}
    for team, (changed, values) in headcount_steps(ledger).items():
        at = np.searchsorted(changed, edges[1:], side="right") - 1
        heads[team] = np.where(at >= 0, values[np.maximum(at, 0)], 0.0)
    table["headcount"] = sum(heads.values()) if heads else 0.0
    for team, values in heads.items():
        table[f"headcount:{team}"] = values
    cash = cashflow(ledger, scenario, edges)
    for name in CASH_COLUMNS:
        table[name] = cash[name].to_numpy()
    return table


def calendar_months_table(start: dt.date, horizon: float) -> tuple[np.ndarray, pd.DataFrame]:
    """The calendar months with pandas' date range and periods."""
    first = pd.Timestamp(start)
    last = first + pd.Timedelta(hours=horizon)
    firsts = pd.date_range(first + pd.offsets.MonthBegin(1), last, freq="MS", inclusive="left")
    starts = pd.DatetimeIndex([first, *firsts])
    hours = np.array([(day - first) / pd.Timedelta(hours=1) for day in starts], dtype=float)
    edges = np.append(hours, horizon)
    periods = starts.to_period("M")
    labels = pd.DataFrame(
        {
            "month": periods.strftime("%Y-%m"),
            "quarter": [f"{p.year}-Q{p.quarter}" for p in periods],
            "start": starts.date,
            "days": np.diff(edges) / HOURS_PER_DAY,
        }
    )
    return edges, labels


def quarter_edges_of(start: dt.date, horizon: float) -> tuple[np.ndarray, tuple[str, ...]]:
    """The forecast's quarters from the calendar months, the last one's end by periods."""
    edges, months = calendar_months_table(start, horizon)
    first = np.flatnonzero(months["quarter"].ne(months["quarter"].shift()).to_numpy())
    labels = months["quarter"].iloc[first].tolist()
    bounds = np.append(edges[first], horizon)
    last = pd.Period(labels[-1], freq="Q").end_time.normalize() + pd.Timedelta(days=1)
    run_end = pd.Timestamp(start) + pd.Timedelta(hours=horizon)
    if last > run_end and len(labels) > 1:
        return bounds[:-1], tuple(labels[:-1])
    return bounds, tuple(labels)


# --- Parquet tables ---------------------------------------------------------------------


def pandas_arrow(frame: pd.DataFrame, replication: int) -> pa.Table:
    """A ledger table with its ``replication`` column first, converted by pyarrow from
    pandas (``ledger_files.plain_arrow`` as it was)."""
    frame = frame.copy()
    frame.insert(0, "replication", replication)
    return pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)


# --- summaries over replications (the results folder's tail) ---------------------------


def timeseries_bands(frame: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """``analysis.timeseries.timeseries_bands`` as it was: the frame melted to one row per
    replication, month and metric, then grouped by month and metric."""
    keys = ["month", "quarter", "start", "days"]
    metrics = [c for c in frame.columns if c not in (*keys, "replication")]
    long = frame.melt(id_vars=[*keys, "replication"], value_vars=metrics, var_name="metric")
    groups = long.groupby([*keys, "metric"], sort=False, observed=True)
    codes = groups.ngroup().to_numpy()
    table = long.iloc[np.unique(codes, return_index=True)[1]][[*keys, "metric"]]
    table = table.reset_index(drop=True)
    values = long["value"].to_numpy(dtype=float)[np.argsort(codes, kind="stable")]
    sizes = np.bincount(codes)
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


def forecast_accuracy(table: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """``analysis.forecast.forecast_accuracy`` as it was: every quarter's rows grouped by
    replication on their own."""
    rows = []
    for method, (forecast, actual) in METHODS.items():
        frame = table[table[actual] > 0].assign(
            error=lambda f, fc=forecast, ac=actual: (f[fc] - f[ac]) / f[ac]
        )
        for quarter, group in [("all", frame), *frame.groupby("quarter", sort=False)]:
            per_rep = group.groupby("replication")["error"]
            ape = t_interval(_mean_absolute(per_rep), confidence)
            bias = t_interval(per_rep.mean().to_numpy(), confidence)
            rows.append((method, quarter, *ape, *bias, len(group)))
    columns = [
        "method",
        "quarter",
        "mape",
        "mape_low",
        "mape_high",
        "bias",
        "bias_low",
        "bias_high",
        "quarters",
    ]
    result = pd.DataFrame(rows, columns=columns)
    inside = (table["actual"] >= table["mc_p10"]) & (table["actual"] <= table["mc_p90"])
    z = float(special.ndtri(0.5 + confidence / 2))
    low, high = wilson(int(inside.sum()), len(table), z)
    coverage = pd.DataFrame(
        [("band_coverage", "all", inside.mean(), low, high, np.nan, np.nan, np.nan, len(table))],
        columns=columns,
    )
    return pd.concat([result, coverage], ignore_index=True)
