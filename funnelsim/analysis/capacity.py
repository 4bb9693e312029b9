"""Capacity headroom and saturation: how much more work each team could have taken in a run.

Two uses, both from the same run:

- *Headroom* bounds attributed leakage. A lead lost at a seam is only worth what existing
  capacity could have turned into revenue, so each queued stage that gates revenue (first
  response, sales, deal desk) can take at most ``items x (1 - utilization) /
  utilization`` more items: the slot-hours it left idle divided by the slot-hours an item
  used on average. A team that works items (``work_time``: SDRs, deal desk) has its paid
  hours as capacity, its heads' on-duty hours in the weekly team levels, and an item uses
  the work time's mean: nights and weekends off shift are no capacity (wall-clock, an
  office-hours team looks far less occupied than it is busy on shift, and was credited
  with room its paid hours do not have). A team that holds items through a stage (AEs)
  keeps them around the clock: its wall-clock occupancy. Both come from the tables a
  results folder keeps, so a report read back from one gives the same figures. It is an
  upper bound (perfect packing, no queueing), never an estimate of what a fix would
  really bring; that is the counterfactual's job.
- *Saturation* names a team that ran above :data:`SATURATED` occupancy (wall-clock, from
  the weekly team levels) for a quarter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.analysis._common import group_sums, horizon_hours, per_ledger
from funnelsim.analysis.saturation import SATURATED_OCCUPANCY, quarterly_load
from funnelsim.engine.ledger import Ledger
from funnelsim.engine.teams import HOURS_PER_WEEK
from funnelsim.scenario.models import Scenario

SATURATED = SATURATED_OCCUPANCY
# The queued stages that gate revenue, in the order a lead meets them, and the ledger
# column that records an item's start there.
GATING_STAGES: tuple[tuple[str, str], ...] = (
    ("first_response", "first_response"),
    ("sales", "ae_start"),
    ("deal_desk", "contract_done"),
)


def stage_teams(scenario: Scenario) -> dict[str, tuple[str, ...]]:
    """The teams serving each gating stage (seam 1's team and its fallback share the first)."""
    first = (scenario.seam1.team, scenario.seam1.fallback_team)
    return {
        "first_response": tuple(dict.fromkeys(t for t in first if t is not None)),
        "sales": (scenario.sales.team,),
        "deal_desk": (scenario.seam2.team,),
    }


def downstream_teams(scenario: Scenario, seams: tuple[int, ...]) -> tuple[str, ...]:
    """Teams that take more work when these seams are fixed: the teams after the first one.

    Fixing seam 1 sends more leads to sales, the deal desk and onboarding; fixing seam 2
    sends more customers to onboarding; seams 3 and 4 lose customers, not work.
    """
    chain = (scenario.sales.team, scenario.seam2.team, scenario.seam3.team)
    first = min(seams) if seams else 5
    start = {1: 0, 2: 2}.get(first, len(chain))
    return tuple(dict.fromkeys(chain[start:]))


def team_occupancy(ledger: Ledger) -> pd.Series:
    """Each team's wall-clock occupancy over the horizon (weeks weighted by their length)."""
    return per_ledger("team_occupancy", ledger, lambda: _team_occupancy(ledger)).copy()


def _team_occupancy(ledger: Ledger) -> pd.Series:
    levels = ledger.team_levels
    if levels.empty:
        return pd.Series(dtype=float)
    width = _week_widths(levels["week"].to_numpy(), horizon_hours(ledger))
    busy = levels["occupancy"].to_numpy(dtype=float) * width
    code, teams = pd.factorize(levels["team"].to_numpy())  # teams in order of appearance
    busy, width = group_sums(code, np.column_stack([busy, width]), len(teams)).T
    share = busy / width
    return pd.Series(share, index=pd.Index(teams, name="team"), name="occupancy")


def peak_occupancy(ledger: Ledger) -> pd.Series:
    """Each team's highest quarterly occupancy: above :data:`SATURATED` it saturated."""
    table = quarterly_load(ledger)
    code, teams = pd.factorize(table["team"].to_numpy())
    peak = np.full(len(teams), -np.inf)
    np.maximum.at(peak, code, table["occupancy"].to_numpy(dtype=float))
    return pd.Series(peak, index=pd.Index(teams, name="team"), name="peak_occupancy")


def headroom(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """Per gating stage: items its teams served, their utilization and the extra items they
    could have taken with the idle paid hours of the same run.

    Columns stage, items, utilization (items-weighted over the stage's teams: for a team
    with a ``work_time``, items x its mean over the heads' paid slot-hours; else the
    wall-clock occupancy) and spare_items (``items x (1 - utilization) / utilization``
    summed over the stage's teams; infinite for a team that served nothing or a stage
    without teams, since nothing bounds it). Items are leads that started at the stage
    within the horizon: a first response, an AE's start, a finished contract.
    """
    rows = _headroom_rows(ledger, scenario)
    table = pd.DataFrame(rows, columns=["stage", "items", "utilization", "spare_items"])
    return table.astype({"items": np.int64})


def spare_items(ledger: Ledger, scenario: Scenario) -> dict[str, float]:
    """:func:`headroom`'s spare items per gating stage, without the frame."""
    return {row[0]: row[3] for row in _headroom_rows(ledger, scenario)}


def _headroom_rows(ledger: Ledger, scenario: Scenario) -> list[tuple[str, int, float, float]]:
    occupancy = per_ledger("team_occupancy", ledger, lambda: _team_occupancy(ledger))
    paid = per_ledger("team_paid_slot_hours", ledger, lambda: _paid_slot_hours(ledger, scenario))
    c = ledger.columns
    rerouted = c["rerouted"].astype(bool)
    teams = stage_teams(scenario)
    rows = []
    for stage, column in GATING_STAGES:
        started = np.isfinite(c[column])
        spare, items, weighted = 0.0, 0, 0.0
        for position, team in enumerate(teams[stage]):
            mine = started
            if stage == "first_response" and len(teams[stage]) > 1:
                mine = started & (rerouted if position == 1 else ~rerouted)
            n = int(mine.sum())
            used = _utilization(scenario, team, n, paid, occupancy)
            spare += _spare(n, used)
            items += n
            weighted += n * (used if np.isfinite(used) else 0.0)
        if not teams[stage]:
            spare = np.inf
        rows.append((stage, items, weighted / items if items else np.nan, spare))
    return rows


def _paid_slot_hours(ledger: Ledger, scenario: Scenario) -> pd.Series:
    """Per team, the slot-hours its heads were on duty (shifts and paid overtime, from the
    weekly team levels); empty for levels without on-duty hours."""
    levels = ledger.team_levels
    if levels.empty or "on_duty_hours" not in levels.columns:
        return pd.Series(dtype=float)
    code, teams = pd.factorize(levels["team"].to_numpy())
    hours = group_sums(code, levels["on_duty_hours"].to_numpy(dtype=float), len(teams))
    per_head = [scenario.teams[t].capacity_per_head if t in scenario.teams else 1 for t in teams]
    return pd.Series(hours * np.asarray(per_head, dtype=float), index=pd.Index(teams))


def _utilization(
    scenario: Scenario, team: str, items: int, paid: pd.Series, occupancy: pd.Series
) -> float:
    """A team's share of its capacity used: a working team's expected work over its paid
    slot-hours, a stage-holding team's wall-clock occupancy."""
    spec = scenario.teams.get(team)
    hours = float(paid.get(team, np.nan))
    if spec is not None and spec.work_time is not None and np.isfinite(hours):
        return items * spec.work_time.mean() / hours if hours > 0 else np.nan
    return float(occupancy.get(team, np.nan))


def _spare(items: int, utilization: float) -> float:
    """Extra items a team could have taken: idle paid slot-hours over those an item used."""
    if items == 0 or not np.isfinite(utilization) or utilization <= 0:
        return np.inf
    return items * max(0.0, 1.0 - utilization) / utilization


def _week_widths(weeks: np.ndarray, horizon: float) -> np.ndarray:
    """Hours of each week inside the horizon (the last week may be short)."""
    weeks = np.asarray(weeks, dtype=float)
    return np.clip(horizon - weeks * HOURS_PER_WEEK, 0.0, HOURS_PER_WEEK)
