"""The SimPy teams of a scenario: calendars and shifts, routing, fixed or staffed heads."""

from __future__ import annotations

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.far_events import FarEvents
from funnelsim.engine.roster import build_roster, seat_windows
from funnelsim.engine.shifts import duty_calendars
from funnelsim.engine.staffing import StaffedTeam
from funnelsim.engine.teams import HOURS_PER_WEEK, Team
from funnelsim.scenario.models import Calendar, Scenario

CALENDAR_MARGIN_HOURS = 3 * 8760.0


def build_teams(
    env: simpy.Environment,
    scenario: Scenario,
    counter: list[int],
    seed: int = 0,
    far_events: bool = True,
) -> dict[str, Team]:
    """One SimPy team per scenario team, routed by the rule of the stage that uses it.

    A team whose headcount changes over the run (plan, ramp, attrition, vacations) is a
    ``StaffedTeam`` following its roster, drawn from streams keyed by ``seed``; so is a
    team whose calendar is open longer than one head's paid hours, its heads on staggered
    shifts (``shifts.duty_calendars``). Other teams work their whole calendar.

    With ``far_events`` the environment's ``schedule`` is made a ``FarEvents`` one first
    (events due days ahead held out of SimPy's heap until near; the same order of
    events), so the teams and the flow bind it.
    """
    if far_events:
        FarEvents(env, scenario.horizon_hours)
    routing = {
        scenario.seam3.team: "pooled",
        scenario.seam2.team: "pooled",
        scenario.sales.team: scenario.sales.routing,
    }
    if scenario.seam1.fallback_team:
        routing.setdefault(scenario.seam1.fallback_team, "pooled")
    routing[scenario.seam1.team] = scenario.seam1.routing
    segment_code = {name: code for code, name in enumerate(scenario.segments)}
    span = scenario.horizon_hours + CALENDAR_MARGIN_HOURS
    calendars: dict[Calendar, WorkCalendar] = {}
    n_weeks = int(np.ceil(scenario.horizon_hours / HOURS_PER_WEEK))
    teams = {}
    for name, spec in scenario.teams.items():
        calendar_spec = scenario.team_calendar(name)
        calendar = _work_calendar(calendars, calendar_spec, scenario, span)
        head_segments = None
        if spec.segments is not None:
            head_segments = [
                segment_code[seg] for seg, count in spec.segments.items() for _ in range(count)
            ]
        shifts = duty_calendars(
            calendar_spec, spec.paid_hours_per_week, len(seat_windows(spec, scenario.start_date))
        )
        if spec.staffed or shifts is not None:
            duty = None
            if shifts is not None:
                duty = [_work_calendar(calendars, c, scenario, span) for c in shifts]
            teams[name] = StaffedTeam(
                env,
                name,
                spec.capacity_per_head,
                calendar,
                routing.get(name, "pooled"),
                n_weeks,
                counter,
                scenario.horizon_hours,
                build_roster(spec, name, scenario.start_date, scenario.horizon_hours, seed),
                spec.ramp,
                spec.work_time is not None,
                duty,
                head_segments,
            )
            continue
        teams[name] = Team(
            env,
            name,
            spec.headcount,
            spec.capacity_per_head,
            calendar,
            routing.get(name, "pooled"),
            head_segments,
            n_weeks,
            counter,
            scenario.horizon_hours,
        )
    return teams


def _work_calendar(
    calendars: dict[Calendar, WorkCalendar], spec: Calendar, scenario: Scenario, span: float
) -> WorkCalendar:
    """The laid-out calendar of a spec, built once per distinct spec and shared."""
    if spec not in calendars:
        calendars[spec] = WorkCalendar(spec, scenario.start_date, span)
    return calendars[spec]
