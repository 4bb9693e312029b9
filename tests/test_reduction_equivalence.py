"""Every reduction made cheaper for issue 15 pinned, bit for bit, to the plain version it
replaced (``tests/reduction_reference.py``): team load, the stage-weighted forecast and
its fitted weights, the Monte Carlo's samples (same random stream), retention, unit
economics, deferral, first response, the headline, headcount steps, the cash flow and
cash payback, close-and-stay chances, attributed leakage, the ARR bridge and the
calendar months. Over bundled scenarios with a starting book and sales stages
(baseline), an SLA fallback, a hiring plan, products with ramps and outbound attempts,
each also with every seam made perfect."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import reduction_reference as plain
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelsim as fs
from funnelsim.analysis import _common as common
from funnelsim.analysis._common import group_sums, shared_per_ledger
from funnelsim.analysis.arr import trailing_retention
from funnelsim.analysis.capacity import headroom, peak_occupancy, team_occupancy
from funnelsim.analysis.cashflow import _headcount_steps, cash_metrics, cashflow
from funnelsim.analysis.deferral import deferral
from funnelsim.analysis.forecast import (
    _quarter_edges,
    fit_stage_weights,
    forecast_accuracy,
    forecast_errors,
    forecast_part,
    pipeline_by_quarter,
    stage_weighted,
    stage_weights,
)
from funnelsim.analysis.headline import headline
from funnelsim.analysis.leakage import (
    attributed_leakage,
    close_and_stay_probability,
    lost_lead_values,
)
from funnelsim.analysis.pipeline_walk import _sort_order
from funnelsim.analysis.revenue import retention, unit_economics
from funnelsim.analysis.saturation import _quarterly_load
from funnelsim.analysis.timeseries import (
    _calendar_months,
    arr_bridge,
    calendar_months,
    timeseries,
    timeseries_bands,
)
from funnelsim.analysis.timing import first_response
from funnelsim.bundled import resolve_scenario
from funnelsim.experiment.replications import replication_seeds, run_replication
from funnelsim.scenario import scenario_from_dict
from funnelsim.scenario.loading import load_scenario

CASES = [
    ("baseline", []),
    ("sla_1h_fallback", ["horizon_days=400"]),
    ("hiring_plan", ["horizon_days=400"]),
    ("outbound_motion", ["horizon_days=400"]),
]


@pytest.fixture(scope="module", params=[(c, p) for c in CASES for p in ((), (1, 2, 3, 4))])
def run(request: pytest.FixtureRequest) -> tuple[fs.Scenario, fs.Ledger]:
    (name, overrides), perfect = request.param
    scenario = load_scenario(resolve_scenario(name), overrides)
    seed = replication_seeds(21, 1)[0]
    return scenario, fs.simulate(scenario, seed, perfect_seams=perfect)


def test_team_load_equals_the_grouped_frames(run) -> None:
    _, ledger = run
    pd.testing.assert_frame_equal(_quarterly_load(ledger), plain.quarterly_load(ledger))
    pd.testing.assert_series_equal(team_occupancy(ledger), plain.team_occupancy(ledger))
    pd.testing.assert_series_equal(peak_occupancy(ledger), plain.peak_occupancy(ledger))
    scenario = run[0]
    pd.testing.assert_frame_equal(headroom(ledger, scenario), plain.headroom(ledger, scenario))


def test_stage_weighted_forecast_and_fitted_weights_equal_the_grouped_frames(run) -> None:
    scenario, ledger = run
    pipeline = pipeline_by_quarter(ledger, scenario)
    pd.testing.assert_frame_equal(pipeline, plain.pipeline_by_quarter(ledger, scenario))
    weights = stage_weights(scenario)
    pd.testing.assert_frame_equal(
        stage_weighted(pipeline, weights), plain.stage_weighted(pipeline, weights)
    )
    # Rows in another order, a quarter's rows apart, and two replications stacked: the
    # quarters are numbered as they first appear.
    for table in (
        pipeline.iloc[::-1].reset_index(drop=True),
        pipeline.iloc[np.r_[1 : len(pipeline), 0]].reset_index(drop=True),
        pd.concat([pipeline, pipeline.assign(start=pipeline["start"] + 1.0)], ignore_index=True),
        pd.concat([pipeline, pipeline.assign(due=pipeline["due"] * 0.5)], ignore_index=True),
    ):
        pd.testing.assert_frame_equal(
            stage_weighted(table, weights), plain.stage_weighted(table, weights)
        )
    # Pooled over several tables (as ``forecasts`` does), one stage never due.
    other = pipeline.assign(due=pipeline["due"] * 0.5, won_open=pipeline["won_open"] * 1.5)
    other = other[other["stage"] != 0]
    np.testing.assert_array_equal(
        fit_stage_weights([pipeline, other], weights),
        plain.fit_stage_weights([pipeline, other], weights),
    )
    assert forecast_errors(ledger, scenario) == plain.forecast_errors(ledger, scenario, pipeline)


def test_monte_carlo_samples_keep_their_random_stream(run) -> None:
    scenario, ledger = run
    part = forecast_part(ledger, scenario, draws=300)
    np.testing.assert_array_equal(part.open_wins, plain.open_wins(ledger, scenario, 300))


@pytest.mark.parametrize("seed", [1, 2])
def test_monte_carlo_without_sales_stages_keeps_its_random_stream(seed: int) -> None:
    """One stage from open to close (no ``sales.stages``): no later stage to draw."""
    scenario = scenario_from_dict(
        {"horizon_days": 400, "sources": {"paid": {"leads_per_week": 60, "cost_per_lead": 80}}}
    )
    assert scenario.sales.stages is None
    ledger = fs.simulate(scenario, seed)
    part = forecast_part(ledger, scenario, draws=200)
    assert part.open_wins.any()
    np.testing.assert_array_equal(part.open_wins, plain.open_wins(ledger, scenario, 200))


def test_monte_carlo_with_equal_stage_days_keeps_its_random_stream() -> None:
    """Fixed stage days (every draw equal, apart from stalls): the samples are ordered as
    ``np.argsort`` orders equal days."""
    scenario = load_scenario(
        resolve_scenario("baseline"),
        [
            "horizon_days=400",
            "sales.stages.discovery.days.smb={dist: fixed, value: 4}",
            "sales.stages.proposal.days.mid_market={dist: fixed, value: 9}",
        ],
    )
    ledger = fs.simulate(scenario, replication_seeds(4, 1)[0])
    part = forecast_part(ledger, scenario, draws=300)
    np.testing.assert_array_equal(part.open_wins, plain.open_wins(ledger, scenario, 300))


def test_stage_samples_are_ordered_as_argsort_orders_them() -> None:
    """Distinct days, equal days, NaN and signed zeros: ``np.argsort``'s order each time."""
    rng = np.random.default_rng(3)
    cases = [
        rng.random(4000),
        np.full(50, 2.0),
        rng.permutation(np.repeat(rng.random(100), 40)),
        np.r_[rng.random(30), 0.5, 0.5, rng.random(30)],
        np.r_[rng.random(20), np.nan, rng.random(5), np.nan],
        np.array([0.0, -0.0, 1.0, -0.0, 0.0]),
        np.zeros(0),
    ]
    for days in cases:
        np.testing.assert_array_equal(_sort_order(days), np.argsort(days))


