"""Team load: how busy each team was and how long its queue grew, to find bottlenecks.

A pure function of the ledger's metadata (busy slot-hours, slots) and weekly team levels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.analysis._common import horizon_hours
from funnelsim.engine.ledger import Ledger


def utilization(ledger: Ledger) -> pd.DataFrame:
    """Per team: slots, occupancy, utilization, mean and max weekly queue length.

    Occupancy is wall-clock: busy slot-hours / (slots x horizon hours), counting a slot
    held over a night or weekend. Utilization is against paid hours: the hours items held
    slots while their heads were on duty / (slots per head x the person-hours the heads
    were on duty: their shifts and paid overtime, while employed and not on leave). NaN
    for a team with no slots. mean_queue and max_queue are over the weekly mean queue
    lengths.
    """
    horizon = horizon_hours(ledger)
    busy = ledger.meta["team_busy_hours"]
    work = ledger.meta["team_work_hours"]
    open_hours = ledger.meta["team_open_hours"]
    on_duty = ledger.meta.get("team_duty_slot_hours", {})
    slots = ledger.meta["team_slots"]
    levels = ledger.team_levels
    queue = levels.groupby("team", sort=False)["queue_length"].agg(["mean", "max"])
    rows = []
    for team in slots:
        n_slots = int(slots[team])
        # A team whose headcount changes offers the slot-hours its present heads held.
        capacity = float(ledger.meta.get("team_slot_hours", {}).get(team, n_slots * horizon))
        occupancy = float(busy.get(team, 0.0)) / capacity if capacity > 0 else np.nan
        if team in on_duty:
            available = float(on_duty[team])
        else:  # a ledger written before shifts: every head on duty whenever the calendar is open
            available = capacity / horizon * float(open_hours.get(team, 0.0)) if horizon else 0.0
        used = float(work.get(team, 0.0)) / available if available > 0 else np.nan
        mean_queue, max_queue = (
            (float(queue.at[team, "mean"]), float(queue.at[team, "max"]))
            if team in queue.index
            else (np.nan, np.nan)
        )
        rows.append((team, n_slots, occupancy, used, mean_queue, max_queue))
    columns = ["team", "slots", "occupancy", "utilization", "mean_queue", "max_queue"]
    table = pd.DataFrame(rows, columns=columns)
    return table.astype({"slots": np.int64})
