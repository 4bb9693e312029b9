"""The starting book from the export: the calibrated scenario starts after the export date.

Open deals in the sales cycle become ``book.opportunities`` (their stage: the last sales
stage entered, else the stage their status names, else the first; their age: days in that
stage at the export date; their amount as value when given). When the mapping says deals
are subscriptions, won deals become ``book.customers`` (amount as ARR; the term from its
column or the mapping's default; the term ends at close + terms, rolled past the start).
Records alike in every written value are one entry with their count, so counts and sums
are those of the export exactly. Every usable record counts, left-truncated ones too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from funnelsim.calibrate.fitting import Fitted
from funnelsim.calibrate.stagedates import SALES
from funnelsim.calibrate.window import DAY, _stage_date

# Days a term of ``m`` months may end after the start (the scenario's own check).
DAYS_PER_MONTH = 365 / 12
# More distinct records than this in a list (a huge export) are written compactly: one
# entry per group with empirical distributions of at most QUANTILES values (counts stay
# exact, sums become draws), so the scenario stays far below the scenario file size cap.
MAX_ENTRIES = 2000
QUANTILES = 200


@dataclass
class BookSummary:
    """What went into the book: counts and sums, and what was left out and why."""

    customers: int = 0
    arr: float = 0.0
    opportunities: int = 0
    pipeline: float = 0.0
    valued: int = 0
    notes: list[str] = field(default_factory=list)


def write_book(fitted: Fitted, data: dict[str, Any], prov: dict[str, str]) -> BookSummary:
    """``book`` from the export's open deals (and won subscriptions), and ``start_date`` the
    day after the export date when there is one; returns what went in."""
    export, mapping = fitted.export, fitted.mapping
    start = export.export_date
    summary = BookSummary()
    records = export.records
    known = records["segment"].isin(list(data["segments"])).to_numpy()
    opportunities = _opportunities(fitted, records[known], start, summary)
    customers = []
    if mapping.book.subscriptions:
        term = mapping.book.term_months
        data["seam4"]["term_months"] = term
        prov["seam4.term_months"] = "the mapping's subscription term (book.term_months)"
        customers = _customers(records[known], start, term, summary)
    outside = int((~known & (records["status"] != "lost")).sum())
    if outside:
        summary.notes.append(
            f"{outside} open or won records of segments with no record in the observation "
            "window are left out of the book (the scenario has no such segment)"
        )
    if not opportunities and not customers:
        summary.notes.append(
            "the export shows no open deal and no subscription: no book, and the scenario "
            "starts at the window's start"
        )
        return summary
    data["start_date"] = start.date().isoformat()
    prov["start_date"] = (
        "the day after the export date: the run starts from the book the export shows"
    )
    data["book"] = {"customers": customers, "opportunities": opportunities}
    prov["book"] = (
        f"from the export on {(start - DAY).date()}: {summary.customers} customers "
        f"(ARR {summary.arr:,.0f}), {summary.opportunities} open deals "
        f"({summary.valued} with an amount, pipeline {summary.pipeline:,.0f})"
    )
    return summary


def _opportunities(
    fitted: Fitted, records: pd.DataFrame, start: pd.Timestamp, summary: BookSummary
) -> list[dict[str, Any]]:
    """Open deals that entered the sales cycle, grouped by segment, stage, age and value
    (none when the export dates no opportunity: its open records are not yet deals)."""
    if fitted.chain[-1] != "opportunity":
        summary.notes.append(
            f"open records are left out: the export dates no opportunity, so an open "
            f"{fitted.chain[-1]} is not known to be a deal"
        )
        return []
    cycle_start = _stage_date(records, fitted.chain, fitted.chain[-1])
    rows = records[(records["status"] == "open") & cycle_start.notna()]
    entered = cycle_start[rows.index]
    stage = pd.Series(None, index=rows.index, dtype=object)
    names = list(fitted.mapping.sales_stages or {})
    if names:
        stage[:] = names[0]
        by_status = {name.lower(): name for name in names}
        if "status_value" in rows:
            named = rows["status_value"].str.lower().map(by_status)
            stage = named.where(named.notna(), stage)
        for name in names:
            dated = rows[SALES + name].notna()
            stage[dated] = name
            entered = entered.where(~dated, rows[SALES + name])
    age = ((start - entered) / DAY).round(2).clip(lower=0.0)
    value = rows["amount"].where(rows["amount"] > 0)
    frame = pd.DataFrame(
        {"segment": rows["segment"], "stage": stage, "age_days": age, "value": value.round(2)}
    )
    summary.opportunities = len(frame)
    summary.valued = int(value.notna().sum())
    summary.pipeline = float(value.round(2).sum())
    groups = _groups(frame)
    if len(groups) > MAX_ENTRIES:
        summary.notes.append(_compact_note(len(frame), "open deals", "segment and stage"))
        return _compact_opportunities(frame)
    out = []
    for (segment, where, days, amount), count in groups.items():
        entry: dict[str, Any] = {"segment": segment, "count": count}
        if where is not None:
            entry["stage"] = where
        entry["age_days"] = {"dist": "fixed", "value": float(days)}
        if amount is not None:
            entry["value"] = {"dist": "fixed", "value": float(amount)}
        out.append(entry)
    return out


def _customers(
    records: pd.DataFrame, start: pd.Timestamp, term: int, summary: BookSummary
) -> list[dict[str, Any]]:
    """Won subscriptions with an amount: ARR and the end of the term in force at the start."""
    won = records[(records["status"] == "won") & (records["amount"] > 0) & records["close"].notna()]
    if "term_months" in won:
        months = won["term_months"].where(won["term_months"] >= 1, term).round().astype(int)
    else:
        months = pd.Series(term, index=won.index)
    ends = [_term_end(close, m, start) for close, m in zip(won["close"], months, strict=True)]
    last = (start + pd.Timedelta(days=int(term * DAYS_PER_MONTH))).normalize()
    ends = pd.Series(ends, index=won.index, dtype="datetime64[ns]")
    clipped = int(((ends > last) & (months > term)).sum())
    if clipped:
        summary.notes.append(
            f"{clipped} customers have terms longer than {term} months ending more than "
            f"one such term after the start: their term end is set to {last.date()}, the "
            "latest the scenario allows (a calendar term of a leap year is cut a day too)"
        )
    ends = ends.clip(upper=last)
    arr = won["amount"].round(2)
    frame = pd.DataFrame({"segment": won["segment"], "arr": arr, "term_end": ends.dt.date})
    summary.customers = len(frame)
    summary.arr = float(arr.sum())
    groups = _groups(frame)
    if len(groups) > MAX_ENTRIES:
        summary.notes.append(_compact_note(len(frame), "customers", "segment"))
        months = (ends - start) / DAY / DAYS_PER_MONTH
        return [
            {
                "segment": segment,
                "count": len(rows),
                "arr": _empirical(rows["arr"]),
                "months_to_renewal": _empirical(months[rows.index]),
            }
            for segment, rows in frame.groupby("segment", sort=True)
        ]
    return [
        {
            "segment": segment,
            "count": count,
            "arr": {"dist": "fixed", "value": float(value)},
            "term_end": end.isoformat(),
        }
        for (segment, value, end), count in groups.items()
    ]


def _compact_opportunities(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One entry per segment, stage and whether an amount is known."""
    out = []
    keys = [frame["segment"], frame["stage"].fillna(""), frame["value"].notna()]
    for (segment, stage, valued), rows in frame.groupby(keys, sort=True):
        entry: dict[str, Any] = {"segment": segment, "count": len(rows)}
        if stage:
            entry["stage"] = stage
        entry["age_days"] = _empirical(rows["age_days"])
        if valued:
            entry["value"] = _empirical(rows["value"])
        out.append(entry)
    return out


