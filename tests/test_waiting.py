"""Waits between teams: SQLs cooling before an AE, saturation warnings, the SLA's clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import funnelsim as fs
from funnelsim.analysis.saturation import quarterly_load, saturation, saturation_warnings
from funnelsim.cli import main
from funnelsim.engine.ledger import LOST_AT_SEAM
from funnelsim.scenario import scenario_from_dict
from funnelsim.scenario.loading import ScenarioError, load_scenario
from funnelsim.scenario.seams import FOLLOWUP_POINTS

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
SEEDS = (0, 1)


def _lost(ledger: fs.Ledger, reason: str) -> np.ndarray:
    c = ledger.columns
    code = ledger.reason_names.index(reason)
    return (c["outcome"] == LOST_AT_SEAM) & (c["seam"] == 1) & (c["loss_reason"] == code)


# An SQL waiting for an AE.


@pytest.mark.parametrize("seed", SEEDS)
def test_a_saturated_ae_team_loses_qualified_leads_not_followed_up(seed: int) -> None:
    """Half the AEs: SQLs wait, some cool (not_followed_up), fewer deals are won."""
    base = load_scenario(BASELINE)
    halved = load_scenario(BASELINE, [f"teams.ae.headcount={base.teams['ae'].headcount // 2}"])
    full, half = fs.simulate(base, seed), fs.simulate(halved, seed)
    lost = _lost(half, "not_followed_up")
    assert lost.sum() > 0
    assert half.columns["won"].sum() < full.columns["won"].sum()
    # Lost only because they waited: past the curve's flat start, and fit leads.
    c = half.columns
    waited = c["ae_start"][lost] - c["sql_time"][lost]
    assert np.all(waited > min(FOLLOWUP_POINTS))
    assert np.all(c["is_fit"][lost])
    assert not np.any(c["opportunity"][lost])


@pytest.mark.parametrize("seed", SEEDS)
def test_ample_ae_capacity_follows_up_every_lead(seed: int) -> None:
    """With the AE team unconstrained no SQL waits long enough to cool."""
    roomy = load_scenario(BASELINE, ["teams.ae.headcount=200"])
    assert not _lost(fs.simulate(roomy, seed), "not_followed_up").any()


def test_not_followed_up_leads_would_have_become_opportunities() -> None:
    """Coupling: each lead lost waiting becomes an opportunity when an AE is free at once."""
    halved = load_scenario(BASELINE, ["teams.ae.headcount=3"])
    roomy = load_scenario(BASELINE, ["teams.ae.headcount=200"])
    lost = _lost(fs.simulate(halved, 3), "not_followed_up")
    prompt = fs.simulate(roomy, 3).columns
    # Same SQLs at the same times (nothing downstream feeds back to seam 1).
    horizon = roomy.horizon_hours
    early = lost & (prompt["sql_time"] < horizon - 60 * 24)
    assert early.sum() > 10
    assert np.all(prompt["opportunity"][early])


def test_followup_decay_off_restores_the_patient_queue() -> None:
    patient = load_scenario(BASELINE, ["teams.ae.headcount=3", "sales.followup_decay=null"])
    assert not _lost(fs.simulate(patient, 0), "not_followed_up").any()


# Saturation warnings.


def test_saturation_warning_names_the_team_and_its_queue() -> None:
    halved = load_scenario(BASELINE, ["teams.ae.headcount=4"])
    results = fs.run(halved, replications=2, seed=0, keep_ledgers=False)
    table = results.saturation()
    assert "ae" in set(table["team"])
    lines = results.warnings()
    # Warnings name the team by its label (the table keeps the key).
    ae_lines = [line for line in lines if line.startswith("Account executives ")]
    assert len(ae_lines) == 1
    assert "SQLs waiting for an AE" in ae_lines[0]
    assert all("\n" not in line for line in lines)
    roomy = load_scenario(BASELINE, ["teams.ae.headcount=200"])
    assert not any(
        line.startswith("Account executives ")
        for line in fs.run(roomy, replications=1, seed=0).warnings()
    )


def test_saturation_reads_quarters_from_the_weekly_levels() -> None:
    """A team busy 95% in weeks 13-25 only is saturated in Q2 alone."""
    ledger = fs.simulate(load_scenario(BASELINE, ["horizon_days=365"]), 0)
    levels = ledger.team_levels.copy()
    levels["occupancy"] = np.where(levels["week"].between(13, 25), 0.95, 0.5)
    levels["queue_length"] = np.where(levels["week"].between(13, 25), 40.0, 0.0)
    ledger.team_levels = levels
    load = quarterly_load(ledger)
    assert set(load["quarter"]) == {1, 2, 3, 4}
    table = saturation(load)
    assert set(table["team"]) == set(levels["team"])
    assert (table["quarters"] == 1).all() and (table["first_quarter"] == 2).all()
    assert table["mean_queue"].to_numpy() == pytest.approx(40.0)
    scenario = load_scenario(BASELINE)
    lines = saturation_warnings(table, scenario)
    assert any("MQLs waiting for a first response" in line for line in lines)
    # The second quarter of a horizon from 4 Jan 2027 starts 365/4 days on, on 5 Apr 2027.
    assert all("in 1 quarter from the quarter starting 5 Apr 2027 " in line for line in lines)
    assert saturation(load, threshold=0.96).empty


def test_compare_prints_one_warning_line_per_saturated_team() -> None:
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(BASELINE),
            "--set",
            "teams.ae.headcount=4",
            "--set",
            "horizon_days=365",
            "--reps",
            "2",
            "--workers",
            "1",
        ],
        terminal_width=400,
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert any(
        line.startswith("warning: variant: Account executives saturated") for line in lines
    ), lines


# The SLA's clock and re-routing.

OFFICE = {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [9, 17], "holidays": []}
ALWAYS = {"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"], "hours": [0, 24]}


def _sla_scenario(clock: str, **seam1: Any) -> fs.Scenario:
    """Every lead an MQL at creation; SDRs who never look in time; an idle backup."""
    return scenario_from_dict(
        {
            "start_date": "2027-01-04",  # a Monday
            "horizon_days": 56,
            "calendar": OFFICE,
            "sources": {"inbound": {"leads_per_week": 120}},
            "marketing": {
                "scoring": {"mql_threshold": 0, "noise_sd": 0},
                "nurture": {"resurface_prob": 0},
            },
            "teams": {
                "sdr": {"headcount": 4, "work_time": 0.5},
                "backup": {
                    "headcount": 50,
                    "capacity_per_head": 5,
                    "work_time": 0.25,
                    "calendar": ALWAYS,
                },
            },
            "seam1": {
                "response_delay": 500,
                "sla_hours": 4,
                "sla_clock": clock,
                "fallback_team": "backup",
                "fallback_response_delay": 0.1,
                **seam1,
            },
        }
    )


def _business_deadline(t: float, hours: float) -> float:
    """``hours`` working hours after t on a 9-17 Monday-Friday week starting on a Monday."""
    remaining = hours
    while True:
        day = int(t // 24)
        opens, closes = day * 24 + 9.0, day * 24 + 17.0
        if day % 7 < 5 and t < closes:
            start = max(t, opens)
            if start + remaining <= closes:
                return start + remaining
            remaining -= closes - start
        t = (day + 1) * 24.0


def _stored_hours(scenario: fs.Scenario) -> float:
    """How far two ledger times (float32, rounded down) may be off their float64 values
    in a computation that reads both: one float32 spacing at the horizon each."""
    return 2 * float(np.spacing(np.float32(scenario.horizon_hours)))


def test_business_clock_sla_pauses_over_the_weekend() -> None:
    """A lead arriving Friday 18:00 with a 4 h SLA is re-routed Monday 13:00, not Friday 22:00."""
    scenario = _sla_scenario("business")
    atol = _stored_hours(scenario)
    c = fs.simulate(scenario, 1).columns
    answered = np.isfinite(c["first_response"])
    assert answered.sum() > 500
    mql, rerouted_at = c["mql_time"][answered], c["first_response"][answered] - 0.1
    expected = np.array([_business_deadline(t, 4.0) for t in mql.tolist()])
    np.testing.assert_allclose(rerouted_at, expected, atol=atol)
    assert c["rerouted"][answered].all() and c["sla_breached"][answered].all()
    # Leads arriving on a Friday evening: Monday 13:00 of the next week.
    hour_of_week = mql % 168
    friday_evening = (hour_of_week >= 4 * 24 + 17) & (hour_of_week < 5 * 24)
    assert friday_evening.sum() > 5
    monday_13 = (mql[friday_evening] // 168 + 1) * 168 + 13
    np.testing.assert_allclose(rerouted_at[friday_evening], monday_13, atol=atol)


def test_wall_clock_sla_counts_every_hour() -> None:
    scenario = _sla_scenario("wall")
    c = fs.simulate(scenario, 1).columns
    answered = np.isfinite(c["first_response"])
    np.testing.assert_allclose(
        c["first_response"][answered] - 0.1,
        c["mql_time"][answered] + 4.0,
        atol=_stored_hours(scenario),
    )


def test_sla_compliance_counts_business_hours() -> None:
    """Answered within the SLA's business hours counts as compliant, nights and weekends aside."""
    scenario = _sla_scenario("business", sla_hours=100, fallback_team=None, response_delay=60)
    ledger = fs.simulate(scenario, 2)
    # 60 wall-clock hours hold at most 24 open hours (plus a short queue): within 100.
    assert fs.analysis.first_response(ledger, scenario).iloc[0]["sla_compliance"] == 1.0
    wall = _sla_scenario("wall", sla_hours=50, fallback_team=None, response_delay=60)
    assert fs.analysis.first_response(fs.simulate(wall, 2), wall).iloc[0]["sla_compliance"] == 0.0


