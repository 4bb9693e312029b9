"""From the finished run to ledger parts: flow results, settled outcomes, team tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.engine.fates import Fate
from funnelsim.engine.flow import Flow
from funnelsim.engine.ledger import (
    IN_FLIGHT,
    UNDECIDED,
)
from funnelsim.engine.roster import employed_hours, stint_rows
from funnelsim.engine.staffing import StaffedTeam, capacity_rows
from funnelsim.engine.teams import HOURS_PER_WEEK, Team
from funnelsim.scenario.models import Scenario


def collect_flow(
    flow: Flow,
    items: np.ndarray,
    fates: dict[Fate, np.ndarray],
    columns: dict[str, np.ndarray],
    opp_age: np.ndarray | None = None,
) -> None:
    """Scatter the queued part's per-item results into the ledger columns.

    A book opportunity (``opp_age`` finite) was opened before the run: its
    ``opp_time`` is when it entered its stage, ``opp_age`` hours before its AE took it up.
    """
    for name, values in flow.results.items():
        columns[name][items] = values
    columns["sla_breached"][items] = flow.sla_breached
    columns["rerouted"][items] = flow.rerouted
    columns["sdr_head"][items] = flow.head
    columns["outcome"][items] = flow.outcome
    columns["seam"][items] = flow.seam
    columns["loss_reason"][items] = flow.reason
    # An AE's hold is a pure delay after the start, so the sales milestones follow in bulk
    # from the start time (the same additions, in the same order, as the hold's end).
    x = flow.x
    opp_time = np.asarray(columns["ae_start"][items]) + np.asarray(x.discovery)
    opp_time[~np.asarray(flow.opened, dtype=bool)] = np.nan
    columns["opp_time"][items] = opp_time
    columns["expected_close"][items] = opp_time + np.asarray(x.cycle)
    if opp_age is not None:
        book = np.isfinite(opp_age[items]) & np.isfinite(opp_time)
        opp_time[book] -= opp_age[items][book]
        columns["opp_time"][items] = opp_time
    horizon = flow.rules.horizon
    for name in ("first_response", "ae_start", "opp_time", "onboard_start"):
        values = columns[name]
        values[values > horizon] = np.nan
    columns["expected_close"][np.isnan(columns["opp_time"])] = np.nan
    columns["opportunity"] = ~np.isnan(columns["opp_time"])
    columns["won"] = ~np.isnan(columns["won_time"])


def settle_outcomes(columns: dict[str, np.ndarray]) -> None:
    """Leads still undecided at the horizon are in flight."""
    columns["outcome"][columns["outcome"] == UNDECIDED] = IN_FLIGHT


def team_levels(teams: dict[str, Team], scenario: Scenario) -> pd.DataFrame:
    """Weekly occupancy (busy slots / slots), mean queue length and the person-hours the
    team's heads were on duty (paid shift and overtime hours worked) for each team."""
    frames = []
    for name, team in teams.items():
        busy = team.busy_area()
        weeks = np.arange(len(busy))
        width = np.minimum(HOURS_PER_WEEK, scenario.horizon_hours - weeks * HOURS_PER_WEEK)
        slots = max(team.slots, 1)
        frames.append(
            pd.DataFrame(
                {
                    "team": name,
                    "week": weeks,
                    "occupancy": busy / (width * slots),
                    "queue_length": team.queue_area() / width,
                    "on_duty_hours": team.on_duty_hours(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def capacity_table(teams: dict[str, Team], horizon: float) -> list[tuple]:
    """Every team's headcount over time, one row per change (``Ledger.capacity_rows``)."""
    return [row for name, team in teams.items() for row in capacity_rows(name, team, horizon)]


def stint_table(teams: dict[str, Team]) -> list[tuple]:
    """One row per person's stint on a staffed team (``Ledger.stint_rows``)."""
    return [
        row
        for name, team in teams.items()
        if isinstance(team, StaffedTeam)
        for row in stint_rows(name, team.stints)
    ]


def team_meta(teams: dict[str, Team], horizon: float) -> dict[str, dict]:
    """The ledger's per-team metadata: busy, slot, employed, work, open and on-duty hours."""
    return {
        "team_busy_hours": {name: team.busy_hours() for name, team in teams.items()},
        "team_slots": {name: team.slots for name, team in teams.items()},
        "team_employed_hours": {
            name: employed_hours(team.stints, horizon)
            if isinstance(team, StaffedTeam)
            else team.headcount * horizon
            for name, team in teams.items()
        },
        "team_slot_hours": {
            name: team.slot_hours() if isinstance(team, StaffedTeam) else team.slots * horizon
            for name, team in teams.items()
        },
        "team_requeued": {
            name: team.requeued for name, team in teams.items() if isinstance(team, StaffedTeam)
        },
        "team_work_hours": {name: team.work_hours() for name, team in teams.items()},
        "team_open_hours": {
            name: team.calendar.working_hours_until(horizon) for name, team in teams.items()
        },
        "team_duty_slot_hours": {
            name: float(team.on_duty_hours().sum()) * team.slots_per_head
            for name, team in teams.items()
        },
    }