def test_figures_read_without_frames_equal_the_frames(run) -> None:
    scenario, ledger = run
    pd.testing.assert_frame_equal(retention(ledger), plain.retention_table(ledger))
    pd.testing.assert_frame_equal(trailing_retention(ledger), plain.trailing_retention(ledger))
    pd.testing.assert_frame_equal(
        unit_economics(ledger, scenario), plain.unit_economics_table(ledger, scenario)
    )
    pd.testing.assert_frame_equal(deferral(ledger), plain.deferral_table(ledger))
    pd.testing.assert_frame_equal(
        first_response(ledger, scenario), plain.first_response_table(ledger, scenario)
    )
    pd.testing.assert_frame_equal(headline(ledger, scenario), plain.headline(ledger, scenario))


def test_cash_tables_equal_the_plain_ones(run) -> None:
    scenario, ledger = run
    steps, expected = _headcount_steps(ledger), plain.headcount_steps(ledger)
    assert list(steps) == list(expected)
    for team, (times, heads) in steps.items():
        np.testing.assert_array_equal(times, expected[team][0])
        np.testing.assert_array_equal(heads, expected[team][1])
    pd.testing.assert_frame_equal(cashflow(ledger, scenario), plain.cashflow(ledger, scenario))
    metrics = cash_metrics(ledger, scenario).set_index("metric")["value"]
    cac, payback = plain.cac_and_payback(ledger, scenario)
    assert np.array_equal(metrics["cac"], cac, equal_nan=True)
    assert np.array_equal(metrics["cac_payback_cash_months"], payback, equal_nan=True)


