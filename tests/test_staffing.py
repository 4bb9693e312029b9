"""Planning over time: hiring plans, attrition, re-queued work, compensation, `funnelsim plan`."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from funnelsim.analysis.revenue import costs, unit_economics
from funnelsim.cli import main
from funnelsim.engine import simulate
from funnelsim.engine.ledger import UNDECIDED
from funnelsim.engine.staffing import HOURS_PER_MONTH, StaffedTeam
from funnelsim.experiment.plans import Hire, compare_plan, parse_hire, planned_headcount
from funnelsim.experiment.stats import t_interval
from funnelsim.experiment.variants import with_overrides
from funnelsim.scenario.loading import ScenarioError, scenario_from_dict
from funnelsim.scenario.models import Scenario

START = dt.date(2027, 1, 4)


def _scenario(**teams: dict) -> Scenario:
    """A small company: 120 days, 60 leads a week, an SDR team that can fall behind."""
    data = {
        "name": "small",
        "start_date": START.isoformat(),
        "horizon_days": 120,
        "sources": {"inbound": {"leads_per_week": 60, "cost_per_lead": 50}},
        "teams": {
            "sdr": {
                "headcount": 2,
                "work_time": {"dist": "lognormal", "median": 1.5, "p90": 4},
                "cost_per_year": 80_000,
            },
            "ae": {"headcount": 4, "capacity_per_head": 10, "cost_per_year": 150_000},
            **teams,
        },
        "sales": {
            "cycle_days": {
                "smb": {"dist": "lognormal", "median": 10, "p90": 25},
                "mid_market": {"dist": "lognormal", "median": 20, "p90": 45},
                "enterprise": {"dist": "lognormal", "median": 30, "p90": 60},
            }
        },
    }
    return scenario_from_dict(data)


def _hours(day: dt.date) -> float:
    return (day - START).days * 24.0


def test_headcount_over_time_equals_the_plan() -> None:
    plan = [
        {"date": "2027-02-01", "change": 2},
        {"date": "2027-03-01", "change": -3},
        {"date": "2027-03-15", "change": 1},
    ]
    scenario = _scenario()
    scenario = with_overrides(scenario, {"teams.ae.plan": plan, "teams.sdr.plan": plan[:1]})
    ledger = simulate(scenario, seed=3)
    table = ledger.headcount
    for team in ("ae", "sdr"):
        expected = planned_headcount(scenario, [team])
        got = table[table["team"] == team]
        assert got["time"].tolist() == [_hours(d) for d in expected["date"]]
        assert got["headcount"].tolist() == expected["headcount"].tolist()
        assert (got["present"] == got["headcount"]).all()
    ae = table[table["team"] == "ae"]
    assert ae["effective_capacity"].tolist() == [40.0, 60.0, 30.0, 40.0]
    fixed = table[table["team"] == "csm"]
    assert fixed["time"].tolist() == [0.0]
    assert fixed["headcount"].tolist() == [scenario.teams["csm"].headcount]


def test_attrition_tenure_matches_its_distribution() -> None:
    attrition = {
        "tenure_months": {"dist": "gamma", "mean": 6, "sd": 3},
        "replace": True,
        "hiring_delay_days": {"dist": "fixed", "value": 20},
    }
    scenario = with_overrides(
        _scenario(),
        {"horizon_days": 1500, "teams.ae.attrition": attrition, "teams.ae.headcount": 6},
    )
    tenures = []
    for seed in range(4):
        ledger = simulate(scenario, seed=seed)
        staff = ledger.staff[ledger.staff["team"] == "ae"]
        tenures.extend(staff["tenure_months"].tolist())
        horizon = ledger.meta["horizon_hours"]
        ended = staff[staff["end"] < horizon]
        # A leaver's employment lasts exactly the drawn tenure; the replacement starts
        # after the hiring delay, in the same seat.
        np.testing.assert_allclose(
            (ended["end"] - ended["start"]) / HOURS_PER_MONTH, ended["tenure_months"]
        )
        for _, stints in staff.groupby("seat"):
            gaps = stints["start"].to_numpy()[1:] - stints["end"].to_numpy()[:-1]
            np.testing.assert_allclose(gaps, 20 * 24.0)
        # The headcount ledger agrees with the stints at every change.
        table = ledger.headcount[ledger.headcount["team"] == "ae"]
        for time, heads in zip(table["time"], table["headcount"], strict=True):
            active = ((staff["start"] <= time) & (staff["end"] > time)).sum()
            assert heads == active
    mean, low, high = t_interval(np.asarray(tenures))
    assert len(tenures) > 150
    assert low <= 6.0 <= high, (mean, low, high)


def _conservation_probe(monkeypatch: pytest.MonkeyPatch) -> dict[str, Counter]:
    """Count each staffed team's arrivals, withdrawals and completions per item."""
    counts: dict[str, Counter] = {"arrive": Counter(), "withdraw": Counter(), "done": Counter()}
    arrive, withdraw, complete = (
        StaffedTeam.arrive,
        StaffedTeam.withdraw,
        StaffedTeam._complete,
    )

    def counting_arrive(self, item, head, hold, done):
        counts["arrive"][(self.name, item)] += 1
        arrive(self, item, head, hold, done)

    def counting_withdraw(self, item, head):
        if item in self.entry_of:
            counts["withdraw"][(self.name, item)] += 1
        withdraw(self, item, head)

    def counting_complete(self, job):
        if self.jobs.get(job[0]) is job:
            counts["done"][(self.name, job[0])] += 1
        complete(self, job)

    monkeypatch.setattr(StaffedTeam, "arrive", counting_arrive)
    monkeypatch.setattr(StaffedTeam, "withdraw", counting_withdraw)
    monkeypatch.setattr(StaffedTeam, "_complete", counting_complete)
    return counts


