"""The SimPy teams of a scenario: calendars, routing, fixed or staffed heads."""

from __future__ import annotations

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.roster import build_roster
from funnelsim.engine.staffing import StaffedTeam
from funnelsim.engine.teams import HOURS_PER_WEEK, Team
from funnelsim.scenario.models import Scenario

CALENDAR_MARGIN_HOURS = 3 * 8760.0


def build_teams(
    env: simpy.Environment, scenario: Scenario, counter: list[int], seed: int = 0
) -> dict[str, Team]:
    """One SimPy team per scenario team, routed by the rule of the stage that uses it.

    A team whose headcount changes over the run (plan, ramp, attrition, vacations) is a
    ``StaffedTeam`` following its roster, drawn from streams keyed by ``seed``.
    """
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
    calendars: dict[object, WorkCalendar] = {}
    n_weeks = int(np.ceil(scenario.horizon_hours / HOURS_PER_WEEK))
    teams = {}
    for name, spec in scenario.teams.items():
        calendar_spec = scenario.team_calendar(name)
        if calendar_spec not in calendars:
            calendars[calendar_spec] = WorkCalendar(calendar_spec, scenario.start_date, span)
        head_segments = None
        if spec.segments is not None:
            head_segments = [
                segment_code[seg] for seg, count in spec.segments.items() for _ in range(count)
            ]
        if spec.staffed:
            teams[name] = StaffedTeam(
                env,
                name,
                spec.capacity_per_head,
                calendars[calendar_spec],
                routing.get(name, "pooled"),
                n_weeks,
                counter,
                scenario.horizon_hours,
                build_roster(spec, name, scenario.start_date, scenario.horizon_hours, seed),
                spec.ramp,
                spec.work_time is not None,
            )
            continue
        teams[name] = Team(
            env,
            name,
            spec.headcount,
            spec.capacity_per_head,
            calendars[calendar_spec],
            routing.get(name, "pooled"),
            head_segments,
            n_weeks,
            counter,
            scenario.horizon_hours,
        )
    return teams