def _empirical(values: pd.Series) -> dict[str, Any]:
    """The values, or QUANTILES evenly spaced quantiles of them, as an empirical spec."""
    data = values.to_numpy(dtype=float)
    if len(data) > QUANTILES:
        data = np.quantile(data, (np.arange(QUANTILES) + 0.5) / QUANTILES)
    return {"dist": "empirical", "samples": [round(float(v), 2) for v in np.sort(data)]}


def _compact_note(records: int, what: str, by: str) -> str:
    return (
        f"{records} {what} in more than {MAX_ENTRIES} distinct entries: written as one "
        f"entry per {by} with empirical distributions of at most {QUANTILES} quantiles "
        "(counts exact; ARR, values, ages and renewals drawn from them)"
    )


def _term_end(close: pd.Timestamp, months: int, start: pd.Timestamp) -> pd.Timestamp:
    """The first ``close + k * months`` (k >= 1) after the start day."""
    elapsed = (start.year - close.year) * 12 + (start.month - close.month)
    k = max(1, elapsed // months)
    end = close.normalize() + pd.DateOffset(months=k * months)
    while end <= start:
        k += 1
        end = close.normalize() + pd.DateOffset(months=k * months)
    return end


def _groups(frame: pd.DataFrame) -> dict[tuple, int]:
    """Counts of alike rows (NaN and None as None), in first-seen order."""
    keys = frame.astype(object).where(frame.notna(), None)
    out: dict[tuple, int] = {}
    for row in keys.itertuples(index=False, name=None):
        out[row] = out.get(row, 0) + 1
    return out
