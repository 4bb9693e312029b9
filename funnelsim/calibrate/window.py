"""The recording window of an export's outcomes, and the chain of its dated funnel stages.

Outcome dates (later stages, close) may start or stop well inside the export; conversions
are then fitted on the records created where they were recorded, censored at its end.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funnelsim.calibrate.mapping import STAGES, Mapping
from funnelsim.calibrate.stagedates import SALES
from funnelsim.calibrate.survival import Tally, tally

DAY = pd.Timedelta(days=1)
WINDOW_MIN_EVENTS = 20
WINDOW_EXPECTED = 10.0
WINDOW_MIN_GAP = pd.Timedelta(days=14)


@dataclass(frozen=True)
class RecordingWindow:
    """Created dates whose outcomes the export records: conversions are fitted on records
    created in [start, end), with outcomes seen up to ``end`` (the censoring date)."""

    start: pd.Timestamp
    end: pd.Timestamp
    notes: tuple[str, ...] = ()

    def cohort(self, records: pd.DataFrame) -> pd.DataFrame:
        """Records created in the window, as they stood at its end."""
        created = records["created"]
        inside = records[(created >= self.start) & (created < self.end)]
        return truncate(inside, self.end).reset_index(drop=True)


def recording_window(
    cohort: pd.DataFrame,
    chain: tuple[str, ...],
    mapping: Mapping,
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> RecordingWindow:
    """Where outcome dates (later stages, close) start or stop well inside the export.

    For each outcome column, the share that ever reaches it and the time it takes are
    estimated (Kaplan-Meier) from the records created after its first date; if the records
    created before that date should have produced at least WINDOW_EXPECTED outcomes
    before it and produced none, and it comes at least WINDOW_MIN_GAP after the start, the
    outcome was not recorded then, and the window starts at its first date. Likewise at
    the end: no outcome in the last WINDOW_MIN_GAP or more while at least WINDOW_EXPECTED
    were due means recording stopped there.
    """
    columns = [*chain[1:], *(["close"] if mapping.stages.close is not None else [])]
    notes = []
    created = cohort["created"]
    for column in columns:
        dates = cohort[column].dropna()
        if len(dates) < WINDOW_MIN_EVENTS:
            continue
        first, last = dates.min().normalize(), dates.max()
        after = created >= first
        curve = _time_to(cohort[after], column, end)
        due = curve(first - created[~after]).sum()
        if due >= WINDOW_EXPECTED and first - start >= WINDOW_MIN_GAP:
            start = first
            notes.append(
                f"{_field(column)}: outcomes are recorded only from {first.date()} (none "
                f"before it, while {due:.0f} were due from earlier records): conversions "
                f"and times are fitted on the {int((created >= first).sum())} records "
                "created from then on"
            )
        stop = last.normalize() + DAY
        before = created < stop
        seen = curve(stop - created[before]).sum()
        due = curve(end - created).sum() - seen
        if due >= WINDOW_EXPECTED and end - stop >= WINDOW_MIN_GAP:
            end = stop
            notes.append(
                f"{_field(column)}: outcomes stop after {last.date()} (none after it, while "
                f"{due:.0f} were due by the export date): records are followed up to then"
            )
    return RecordingWindow(start, end, tuple(notes))


def _field(column: str) -> str:
    return f"stages.{column}"


def _time_to(frame: pd.DataFrame, column: str, end: pd.Timestamp):
    """The chance a record reaches ``column`` within a given age: Kaplan-Meier on the
    records of ``frame`` (open ones censored at ``end``), as a vectorised step function."""
    reached = frame[column].notna().to_numpy()
    finish = frame[column].where(frame[column].notna(), end)
    days = ((finish - frame["created"]) / DAY).to_numpy(dtype=float)
    t = tally(np.maximum(days, 0.0), reached.astype(int), outcomes=1)
    converted = 1.0 - np.cumprod(_survival_factors(t))

    def curve(ages: pd.Series) -> np.ndarray:
        x = (ages / DAY).to_numpy(dtype=float)
        index = np.searchsorted(t.times, x, side="right") - 1
        return np.where(index >= 0, converted[np.maximum(index, 0)], 0.0)

    return curve


def _survival_factors(t: Tally) -> np.ndarray:
    per_time = t.counts.sum(axis=0)
    at_risk = t.n - np.cumsum(per_time) + per_time
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(at_risk > 0, 1.0 - t.counts[1] / at_risk, 1.0)


def truncate(records: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The records as they stood at ``as_of``: later stage and close dates blank, and a
    record closed after it still open."""
    out = records.copy()
    sales = [c for c in out.columns if str(c).startswith(SALES)]
    for stage in (*STAGES[1:], *sales, "close"):
        if stage in out:
            late = out[stage] >= as_of
            if stage == "close":
                out.loc[late & out["status"].isin(["won", "lost"]), "status"] = "open"
            out.loc[late, stage] = pd.NaT
    return out


def _chain(mapping: Mapping) -> tuple[str, ...]:
    """The dated stages in funnel order, starting at the entry stage."""
    entry = STAGES.index(mapping.created_stage)
    dated = [s for s in STAGES[entry + 1 :] if getattr(mapping.stages, s) is not None]
    return (mapping.created_stage, *dated)


def _stage_date(frame: pd.DataFrame, chain: tuple[str, ...], stage: str) -> pd.Series:
    return frame["created"] if stage == chain[0] else frame[stage]
