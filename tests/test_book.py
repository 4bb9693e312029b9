"""The starting book: customers, open opportunities and queued leads enter the run at time 0."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import per_segment

import funnelsim as fs
from funnelsim.analysis import outcomes, stage_counts
from funnelsim.analysis.arr import arr_at, arr_events, trailing_retention
from funnelsim.cli import main
from funnelsim.engine.ledger import ACTIVE, IN_FLIGHT
from funnelsim.scenario import ScenarioError, apply_overrides, scenario_from_dict

START = dt.date(2027, 1, 4)
# Five named accounts, renewing on stated dates in the first year.
ACCOUNTS = [
    {"segment": "smb", "arr": 12_000, "term_end": "2027-02-01"},
    {"segment": "smb", "arr": 8_000, "term_end": "2027-05-17"},
    {"segment": "mid_market", "arr": 40_000, "term_end": "2027-07-01"},
    {"segment": "mid_market", "arr": 55_000, "term_end": "2027-10-04"},
    {"segment": "enterprise", "arr": 150_000, "term_end": "2027-12-31"},
]
# A company with no new leads: only its book, which always renews unchanged.
QUIET: dict[str, Any] = {
    "horizon_days": 730,
    "start_date": START.isoformat(),
    "sources": {"inbound": {"leads_per_week": 0}},
    "seam4": {
        "renew_prob": {30: 1.0},
        "expansion": {"prob": 0.0},
        "contraction": {"prob": 0.0},
    },
    "book": {"customers": ACCOUNTS},
}
HORIZON = 730 * 24.0


def _hours(day: str) -> float:
    return (dt.date.fromisoformat(day) - START).days * 24.0


def test_a_book_without_new_leads_stays_flat_and_renews_on_its_dates():
    ledger = fs.simulate(scenario_from_dict(QUIET), seed=3)
    book_arr = sum(a["arr"] for a in ACCOUNTS)
    assert ledger.n_leads == len(ACCOUNTS)
    assert ledger.columns["from_book"].all()
    events = arr_events(ledger)
    for hours in np.linspace(0.0, HORIZON, 25):
        assert arr_at(ledger, hours, events).sum() == pytest.approx(book_arr)
    assert ledger.columns["arr_at_horizon"].sum() == pytest.approx(book_arr)
    assert (ledger.columns["outcome"] == ACTIVE).all()
    # A full two years of revenue at the book's ARR, whatever the renewal dates.
    assert ledger.columns["horizon_revenue"].sum() == pytest.approx(book_arr * 2 * 365 / 365)
    terms = ledger.terms.sort_values(["lead_id", "term"])
    first = terms[terms["term"] == 1].set_index("lead_id")
    for lead, account in enumerate(ACCOUNTS):
        assert first.at[lead, "end"] == pytest.approx(_hours(account["term_end"]))
        assert first.at[lead, "invoiced"] == 0.0, "the current term was invoiced before the run"
        second = terms[(terms["lead_id"] == lead) & (terms["term"] == 2)].iloc[0]
        assert second["start"] == pytest.approx(_hours(account["term_end"]))
        assert second["invoiced"] == pytest.approx(account["arr"])
    retained = trailing_retention(ledger).set_index("metric")["value"]
    assert retained["nrr"] == pytest.approx(1.0) and retained["grr"] == pytest.approx(1.0)


def test_churn_in_the_book_lowers_grr_to_the_renewal_probability():
    scenario = scenario_from_dict(
        apply_overrides(
            QUIET,
            [
                "seam4.renew_prob={30: 0.8}",
                "book.customers=[{segment: smb, count: 4000, arr: 10000}]",
            ],
        )
    )
    ledger = fs.simulate(scenario, seed=5)
    retained = trailing_retention(ledger).set_index("metric")["value"]
    # Every renewal in the last twelve months is one coin flip at 0.8 (a term ends in it).
    n = retained["base_customers"]
    assert abs(retained["grr"] - 0.8) < 4 * np.sqrt(0.8 * 0.2 / n)
    assert retained["nrr"] == pytest.approx(retained["grr"])


def test_upsells_during_a_term_lift_nrr_above_one():
    overrides = [
        "book.customers=[{segment: mid_market, count: 2000, arr: 30000}]",
        "seam4.upsell={rate_per_year: {mid_market: 0.5}, uplift: 0.2}",
    ]
    ledger = fs.simulate(scenario_from_dict(apply_overrides(QUIET, overrides)), seed=5)
    retained = trailing_retention(ledger).set_index("metric")["value"]
    assert retained["grr"] == pytest.approx(1.0)
    # One upsell at most per term, with chance 1 - exp(-0.5) in a year, of 20% each.
    expected = 1.0 + 0.2 * (1.0 - np.exp(-0.5))
    assert retained["nrr"] > 1.05
    assert abs(retained["nrr"] - expected) < 0.03
    terms = ledger.terms
    upsold = terms[terms["upsell_arr"] > 0]
    assert len(upsold) > 0
    inside = (upsold["upsell_time"] >= np.maximum(upsold["start"], 0)) & (
        upsold["upsell_time"] < upsold["end"]
    )
    assert inside.all()
    # Revenue: each term's ARR over its part of the run, plus each upsell from its time on.
    until = np.minimum(terms["end"], HORIZON)
    base = terms["arr"] * (until - np.maximum(terms["start"], 0.0))
    extra = upsold["upsell_arr"] * (np.minimum(upsold["end"], HORIZON) - upsold["upsell_time"])
    expected_revenue = (base.sum() + extra.sum()) / 8760.0
    assert ledger.columns["horizon_revenue"].sum() == pytest.approx(expected_revenue)
    assert expected_revenue > 2000 * 30_000 * 2


BUSY: dict[str, Any] = {
    "horizon_days": 365,
    "sources": {"inbound": {"leads_per_week": 30, "fit": {"dist": "beta", "a": 3, "b": 3}}},
    "sales": {
        "qualify_prob": per_segment(0.7),
        "win_rate": per_segment(0.4),
        "cycle_days": per_segment({"dist": "lognormal", "median": 30, "p90": 80}),
    },
    "seam4": {"term_months": 3},
    "book": {
        "customers": [{"segment": "smb", "count": 50}, {"segment": "enterprise", "count": 3}],
        "opportunities": [
            {"segment": "smb", "count": 30, "age_days": {"dist": "uniform", "low": 0, "high": 40}},
            {"segment": "mid_market", "count": 10, "value": 50_000},
        ],
        "queued_leads": [{"source": "inbound", "count": 12, "waiting_hours": 6}],
    },
}


@pytest.fixture(scope="module")
def busy() -> fs.Ledger:
    return fs.simulate(scenario_from_dict(BUSY), seed=11)


def test_every_record_book_included_has_exactly_one_outcome(busy: fs.Ledger):
    c = busy.columns
    assert (c["outcome"] >= 0).all()
    assert outcomes(busy)["leads"].sum() == busy.n_leads
    book = c["from_book"]
    assert book.sum() == 50 + 3 + 30 + 10 + 12
    assert (book[-105:]).all() and not book[:-105].any(), "book records follow the new leads"
    # The funnel counts the run's own leads only.
    counts = stage_counts(busy).set_index("stage")["count"]
    assert counts["leads"] == (~book).sum()


def test_book_opportunities_are_worked_from_the_start(busy: fs.Ledger):
    c = busy.columns
    book = c["from_book"]
    opps = np.flatnonzero(book & c["opportunity"] & np.isnan(c["sql_time"]))
    assert len(opps) == 40
    assert (c["ae_start"][opps] >= 0).all() and (c["ae_start"][opps] < 24 * 7).all()
    assert (c["opp_time"][opps] <= c["ae_start"][opps]).all(), "opened before the run"
    assert np.isfinite(c["close_time"][opps]).mean() > 0.9
    assert c["won"][opps].any() and (c["outcome"][opps] != IN_FLIGHT).any()
    won = opps[c["won"][opps] & np.isfinite(c["invoice_time"][opps])]
    assert len(won) > 0 and (c["booked_arr"][won] > 0).all()
    assert not np.isfinite(c["mql_time"][opps]).any()


def test_queued_leads_meet_seam_one_at_once(busy: fs.Ledger):
    c = busy.columns
    queued = np.flatnonzero(c["from_book"] & np.isfinite(c["mql_time"]))
    assert len(queued) == 12
    assert (c["mql_time"][queued] == -6.0).all()
    started = np.isfinite(c["first_response"][queued])
    assert started.all()
    assert (c["first_response"][queued] >= 0).all()


def test_book_customers_earn_from_the_start(busy: fs.Ledger):
    c = busy.columns
    customers = np.flatnonzero(c["from_book"] & np.isnan(c["opp_time"]) & np.isnan(c["mql_time"]))
    assert len(customers) == 53
    assert (c["horizon_revenue"][customers] > 0).all()
    assert (c["booked_arr"][customers] == 0).all(), "booked before the run, not in it"
    events = arr_events(busy)
    start = events[events["kind"] == "start"]
    assert sorted(start["lead_id"]) == sorted(customers.tolist())
    assert arr_at(busy, 0.0, events).sum() == pytest.approx(c["deal_value"][customers].sum())


def test_a_book_moves_no_new_leads_draws():
    plain = fs.simulate(scenario_from_dict({k: v for k, v in BUSY.items() if k != "book"}), 11)
    with_book = fs.simulate(scenario_from_dict(BUSY), 11)
    n = plain.n_leads
    for name in ("created", "segment", "fit", "deal_value", "mql_time", "is_fit"):
        assert np.array_equal(plain.columns[name], with_book.columns[name][:n], equal_nan=True)


def test_an_empty_book_changes_nothing():
    base = {k: v for k, v in BUSY.items() if k != "book"}
    plain = fs.simulate(scenario_from_dict(base), 4)
    empty = fs.simulate(scenario_from_dict({**base, "book": {}}), 4)
    for name, values in plain.columns.items():
        assert np.array_equal(values, empty.columns[name], equal_nan=True), name


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("book.customers=[{segment: smx}]", "book.customers[0].segment: unknown segment 'smx'"),
        ("book.customers=[{segment: smb, product: core}]", "defines no products"),
        ("book.customers=[{segment: smb, term_end: 2030-01-01}]", "book.customers[0].term_end"),
        ("book.opportunities=[{segment: smb, stage: nowhere}]", "unknown stage 'nowhere'"),
        ("book.queued_leads=[{source: radio}]", "book.queued_leads[0].source: unknown source"),
        ("book.customers=[{segment: smb, count: 0}]", "book.customers.0.count"),
        ("seam4.upsell.rate_per_year={smx: 0.1}", "seam4.upsell.rate_per_year"),
    ],
)
def test_bad_book_entries_are_named(override: str, message: str):
    with pytest.raises(ScenarioError, match=message.replace("[", r"\[").replace("]", r"\]")):
        scenario_from_dict(apply_overrides({}, [override]))


def test_a_bad_book_is_one_line_and_exit_two(tmp_path):
    path = tmp_path / "book.yaml"
    path.write_text("book:\n  customers:\n    - {segment: smx, count: 3}\n")
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "book.customers[0].segment" in lines[0]
