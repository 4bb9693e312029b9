"""Forecasts worth checking: stage-weighted (scenario or fitted weights), Monte Carlo bands,
pushed close dates and CRM hygiene, against what was actually won each quarter."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import per_segment, sdr_team

import funnelsim as fs
from funnelsim.analysis.forecast import (
    FORECAST_COLUMNS,
    crm_close_date,
    fit_stage_weights,
    forecast_accuracy,
    forecast_error,
    forecasts,
    pipeline_by_quarter,
    quarter_edges,
    stage_weighted,
    stage_weights,
)
from funnelsim.experiment.replications import replication_seeds
from funnelsim.scenario import apply_overrides, scenario_from_dict


def _stage(advance: float, median: float, p90: float, **extra: Any) -> dict[str, Any]:
    return {
        "advance": advance,
        "days": {"dist": "lognormal", "median": median, "p90": p90},
        **extra,
    }


STALL = {"prob": 0.2, "extra_days": {"dist": "lognormal", "median": 15, "p90": 40}}
# Four stages with stalls; the CRM's weights rise by stage. Cycles of weeks to months, so
# many deals are open at each quarter's start and many are created and won inside one.
PIPELINE: dict[str, Any] = {
    "horizon_days": 730,
    "sources": {"inbound": {"leads_per_week": 50, "fit": {"dist": "beta", "a": 4, "b": 2}}},
    "teams": {"sdr": sdr_team(6), "ae": {"headcount": 20, "capacity_per_head": 30}},
    "sales": {
        "qualify_prob": per_segment(0.7),
        "followup_decay": None,
        "stages": {
            "discovery": _stage(0.6, 10, 25, weight=0.1),
            "demo": _stage(0.7, 10, 25, weight=0.3),
            "proposal": _stage(0.7, 12, 30, stall=STALL, weight=0.5),
            "commit": _stage(0.85, 5, 12, stall=STALL, weight=0.8),
        },
    },
    "book": {
        "opportunities": [
            {"segment": "smb", "count": 20, "stage": "proposal", "age_days": 4},
            {"segment": "mid_market", "count": 10, "stage": "discovery", "age_days": 3},
        ]
    },
}


def _scenario(*overrides: str) -> fs.Scenario:
    return scenario_from_dict(apply_overrides(PIPELINE, overrides))


def _ledgers(scenario: fs.Scenario, n: int, seed: int = 0) -> list[fs.Ledger]:
    return [fs.simulate(scenario, s) for s in replication_seeds(seed, n)]


@pytest.fixture(scope="module")
def runs() -> tuple[fs.Scenario, list[fs.Ledger]]:
    scenario = _scenario()
    return scenario, _ledgers(scenario, 16)


def test_quarters_are_calendar_quarters():
    edges, labels = quarter_edges(_scenario(), 730 * 24.0)
    assert labels[0] == "2027-Q1" and labels[1] == "2027-Q2" and labels[-1] == "2028-Q4"
    assert edges[0] == 0.0
    # 2027-04-01 is 87 days after the default start 2027-01-04; 2029-Q1 is cut short: left out.
    assert edges[1] == 87 * 24.0 and len(labels) == 8 and len(edges) == 9


def test_overdue_close_dates_are_pushed_past_now():
    planned = np.array([100.0, 500.0, 1000.0, np.nan])
    pushed = crm_close_date(planned, 600.0, 240.0)
    assert pushed[0] == 820.0, "100 -> 340 -> 580 -> 820: past 600 after three pushes"
    assert pushed[1] == 740.0
    assert pushed[2] == 1000.0 and np.isnan(pushed[3])


def test_forecast_table_and_errors(runs):
    scenario, ledgers = runs
    table = forecasts(ledgers[:3], scenario, seed=1, draws=200)
    assert list(table.columns) == ["replication", *FORECAST_COLUMNS]
    assert len(table) == 3 * 8
    assert (table["mc_p10"] <= table["mc_p50"]).all() and (table["mc_p50"] <= table["mc_p90"]).all()
    assert (table["actual_open"] <= table["actual"] + 1e-6).all()
    assert table.loc[0, "start"].date() == scenario.start_date
    # The first quarter has a forecast: the book's pipeline is open at the start.
    first = table[table["quarter"] == "2027-Q1"]
    assert (first["stage_weighted"] > 0).all() and (first["actual_open"] > 0).all()
    accuracy = forecast_accuracy(table)
    whole = accuracy[accuracy["quarter"] == "all"].set_index("method")
    assert set(whole.index) == {
        "stage_weighted",
        "stage_weighted_fitted",
        "monte_carlo",
        "band_coverage",
    }
    mine = table[table["replication"] == 0]
    expected = np.mean(np.abs(mine["stage_weighted"] - mine["actual_open"]) / mine["actual_open"])
    assert forecast_error(ledgers[0], scenario) == pytest.approx(expected)
    for method in ("stage_weighted", "monte_carlo"):
        row = whole.loc[method]
        assert row["mape_low"] <= row["mape"] <= row["mape_high"]


def test_monte_carlo_band_covers_the_actual_about_eighty_percent_of_quarters(runs):
    scenario, ledgers = runs
    table = forecasts(ledgers, scenario, seed=5)
    coverage = forecast_accuracy(table, confidence=0.99).set_index("method").loc["band_coverage"]
    assert coverage["quarters"] == 16 * 8
    assert coverage["mape_low"] <= 0.8 <= coverage["mape_high"], coverage
    inside = (table["actual"] >= table["mc_p10"]) & (table["actual"] <= table["mc_p90"])
    assert inside.mean() == pytest.approx(coverage["mape"])


def test_fitted_weights_beat_miscalibrated_scenario_weights(runs):
    scenario, ledgers = runs
    # A CRM that shows 90% for every stage (far above these deals' chances).
    optimistic = _scenario(*[f"sales.stages.{s}.weight=0.9" for s in scenario.stage_names])
    for ledger in ledgers[:4]:
        assert forecast_error(ledger, optimistic) > forecast_error(ledger, scenario)
    table = forecasts(ledgers, optimistic, seed=2, draws=200)
    whole = forecast_accuracy(table).set_index(["method", "quarter"])
    fitted = whole.loc[("stage_weighted_fitted", "all")]
    given = whole.loc[("stage_weighted", "all")]
    assert fitted["mape_high"] < given["mape_low"]
    assert given["bias_low"] > 0.5, "90% weights over-forecast"
    # Fitted on the same quarters, the forecast adds up to what the pipeline won.
    total = table["stage_weighted_fitted"].sum() / table["actual_open"].sum()
    assert total == pytest.approx(1.0)


def test_fitted_weights_are_the_quarter_conversion_of_due_pipeline(runs):
    scenario, ledgers = runs
    pipelines = [pipeline_by_quarter(ledger, scenario) for ledger in ledgers[:4]]
    weights = fit_stage_weights(pipelines, stage_weights(scenario))
    pooled = np.zeros(4), np.zeros(4)
    for table in pipelines:
        for stage, group in table.groupby("stage"):
            pooled[0][stage] += group["due"].sum()
            pooled[1][stage] += group["won_open"].sum()
    assert np.allclose(weights, pooled[1] / pooled[0])
    # Later stages convert more of what is due: the stage carries information.
    assert weights[0] < weights[2] < weights[3]


def test_implied_weights_forecast_sure_deals_exactly():
    # Every deal wins, never stalls and closes exactly when planned: a CRM whose weights
    # are the stages' own chances (all 1) forecasts the open pipeline's wins exactly.
    sure = {
        name: {"advance": 1.0, "days": {"dist": "lognormal", "median": m, "p90": p}}
        for name, (m, p) in {"a": (10, 25), "b": (12, 30)}.items()
    }
    sales = {**PIPELINE["sales"], "stages": sure}
    scenario = scenario_from_dict({**PIPELINE, "book": None, "sales": sales})
    assert stage_weights(scenario) == pytest.approx([1.0, 1.0])
    ledger = fs.simulate(scenario, 3)
    table = stage_weighted(pipeline_by_quarter(ledger, scenario), stage_weights(scenario))
    assert (table["actual_open"] > 0).sum() >= 6
    assert np.allclose(table["forecast"], table["actual_open"])


def test_stale_crm_stages_forecast_more():
    clean = _scenario("sales.crm_hygiene.stale_stage_share=0")
    stale = _scenario("sales.crm_hygiene.stale_stage_share=1")
    a, b = fs.simulate(clean, 9), fs.simulate(stale, 9)
    # Same seed, same deals: only the recorded stages differ, so the actuals agree.
    ta = stage_weighted(pipeline_by_quarter(a, clean), stage_weights(clean))
    tb = stage_weighted(pipeline_by_quarter(b, stale), stage_weights(stale))
    assert np.allclose(ta["actual_open"], tb["actual_open"])
    assert (tb["forecast"] >= ta["forecast"] - 1e-9).all()
    assert tb["forecast"].sum() > ta["forecast"].sum()


def test_one_stage_scenarios_forecast_at_the_win_rate():
    scenario = scenario_from_dict({"sales": {"win_rate": per_segment(0.25)}})
    assert stage_weights(scenario) == pytest.approx([0.25])


def test_results_write_and_report_the_forecast(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from funnelsim.output import write_results
    from funnelsim.report.html import report_from_directory

    scenario = _scenario("horizon_days=400")
    results = fs.run(scenario, replications=3, seed=4)
    table = results.forecast(draws=200)
    assert sorted(table["replication"].unique()) == [0, 1, 2]
    stages = results.stages
    assert set(stages["stage"]) == {0, 1, 2, 3} and "replication" in stages
    folder = write_results(results, tmp_path / "out")
    written = pd.read_csv(folder / "forecast.csv")
    assert list(written.columns) == ["replication", *FORECAST_COLUMNS]
    assert "band_coverage" in set(pd.read_csv(folder / "forecast_accuracy.csv")["method"])
    assert len(pd.read_parquet(folder / "stages.parquet")) == len(stages)
    ax = results.plot.forecast()
    gids = {collection.get_gid() for collection in ax.collections}
    assert {"forecast:mc_p50", "forecast:actual", "forecast:stage_weighted"} <= gids
    html = report_from_directory(folder)
    assert 'id="forecast"' in html and 'id="calendar"' in html
    assert "P10-P90 band in" in html