def test_leakage_equals_the_grouped_frames(run) -> None:
    scenario, ledger = run
    pd.testing.assert_frame_equal(
        close_and_stay_probability(ledger), plain.close_and_stay_probability(ledger)
    )
    values = plain.lost_leads(ledger, scenario)
    names = np.asarray(ledger.reason_names, dtype=object)
    values.insert(2, "reason", names[values.pop("reason_code").to_numpy()].astype(str))
    pd.testing.assert_frame_equal(lost_lead_values(ledger, scenario), values)
    pd.testing.assert_frame_equal(
        attributed_leakage(ledger, scenario), plain.attributed_leakage(ledger, scenario)
    )


def test_calendar_months_equal_the_plain_table(run) -> None:
    scenario, ledger = run
    edges, _ = calendar_months(scenario.start_date, float(ledger.meta["horizon_hours"]))
    bridge, expected = arr_bridge(ledger, edges), plain.arr_bridge(ledger, edges)
    assert list(bridge) == list(expected)
    for name, values in bridge.items():
        np.testing.assert_array_equal(values, expected[name])
    # Quarters as intervals too: several months' events in one interval.
    quarters = edges[::3] if edges[::3][-1] == edges[-1] else np.append(edges[::3], edges[-1])
    for name, values in arr_bridge(ledger, quarters).items():
        np.testing.assert_array_equal(values, plain.arr_bridge(ledger, quarters)[name])
    pd.testing.assert_frame_equal(timeseries(ledger, scenario), plain.timeseries(ledger, scenario))


def test_a_replication_with_shared_tables_equals_the_plain_reductions() -> None:
    """The whole reduction of one replication (tables read once and shared) gives the plain
    versions' numbers."""
    scenario = load_scenario(resolve_scenario("baseline"))
    seed = replication_seeds(8, 1)[0]
    rep = run_replication(scenario, 0, seed, keep_ledger=True, tables=True)
    ledger = rep.ledger
    head = rep.headline.set_index("metric")["value"]
    expected = plain.headline(ledger, scenario).set_index("metric")["value"]
    pd.testing.assert_series_equal(head[expected.index], expected)
    pd.testing.assert_frame_equal(rep.leakage, plain.attributed_leakage(ledger, scenario))
    pd.testing.assert_frame_equal(rep.load, plain.quarterly_load(ledger))
    pd.testing.assert_frame_equal(rep.tables["cashflow"], plain.cashflow(ledger, scenario))
    pd.testing.assert_frame_equal(rep.tables["timeseries"], plain.timeseries(ledger, scenario))
    with shared_per_ledger():
        again = forecast_part(ledger, scenario)
    np.testing.assert_array_equal(rep.tables["forecast"].open_wins, again.open_wins)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 5),
            st.floats(-1e12, 1e12, allow_nan=False),
            st.floats(allow_nan=True, allow_infinity=False, width=64),
        ),
        max_size=60,
    )
)
def test_group_sums_equal_pandas_groupby_sums(rows: list[tuple[int, float, float]]) -> None:
    """``group_sums`` gives pandas' groupby sums (NaN skipped, empty groups zero)."""
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    values = np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), 2)
    expected = pd.DataFrame(values).groupby(codes).sum().reindex(range(6), fill_value=0.0)
    np.testing.assert_array_equal(group_sums(codes, values, 6), expected.to_numpy())
    np.testing.assert_array_equal(group_sums(codes, values[:, 0], 6), expected[0].to_numpy())


@pytest.mark.parametrize("small", [0, 8, 1000])
@settings(max_examples=80, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.integers(0, 5),
            st.one_of(
                st.floats(-1e15, 1e15, allow_nan=False),
                st.sampled_from([np.nan, np.inf, -np.inf, -0.0, 1e308]),
            ),
            st.floats(-1e3, 1e3, allow_nan=False).map(lambda v: v * 1e-7),
        ),
        max_size=40,
    ),
    ordered=st.booleans(),
)
def test_group_sums_on_each_path_equal_pandas_groupby_sums(
    rows: list[tuple[int, float, float]], ordered: bool, small: int
) -> None:
    """Each of ``group_sums``' ways of adding (sorted codes without NaN, small groups with
    compensation, pandas' groupby) gives pandas' sums, codes sorted or not."""
    if ordered:
        rows = sorted(rows, key=lambda row: row[0])
    codes = np.array([r[0] for r in rows], dtype=np.int64)
    values = np.array([r[1:] for r in rows], dtype=float).reshape(len(rows), 2)
    with np.errstate(all="ignore"):
        expected = pd.DataFrame(values).groupby(codes).sum().reindex(range(6), fill_value=0.0)
        alone = pd.DataFrame(values[:, 1]).groupby(codes).sum().reindex(range(6), fill_value=0.0)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(common, "SMALL_GROUP_ROWS", small)
            both = group_sums(codes, values, 6)
            one = group_sums(codes, values[:, 1], 6)
    np.testing.assert_array_equal(both, expected.to_numpy())
    np.testing.assert_array_equal(one, alone[0].to_numpy())


