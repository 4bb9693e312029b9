"""From the finished run to ledger parts: flow results, settled outcomes, team tables."""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.engine.book import BookColumn
from funnelsim.engine.customer_phase import CUSTOMER_COLUMNS
from funnelsim.engine.flow import Flow
from funnelsim.engine.inputs import dense
from funnelsim.engine.lead_pass import StageOffsets
from funnelsim.engine.ledger import (
    IN_FLIGHT,
    UNDECIDED,
    floor32,
    freeze,
    put,
)
from funnelsim.engine.roster import employed_hours, stint_rows
from funnelsim.engine.staffing import StaffedTeam, capacity_rows
from funnelsim.engine.teams import HOURS_PER_WEEK, Team
from funnelsim.scenario.models import Scenario


def collect_flow(
    flow: Flow,
    items: np.ndarray,
    columns: dict[str, np.ndarray],
    stage_offsets: StageOffsets,
    opp_age: BookColumn | None = None,
    opp_stage: BookColumn | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Scatter the queued part's per-item results into the ledger columns; return the
    opportunities' stage rows (:func:`stage_table`) and the items' exact (float64)
    invoice and onboarded times, which the customer phase starts from.

    A book opportunity (``opp_age`` finite) was opened before the run: its
    ``opp_time`` is when it entered its stage, ``opp_age`` hours before its AE took it up.
    """
    # The flow's typed arrays are read in place through the buffer protocol (no copies);
    # every time is computed from them in float64 and rounded once as it is stored. The
    # flow is released first, so each of its arrays is freed as soon as it is stored.
    x = flow.x
    discovery = np.asarray(x.discovery)
    planned = dense(x.cycle if x.planned is None else x.planned)
    del x
    results = {name: np.asarray(values) for name, values in flow.results.items()}
    states = {
        "sla_breached": flow.sla_breached,
        "rerouted": flow.rerouted,
        "sdr_head": flow.head,
        "outcome": flow.outcome,
        "seam": flow.seam,
        "loss_reason": flow.reason,
    }
    opened = np.asarray(flow.opened, dtype=bool)
    horizon = flow.rules.horizon
    flow.release()
    opp_time = results["ae_start"] + discovery
    del discovery
    opp_time[~opened] = np.nan
    del opened
    expected_close = opp_time + planned
    del planned
    at = stage_offsets.at
    walk_start = opp_time[at]
    age = np.full(len(at), np.nan) if opp_age is None else opp_age[items[at]]
    if opp_age is not None:
        all_age = opp_age[items]
        book = np.isfinite(all_age) & np.isfinite(opp_time)
        opp_time[book] -= all_age[book]
        del all_age, book
    start = np.zeros(len(at), dtype=np.int64)
    if opp_stage is not None:
        start = np.where(np.isfinite(age), opp_stage[items[at]], 0)
    stages = stage_table(
        items[at],
        stage_offsets.offsets,
        walk_start,
        age,
        start,
        results["close_time"][at],
        np.isfinite(results["won_time"][at]),
        horizon,
    )
    del walk_start, age, start
    results["opp_time"] = opp_time
    for name in HORIZON_CLIPPED:  # in place: the flow's results are not read again
        values = results[name]
        values[values > horizon] = np.nan
    expected_close[np.isnan(opp_time)] = np.nan
    results["expected_close"] = expected_close
    del opp_time, expected_close
    exact = {name: results[name] for name in EXACT_TIMES}
    # Each column is finished (rows outside the items, the book's, keep the same rules)
    # and, unless the customer phase writes it, held sparse before the next is made.
    for name in list(results):
        put(columns, name, items, results.pop(name))
        values = columns[name]
        if name in HORIZON_CLIPPED:
            values[values > horizon] = np.nan
        if name == "expected_close":
            values[np.isnan(columns["opp_time"])] = np.nan
        del values
        if name not in CUSTOMER_COLUMNS:
            freeze(columns, (name,))
    for name in list(states):
        columns[name][items] = np.asarray(states.pop(name))
    columns["opportunity"] = ~np.isnan(columns["opp_time"])
    columns["won"] = ~np.isnan(columns["won_time"])
    freeze(columns, ("sla_breached", "rerouted", "sdr_head", "opportunity", "won"))
    return stages, exact


# The items' times the customer phase reads at full precision.
EXACT_TIMES = ("invoice_time", "onboarded_time")
# Milestones past the horizon are not reached (NaN).
HORIZON_CLIPPED = ("first_response", "ae_start", "opp_time", "onboard_start")
STAGE_ROWS_PER_BLOCK = 1 << 16


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
    # In blocks of items: the (items x stages) temporaries stay small at any size.
    parts = [
        _stage_rows(
            items[block],
            offsets[block],
            walk_start[block],
            age[block],
            start_stage[block],
            close_time[block],
            won[block],
            horizon,
        )
        for block in (
            slice(lo, lo + STAGE_ROWS_PER_BLOCK)
            for lo in range(0, len(items), STAGE_ROWS_PER_BLOCK)
        )
    ]
    columns = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
    del parts
    columns["result"] = pd.Categorical.from_codes(columns["result"], categories=list(STAGE_RESULTS))
    return pd.DataFrame(columns)


def _stage_rows(
    items: np.ndarray,
    offsets: np.ndarray,
    walk_start: np.ndarray,
    age: np.ndarray,
    start_stage: np.ndarray,
    close_time: np.ndarray,
    won: np.ndarray,
    horizon: float,
) -> dict[str, np.ndarray]:
    """The stage rows of one block of items (see :func:`stage_table`)."""
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
    return {
        "lead_id": items[row].astype(np.int64),
        "stage": stage.astype(np.int32),
        "entered": floor32(entered[row, stage]),
        "left": floor32(left[row, stage]),
        "result": result[row, stage].astype(np.int8),
    }


def _empty_stages() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=np.int64),
            "stage": pd.Series(dtype=np.int32),
            "entered": pd.Series(dtype=np.float32),
            "left": pd.Series(dtype=np.float32),
            "result": pd.Categorical([], categories=list(STAGE_RESULTS)),
        }
    )


def settle_outcomes(columns: dict[str, np.ndarray]) -> None:
    """Leads still undecided at the horizon are in flight."""
    columns["outcome"][columns["outcome"] == UNDECIDED] = IN_FLIGHT


def team_levels(teams: dict[str, Team], scenario: Scenario) -> pd.DataFrame:
    """Weekly occupancy (busy slots / slots), mean queue length and the person-hours the
    team's heads were on duty (paid shift and overtime hours worked) for each team.

    Each team's columns are made apart and joined into one frame (a frame per team and
    their concatenation cost more than the arrays)."""
    parts: dict[str, list[np.ndarray]] = {
        "team": [],
        "week": [],
        "occupancy": [],
        "queue_length": [],
        "on_duty_hours": [],
    }
    for name, team in teams.items():
        busy = team.busy_area()
        weeks = np.arange(len(busy))
        width = np.minimum(HOURS_PER_WEEK, scenario.horizon_hours - weeks * HOURS_PER_WEEK)
        slots = max(team.slots, 1)
        parts["team"].append(np.full(len(weeks), name, dtype=object))
        parts["week"].append(weeks)
        parts["occupancy"].append(busy / (width * slots))
        parts["queue_length"].append(team.queue_area() / width)
        parts["on_duty_hours"].append(np.asarray(team.on_duty_hours()))
    return pd.DataFrame({name: np.concatenate(arrays) for name, arrays in parts.items()})


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
