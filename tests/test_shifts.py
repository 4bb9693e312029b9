"""Capacity is paid hours: heads work shifts inside the team calendar.

A calendar wider than one shift is covered by staggering the heads' shifts, so widening it
spreads the same paid hours; overtime is explicit and costs money; utilisation is measured
against the hours heads were on duty. A calendar no wider than one shift is what it was.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simpy
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from test_invariants import check_ledger

import funnelsim as fs
from funnelsim.analysis.cashflow import cashflow
from funnelsim.analysis.revenue import costs
from funnelsim.analysis.teams import utilization
from funnelsim.cli import main
from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.shifts import duty_calendars
from funnelsim.engine.team_setup import build_teams
from funnelsim.scenario.base import WEEKDAYS
from funnelsim.scenario.loading import ScenarioError, load_scenario, scenario_from_dict
from funnelsim.scenario.market import Calendar

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
VALIDATION = ROOT / "scenarios" / "validation"
START = dt.date(2027, 1, 4)  # a Monday
WEEK = 168.0
REPLICATIONS = 10


def _widened(scenario: fs.Scenario, team: str, hours: tuple[float, float]) -> str:
    """A ``--set`` override giving ``team`` the scenario calendar with other daily hours."""
    calendar = scenario.team_calendar(team)
    days = ", ".join(calendar.weekdays)
    holidays = ", ".join(str(day) for day in calendar.holidays)
    return (
        f"teams.{team}.calendar={{weekdays: [{days}], hours: [{hours[0]}, {hours[1]}], "
        f"holidays: [{holidays}]}}"
    )


def _hours_per_head_week(ledger: fs.Ledger, team: str) -> pd.Series:
    """On-duty hours per head in each week, from the team levels and the headcount tables."""
    levels = ledger.team_levels.set_index(["team", "week"])["on_duty_hours"]
    (heads,) = ledger.headcount.query("team == @team")["headcount"]
    return levels.loc[team] / heads


# The shift layout.


def test_a_calendar_no_wider_than_one_shift_is_every_heads_calendar() -> None:
    assert duty_calendars(Calendar(), 40, 4) is None
    around_the_clock = Calendar(weekdays=WEEKDAYS, hours=(0, 24))
    assert duty_calendars(around_the_clock, 168, 3) is None
    assert duty_calendars(Calendar(hours=(9, 13)), 40, 2) is None


def test_an_extended_day_gets_an_early_and_a_late_shift() -> None:
    shifts = duty_calendars(Calendar(hours=(7, 21)), 40, 4)
    assert [c.hours for c in shifts] == [(7, 15), (13, 21), (7, 15), (13, 21)]
    assert all(c.weekdays == Calendar().weekdays for c in shifts)


calendars = st.builds(
    lambda days, start, length, holidays: Calendar(
        weekdays=tuple(days), hours=(start, min(24.0, start + length)), holidays=holidays
    ),
    st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True),
    st.sampled_from([0.0, 6.0, 7.0, 8.5, 9.0, 12.0]),
    st.sampled_from([4.0, 8.0, 10.0, 12.0, 14.0, 16.0, 24.0]),
    st.lists(st.dates(START, START + dt.timedelta(days=27)), max_size=3, unique=True).map(tuple),
)


@settings(max_examples=60, deadline=None)
@given(calendar=calendars, paid=st.sampled_from([20.0, 32.0, 37.5, 40.0, 45.0, 60.0]))
def test_staggered_shifts_pay_the_same_hours_inside_the_calendar_and_cover_it(
    calendar: Calendar, paid: float
) -> None:
    """Each head is on duty its paid hours a week, only while the team calendar is open,
    and two heads per start time cover the whole calendar."""
    shifts = duty_calendars(calendar, paid, 8)
    if shifts is None:
        return
    span = 5 * WEEK
    team = WorkCalendar(calendar, START, span + 2 * WEEK)  # laid out beyond the weeks checked
    heads = [WorkCalendar(c, START, span + 2 * WEEK) for c in shifts]
    edges = np.arange(6) * WEEK
    open_weeks = np.diff(team.working_hours_array(edges))
    holiday_free = [w for w in range(5) if not _has_holiday(calendar, w)]
    grid = np.arange(0.0, span, 0.25) + 0.125
    team_open = np.diff(team.working_hours_array(np.append(grid - 0.125, span))) > 0
    on_duty = np.zeros(len(grid), dtype=int)
    for head in heads:
        weekly = np.diff(head.working_hours_array(edges))
        np.testing.assert_allclose(weekly[holiday_free], paid, atol=1e-9)
        assert np.all(weekly <= open_weeks + 1e-9)
        duty = np.diff(head.working_hours_array(np.append(grid - 0.125, span))) > 0
        assert not np.any(duty & ~team_open), "a shift outside the team calendar"
        on_duty += duty
    starts = {c.hours[0] for c in shifts}
    if 2 * len(starts) <= len(shifts):
        assert np.all(on_duty[team_open] > 0), "an open hour nobody covers"


def _has_holiday(calendar: Calendar, week: int) -> bool:
    first = START + dt.timedelta(weeks=week)
    return any(first <= day < first + dt.timedelta(days=7) for day in calendar.holidays)


# Widening a calendar with the same heads and no overtime.


@pytest.fixture(scope="module")
def baseline() -> fs.Scenario:
    return load_scenario(BASELINE)


@pytest.fixture(scope="module")
def widened(baseline: fs.Scenario) -> fs.Scenario:
    return load_scenario(BASELINE, [_widened(baseline, "sdr", (7, 21))])


def test_widening_a_calendar_leaves_worked_hours_per_head_unchanged(
    baseline: fs.Scenario, widened: fs.Scenario
) -> None:
    before = _hours_per_head_week(fs.simulate(baseline, 0), "sdr")
    after = _hours_per_head_week(fs.simulate(widened, 0), "sdr")
    pd.testing.assert_series_equal(before, after, check_exact=True)
    shift = baseline.teams["sdr"].shift_hours_per_week
    full_weeks = int(widened.horizon_hours // WEEK)
    holiday_weeks = {(day - baseline.start_date).days // 7 for day in baseline.calendar.holidays}
    holiday_weeks &= set(range(full_weeks))
    plain = [w for w in range(full_weeks) if w not in holiday_weeks]
    assert (after.loc[plain] == shift).all()
    assert (after.loc[sorted(holiday_weeks)] < shift).all()


def test_widening_a_calendar_is_worth_less_than_one_more_head(
    baseline: fs.Scenario, widened: fs.Scenario
) -> None:
    """Same heads, same paid hours: the change in won deals is smaller than anything the
    paired interval of adding one head admits, and it costs nothing."""
    spread = fs.compare(baseline, widened, replications=REPLICATIONS, seed=0).summary()
    one_more = load_scenario(BASELINE, ["teams.sdr.headcount=5"])
    hired = fs.compare(baseline, one_more, replications=REPLICATIONS, seed=0).summary()
    spread, hired = spread.set_index("metric"), hired.set_index("metric")
    assert hired.at["won_deals", "ci_low"] > 0
    assert abs(spread.at["won_deals", "difference"]) < hired.at["won_deals", "ci_low"]
    assert spread.at["total_cost", "difference"] == 0


def test_free_hours_are_gone_for_a_team_working_its_whole_calendar(
    baseline: fs.Scenario, widened: fs.Scenario
) -> None:
    """Paying the heads for every open hour (a 70-hour week) is what used to come free: it
    is worth more than staggering the same 40 hours, and costs the overtime."""
    overtime = [_widened(baseline, "sdr", (7, 21)), "teams.sdr.overtime_hours_per_week=30"]
    paid = load_scenario(BASELINE, overtime)
    result = fs.compare(widened, paid, replications=REPLICATIONS, seed=0).summary()
    result = result.set_index("metric")
    assert result.at["won_deals", "ci_low"] > 0
    assert result.at["total_cost", "difference"] > 0


# Overtime costs money.


def test_overtime_is_paid_and_appears_in_total_cost_and_cash(
    baseline: fs.Scenario, widened: fs.Scenario
) -> None:
    paid = load_scenario(
        BASELINE,
        [
            _widened(baseline, "sdr", (7, 21)),
            "teams.sdr.overtime_hours_per_week=10",
            "teams.sdr.overtime_cost_multiplier=1.5",
        ],
    )
    ledger = fs.simulate(paid, 0)
    table = costs(ledger, paid).set_index("item")["cost"]
    team = paid.teams["sdr"]
    years = paid.horizon_hours / 8760.0
    hourly = team.cost_per_year / team.shift_hours_per_week
    expected = team.headcount * years * hourly * 10 * 1.5
    assert table["overtime:sdr"] == pytest.approx(expected)
    assert "overtime:sdr" not in costs(fs.simulate(widened, 0), widened)["item"].tolist()
    cash = cashflow(ledger, paid)
    salaries = table[[i for i in table.index if i.startswith(("team:", "overtime:"))]].sum()
    assert cash["salaries"].sum() == pytest.approx(salaries)
    assert cash["cash_out"].sum() == pytest.approx(table.sum())
    # Paid overtime is on-duty time: 50 hours a head in a week without holidays.
    hours = _hours_per_head_week(ledger, "sdr")
    assert hours.max() == pytest.approx(team.paid_hours_per_week)
    result = fs.compare(widened, paid, replications=2, seed=0).summary().set_index("metric")
    assert result.at["total_cost", "difference"] == pytest.approx(expected)


def test_overtime_the_calendar_cannot_hold_is_refused_in_one_line() -> None:
    with pytest.raises(ScenarioError, match=r"teams\.sdr\.overtime_hours_per_week"):
        load_scenario(BASELINE, ["teams.sdr.overtime_hours_per_week=5"])
    result = CliRunner().invoke(
        main, ["validate", str(BASELINE), "--set", "teams.sdr.overtime_hours_per_week=5"]
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "teams.sdr.overtime_hours_per_week" in lines[0]
    assert "Traceback" not in result.output


# Utilisation against paid hours, and who starts what when.


def test_utilisation_is_against_on_duty_hours(baseline: fs.Scenario, widened: fs.Scenario) -> None:
    """Utilisation divides the work done on shift by the hours heads were on duty, not by
    the hours the calendar was open; with a calendar equal to one shift the two agree."""
    for scenario in (baseline, widened):
        ledger = fs.simulate(scenario, 1)
        sdr = scenario.teams["sdr"]
        calendar = scenario.team_calendar("sdr")
        span = scenario.horizon_hours + WEEK
        shifts = duty_calendars(calendar, sdr.paid_hours_per_week, sdr.headcount)
        heads = shifts or [calendar] * sdr.headcount
        on_duty = sum(
            WorkCalendar(c, scenario.start_date, span).working_hours_until(scenario.horizon_hours)
            for c in heads
        )
        work = ledger.meta["team_work_hours"]["sdr"]
        table = utilization(ledger).set_index("team")
        used = table.at["sdr", "utilization"]
        assert used == pytest.approx(work / (on_duty * sdr.capacity_per_head))
        assert 0 < used <= 1
        open_hours = ledger.meta["team_open_hours"]["sdr"]
        by_calendar = work / (sdr.headcount * sdr.capacity_per_head * open_hours)
        if shifts is None:
            assert used == pytest.approx(by_calendar)
        else:
            assert used > 1.5 * by_calendar  # 40 of 70 open hours a week are paid


@pytest.mark.parametrize("routing", ["round_robin", "least_loaded"])
def test_a_head_starts_leads_only_on_its_own_shift(baseline: fs.Scenario, routing: str) -> None:
    scenario = load_scenario(
        BASELINE, [_widened(baseline, "sdr", (7, 21)), f"seam1.routing={routing}"]
    )
    ledger = fs.simulate(scenario, 2)
    c = ledger.columns
    started = np.isfinite(c["first_response"])
    sdr = scenario.teams["sdr"]
    shifts = duty_calendars(scenario.team_calendar("sdr"), sdr.paid_hours_per_week, sdr.headcount)
    span = scenario.horizon_hours + WEEK
    late_starts = 0
    for head, calendar in enumerate(shifts):
        mine = started & (c["sdr_head"] == head)
        assert mine.any()
        times = c["first_response"][mine]
        duty = WorkCalendar(calendar, scenario.start_date, span)
        opens = np.array([duty.next_open(t) for t in times])
        np.testing.assert_array_equal(opens, times)
        late_starts += int(np.sum((times % 24.0) >= 17.0))
    assert late_starts > 0, "nobody worked the evening"


@pytest.mark.parametrize(
    ("hour", "on_duty"), [(8.0, [0, 2]), (14.0, [0, 1, 2, 3]), (20.0, [1, 3]), (22.0, [0, 2])]
)
def test_least_loaded_routing_picks_heads_on_duty_round_robin_goes_in_turn(
    baseline: fs.Scenario, hour: float, on_duty: list[int]
) -> None:
    """A routing tool knows who is working (at night: whoever starts first); a CRM's round
    robin assigns in turn whatever the shift."""
    chosen = {}
    for routing in ("least_loaded", "round_robin"):
        scenario = load_scenario(
            BASELINE, [_widened(baseline, "sdr", (7, 21)), f"seam1.routing={routing}"]
        )
        env = simpy.Environment(initial_time=hour)  # the start date is a Monday
        team = build_teams(env, scenario, [0], seed=0)["sdr"]
        picks = []
        for _ in range(4):
            head = team.route(0)
            team.load[head] += 1  # as if the lead were queued there,
            team._load_changed(head)  # and told to the least-loaded router
            picks.append(head)
        chosen[routing] = picks
    assert set(chosen["least_loaded"]) == set(on_duty)
    assert chosen["round_robin"] == [0, 1, 2, 3]


# A staffed team on shifts; the validation teams around the clock.


def test_a_hiring_plan_on_a_wide_calendar_staggers_the_new_heads_too() -> None:
    """Seven-day cover by two heads leaves the weekend to the hires: each head still works
    at most its shift a week, and the books add up."""
    scenario = scenario_from_dict(
        {
            "horizon_days": 182,
            "sources": {"inbound": {"leads_per_week": 60}},
            "teams": {
                "sdr": {
                    "headcount": 2,
                    "capacity_per_head": 1,
                    "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5},
                    "calendar": {"weekdays": list(WEEKDAYS), "hours": [8, 20]},
                    "plan": [{"date": "2027-03-01", "change": 2}],
                    "vacation_days_per_year": 20,
                }
            },
        }
    )
    ledger = fs.simulate(scenario, 4)
    check_ledger(ledger)
    hours = ledger.team_levels.query("team == 'sdr'").set_index("week")["on_duty_hours"]
    staff = ledger.staff.query("team == 'sdr'")
    shift = scenario.teams["sdr"].shift_hours_per_week
    edges = np.arange(len(hours) + 1) * WEEK
    for week, worked in hours.items():
        begin, end = edges[week], min(edges[week + 1], scenario.horizon_hours)
        present = staff[(staff["start"] < end) & (staff["end"] > begin)]
        assert worked <= len(present) * shift + 1e-9
    hired_week = (dt.date(2027, 3, 1) - scenario.start_date).days // 7
    assert hours.iloc[hired_week + 1 :].mean() > hours.iloc[:hired_week].mean()
    c = ledger.columns
    weekend = ((c["first_response"] // 24.0) % 7) >= 5  # the start date is a Monday
    hired = (c["sdr_head"] >= 2) & np.isfinite(c["first_response"])
    assert weekend[np.isfinite(c["first_response"])].any()
    assert not (weekend & ~hired & np.isfinite(c["first_response"])).any()


@pytest.mark.parametrize("name", ["mmc_rho05", "mmc_rho09"])
def test_validation_teams_are_on_duty_around_the_clock(name: str) -> None:
    """The M/M/c scenarios state a 168-hour shift: c servers at every moment (the Erlang C
    check itself is tests/test_mmc.py). A default 40-hour shift would stagger them."""
    scenario = fs.load_scenario(VALIDATION / f"{name}.yaml")
    team = scenario.teams[scenario.seam1.team]
    calendar = scenario.team_calendar(scenario.seam1.team)
    assert calendar.always_open and team.shift_hours_per_week == 168
    assert duty_calendars(calendar, team.paid_hours_per_week, team.headcount) is None
    ledger = fs.simulate(scenario, 0)
    hours = _hours_per_head_week(ledger, scenario.seam1.team)
    full = hours.iloc[: int(scenario.horizon_hours // WEEK)]
    assert (full == WEEK).all()
    staggered = duty_calendars(calendar, 40.0, team.headcount)
    assert staggered is not None and len(staggered) == team.headcount