CUT = [{"date": "2027-02-10", "change": -3}]
EMPTY_THEN_HIRE = [{"date": "2027-02-10", "change": -4}, {"date": "2027-02-20", "change": 2}]


@pytest.mark.parametrize(
    ("routing", "sdr_plan"),
    [("round_robin", CUT), ("pooled", CUT), ("round_robin", EMPTY_THEN_HIRE)],
)
def test_capacity_drop_requeues_work_without_loss_or_duplicates(
    monkeypatch: pytest.MonkeyPatch, routing: str, sdr_plan: list[dict]
) -> None:
    counts = _conservation_probe(monkeypatch)
    scenario = with_overrides(
        _scenario(),
        {
            "teams.sdr.headcount": 4,
            "teams.sdr.plan": sdr_plan,
            "teams.sdr.vacation_days_per_year": 25,
            "teams.ae.plan": [
                {"date": "2027-02-01", "change": -3},
                {"date": "2027-03-01", "change": 2},
            ],
            "seam1.routing": routing,
            "seam1.sla_hours": 24,
            "seam1.fallback_team": "deal_desk",
        },
    )
    ledger = simulate(scenario, seed=5)
    assert sum(ledger.meta["team_requeued"].values()) > 0
    # Every lead ends in exactly one outcome.
    outcome = ledger.columns["outcome"]
    assert (outcome != UNDECIDED).all()
    assert np.isin(outcome, range(6)).all()
    # No item finished twice at a team; every arrival was finished, is still in progress,
    # still queued or was withdrawn (SLA re-routing).
    assert max(counts["done"].values()) == 1
    assert max(counts["arrive"].values()) == 1
    in_progress = Counter()
    queued = Counter()
    for team_name in ("sdr", "ae"):
        team = _last_team[team_name]
        in_progress.update((team_name, item) for item in team.jobs)
        queued.update((team_name, item) for item in team.entry_of)  # queues and orphans
    for key in counts["arrive"]:
        assert counts["done"][key] + in_progress[key] + queued[key] + counts["withdraw"][key] == 1
    # The AEs who left had work in progress; their deals were finished by others.
    c = ledger.columns
    closed = np.isfinite(c["close_time"]) & (c["close_time"] <= ledger.meta["horizon_hours"])
    assert closed.sum() == sum(1 for (team, _), n in counts["done"].items() if team == "ae")


