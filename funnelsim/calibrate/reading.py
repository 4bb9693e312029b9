"""Reading a CRM export through a mapping: clean records plus every row problem, by reason.

Nothing is dropped silently: each row that cannot be used (or can be used only in part) is
counted under a reason, and the reasons travel with the records into the fit report.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from funnelsim.calibrate.mapping import Mapping, MappingError

DATE_STAGES = ("mql", "sql", "opportunity", "close")
EXCLUDED = "excluded"
PARTLY = "partly used"
REASONS = {
    "missing_id": (EXCLUDED, "no record id"),
    "duplicate_id": (EXCLUDED, "id seen before; the first row is kept"),
    "missing_created_date": (EXCLUDED, "no created date: cannot be placed in time"),
    "bad_created_date": (EXCLUDED, "created date matches none of the date formats"),
    "unknown_status": (EXCLUDED, "status value listed under none of won, lost, open"),
    "created_after_export": (EXCLUDED, "created after the export date"),
    "stages_out_of_order": (EXCLUDED, "a stage date falls before an earlier stage's date"),
    "closed_without_close_date": (EXCLUDED, "won, or lost as an opportunity, but no close date"),
    "bad_stage_date": (PARTLY, "a stage date matches no format; that date is left blank"),
    "open_with_close_date": (PARTLY, "status open but a close date is set; close date ignored"),
    "amount_not_numeric": (PARTLY, "won, but the amount is missing or not a number"),
    "left_truncated": (PARTLY, "created before window_start: used for deal values and owners"),
}


@dataclass(frozen=True)
class Export:
    """Usable records (one row each, typed) and the row problems found while reading."""

    records: pd.DataFrame
    issues: pd.DataFrame
    export_date: pd.Timestamp
    start_date: pd.Timestamp
    n_rows: int
    date_formats_used: dict[str, int]

    @property
    def cohort(self) -> pd.DataFrame:
        """Records inside the observation window (not left-truncated)."""
        return self.records[self.records["in_window"]]

    def issue_count(self, reason: str) -> int:
        """Rows counted under ``reason`` (0 if none)."""
        match = self.issues.loc[self.issues["reason"] == reason, "rows"]
        return int(match.iloc[0]) if len(match) else 0


def read_export(path: str | Path, mapping: Mapping) -> Export:
    """Read the CSV at ``path`` through ``mapping``; raise MappingError on unusable input."""
    path = Path(path)
    if not path.is_file():
        raise MappingError(f"{path}: no such export file")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MappingError(f"{path}: not a readable CSV export ({first})") from None
    return parse_export(raw, mapping)


def parse_export(raw: pd.DataFrame, mapping: Mapping) -> Export:
    """Turn a raw all-string frame into typed records and counted issues."""
    raw = raw.rename(columns=lambda c: str(c).strip())
    _check_columns(raw, mapping)
    n_rows = len(raw)
    text = {
        field: raw[column].astype(str).str.strip() for field, column in mapping.columns().items()
    }
    counts: dict[str, int] = dict.fromkeys(REASONS, 0)
    keep = np.ones(n_rows, dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        hit = mask & keep
        counts[reason] += int(hit.sum())
        keep[hit] = False

    ids = text["id"]
    drop((ids == "").to_numpy(), "missing_id")
    dup = ids.duplicated(keep="first").to_numpy() & (ids != "").to_numpy()
    drop(dup, "duplicate_id")

    used_formats: dict[str, int] = dict.fromkeys(mapping.date_formats, 0)
    created_text = text["created"]
    created = _parse_dates(created_text, mapping.date_formats, used_formats)
    drop((created_text == "").to_numpy(), "missing_created_date")
    drop(created.isna().to_numpy(), "bad_created_date")

    status = _status(text["status.column"], mapping)
    drop(status.isna().to_numpy(), "unknown_status")

    dates = {"created": created}
    for stage, _column in mapping.stage_columns():
        values = text[f"stages.{stage}"]
        parsed = _parse_dates(values, mapping.date_formats, used_formats)
        bad = (values != "").to_numpy() & parsed.isna().to_numpy()
        counts["bad_stage_date"] += int((bad & keep).sum())
        dates[stage] = parsed

    frame = pd.DataFrame({"id": ids})
    for name in ("created", *DATE_STAGES):
        frame[name] = dates.get(name, pd.Series(pd.NaT, index=raw.index, dtype="datetime64[ns]"))
    frame["status"] = status

    open_close = (frame["status"] == "open").to_numpy() & frame["close"].notna().to_numpy()
    counts["open_with_close_date"] += int((open_close & keep).sum())
    frame.loc[open_close, "close"] = pd.NaT

    all_dates = frame.loc[keep, ["created", *DATE_STAGES]]
    if mapping.export_date is not None:
        export_date = pd.Timestamp(mapping.export_date) + pd.Timedelta(days=1)
    else:
        latest = all_dates.max().max()
        if pd.isna(latest):
            raise MappingError(f"{mapping.created}: no usable created dates in the export")
        export_date = pd.Timestamp(latest)
    drop((frame["created"] > export_date).to_numpy(), "created_after_export")
    later_than_export = (frame[list(DATE_STAGES)] > export_date).any(axis=1).to_numpy()
    drop(later_than_export, "created_after_export")
    drop(_out_of_order(frame), "stages_out_of_order")
    if mapping.stages.close is not None:
        closed = frame["status"].isin(["won", "lost"]).to_numpy()
        if mapping.created_stage != "opportunity":  # leads lost before the opportunity
            reached = frame["opportunity"].notna() | (frame["status"] == "won")
            closed = closed & reached.to_numpy()
        drop(closed & frame["close"].isna().to_numpy(), "closed_without_close_date")

    frame["amount"] = _amounts(text.get("amount"), n_rows)
    won = (frame["status"] == "won").to_numpy()
    counts["amount_not_numeric"] += int((won & frame["amount"].isna().to_numpy() & keep).sum())
    if mapping.amount is None:
        counts["amount_not_numeric"] = 0
    frame["owner"] = text.get("owner", "")
    frame["source"] = _names(text.get("source"), mapping.default_source, n_rows)
    frame["segment"] = _names(text.get("segment"), mapping.default_segment, n_rows)

    records = frame[keep].reset_index(drop=True)
    start = (
        pd.Timestamp(mapping.window_start)
        if mapping.window_start is not None
        else records["created"].min().normalize()
    )
    records["in_window"] = records["created"] >= start
    counts["left_truncated"] = int((~records["in_window"]).sum())
    if not records["in_window"].any():
        raise MappingError(f"window_start: no usable record is created on or after {start.date()}")
    issues = pd.DataFrame(
        [(reason, counts[reason], *REASONS[reason]) for reason in REASONS if counts[reason]],
        columns=["reason", "rows", "effect", "meaning"],
    )
    return Export(records, issues, export_date, start, n_rows, used_formats)


def _check_columns(raw: pd.DataFrame, mapping: Mapping) -> None:
    """Every mapped column must exist; else name the field and suggest a close column."""
    columns = list(raw.columns)
    for field, column in mapping.columns().items():
        if column not in columns:
            close = difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f" (columns: {columns})"
            raise MappingError(f"{field}: column '{column}' is not in the export{hint}")


def _parse_dates(values: pd.Series, formats: tuple[str, ...], used: dict[str, int]) -> pd.Series:
    """Parse each value with the first format that fits (mixed formats allowed); else NaT."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    todo = values != ""
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(values[todo], format=fmt, errors="coerce")
        ok = parsed.notna()
        out.loc[ok[ok].index] = parsed[ok]
        used[fmt] = used.get(fmt, 0) + int(ok.sum())
        todo = todo & out.isna()
    return out