@settings(max_examples=300, deadline=None)
@given(
    start=st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2090, 12, 31)),
    hours=st.one_of(
        st.integers(1, 3 * 365).map(lambda days: days * 24.0),
        st.floats(0.5, 4000 * 24.0, allow_nan=False, allow_infinity=False),
    ),
)
def test_calendar_months_and_quarters_equal_pandas_periods(start: dt.date, hours: float) -> None:
    """Months and quarters stepped with ``datetime`` are those of pandas' date ranges and
    periods: the same edges, labels, dates and dtypes, and the same last quarter kept."""
    edges, labels = _calendar_months.__wrapped__(start, hours)
    expected_edges, expected = plain.calendar_months_table(start, hours)
    np.testing.assert_array_equal(edges, expected_edges)
    pd.testing.assert_frame_equal(labels, expected, check_exact=True)
    bounds, quarters = _quarter_edges.__wrapped__(start, hours)
    expected_bounds, expected_quarters = plain.quarter_edges_of(start, hours)
    np.testing.assert_array_equal(bounds, expected_bounds)
    assert quarters == expected_quarters


@pytest.fixture(scope="module")
def stacked_timeseries() -> pd.DataFrame:
    """Four replications' monthly tables of the baseline over a short horizon, stacked."""
    scenario = load_scenario(resolve_scenario("baseline"), ["horizon_days=200"])
    return fs.run(scenario, 4, seed=5, keep_ledgers=False, output_tables=True).timeseries()


@pytest.mark.parametrize("confidence", [0.8, 0.95])
@pytest.mark.parametrize("shape", ["whole", "missing", "ragged", "one replication", "empty"])
def test_timeseries_bands_equal_the_melted_frames(
    stacked_timeseries: pd.DataFrame, shape: str, confidence: float
) -> None:
    frame = stacked_timeseries.copy()
    metrics = [c for c in frame.columns if frame[c].dtype == float and c != "days"]
    if shape == "missing":  # NaN and infinity in some months: those groups one by one
        frame.loc[3, metrics[0]] = np.nan
        frame.loc[7, metrics[2]] = np.inf
        frame.loc[frame["replication"] == 1, metrics[1]] = np.nan
    elif shape == "ragged":  # one month missing in one replication: unequal groups
        frame = frame.drop(index=frame.index[frame["replication"] == 2][4]).reset_index(drop=True)
    elif shape == "one replication":
        frame = frame[frame["replication"] == 0].reset_index(drop=True)
    elif shape == "empty":
        frame = frame.iloc[:0]
    pd.testing.assert_frame_equal(
        timeseries_bands(frame, confidence), plain.timeseries_bands(frame, confidence)
    )


@pytest.fixture(scope="module")
def forecast_table() -> pd.DataFrame:
    """Five replications' quarterly forecasts of the baseline (one row per replication and
    quarter)."""
    scenario = load_scenario(resolve_scenario("baseline"))
    return fs.run(scenario, 5, seed=9, keep_ledgers=False, output_tables=True).forecast()


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # an infinite error
@pytest.mark.parametrize(
    "shape", ["as made", "shuffled", "missing", "no quarter", "repeated", "one row", "empty"]
)
def test_forecast_accuracy_equals_grouping_each_quarter(
    forecast_table: pd.DataFrame, shape: str
) -> None:
    table = forecast_table.copy()
    rng = np.random.default_rng(len(shape))
    if shape == "shuffled":  # replications and quarters in any order
        table = table.iloc[rng.permutation(len(table))].reset_index(drop=True)
    elif shape == "missing":  # no actual (left out), NaN and infinite errors
        table.loc[0, "actual"] = 0.0
        table.loc[1, "actual_open"] = np.nan
        table.loc[2, "stage_weighted"] = np.nan
        table.loc[3, "mc_p50"] = np.inf
    elif shape == "no quarter":  # rows without a quarter count in "all" only
        table["quarter"] = table["quarter"].astype(object)
        table.loc[[4, 9], "quarter"] = None
    elif shape == "repeated":  # two rows of one replication in a quarter: grouped
        table = pd.concat([table, table.iloc[[5]]], ignore_index=True)
    elif shape == "one row":
        table = table.iloc[:1]
    elif shape == "empty":
        table = table.iloc[:0]
    for confidence in (0.9, 0.95):
        pd.testing.assert_frame_equal(
            forecast_accuracy(table, confidence), plain.forecast_accuracy(table, confidence)
        )
