"""The Python API behaves like pandas: datetime columns, result objects with summary() and
plot(), short reprs, integer parameters kept, the sweep's base row filled in."""

from __future__ import annotations

import pickle

import matplotlib
import numpy as np
import pandas as pd
import pytest
from conftest import busy_scenario

import funnelsim as fs
from funnelsim.scenario.loading import scenario_from_dict

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def scenario() -> fs.Scenario:
    return scenario_from_dict({**busy_scenario(), "name": "busy"})


@pytest.fixture(scope="module")
def results(scenario: fs.Scenario) -> fs.Results:
    return fs.run(scenario, replications=2, seed=5)


@pytest.fixture(scope="module")
def sweep(scenario: fs.Scenario) -> fs.api.SweepTable:
    grid = {"teams.sdr.headcount": [3, 8], "seam1.response_delay.median": [1, 2.5]}
    return fs.sweep(scenario, grid, replications=2, seed=5)


def test_reprs_are_short(scenario: fs.Scenario, results: fs.Results) -> None:
    comparison = fs.compare(scenario, scenario, replications=2, seed=5)
    objects = [scenario, results, results.replications[0], results.replications[0].ledger]
    for thing in [*objects, comparison]:
        text = repr(thing)
        assert len(text) < 200 and "\n" not in text, text
    assert "name='busy'" in repr(scenario) and str(scenario) == repr(scenario)
    assert "replications=2" in repr(results) and "replications=2" in repr(comparison)


@pytest.mark.parametrize("table", ["ledger", "terms", "team_levels", "headcount"])
def test_with_dates_puts_a_datetime_beside_every_hours_column(
    results: fs.Results, table: str
) -> None:
    start = pd.Timestamp(results.scenario.start_date)
    hours = getattr(results, table)
    dated = results.with_dates(table)
    pairs = {"created": "created_date", "won_time": "won_date", "start": "start_date"}
    pairs |= {"end": "end_date", "paid_time": "paid_date", "time": "date"}
    checked = 0
    for column, date in pairs.items():
        if column not in hours.columns:
            continue
        checked += 1
        assert list(dated.columns).index(date) == list(dated.columns).index(column) + 1
        assert pd.api.types.is_datetime64_any_dtype(dated[date])
        expected = start + pd.to_timedelta(hours[column], unit="h")
        gap = (dated[date] - expected).abs().max()
        assert pd.isna(gap) or gap <= pd.Timedelta(seconds=1)
        assert dated[date].isna().equals(hours[column].isna())
    if table == "team_levels":
        weeks = dated["week_start"] - start
        assert (weeks == pd.to_timedelta(7 * hours["week"], unit="D")).all()
    else:
        assert checked
    pd.testing.assert_frame_equal(dated[list(hours.columns)], hours)


def test_a_ledger_has_dates_too(results: fs.Results) -> None:
    ledger = results.replications[0].ledger
    leads = ledger.with_dates()
    won = leads[leads["won"]]
    assert len(won) and won["won_date"].notna().all()
    assert (won["won_date"] >= won["created_date"]).all()
    assert leads[~leads["won"]]["won_date"].isna().all()


def test_sweep_keeps_integers_and_shows_the_base_values(
    scenario: fs.Scenario, sweep: fs.api.SweepTable
) -> None:
    assert sweep["teams.sdr.headcount"].dtype == np.int64
    base = sweep[sweep["is_base"]].iloc[0]
    assert base["teams.sdr.headcount"] == scenario.teams["sdr"].headcount
    assert base["seam1.response_delay.median"] == scenario.seam1.response_delay.median
    assert not sweep[list(sweep.parameters)].isna().any().any()


def test_sweep_is_a_dataframe_with_a_summary_and_a_labelled_chart(
    sweep: fs.api.SweepTable,
) -> None:
    assert isinstance(sweep, pd.DataFrame)
    summary = sweep.summary()
    assert type(summary) is pd.DataFrame
    assert {"teams.sdr.headcount", "net_gain", "best"} <= set(summary.columns)
    assert len(summary.columns) < len(sweep.columns)
    assert type(sweep[["point", "net_gain"]]) is pd.DataFrame
    ax = sweep.plot()
    assert ax.get_xlabel() == "sdr headcount (people)"
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "seam 1 response delay median (hours) = 2.5" in legend
    assert "." not in ax.get_xlabel()
    bars = sweep.plot.bar(x="point", y="net_gain")
    assert len(bars.patches) == len(sweep)
    again = pickle.loads(pickle.dumps(sweep))
    assert type(again) is type(sweep) and again.parameters == sweep.parameters
    assert "sweep: 5 rows" in repr(sweep) and "table.plot()" in sweep._repr_html_()


def test_sensitivity_and_leaks_are_result_tables(scenario: fs.Scenario) -> None:
    tornado = fs.sensitivity(scenario, parameters=["teams.sdr.headcount"], replications=2, seed=5)
    assert {"parameter", "swing"} <= set(tornado.summary().columns)
    labels = [label.get_text() for label in tornado.plot().get_yticklabels()]
    assert labels == ["sdr headcount (people)  (5 / 6 / 7)"]
    fixes = fs.leaks(scenario, replications=2, seed=5)
    assert isinstance(fixes, pd.DataFrame) and fixes.currency == scenario.currency
    assert list(fixes.summary()["kind"]) == list(fixes["kind"])
    assert fixes.plot().get_title()
