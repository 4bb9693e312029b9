"""Results on the calendar: calendar months, flows that add up, the ARR bridge, bands."""

from __future__ import annotations

import datetime as dt
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

import funnelsim as fs
from funnelsim.analysis.arr import arr_events
from funnelsim.analysis.cashflow import cashflow
from funnelsim.analysis.timeseries import calendar_months, timeseries
from funnelsim.output import write_results
from funnelsim.scenario import scenario_from_dict

matplotlib.use("Agg")

# A company with a book, products that ramp and churn monthly, upsells, renewals that
# expand and contract, a hiring plan, collections: every way ARR, revenue and cash move.
EVERYTHING: dict[str, Any] = {
    "start_date": "2027-02-10",
    "horizon_days": 500,
    "sources": {"inbound": {"leads_per_week": 60, "fit": {"dist": "beta", "a": 4, "b": 2}}},
    "teams": {"ae": {"headcount": 8, "plan": [{"date": "2027-06-01", "change": 2}]}},
    "sales": {"win_rate": {"smb": 0.5, "mid_market": 0.5, "enterprise": 0.5}},
    "products": {
        "core": {"share": 0.7, "ramp_months": [0.3, 0.7]},
        "addon": {"share": 0.3, "monthly_churn": 0.02},
    },
    "seam4": {
        "term_months": 6,
        "expansion": {"prob": 0.3},
        "contraction": {"prob": 0.2, "cut": 0.3},
        "upsell": {"rate_per_year": {"smb": 0.3, "mid_market": 0.5, "enterprise": 0.5}},
    },
    "costs": {"collection_days": {"dist": "lognormal", "median": 30, "p90": 70}},
    "book": {
        "customers": [
            {"segment": "smb", "count": 60},
            {"segment": "mid_market", "count": 20, "product": "addon"},
        ],
        "opportunities": [{"segment": "smb", "count": 15, "age_days": 10}],
        "queued_leads": [{"source": "inbound", "count": 5}],
    },
}
BRIDGE = ("arr_start", "arr_new", "arr_expansion", "arr_contraction", "arr_churn", "arr_end")


@pytest.fixture(scope="module")
def run() -> fs.Results:
    return fs.run(scenario_from_dict(EVERYTHING), replications=3, seed=2)


def test_months_are_calendar_months_from_the_start_date():
    edges, labels = calendar_months(dt.date(2027, 2, 10), 500 * 24.0)
    assert labels["month"].iloc[0] == "2027-02" and labels["start"].iloc[0] == dt.date(2027, 2, 10)
    assert labels["start"].iloc[1] == dt.date(2027, 3, 1)
    assert labels["days"].iloc[0] == 19, "February 10 to March 1"
    assert labels["days"].sum() == 500
    assert edges[0] == 0 and edges[-1] == 500 * 24.0
    assert labels["month"].iloc[-1] == "2028-06", "500 days from 2027-02-10 end on 2028-06-24"
    assert labels["quarter"].iloc[0] == "2027-Q1" and labels["quarter"].iloc[2] == "2027-Q2"
    assert labels["month"].is_unique


def test_month_sums_equal_the_run_totals(run: fs.Results):
    for rep in run.replications:
        ledger = rep.ledger
        table = timeseries(ledger, run.scenario)
        c = ledger.columns
        assert table["new_bookings"].sum() == pytest.approx(c["booked_arr"].sum())
        assert table["revenue"].sum() == pytest.approx(c["horizon_revenue"].sum())
        events = arr_events(ledger).groupby("kind", observed=True)["amount"].sum()
        for kind in ("new", "expansion", "contraction", "churn"):
            assert table[f"arr_{kind}"].sum() == pytest.approx(events.get(kind, 0.0))
        assert table["arr_end"].iloc[-1] == pytest.approx(c["arr_at_horizon"].sum())
        cash = cashflow(ledger, run.scenario)
        for name in ("cash_in", "cash_out", "net_cash"):
            assert table[name].sum() == pytest.approx(cash[name].sum())
        assert table["cumulative_cash"].iloc[-1] == pytest.approx(cash["net_cash"].sum())


