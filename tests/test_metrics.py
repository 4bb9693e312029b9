"""Metrics from ledgers: timing, SLA, retention, costs, CAC, pipeline, teams and headline.

Every check is a property the figures must have (bounds, monotonicity, agreement with an
independent computation from the ledger and the scenario), never a number pinned from one
seed's output.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import per_segment

import funnelsim as fs
from funnelsim.analysis import (
    by_source,
    costs,
    first_response,
    forecast_error,
    headline,
    pipeline,
    quote_to_cash,
    retention,
    sales_cycle,
    stage_counts,
    stage_times,
    unit_economics,
    utilization,
)
from funnelsim.analysis.arr import trailing_retention
from funnelsim.scenario import apply_overrides, scenario_from_dict

ALWAYS_OPEN = {"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": [0, 24]}


# A small company with customers within a year: generous sales, monthly terms so that
# renewals happen, two priced sources and tools.
RICH: dict[str, Any] = {
    "horizon_days": 365,
    "sources": {
        "inbound": {
            "leads_per_week": 40,
            "cost_per_lead": 50,
            "fit": {"dist": "beta", "a": 4, "b": 2},
        },
        "events": {
            "leads_per_week": 15,
            "cost_per_lead": 120,
            "fit": {"dist": "beta", "a": 5, "b": 2},
        },
    },
    "teams": {
        "sdr": {
            "headcount": 4,
            "capacity_per_head": 2,
            "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5},
            "cost_per_year": 80_000,
        },
        "ae": {"headcount": 5, "capacity_per_head": 30, "cost_per_year": 150_000},
    },
    "sales": {
        "qualify_prob": per_segment(0.7),
        "win_rate": per_segment(0.5),
        "cycle_days": per_segment({"dist": "lognormal", "median": 10, "p90": 30}),
    },
    "seam4": {"term_months": 1},
    "costs": {"tools_per_year": 36_000, "gross_margin": 0.7},
}


def _scenario(base: dict[str, Any], *overrides: str) -> fs.Scenario:
    return scenario_from_dict(apply_overrides(base, overrides))


def _with(base: dict[str, Any], **sections: Any) -> dict[str, Any]:
    """A copy of ``base`` with top-level sections replaced."""
    return {**base, **sections}


@pytest.fixture(scope="module")
def rich() -> tuple[fs.Scenario, fs.Ledger]:
    scenario = _scenario(RICH)
    return scenario, fs.simulate(scenario, 7)


# Timing.


def test_stage_times_are_non_negative_and_ordered(rich):
    _, ledger = rich
    table = stage_times(ledger)
    assert list(table["stage"]) == [
        "mql_to_first_response",
        "first_response_to_sql",
        "sql_to_opportunity",
        "opportunity_to_close",
        "won_to_invoice",
        "invoice_to_onboarded",
    ]
    measured = table[table["n"] > 0]
    assert len(measured) == len(table), "the rich scenario reaches every stage"
    for column in ("mean_days", "median_days", "p90_days"):
        assert (measured[column] >= 0).all()
    assert (measured["p90_days"] >= measured["median_days"]).all()
    # A step is measured only for leads that reached its end.
    counts = stage_counts(ledger).set_index("stage")["count"]
    assert table.set_index("stage").at["opportunity_to_close", "n"] <= counts["opportunity"]
    assert table.set_index("stage").at["won_to_invoice", "n"] <= counts["won"]


def test_sql_to_opportunity_is_the_discovery_time(rich):
    scenario, ledger = rich
    row = stage_times(ledger).set_index("stage").loc["sql_to_opportunity"]
    # With AEs never queueing, an opportunity opens exactly one discovery after its SQL.
    assert utilization(ledger).set_index("team").at["ae", "max_queue"] == 0
    discovery = scenario.sales.discovery_days.mean()
    assert row["median_days"] == pytest.approx(discovery)


def test_quote_to_cash_steps_add_up(rich):
    _, ledger = rich
    table = quote_to_cash(ledger).set_index("stage")
    assert list(table.index) == [
        "won_to_contract_done",
        "contract_done_to_invoice",
        "won_to_invoice",
    ]
    assert (table["median_days"] >= 0).all()
    total = table.at["won_to_invoice", "mean_days"]
    parts = (
        table.at["won_to_contract_done", "mean_days"]
        + table.at["contract_done_to_invoice", "mean_days"]
    )
    # Every invoiced deal went through contract done, so the means add up over those deals.
    if (
        table.at["won_to_invoice", "n"]
        == table.at["contract_done_to_invoice", "n"]
        == table.at["won_to_contract_done", "n"]
    ):
        assert total == pytest.approx(parts)
    assert table.at["won_to_invoice", "n"] <= table.at["won_to_contract_done", "n"]


def test_sales_cycle_by_segment(rich):
    _, ledger = rich
    table = sales_cycle(ledger)
    assert list(table["segment"]) == list(ledger.segment_names)
    assert (table["won"] <= table["n"]).all()
    measured = table[table["n"] > 0]
    assert ((measured["win_rate"] >= 0) & (measured["win_rate"] <= 1)).all()
    assert (measured["median_days"] > 0).all()
    assert (table.loc[table["n"] > 0, "win_rate"] == table["won"] / table["n"]).all()
    # The cycle is measured over opportunities only (not SQLs disqualified in discovery).
    assert table["n"].sum() <= ledger.columns["opportunity"].sum()


# First response and the SLA.

FAST_SDRS: dict[str, Any] = {
    "horizon_days": 180,
    "sources": {"inbound": {"leads_per_week": 30}},
    "teams": {
        "sdr": {
            "headcount": 30,
            "capacity_per_head": 1,
            "work_time": {"dist": "fixed", "value": 0.25},
            "calendar": ALWAYS_OPEN,
            "shift_hours_per_week": 168,  # every head on duty around the clock
        }
    },
}


def _sla_run(response_delay: dict[str, Any], sla: float | None, seed: int = 3) -> pd.Series:
    seam1: dict[str, Any] = {"response_delay": response_delay, "sla_hours": sla}
    scenario = scenario_from_dict(_with(FAST_SDRS, seam1=seam1))
    return first_response(fs.simulate(scenario, seed), scenario).iloc[0]


def test_sla_compliance_is_one_when_every_response_is_within_the_sla():
    row = _sla_run({"dist": "fixed", "value": 2.0}, sla=4.0)
    assert row["n"] > 0
    assert row["sla_compliance"] == 1.0
    assert row["median_hours"] == pytest.approx(2.0)
    assert row["rerouted_share"] == 0.0


def test_sla_compliance_falls_as_response_delay_grows():
    medians = (1.0, 4.0, 12.0, 48.0)
    compliance = [
        _sla_run({"dist": "lognormal", "median": m, "p90": 4 * m}, sla=8.0)["sla_compliance"]
        for m in medians
    ]
    assert all(0.0 <= c <= 1.0 for c in compliance)
    assert all(a >= b for a, b in pairwise(compliance))
    assert compliance[0] > compliance[-1]


def test_sla_compliance_is_nan_without_an_sla():
    row = _sla_run({"dist": "fixed", "value": 2.0}, sla=None)
    assert np.isnan(row["sla_compliance"])
    assert np.isnan(row["sla_hours"])


def test_late_leads_are_rerouted_to_the_fallback_team():
    teams = {
        **FAST_SDRS["teams"],
        "backup": {
            "headcount": 2,
            "capacity_per_head": 5,
            "work_time": {"dist": "fixed", "value": 0.25},
            "calendar": ALWAYS_OPEN,
            "shift_hours_per_week": 168,  # every head on duty around the clock
        },
    }
    seam1 = {
        "response_delay": {"dist": "fixed", "value": 10.0},
        "sla_hours": 4.0,
        "fallback_team": "backup",
        "fallback_response_delay": {"dist": "fixed", "value": 0.25},
    }
    scenario = scenario_from_dict(_with(FAST_SDRS, teams=teams, seam1=seam1))
    ledger = fs.simulate(scenario, 5)
    row = first_response(ledger, scenario).iloc[0]
    assert row["rerouted_share"] > 0.9
    assert row["n"] > 0
    # Re-routed at the SLA, picked up by the backup after its response delay.
    expected = 4.0 + scenario.seam1.fallback_response_delay.mean()
    assert row["median_hours"] == pytest.approx(expected)
    assert row["sla_compliance"] == 0.0
    # Without a delay of its own, the backup notices a lead as slowly as the SDRs would.
    own_delay = {k: v for k, v in seam1.items() if k != "fallback_response_delay"}
    default = scenario_from_dict(_with(FAST_SDRS, teams=teams, seam1=own_delay))
    row = first_response(fs.simulate(default, 5), default).iloc[0]
    assert row["median_hours"] == pytest.approx(4.0 + 10.0)


# Retention.

NO_LOSS_SEAMS = {
    "seam3": {
        "early_churn_prob": {"with_context": 0.0, "without_context": 0.0, "per_extra_week": 0.0}
    },
}


def _retention(**seam4: Any) -> pd.Series:
    seam4 = {"term_months": 1, **seam4}
    scenario = scenario_from_dict(_with(RICH, seam4=seam4, **NO_LOSS_SEAMS))
    table = retention(fs.simulate(scenario, 11))
    assert list(table["metric"]) == ["nrr", "grr", "decided_terms"]
    return table.set_index("metric")["value"]


def test_no_churn_and_no_contraction_gives_grr_one_and_nrr_at_least_one():
    values = _retention(renew_prob={30: 1.0}, contraction={"prob": 0.0})
    assert values["decided_terms"] > 0
    assert values["grr"] == pytest.approx(1.0)
    assert values["nrr"] >= 1.0


def test_zero_expansion_gives_nrr_at_most_one():
    values = _retention(expansion={"prob": 0.0}, contraction={"prob": 0.3})
    assert values["decided_terms"] > 0
    assert values["nrr"] <= 1.0
    assert values["nrr"] == pytest.approx(values["grr"])


def test_nrr_is_at_least_grr_with_the_defaults(rich):
    _, ledger = rich
    values = retention(ledger).set_index("metric")["value"]
    assert 0.0 <= values["grr"] <= 1.0
    assert values["nrr"] >= values["grr"]


def test_retention_matches_the_terms_table(rich):
    _, ledger = rich
    terms = ledger.terms
    decided = terms[terms["status"] != "in_force"]
    expected_nrr = decided["next_arr"].sum() / decided["arr"].sum()
    values = retention(ledger).set_index("metric")["value"]
    assert values["nrr"] == pytest.approx(expected_nrr)
    assert values["decided_terms"] == len(decided)


# Costs and unit economics.


def _years(scenario: fs.Scenario) -> float:
    return scenario.horizon_days / 365.0


def test_costs_follow_the_scenario_prices(rich):
    scenario, ledger = rich
    table = costs(ledger, scenario).set_index("item")
    years = _years(scenario)
    leads = ledger.leads["source"].value_counts()
    for name, source in scenario.sources.items():
        assert table.at[f"leads:{name}", "cost"] == pytest.approx(
            leads[name] * source.cost_per_lead
        )
        assert table.at[f"leads:{name}", "category"] == "marketing"
    for name, team in scenario.teams.items():
        expected = team.headcount * team.cost_per_year * years
        assert table.at[f"team:{name}", "cost"] == pytest.approx(expected)
    assert table.at["team:sdr", "category"] == "sales"
    assert table.at["team:ae", "category"] == "sales"
    assert table.at["team:deal_desk", "category"] == "finance"
    assert table.at["team:csm", "category"] == "cs"
    assert table.at["tools", "cost"] == pytest.approx(scenario.costs.tools_per_year * years)
    assert (table["cost"] >= 0).all()


def test_cac_is_acquisition_cost_over_won_deals(rich):
    scenario, ledger = rich
    years = _years(scenario)
    c = ledger.columns
    lead_cost = sum(
        int((c["source"] == code).sum()) * source.cost_per_lead
        for code, source in enumerate(scenario.sources.values())
    )
    teams = sum(
        scenario.teams[t].headcount * scenario.teams[t].cost_per_year for t in ("sdr", "ae")
    )
    total = lead_cost + teams * years + scenario.costs.tools_per_year * years
    # Booked deals only: a deal that fell through in contract review is not won.
    won = int(np.count_nonzero(np.isfinite(c["won_time"]) & (c["booked_arr"] > 0)))
    assert won > 0
    values = unit_economics(ledger, scenario).set_index("metric")["value"]
    assert values["acquisition_cost"] == pytest.approx(total)
    assert values["won_deals"] == won
    assert values["cac"] == pytest.approx(total / won)
    monthly_margin = c["booked_arr"].sum() / won * scenario.costs.gross_margin / 12
    assert values["cac_payback_months"] == pytest.approx(total / won / monthly_margin)


def test_zero_won_deals_gives_nan_cac_not_an_error():
    sales = {**RICH["sales"], "win_rate": per_segment(0.0)}
    scenario = scenario_from_dict(_with(RICH, horizon_days=180, sales=sales))
    ledger = fs.simulate(scenario, 2)
    assert not ledger.columns["won"].any()
    values = unit_economics(ledger, scenario).set_index("metric")["value"]
    assert values["acquisition_cost"] > 0
    assert np.isnan(values["cac"])
    assert np.isnan(values["cac_payback_months"])
    assert by_source(ledger, scenario)["cac"].isna().all()
    top = headline(ledger, scenario).set_index("metric")["value"]
    assert np.isnan(top["cac"])
    assert top["won_deals"] == 0
    assert np.isnan(top["median_quote_to_cash_days"])
    assert np.isnan(top["forecast_mape"])
    assert np.isnan(forecast_error(ledger, scenario))


def test_more_lead_spend_raises_cac(rich):
    scenario, ledger = rich
    pricier = _scenario(RICH, "sources.inbound.cost_per_lead=500")
    cheap = unit_economics(ledger, scenario).set_index("metric")["value"]["cac"]
    dear = unit_economics(fs.simulate(pricier, 7), pricier).set_index("metric")["value"]["cac"]
    assert dear > cheap


def test_by_source_adds_up_to_the_totals(rich):
    scenario, ledger = rich
    table = by_source(ledger, scenario)
    c = ledger.columns
    assert list(table["source"]) == list(scenario.sources)
    assert table["leads"].sum() == ledger.n_leads
    assert table["won_deals"].sum() == (c["won"] & (c["booked_arr"] > 0)).sum()
    assert table["booked_arr"].sum() == pytest.approx(c["booked_arr"].sum())
    assert table["horizon_revenue"].sum() == pytest.approx(c["horizon_revenue"].sum())
    assert (table["mqls"] <= table["leads"]).all()
    assert (table["sqls"] <= table["mqls"]).all()
    assert (table["won_deals"] <= table["sqls"]).all()
    # CAC per source spreads the lead costs and sales team costs, nothing more, nothing less.
    assert (table["won_deals"] > 0).all()
    years = _years(scenario)
    teams = sum(
        scenario.teams[t].headcount * scenario.teams[t].cost_per_year for t in ("sdr", "ae")
    )
    spent = (table["cac"] * table["won_deals"]).sum()
    assert spent == pytest.approx(table["lead_cost"].sum() + teams * years)


# Pipeline.


def test_pipeline_per_quarter(rich):
    _, ledger = rich
    table = pipeline(ledger)
    horizon_days = ledger.meta["horizon_hours"] / 24
    assert table["start_day"].iloc[0] == 0
    assert table["start_day"].iloc[-1] < horizon_days
    assert len(table) == int(np.ceil(horizon_days / (365 / 4)))
    assert (table["open_pipeline"] >= 0).all()
    assert table["open_pipeline"].iloc[0] == 0, "nothing is open at the start"
    c = ledger.columns
    booked = c["won"] & (c["booked_arr"] > 0)
    won_in_horizon = booked & (c["won_time"] <= ledger.meta["horizon_hours"])
    assert table["won_value"].sum() == pytest.approx(c["deal_value"][won_in_horizon].sum())
    assert (
        table["opps_created"].sum()
        == c["opportunity"][c["opp_time"] <= ledger.meta["horizon_hours"]].sum()
    )
    rated = table.dropna(subset=["win_rate"])
    assert ((rated["win_rate"] >= 0) & (rated["win_rate"] <= 1)).all()
    covered = table[table["won_value"] > 0]
    assert np.allclose(covered["coverage"], covered["open_pipeline"] / covered["won_value"])
    velocity = table["velocity_per_day"].dropna()
    assert (velocity >= 0).all()


# Teams.


@pytest.mark.parametrize("sdr_heads", [1, 8])
def test_utilization_lies_in_zero_one(sdr_heads):
    scenario = _scenario(RICH, f"teams.sdr.headcount={sdr_heads}", "horizon_days=180")
    ledger = fs.simulate(scenario, 4)
    table = utilization(ledger)
    assert set(table["team"]) == set(scenario.teams)
    assert ((table["occupancy"] >= 0) & (table["occupancy"] <= 1)).all()
    assert (table["mean_queue"] >= 0).all()
    assert (table["max_queue"] >= table["mean_queue"]).all()
    sdr = table.set_index("team").loc["sdr"]
    assert sdr["slots"] == sdr_heads * scenario.teams["sdr"].capacity_per_head


def test_fewer_sdrs_are_busier():
    occupancy = {}
    for heads in (1, 8):
        scenario = _scenario(RICH, f"teams.sdr.headcount={heads}", "horizon_days=180")
        table = utilization(fs.simulate(scenario, 4)).set_index("team")
        occupancy[heads] = table.at["sdr", "occupancy"]
    assert occupancy[1] > occupancy[8]


# Headline.

HEADLINE_METRICS = [
    "leads",
    "mqls",
    "sqls",
    "opportunities",
    "won_deals",
    "active_customers",
    "booked_arr",
    "arr_at_horizon",
    "horizon_revenue",
    "invoiced_revenue",
    "win_rate",
    "median_sales_cycle_days",
    "median_first_response_hours",
    "sla_compliance",
    "median_quote_to_cash_days",
    "deferred_revenue",
    "deferred_cash",
    "nrr",
    "grr",
    "renewal_nrr",
    "renewal_grr",
    "cac",
    "cac_payback_months",
    "forecast_mape",
    "forecast_mape_fitted",
    "lead_to_customer",
    "arr_at_start",
    "customers_at_horizon",
]


def test_headline_agrees_with_the_detailed_tables(rich):
    scenario, ledger = rich
    table = headline(ledger, scenario)
    assert list(table.columns) == ["metric", "value", "unit"]
    assert list(table["metric"]) == HEADLINE_METRICS
    values = table.set_index("metric")["value"]
    units = table.set_index("metric")["unit"]
    counts = stage_counts(ledger).set_index("stage")["count"]
    assert values["leads"] == counts["leads"] == ledger.n_leads
    assert values["won_deals"] == counts["won"]
    assert values["active_customers"] == counts["active_customer"]
    assert values["leads"] >= values["mqls"] >= values["sqls"] >= values["opportunities"]
    assert values["opportunities"] >= values["won_deals"] >= values["active_customers"]
    assert units["booked_arr"] == units["cac"] == scenario.currency
    assert units["median_sales_cycle_days"] == "days"
    assert units["median_first_response_hours"] == "hours"
    assert units["cac_payback_months"] == "months"
    assert values["booked_arr"] == pytest.approx(ledger.columns["booked_arr"].sum())
    cycle = sales_cycle(ledger)
    assert values["win_rate"] == pytest.approx(cycle["won"].sum() / cycle["n"].sum())
    economics = unit_economics(ledger, scenario).set_index("metric")["value"]
    assert values["cac"] == pytest.approx(economics["cac"])
    # Headline NRR/GRR are trailing twelve months over the whole book; the renewal
    # figures are the old per-term ones.
    trailing = trailing_retention(ledger).set_index("metric")["value"]
    assert values["nrr"] == pytest.approx(trailing["nrr"], nan_ok=True)
    assert values["grr"] == pytest.approx(trailing["grr"], nan_ok=True)
    nrr = retention(ledger).set_index("metric")["value"]["nrr"]
    assert values["renewal_nrr"] == pytest.approx(nrr)
    assert values["arr_at_start"] == 0.0, "no starting book"
    assert values["forecast_mape"] == pytest.approx(forecast_error(ledger, scenario))
    fitted = forecast_error(ledger, scenario, fitted=True)
    assert values["forecast_mape_fitted"] == pytest.approx(fitted)
    assert values["lead_to_customer"] == pytest.approx(counts["active_customer"] / counts["leads"])
    assert np.isnan(values["sla_compliance"]), "no SLA in this scenario"
    for share in ("win_rate", "renewal_grr", "lead_to_customer"):
        assert 0.0 <= values[share] <= 1.0


def test_headline_reports_sla_compliance_when_an_sla_is_set():
    scenario = scenario_from_dict(
        _with(FAST_SDRS, seam1={"response_delay": {"dist": "fixed", "value": 1.0}, "sla_hours": 2})
    )
    values = headline(fs.simulate(scenario, 1), scenario).set_index("metric")["value"]
    assert values["sla_compliance"] == 1.0