def test_fallback_to_the_same_team_never_notices_a_lead_sooner() -> None:
    """Re-routing within the team keeps the team's own notice delay: no free speed-up."""
    scenario = scenario_from_dict(
        {
            "horizon_days": 90,
            "calendar": ALWAYS,
            "sources": {"inbound": {"leads_per_week": 60}},
            "teams": {"sdr": {"headcount": 6, "work_time": 0.5}},
            "seam1": {"response_delay": 10, "sla_hours": 1, "fallback_team": "sdr"},
        }
    )
    c = fs.simulate(scenario, 0).columns
    answered = np.isfinite(c["first_response"])
    assert answered.sum() > 100
    assert np.all(c["first_response"][answered] >= c["mql_time"][answered] + 10.0 - 1e-9)


def test_same_team_fallback_refuses_a_separate_notice_delay() -> None:
    with pytest.raises(ScenarioError, match="fallback_response_delay"):
        load_scenario(
            BASELINE,
            ["seam1.sla_hours=1", "seam1.fallback_team=sdr", "seam1.fallback_response_delay=0.2"],
        )


def test_a_1h_sla_back_to_the_same_team_is_worth_about_nothing() -> None:
    """Paired: the SLA alone, re-routing to the SDRs themselves, adds no revenue to speak of."""
    base = load_scenario(BASELINE)
    sla = load_scenario(BASELINE, ["seam1.sla_hours=1", "seam1.fallback_team=sdr"])
    summary = fs.compare(base, sla, replications=6, seed=0).summary().set_index("metric")
    for metric in ("won_deals", "horizon_revenue"):
        row = summary.loc[metric]
        covers_zero = row["ci_low"] <= 0 <= row["ci_high"]
        tiny = abs(row["difference"]) < 0.02 * row["baseline"]
        assert covers_zero or tiny, row
    assert summary.loc["total_cost", "difference"] == 0


def test_breach_flags_follow_the_deadline() -> None:
    """sla_breached is exactly 'first response after the deadline' for answered leads."""
    scenario = load_scenario(BASELINE, ["seam1.sla_hours=4", "horizon_days=180"])
    ledger = fs.simulate(scenario, 0)
    c = ledger.columns
    answered = np.isfinite(c["first_response"]) & (c["first_response"] <= scenario.horizon_hours)
    table = fs.analysis.first_response(ledger, scenario).iloc[0]
    breached = c["sla_breached"][answered]
    assert 0 < breached.mean() < 1
    assert table["sla_compliance"] == pytest.approx(1 - breached.mean(), abs=1e-3)
