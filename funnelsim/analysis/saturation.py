"""Saturated teams: a team busy above ~90% for a quarter builds a queue that caps every fix.

From the weekly team levels (wall-clock occupancy and mean queue length) to quarters, and
from quarters to one warning line per saturated team, naming the queue it builds. Pure
functions: a ledger (or stacked per-replication tables) in, a DataFrame or text out.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from funnelsim.analysis._common import QUARTER_HOURS, group_sums, per_ledger
from funnelsim.engine.ledger import Ledger
from funnelsim.engine.teams import HOURS_PER_WEEK
from funnelsim.scenario.models import Scenario

SATURATED_OCCUPANCY = 0.9
LOAD_COLUMNS = ("team", "quarter", "occupancy", "queue_length")


def quarterly_load(ledger: Ledger) -> pd.DataFrame:
    """Per team and quarter: mean occupancy and mean queue length (weeks weighted by days).

    Quarters are 1-based, a quarter being a fourth of a 365-day year from the start; a
    week belongs to the quarter its middle falls in.
    """
    return per_ledger("quarterly_load", ledger, lambda: _quarterly_load(ledger))


def _quarterly_load(ledger: Ledger) -> pd.DataFrame:
    levels = ledger.team_levels
    horizon = float(ledger.meta["horizon_hours"])
    if levels.empty:
        return pd.DataFrame({name: [] for name in LOAD_COLUMNS})
    begin = levels["week"].to_numpy(dtype=float) * HOURS_PER_WEEK
    width = np.clip(horizon - begin, 0.0, HOURS_PER_WEEK)
    keep = width > 0
    team = levels["team"].to_numpy()[keep]
    width = width[keep]
    quarter = ((begin[keep] + width / 2) // QUARTER_HOURS).astype(np.int64) + 1
    # Groups (team, quarter) in the order they first appear, as groupby(sort=False) has them.
    team_code = pd.factorize(team)[0]
    _, first, cell = np.unique(
        team_code * (int(quarter.max(initial=0)) + 1) + quarter,
        return_index=True,
        return_inverse=True,
    )
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    cell = rank[cell]
    first = np.sort(first)
    n = len(first)
    occupancy = levels["occupancy"].to_numpy(dtype=float)[keep] * width
    queue = levels["queue_length"].to_numpy(dtype=float)[keep] * width
    weight, occupancy, queue = group_sums(cell, np.column_stack([width, occupancy, queue]), n).T
    return pd.DataFrame(
        {
            "team": team[first],
            "quarter": quarter[first],
            "occupancy": occupancy / weight,
            "queue_length": queue / weight,
        }
    )


def saturation(load: pd.DataFrame, threshold: float = SATURATED_OCCUPANCY) -> pd.DataFrame:
    """Teams whose mean occupancy reached ``threshold`` in at least one quarter.

    ``load`` is :func:`quarterly_load`'s table, optionally stacked over replications (a
    ``replication`` column is averaged out first). One row per saturated team: team,
    quarters (how many), first_quarter, peak_occupancy, mean_queue (over its saturated
    quarters) and peak_queue (the largest quarterly mean queue).
    """
    columns = ["team", "quarters", "first_quarter", "peak_occupancy", "mean_queue", "peak_queue"]
    if load.empty:
        return pd.DataFrame({name: [] for name in columns})
    mean = load.groupby(["team", "quarter"], sort=False)[["occupancy", "queue_length"]].mean()
    rows = []
    for team, quarters in mean.groupby(level="team", sort=False):
        hot = quarters[quarters["occupancy"] >= threshold]
        if hot.empty:
            continue
        rows.append(
            (
                team,
                len(hot),
                int(hot.index.get_level_values("quarter").min()),
                float(quarters["occupancy"].max()),
                float(hot["queue_length"].mean()),
                float(quarters["queue_length"].max()),
            )
        )
    return pd.DataFrame(rows, columns=columns).astype({"quarters": np.int64})


def queue_names(scenario: Scenario) -> dict[str, str]:
    """What waits in each team's queue, by the stage the scenario gives the team."""
    names = {
        scenario.seam3.team: "customers waiting for onboarding",
        scenario.seam2.team: "won deals waiting for their contract",
        scenario.sales.team: "SQLs waiting for an AE",
    }
    if scenario.seam1.fallback_team:
        names.setdefault(scenario.seam1.fallback_team, "re-routed MQLs waiting for a response")
    names[scenario.seam1.team] = "MQLs waiting for a first response"
    return names


def saturation_warnings(table: pd.DataFrame, scenario: Scenario) -> list[str]:
    """One line per saturated team (by its display name): its occupancy, for how long (from
    the quarter of the horizon it starts in, named by its first day), and the queue it
    builds."""
    waiting = queue_names(scenario)
    lines = []
    for row in table.itertuples(index=False):
        plural = "s" if row.quarters != 1 else ""
        team = scenario.teams.get(row.team)
        name = (team.label if team is not None else None) or row.team
        lines.append(
            f"{name} saturated: >= {SATURATED_OCCUPANCY:.0%} busy in {row.quarters} "
            f"quarter{plural} from {_quarter_start(scenario, row.first_quarter)} "
            f"(peak {row.peak_occupancy:.0%}); "
            f"queue of {waiting.get(row.team, 'items')} ~{row.mean_queue:,.0f} "
            f"(peak quarter {row.peak_queue:,.0f})"
        )
    return lines


def _quarter_start(scenario: Scenario, quarter: int) -> str:
    """Quarter ``quarter`` of the horizon (1 = the first) by its first day, e.g. "the
    quarter starting 5 Jul 2027": quarters are 365/4 days from the scenario's start."""
    first = scenario.start_date + dt.timedelta(hours=(quarter - 1) * QUARTER_HOURS)
    return f"the quarter starting {first.day} {first:%b %Y}"