def _status(values: pd.Series, mapping: Mapping) -> pd.Series:
    """Map raw status values to won / lost / open (case-insensitive); None if unknown."""
    lookup = {}
    for kind in ("won", "lost", "open"):
        for value in getattr(mapping.status, kind):
            lookup[value.strip().lower()] = kind
    return values.str.lower().map(lookup)


def _out_of_order(frame: pd.DataFrame) -> np.ndarray:
    """Rows where a present stage date precedes a present earlier one."""
    bad = np.zeros(len(frame), dtype=bool)
    latest = frame["created"].to_numpy()
    for stage in DATE_STAGES:
        current = frame[stage].to_numpy()
        present = ~np.isnat(current)
        with np.errstate(invalid="ignore"):
            bad |= present & ~np.isnat(latest) & (current < latest)
        latest = np.where(present, current, latest)
    return bad


def _amounts(values: pd.Series | None, n_rows: int) -> pd.Series:
    """Amounts as floats: currency signs and thousands separators stripped; else NaN."""
    if values is None:
        return pd.Series(np.nan, index=range(n_rows))
    cleaned = values.str.replace(r"[\s$€£,]", "", regex=True).str.replace(
        r"^[A-Z]{3}", "", regex=True
    )
    return pd.to_numeric(cleaned, errors="coerce")


def _names(values: pd.Series | None, default: str, n_rows: int) -> pd.Series:
    """Category names (source, segment) as clean identifiers; blank means the default."""
    if values is None:
        return pd.Series(default, index=range(n_rows))
    slug = values.str.strip().str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")
    return slug.where(slug != "", default)