_last_team: dict[str, StaffedTeam] = {}


@pytest.fixture(autouse=True)
def _keep_teams(monkeypatch: pytest.MonkeyPatch) -> None:
    """Remember the last StaffedTeam built per name, to inspect its state after a run."""
    init = StaffedTeam.__init__

    def keeping_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        _last_team[self.name] = self

    monkeypatch.setattr(StaffedTeam, "__init__", keeping_init)


def test_a_trivial_roster_reproduces_the_fixed_team() -> None:
    scenario = with_overrides(_scenario(), {"seam1.routing": "least_loaded"})
    staffed = with_overrides(
        scenario, {f"teams.{name}.ramp": [1.0] for name in ("sdr", "ae", "deal_desk", "csm")}
    )
    fixed, moving = simulate(scenario, seed=2), simulate(staffed, seed=2)
    assert isinstance(_last_team["ae"], StaffedTeam)
    for name, values in fixed.columns.items():
        np.testing.assert_array_equal(values, moving.columns[name], err_msg=name)


def test_hiring_into_a_saturated_team_raises_throughput_an_idle_one_does_not() -> None:
    scenario = with_overrides(_scenario(), {"teams.sdr.headcount": 1})
    saturated = compare_plan(scenario, [Hire("sdr", 2, dt.date(2027, 2, 1))], replications=5)
    summary = saturated.comparison.summary().set_index("metric")
    assert summary.at["sqls", "ci_low"] > 0
    assert summary.at["total_cost", "difference"] > 0
    idle = compare_plan(scenario, [Hire("csm", 2, dt.date(2027, 2, 1))], replications=5)
    summary = idle.comparison.summary().set_index("metric")
    for metric in ("sqls", "won_deals", "booked_arr"):
        assert summary.at[metric, "ci_low"] <= 0 <= summary.at[metric, "ci_high"]
    assert summary.at["net_value", "ci_high"] < 0  # the idle hires only cost money
    headcount = idle.headcount()
    assert headcount["headcount_plan"].tolist() == [3, 5]


def test_commission_and_base_salary_costs() -> None:
    comp = {"base_per_year": 100_000, "commission_rate": 0.1, "commission_months": 6}
    scenario = with_overrides(
        _scenario(),
        {
            "horizon_days": 240,
            "sources.inbound.leads_per_week": 150,
            "teams.sdr.headcount": 16,
            "teams.ae.comp": comp,
            "teams.ae.plan": [{"date": "2027-03-01", "change": 2}],
        },
    )
    ledger = simulate(scenario, seed=7)
    table = costs(ledger, scenario).set_index("item")["cost"]
    leads = ledger.leads
    horizon = ledger.meta["horizon_hours"]
    won = leads[(leads["won_time"] <= horizon) & (leads["booked_arr"] > 0)]
    assert len(won) > 10
    expected = 0.0
    for won_time, arr in zip(won["won_time"], won["booked_arr"], strict=True):
        for month in range(6):
            if won_time + month * 730.0 < horizon:
                expected += 0.1 * arr / 6
    assert table["commission:ae"] == pytest.approx(expected)
    one_month = with_overrides(scenario, {"teams.ae.comp.commission_months": 1})
    assert costs(ledger, one_month).set_index("item").at["commission:ae", "cost"] == (
        pytest.approx(0.1 * won["booked_arr"].sum())
    )
    person_years = (4 * horizon + 2 * (horizon - _hours(dt.date(2027, 3, 1)))) / 8760
    assert table["team:ae"] == pytest.approx(person_years * 100_000)
    acquisition = (
        unit_economics(ledger, scenario).set_index("metric").at["acquisition_cost", "value"]
    )
    sales_items = table[["team:sdr", "team:ae", "commission:ae"]].sum()
    assert acquisition == pytest.approx(sales_items + table["leads:inbound"] + table["tools"])