def test_arr_bridge_identity_holds_every_month_and_replication(run: fs.Results):
    frame = run.timeseries()
    assert sorted(frame["replication"].unique()) == [0, 1, 2]
    for _, table in frame.groupby("replication"):
        start, new, expansion, contraction, churn, end = (table[n].to_numpy() for n in BRIDGE)
        assert np.allclose(start + new + expansion - contraction - churn, end)
        assert np.allclose(start[1:], end[:-1]), "each month starts where the last ended"
        assert (expansion > 0).any() and (contraction > 0).any() and (churn > 0).any()


def test_arr_at_month_zero_is_the_book(run: fs.Results):
    for rep in run.replications:
        c = rep.ledger.columns
        book_customers = c["from_book"] & np.isnan(c["mql_time"]) & ~c["opportunity"]
        table = timeseries(rep.ledger, run.scenario)
        assert table["arr_start"].iloc[0] == pytest.approx(c["deal_value"][book_customers].sum())


def test_stock_columns_read_the_ledger_at_month_end(run: fs.Results):
    ledger = run.replications[0].ledger
    table = timeseries(ledger, run.scenario)
    assert (table["customers"] > 0).all()
    assert table["customers"].iloc[-1] == (ledger.columns["arr_at_horizon"] > 0).sum()
    assert table["headcount:ae"].iloc[0] == 8 and table["headcount:ae"].iloc[-1] == 10
    assert (table["pipeline"] >= 0).all() and table["pipeline"].iloc[0] > 0
    stages = [c for c in table.columns if c.startswith("pipeline:")]
    assert np.allclose(table[stages].sum(axis=1), table["pipeline"])
    covered = table["coverage"].notna()
    ahead = sum(table["new_bookings"].shift(-k) for k in (1, 2, 3))
    assert np.allclose(table.loc[covered, "coverage"], (table["pipeline"] / ahead)[covered])
    assert table["coverage"].iloc[-3:].isna().all(), "the horizon cuts the next quarter short"


def test_bands_summarise_the_replications(run: fs.Results):
    frame = run.timeseries()
    bands = run.timeseries_bands()
    arr = bands[bands["metric"] == "arr_end"].reset_index(drop=True)
    means = frame.groupby("month", sort=False)["arr_end"].mean().to_numpy()
    assert np.allclose(arr["mean"], means)
    assert (arr["p10"] <= arr["p50"]).all() and (arr["p50"] <= arr["p90"]).all()
    assert (arr["ci_low"] <= arr["mean"]).all() and (arr["mean"] <= arr["ci_high"]).all()
    assert (arr["n"] == 3).all()


def test_timeseries_files_and_fan_chart(run: fs.Results, tmp_path):
    folder = write_results(run, tmp_path / "out")
    written = pd.read_csv(folder / "timeseries.csv")
    assert list(written["month"].iloc[:2]) == ["2027-02", "2027-03"]
    assert len(written) == 3 * len(calendar_months(dt.date(2027, 2, 10), 500 * 24.0)[1])
    bands = pd.read_csv(folder / "timeseries_bands.csv")
    assert {"metric", "mean", "ci_low", "ci_high", "p10", "p90"} <= set(bands.columns)
    ax = run.plot.timeseries(("arr_end", "revenue"))
    assert {line.get_gid() for line in ax.get_lines()} == {
        "timeseries:arr_end",
        "timeseries:revenue",
    }
    labels = [tick.get_text() for tick in ax.get_xticklabels()]
    assert "2027-Q2" in labels and "2028-Q1" in labels
    with pytest.raises(ValueError, match="no monthly series named 'arr'"):
        run.plot.timeseries(("arr",))
