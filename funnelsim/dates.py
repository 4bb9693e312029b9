"""Calendar dates beside the ledger's hours: what ``.with_dates()`` adds to a table.

The engine keeps times as float hours since the scenario's start date (fast, columnar);
an analyst resampling by month wants datetimes. ``with_dates`` puts a ``datetime64``
column beside every hours column of a ledger table: ``created`` -> ``created_date``,
``mql_time`` -> ``mql_date``, ``time`` -> ``date``; a lead that never got there is NaT.
Team levels get ``week_start`` (the date their week begins).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from funnelsim.engine.ledger import TIME_COLUMNS

# Hours columns of the ledger's tables besides the leads' (terms, staff, attempts, capacity).
OTHER_HOURS = ("start", "end", "paid_time", "time")
HOURS_COLUMNS = (*TIME_COLUMNS, *OTHER_HOURS)


def date_column(name: str) -> str:
    """The name of the datetime column beside an hours column."""
    if name == "time":
        return "date"
    return f"{name.removesuffix('_time')}_date"


def with_dates(frame: pd.DataFrame, start_date: dt.date | str) -> pd.DataFrame:
    """A copy of a ledger table with a datetime column right after each hours column.

    Columns the table already has (the capacity table's ``date``) are left as they are.
    """
    start = pd.Timestamp(start_date)
    table = frame.copy()
    for name in [c for c in frame.columns if c in HOURS_COLUMNS]:
        target = date_column(name)
        if target in table.columns:
            continue
        dates = start + pd.to_timedelta(table[name].astype(float), unit="h").dt.round("s")
        table.insert(table.columns.get_loc(name) + 1, target, dates)
    if "week" in table.columns and "week_start" not in table.columns:
        weeks = pd.to_timedelta(7 * table["week"].astype(float), unit="D")
        table.insert(table.columns.get_loc("week") + 1, "week_start", start + weeks)
    return table
