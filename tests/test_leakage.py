"""Attributed leakage: stable tables, the ledger's own loss counts, zero when a seam is clean.

The capacity bounds and the reconciliation with potential revenue on the baseline are in
test_leakage_bounds.py; deferral, won deals and net value in test_money.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import busy_scenario

import funnelsim as fs
from funnelsim.analysis.deferral import deferral
from funnelsim.analysis.leakage import (
    LEAKAGE_COLUMNS,
    attributed_leakage,
    close_and_stay_probability,
    leakage_by_seam,
    lost_lead_values,
)
from funnelsim.engine.ledger import SEAM_REASONS
from funnelsim.scenario import scenario_from_dict

HOURS_PER_YEAR = 8760.0
# Slow quote-to-cash defers revenue (analysis.deferral): it is not a leakage row.
ALL_REASONS = [
    (seam, reason)
    for seam, reasons in SEAM_REASONS.items()
    for reason in reasons
    if reason != "slow_quote_to_cash"
]
NEVER_LOSE_A_LEAD = ("contract_error",)


# A small, leaky company with every kind of loss within a year (short terms for seams 3-4).
BUSY: dict[str, Any] = busy_scenario(
    deal_desk={"headcount": 1, "work_time": {"dist": "gamma", "mean": 3, "sd": 2}}
)
CLEAN_SEAM2 = [
    "seam2.contract_error_prob=0",
    "seam2.fallthrough_per_week_waiting=0",
    "seam2.nonstandard_share=0",
    "seam2.invoice_delay_days={dist: fixed, value: 0}",
    "teams.deal_desk.work_time={dist: fixed, value: 0}",
    "teams.deal_desk.calendar={weekdays: [mon, tue, wed, thu, fri, sat, sun], hours: [0, 24]}",
    "teams.deal_desk.shift_hours_per_week=168",
    "teams.deal_desk.capacity_per_head=1000",
]


SCENARIO = scenario_from_dict(BUSY)


def _simulate(overrides: Sequence[str] = (), seed: int = 3, **kwargs: Any) -> fs.Ledger:
    return fs.simulate(scenario_from_dict(BUSY, overrides), seed, **kwargs)


def _leakage(ledger: fs.Ledger) -> pd.DataFrame:
    """Attributed leakage of a run of the busy company (overrides leave its teams alone)."""
    return attributed_leakage(ledger, SCENARIO)


@pytest.fixture(scope="module", params=[3, 11, 29])
def ledger(request: pytest.FixtureRequest) -> fs.Ledger:
    return _simulate(seed=request.param)


def _by_reason(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index(["seam", "reason"])


def _ledger_loss_counts(ledger: fs.Ledger) -> pd.Series:
    leads = ledger.leads
    lost = leads[leads["outcome"] == "lost_at_seam"]
    return lost.groupby(["seam", lost["loss_reason"].astype(str)]).size()


def test_every_reason_present_in_order(ledger: fs.Ledger) -> None:
    table = _leakage(ledger)
    assert list(table.columns) == ["seam", "reason", *LEAKAGE_COLUMNS]
    assert list(zip(table["seam"], table["reason"], strict=True)) == ALL_REASONS


def test_leads_lost_equal_ledger_counts(ledger: fs.Ledger) -> None:
    table = _by_reason(_leakage(ledger))
    direct = _ledger_loss_counts(ledger)
    assert direct.sum() == (ledger.leads["outcome"] == "lost_at_seam").sum()
    for key, count in direct.items():
        assert table.loc[key, "leads_lost"] == count, key
    assert table["leads_lost"].sum() == direct.sum()
    for reason in NEVER_LOSE_A_LEAD:
        assert table.xs(reason, level="reason")["leads_lost"].item() == 0


def test_amounts_are_finite_non_negative_and_bounded(ledger: fs.Ledger) -> None:
    table = _leakage(ledger)
    values = table[list(LEAKAGE_COLUMNS)].to_numpy(dtype=float)
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    # A churned customer's ARR cannot be lost for longer than the horizon (later terms
    # renew at the run's net retention, capped at 100%).
    years = ledger.meta["horizon_hours"] / HOURS_PER_YEAR
    churn = table[table["seam"] >= 3]
    assert (churn["horizon_revenue_lost"] <= churn["arr_lost"] * years + 1e-6).all()
    # Nothing is valued where nothing was lost (seam 1 and the churn seams).
    counted = table[~table["reason"].isin(NEVER_LOSE_A_LEAD)]
    assert (counted.loc[counted["leads_lost"] == 0, "arr_lost"] == 0).all()
    assert (counted["deals_affected"] == counted["leads_lost"]).all()
    # The capacity share only ever scales a lead's value down.
    values = lost_lead_values(ledger, SCENARIO)
    assert values["capacity_share"].between(0, 1).all()
    assert (values["arr_lost"] <= values["arr"] + 1e-9).all()
    assert (values["horizon_revenue_lost"] <= values["horizon_revenue"] + 1e-9).all()


def test_leaky_scenario_leaks_at_every_seam(ledger: fs.Ledger) -> None:
    by_seam = leakage_by_seam(ledger, SCENARIO).set_index("seam")
    assert (by_seam["arr_lost"] > 0).all()
    # The quote-to-cash wait is deferred, not lost: its own measure, never a leakage row.
    assert "slow_quote_to_cash" not in set(_leakage(ledger)["reason"])
    assert deferral(ledger).set_index("metric").at["deferred_revenue", "value"] > 0


def test_fell_through_and_churn_seams_use_the_ledger_values(ledger: fs.Ledger) -> None:
    table = _by_reason(_leakage(ledger))
    leads = ledger.leads
    lost = leads[leads["outcome"] == "lost_at_seam"]
    fell = lost[lost["loss_reason"] == "fell_through"]
    assert table.loc[(2, "fell_through"), "arr_lost"] == pytest.approx(fell["deal_value"].sum())
    churned_terms = ledger.terms[ledger.terms["status"] == "churned"].set_index("lead_id")
    for seam, reason in ((3, "missing_context"), (3, "slow_onboarding"), (4, "late_renewal")):
        ids = lost.loc[lost["loss_reason"] == reason, "lead_id"]
        expected = churned_terms.loc[ids, "arr"].sum()
        assert table.loc[(seam, reason), "arr_lost"] == pytest.approx(expected)
    errors = leads[leads["contract_error"] & (leads["booked_arr"] > 0)]
    eroded = (errors["deal_value"] - errors["booked_arr"]).sum()
    assert table.loc[(2, "contract_error"), "arr_lost"] == pytest.approx(eroded)
    # Contract errors lose no lead but report the deals they hit.
    assert table.loc[(2, "contract_error"), "leads_lost"] == 0
    assert table.loc[(2, "contract_error"), "deals_affected"] == len(errors) > 0


def test_seam1_value_is_deal_value_times_close_and_stay_times_capacity(ledger: fs.Ledger) -> None:
    probability = close_and_stay_probability(ledger)
    assert list(probability["segment"]) == list(ledger.segment_names)
    for column in ("p_win", "first_term_churn", "p_close_and_stay"):
        assert probability[column].between(0, 1).all()
    assert np.allclose(
        probability["p_close_and_stay"],
        probability["p_win"] * (1 - probability["first_term_churn"]),
    )
    p = probability.set_index("segment")["p_close_and_stay"]
    leads = ledger.leads.set_index("lead_id")
    values = lost_lead_values(ledger, SCENARIO).set_index("lead_id")
    table = _by_reason(_leakage(ledger))
    for reason in SEAM_REASONS[1]:
        mine = values[values["reason"] == reason]
        lost = leads.loc[mine.index]
        uncapped = lost["deal_value"] * lost["segment"].map(p).astype(float)
        assert np.allclose(mine["arr"], uncapped)
        expected = (uncapped * mine["capacity_share"]).sum()
        assert table.loc[(1, reason), "arr_lost"] == pytest.approx(expected)


def test_seam1_worth_nothing_when_nothing_ever_closes() -> None:
    ledger = _simulate([f"sales.win_rate.{s}=0" for s in ("smb", "mid_market", "enterprise")])
    table = _leakage(ledger)
    seam1 = table[table["seam"] == 1]
    assert seam1["leads_lost"].sum() > 0
    assert (seam1["arr_lost"] == 0).all()
    assert (seam1["horizon_revenue_lost"] == 0).all()
    assert (close_and_stay_probability(ledger)["p_win"] == 0).all()


def test_went_cold_is_zero_without_decay() -> None:
    with_decay = _by_reason(_leakage(_simulate()))
    assert with_decay.loc[(1, "went_cold"), "leads_lost"] > 0
    ledger = _simulate(["seam1.decay.half_life_hours=null"])
    cold = _by_reason(_leakage(ledger)).loc[(1, "went_cold")]
    assert cold["leads_lost"] == 0
    assert cold["arr_lost"] == 0
    assert cold["horizon_revenue_lost"] == 0


@pytest.mark.parametrize("how", ["clean_scenario", "perfect_seam"])
def test_seam2_is_zero_when_quote_to_cash_is_clean(how: str) -> None:
    ledger = _simulate(CLEAN_SEAM2) if how == "clean_scenario" else _simulate(perfect_seams=[2])
    assert ledger.columns["won"].sum() > 0
    seam2 = _leakage(ledger).query("seam == 2")
    assert (seam2[list(LEAKAGE_COLUMNS)].to_numpy() == 0).all(), seam2
    assert leakage_by_seam(ledger, SCENARIO).set_index("seam").loc[2, "arr_lost"] == 0


def test_slower_invoicing_defers_more_revenue_and_cash() -> None:
    # Same seed, same won deals (coupled fates): only the invoice delay differs.
    fast = _simulate(["seam2.invoice_delay_days={dist: fixed, value: 1}"])
    slow = _simulate(["seam2.invoice_delay_days={dist: fixed, value: 30}"])
    assert np.array_equal(fast.columns["won_time"], slow.columns["won_time"], equal_nan=True)

    def deferred(ledger: fs.Ledger, measure: str) -> float:
        return float(deferral(ledger).set_index("metric").at[measure, "value"])

    assert deferred(slow, "deferred_revenue") > deferred(fast, "deferred_revenue") > 0
    assert deferred(slow, "deferred_cash") > deferred(fast, "deferred_cash")
    assert deferred(slow, "mean_deferral_days") > deferred(fast, "mean_deferral_days")
    # Fall-through depends on the wait before the contract, not on invoicing: the deals
    # lost at seam 2 are the same, so the slower invoice loses nothing more.
    fell = [
        _by_reason(_leakage(run)).loc[(2, "fell_through"), "leads_lost"] for run in (fast, slow)
    ]
    assert fell[0] == fell[1]


def test_leakage_by_seam_sums_reasons(ledger: fs.Ledger) -> None:
    by_seam = leakage_by_seam(ledger, SCENARIO)
    assert list(by_seam.columns) == ["seam", *LEAKAGE_COLUMNS]
    assert list(by_seam["seam"]) == [1, 2, 3, 4]
    summed = _leakage(ledger).groupby("seam")[list(LEAKAGE_COLUMNS)].sum()
    for column in LEAKAGE_COLUMNS:
        assert np.allclose(by_seam[column].to_numpy(), summed[column].to_numpy())


def test_tables_are_stable_when_nothing_leaks() -> None:
    quiet = fs.simulate(scenario_from_dict({"horizon_days": 30, "sources": {}}), 1)
    assert quiet.n_leads == 0
    table = _leakage(quiet)
    assert list(zip(table["seam"], table["reason"], strict=True)) == ALL_REASONS
    assert (table[list(LEAKAGE_COLUMNS)].to_numpy() == 0).all()
    assert list(leakage_by_seam(quiet, SCENARIO)["seam"]) == [1, 2, 3, 4]
