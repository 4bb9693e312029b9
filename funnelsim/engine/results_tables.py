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
    opp_stage: np.ndarray | None = None,
) -> pd.DataFrame:
    """Scatter the queued part's per-item results into the ledger columns; return the
    opportunities' stage rows (:func:`stage_table`).

    A book opportunity (``opp_age`` finite) was opened before the run: its
    ``opp_time`` is when it entered its stage, ``opp_age`` hours before its AE took it up.
    """
    # The flow's typed arrays are read in place through the buffer protocol (no copies).
    for name, values in flow.results.items():
        columns[name][items] = np.asarray(values)
    columns["sla_breached"][items] = np.asarray(flow.sla_breached)
    columns["rerouted"][items] = np.asarray(flow.rerouted)
    columns["sdr_head"][items] = np.asarray(flow.head)
    columns["outcome"][items] = np.asarray(flow.outcome)
    columns["seam"][items] = np.asarray(flow.seam)
    columns["loss_reason"][items] = np.asarray(flow.reason)
    # An AE's hold is a pure delay after the start, so the sales milestones follow in bulk
    # from the start time (the same additions, in the same order, as the hold's end).
    x = flow.x
    opp_time = np.asarray(columns["ae_start"][items]) + np.asarray(x.discovery)
    opp_time[~np.asarray(flow.opened, dtype=bool)] = np.nan
    columns["opp_time"][items] = opp_time
    planned = x.cycle if x.planned is None else x.planned
    columns["expected_close"][items] = opp_time + np.asarray(planned)
    walk_start = opp_time.copy()
    age = np.full(len(items), np.nan) if opp_age is None else opp_age[items]
    if opp_age is not None:
        book = np.isfinite(age) & np.isfinite(opp_time)
        opp_time[book] -= age[book]
        columns["opp_time"][items] = opp_time
    horizon = flow.rules.horizon
    start = np.zeros(len(items), dtype=np.int64)
    if opp_stage is not None:
        start = np.where(np.isfinite(age), opp_stage[items], 0)
    stages = stage_table(
        items,
        x.stage_offsets,
        walk_start,
        age,
        start,
        np.asarray(columns["close_time"][items]),
        np.isfinite(np.asarray(columns["won_time"][items])),
        horizon,
    )
    for name in ("first_response", "ae_start", "opp_time", "onboard_start"):
        values = columns[name]
        values[values > horizon] = np.nan
    columns["expected_close"][np.isnan(columns["opp_time"])] = np.nan
    columns["opportunity"] = ~np.isnan(columns["opp_time"])
    columns["won"] = ~np.isnan(columns["won_time"])
    return stages


STAGE_RESULTS: tuple[str, ...] = ("advanced", "lost", "won", "open")


def stage_table(
    items: np.ndarray,
    offsets: np.ndarray | None,
    walk_start: np.ndarray,
    age: np.ndarray,
    start_stage: np.ndarray,
    close_time: np.ndarray,
    won: np.ndarray,
    horizon: float,
) -> pd.DataFrame:
    """One row per opportunity and stage it entered within the horizon.

    Columns lead_id, stage (index), entered, left (hours; NaN while still in it at the
    horizon) and result (advanced, lost, won, open). A stage is left when the next is
    entered or at the close; a book opportunity entered its first stage ``age`` hours
    before its walk started.
    """
    n_stages = 0 if offsets is None else offsets.shape[1]
    if n_stages == 0 or len(items) == 0:
        return _empty_stages()
    entered = walk_start[:, None] + offsets
    book = np.flatnonzero(np.isfinite(age) & np.isfinite(walk_start))
    entered[book, start_stage[book]] -= age[book]
    following = np.concatenate([entered[:, 1:], np.full((len(items), 1), np.nan)], axis=1)
    moved_on = np.isfinite(following) & (following <= horizon)
    left = np.where(np.isfinite(following), following, close_time[:, None])
    exit_result = np.where(won, STAGE_RESULTS.index("won"), STAGE_RESULTS.index("lost"))
    result = np.where(np.isfinite(following), STAGE_RESULTS.index("advanced"), exit_result[:, None])
    still_open = ~(left <= horizon)
    left = np.where(still_open, np.nan, left)
    result = np.where(still_open & ~moved_on, STAGE_RESULTS.index("open"), result)
    keep = np.isfinite(entered) & (entered <= horizon)
    row, stage = np.nonzero(keep)
    return pd.DataFrame(
        {
            "lead_id": items[row].astype(np.int64),
            "stage": stage.astype(np.int32),
            "entered": entered[row, stage],
            "left": left[row, stage],
            "result": pd.Categorical.from_codes(
                result[row, stage].astype(np.int8), categories=list(STAGE_RESULTS)
            ),
        }
    )


def _empty_stages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=np.int64),
            "stage": pd.Series(dtype=np.int32),
            "entered": pd.Series(dtype=float),
            "left": pd.Series(dtype=float),
            "result": pd.Categorical([], categories=list(STAGE_RESULTS)),
        }
    )


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