def test_handoff_bonus_and_volume_incentive() -> None:
    scenario = with_overrides(
        _scenario(),
        {
            "teams.sdr.comp": {"handoff_bonus": 40},
            "teams.sdr.headcount": 6,
            "seam1.acceptance.volume_incentive": 0.5,
        },
    )
    ledger = simulate(scenario, seed=1)
    c = ledger.columns
    accepted = np.isfinite(c["sql_time"]) & (c["sql_time"] <= ledger.meta["horizon_hours"])
    assert costs(ledger, scenario).set_index("item").at["bonus:sdr", "cost"] == 40 * accepted.sum()
    no_incentive = simulate(with_overrides(scenario, {"seam1.acceptance.volume_incentive": 0}), 1)
    unfit_accepted = (accepted & ~c["is_fit"]).sum()
    n = no_incentive.columns
    before = (np.isfinite(n["sql_time"]) & ~n["is_fit"]).sum()
    assert unfit_accepted > before


def test_plan_validation() -> None:
    with pytest.raises(ScenarioError, match=r"teams\.ae\.plan: date 2028-01-01 is outside"):
        with_overrides(_scenario(), {"teams.ae.plan": [{"date": "2028-01-01", "change": 1}]})
    with pytest.raises(ScenarioError, match="below 0"):
        with_overrides(_scenario(), {"teams.ae.plan": [{"date": "2027-02-01", "change": -5}]})
    assert parse_hire("ae=+2@2027-04-01") == Hire("ae", 2, dt.date(2027, 4, 1))
    assert parse_hire("sdr=-1@2027-04-01").change == -1


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(
        "name: tiny\nstart_date: 2027-01-04\nhorizon_days: 60\n"
        "sources:\n  inbound: {leads_per_week: 20, cost_per_lead: 50}\n"
    )
    return path


@pytest.mark.parametrize(
    ("hire", "message"),
    [
        ("ae+2@2027-02-01", "--hire: expected TEAM=+N@YYYY-MM-DD"),
        ("ae=+2@2027-13-01", "--hire: '2027-13-01'"),
        ("sales=+2@2027-02-01", "--hire: unknown team 'sales' (teams: sdr, ae,"),
        ("sdrs=+1@2027-02-01", "--hire: unknown team 'sdrs'; did you mean 'sdr'?"),
        ("ae=+2@2028-02-01", "--hire: date 2028-02-01 for team 'ae' is outside the horizon"),
        ("ae=-9@2027-02-01", "below 0"),
    ],
)
def test_plan_cli_bad_hire_exits_2_with_one_line(small: Path, hire: str, message: str) -> None:
    result = CliRunner().invoke(main, ["plan", str(small), "--hire", hire, "--reps", "2"])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert message in lines[0]


def test_plan_cli_prints_the_comparison_and_the_headcount(small: Path) -> None:
    result = CliRunner().invoke(
        main, ["plan", str(small), "--hire", "sdr=+1@2027-02-01", "--reps", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "paired difference" in result.output
    assert "Planned headcount" in result.output
    assert "2027-02-01" in result.output


def test_results_headcount_has_a_row_per_replication_and_change() -> None:
    import funnelsim as fs

    scenario = with_overrides(_scenario(), {"teams.ae.plan": [{"date": "2027-02-01", "change": 1}]})
    results = fs.run(scenario, replications=2, seed=1)
    table = results.headcount
    ae = table[table["team"] == "ae"]
    assert ae.groupby("replication")["headcount"].apply(list).tolist() == [[4, 5], [4, 5]]
    assert str(ae["date"].iloc[1].date()) == "2027-02-01"
