"""Reading a CRM export through a mapping: clean records plus every row problem, by reason.

Nothing is dropped silently: each row that cannot be used (or can be used only in part) is
counted under a reason, and the reasons travel with the records into the fit report.
"""

from __future__ import annotations

import csv
import difflib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from funnelsim.calibrate.mapping import BLANK, Mapping, MappingError
from funnelsim.calibrate.stagedates import (
    SALES,
    check_order,
    history_dates,
    read_history,
    sales_columns,
)
from funnelsim.inputs import note_input

DATE_STAGES = ("mql", "sql", "opportunity", "close")
MAX_SPAN_DAYS = 3650
OUTLIER_GAP_DAYS = 365
OUTLIER_SHARE = 0.05
NAMED_IDS = 3
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
    "after_export_date": (
        PARTLY,
        "a stage or close date after the export date: not reached then (left blank; a won "
        "or lost record closed after it is open)",
    ),
    "amount_not_numeric": (PARTLY, "won, but the amount is missing or not a number"),
    "amount_not_finite": (PARTLY, "the amount is infinite or beyond float range (e.g. 1e400)"),
    "amount_negative": (PARTLY, "the amount is negative; not used for deal values"),
    "left_truncated": (PARTLY, "created before window_start: used for deal values and owners"),
    "blank_source": (PARTLY, f"source left blank: kept as the source '{BLANK}'"),
    "blank_segment": (PARTLY, f"segment left blank: kept as the segment '{BLANK}'"),
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
    def last_day(self) -> pd.Timestamp:
        """The export date: the last day it sees (``export_date`` is the end of that day)."""
        return self.export_date - pd.Timedelta(days=1)

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
    note_input(path, "the CRM export")
    header = _read(path, nrows=0)
    _check_columns(header.rename(columns=lambda c: str(c).strip()), mapping)
    wanted = set(mapping.columns().values())
    raw = _read(path, usecols=lambda column: str(column).strip() in wanted)
    _check_row_lengths(path, len(header.columns))
    return parse_export(raw, mapping, read_history(path.parent, mapping))


def _read(path: Path, **options: object) -> pd.DataFrame:
    """The CSV as strings (only the columns asked for), or MappingError with one line."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, **options)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MappingError(f"{path}: not a readable CSV export ({first})") from None


def _check_row_lengths(path: Path, fields: int) -> None:
    """MappingError naming the first row with more fields than the header.

    pandas checks this only when it reads every column; reading just the mapped ones
    (``usecols``) drops a ragged row's extra fields without a word, so one streaming pass
    with the same CSV rules looks for them.
    """
    with path.open(newline="", encoding="utf-8", errors="replace") as file:
        reader = csv.reader(file, skipinitialspace=True)
        for row in reader:
            if len(row) > fields:
                raise MappingError(
                    f"{path}: not a readable CSV export (Expected {fields} fields in line "
                    f"{reader.line_num}, saw {len(row)})"
                )


def parse_export(
    raw: pd.DataFrame, mapping: Mapping, history: pd.DataFrame | None = None
) -> Export:
    """Turn a raw all-string frame (and the stage history's rows) into typed records and
    counted issues."""
    raw = raw.rename(columns=lambda c: str(c).strip())
    _check_columns(raw, mapping)
    n_rows = len(raw)
    text = {field: _Distinct(raw[column]) for field, column in mapping.columns().items()}
    del raw
    counts: dict[str, int] = dict.fromkeys(REASONS, 0)
    keep = np.ones(n_rows, dtype=bool)

    def drop(mask: np.ndarray, reason: str) -> None:
        hit = mask & keep
        counts[reason] += int(hit.sum())
        keep[hit] = False

    ids = text["id"]
    drop(ids.blank(), "missing_id")
    drop(ids.duplicated() & ~ids.blank(), "duplicate_id")

    used_formats: dict[str, int] = dict.fromkeys(mapping.date_formats, 0)
    created_text = text["created"]
    created = _parse_dates(created_text, mapping.date_formats, used_formats)
    _check_some_dates_parse(created_text, created, mapping)
    drop(created_text.blank(), "missing_created_date")
    drop(np.isnat(created), "bad_created_date")

    status = pd.Series(_status(text["status.column"], mapping)) if mapping.status else None
    if status is not None:
        drop(status.isna().to_numpy(), "unknown_status")

    dates = {"created": created}
    for stage, _column in mapping.stage_columns():
        values = text[f"stages.{stage}"]
        parsed = _parse_dates(values, mapping.date_formats, used_formats)
        bad = ~values.blank() & np.isnat(parsed)
        counts["bad_stage_date"] += int((bad & keep).sum())
        dates[stage] = parsed

    frame = pd.DataFrame({"id": ids.values()})
    for name in ("created", *DATE_STAGES):
        frame[name] = dates.get(name, np.full(n_rows, np.datetime64("NaT"), "datetime64[ns]"))
    for name, column in (mapping.sales_stages or {}).items():
        parsed = np.full(n_rows, np.datetime64("NaT"), "datetime64[ns]")
        if column is not None:
            values = text[f"sales_stages.{name}"]
            parsed = _parse_dates(values, mapping.date_formats, used_formats)
            counts["bad_stage_date"] += int((~values.blank() & np.isnat(parsed) & keep).sum())
        if history is not None:
            parsed = np.where(
                np.isnat(parsed), history_dates(history, frame["id"].to_numpy(), name), parsed
            )
        frame[SALES + name] = parsed
    if mapping.sales_stages and mapping.status is not None:
        frame["status_value"] = text["status.column"].values()
    if mapping.book.term_column is not None:
        frame["term_months"] = pd.to_numeric(text["book.term_column"].values(), errors="coerce")
    order = ("created", "mql", "sql", "opportunity", *sales_columns(mapping), "close")
    frame["status"] = status if status is not None else _status_from_close(frame["close"])

    open_close = (frame["status"] == "open").to_numpy() & frame["close"].notna().to_numpy()
    counts["open_with_close_date"] += int((open_close & keep).sum())
    frame.loc[open_close, "close"] = pd.NaT

    _check_usable(keep, counts, mapping)
    if mapping.export_date is not None:
        export_date = pd.Timestamp(mapping.export_date) + pd.Timedelta(days=1)
        first = frame.loc[keep, "created"].min()
        if export_date <= first:
            advice = "; set it to the day the export was taken"
            raise MappingError(
                f"{mapping.export_date_from}: {mapping.export_date} is before every usable "
                f"record (the first was created on {first.date()})"
                + (advice if mapping.export_date_from == "export_date" else "")
            )
    else:
        _check_outlying_dates(frame, keep, mapping)
        latest = pd.Timestamp(frame.loc[keep, ["created", *DATE_STAGES]].max().max())
        export_date = latest.normalize() + pd.Timedelta(days=1)
    drop((frame["created"] >= export_date).to_numpy(), "created_after_export")
    dated = [*DATE_STAGES, *sales_columns(mapping)]
    later = frame[dated] >= export_date
    counts["after_export_date"] += int((later.any(axis=1).to_numpy() & keep).sum())
    for stage in dated:
        frame.loc[later[stage], stage] = pd.NaT
    frame.loc[later["close"] & frame["status"].isin(["won", "lost"]), "status"] = "open"
    check_order(frame, keep, mapping)
    drop(_out_of_order(frame, order), "stages_out_of_order")
    if mapping.stages.close is not None:
        closed = frame["status"].isin(["won", "lost"]).to_numpy()
        if mapping.created_stage != "opportunity":  # leads lost before the opportunity
            reached = frame["opportunity"].notna() | (frame["status"] == "won")
            closed = closed & reached.to_numpy()
        drop(closed & frame["close"].isna().to_numpy(), "closed_without_close_date")
    _check_usable(keep, counts, mapping)

    amount, problems = _amounts(text.get("amount"), n_rows)
    frame["amount"] = amount
    won = (frame["status"] == "won").to_numpy()
    if mapping.amount is not None:
        counts["amount_not_numeric"] += int((won & problems["not_numeric"] & keep).sum())
        for reason in ("amount_not_finite", "amount_negative"):
            counts[reason] += int((problems[reason] & keep).sum())
    for team, column in mapping.owner_columns().items():
        field = "owner" if column == mapping.owner else f"owners.{team}"
        frame[f"owner_{team}"] = text[field].values()
    frame["source"] = _names(text.get("source"), mapping.default_source, n_rows)
    frame["segment"] = _names(text.get("segment"), mapping.default_segment, n_rows)
    counts["blank_source"] = _blank_count(text.get("source"), keep)
    counts["blank_segment"] = _blank_count(text.get("segment"), keep)

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
    _check_span(start, export_date, mapping)
    issues = pd.DataFrame(
        [(reason, counts[reason], *REASONS[reason]) for reason in REASONS if counts[reason]],
        columns=["reason", "rows", "effect", "meaning"],
    )
    return Export(records, issues, export_date, start, n_rows, used_formats)


def _check_some_dates_parse(text: _Distinct, parsed: np.ndarray, mapping: Mapping) -> None:
    """When no created date parses at all, the formats are wrong: say so, with an example."""
    given = text.uniques[text.uniques != ""]
    if len(given) and np.isnat(parsed).all():
        example = given.iloc[0][:40]
        raise MappingError(
            f"date_formats: no value of column '{mapping.created}' matches "
            f"{list(mapping.date_formats)} (e.g. {example!r}); add its format to date_formats"
        )


def _check_usable(keep: np.ndarray, counts: dict[str, int], mapping: Mapping) -> None:
    """Refuse an export with no usable row, naming what excluded them."""
    if keep.any():
        return
    excluded = sorted(
        ((rows, reason) for reason, rows in counts.items() if rows and _excludes(reason)),
        reverse=True,
    )
    detail = ", ".join(f"{reason} {rows}" for rows, reason in excluded) or "the export is empty"
    raise MappingError(f"{mapping.created}: no usable rows in the export ({detail})")


def _excludes(reason: str) -> bool:
    return REASONS[reason][0] == EXCLUDED


def _check_outlying_dates(frame: pd.DataFrame, keep: np.ndarray, mapping: Mapping) -> None:
    """With the export date taken from the data, a few rows dated far beyond all the others
    (e.g. 2099) would stretch the window: name them instead."""
    columns = ["created", *DATE_STAGES]
    latest = frame.loc[keep, columns].max(axis=1).to_numpy(dtype="datetime64[D]")
    days = np.sort(latest[~np.isnat(latest)])
    if len(days) < 2:
        return
    gaps = np.diff(days).astype(int)
    allowed = max(1, int(OUTLIER_SHARE * len(days)))
    tail = np.arange(1, len(days)) >= len(days) - allowed
    jumps = np.flatnonzero(tail & (gaps > OUTLIER_GAP_DAYS))
    if not len(jumps):
        return
    cut = pd.Timestamp(days[jumps[0]]) + pd.Timedelta(days=1)
    late = keep & (frame[columns] >= cut).any(axis=1).to_numpy()
    column = next(c for c in columns if (frame.loc[late, c] >= cut).any())
    field = "created" if column == "created" else f"stages.{column}"
    ids = ", ".join(frame.loc[late, "id"].head(NAMED_IDS))
    raise MappingError(
        f"{field}: {int(late.sum())} rows are dated far beyond the rest of the export (after "
        f"{(cut - pd.Timedelta(days=1)).date()}, up to {pd.Timestamp(days[-1]).date()}; ids "
        f"{ids}{', ...' if late.sum() > NAMED_IDS else ''}): set export_date in the mapping "
        "to the day the export was taken; rows dated after it are then counted as "
        "created_after_export"
    )


def _check_span(start: pd.Timestamp, export_date: pd.Timestamp, mapping: Mapping) -> None:
    """The window may cover at most ten years (the scenario's longest horizon); a snapshot
    date an option set too far after the window's start is named as that option."""
    span = (export_date - start) / pd.Timedelta(days=1)
    option = mapping.export_date_from
    if span > MAX_SPAN_DAYS and option != "export_date" and mapping.window_start is None:
        raise MappingError(
            f"{option}: {mapping.export_date} is {span:.0f} days after the first record "
            f"({start.date()}), more than the {MAX_SPAN_DAYS} a scenario may cover"
        )
    if span > MAX_SPAN_DAYS:
        raise MappingError(
            f"window_start: the export spans {span:.0f} days ({start.date()} to "
            f"{(export_date - pd.Timedelta(days=1)).date()}), more than the {MAX_SPAN_DAYS} "
            f"a scenario may cover; set window_start (or {option}) to keep the last ten years"
        )


def _check_columns(raw: pd.DataFrame, mapping: Mapping) -> None:
    """Every mapped column must exist; else name the field and suggest a close column."""
    columns = list(raw.columns)
    for field, column in mapping.columns().items():
        if column not in columns:
            close = difflib.get_close_matches(column, columns, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f" (columns: {columns})"
            raise MappingError(f"{field}: column '{column}' is not in the export{hint}")


class _Distinct:
    """One text column as codes into its distinct (stripped) values: every parse or lookup
    runs once per distinct value, which is what keeps million-row exports cheap."""

    def __init__(self, column: pd.Series) -> None:
        codes, uniques = pd.factorize(column.astype(str).str.strip())
        self.codes = codes
        self.uniques = pd.Series(uniques)
        self.counts = np.bincount(codes, minlength=len(uniques))

    def expand(self, per_value: np.ndarray) -> np.ndarray:
        """One result per distinct value, spread to every row."""
        return np.asarray(per_value)[self.codes]

    def values(self) -> pd.api.extensions.ExtensionArray:
        """The stripped text of every row."""
        return self.uniques.array.take(self.codes)

    def blank(self) -> np.ndarray:
        """Rows whose value is empty."""
        return self.expand((self.uniques == "").to_numpy())

    def duplicated(self) -> np.ndarray:
        """Rows whose value appeared in an earlier row."""
        return pd.Series(self.codes).duplicated(keep="first").to_numpy()


def _parse_dates(values: _Distinct, formats: tuple[str, ...], used: dict[str, int]) -> np.ndarray:
    """Parse each value with the first format that fits (mixed formats allowed); else NaT."""
    text = values.uniques
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    todo = text != ""
    for fmt in formats:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        ok = parsed.notna()
        out.loc[ok[ok].index] = parsed[ok]
        used[fmt] = used.get(fmt, 0) + int(values.counts[ok[ok].index].sum())
        todo = todo & out.isna()
    return values.expand(out.to_numpy(dtype="datetime64[ns]"))


def _status(values: _Distinct, mapping: Mapping) -> np.ndarray:
    """Map raw status values to won / lost / open (case-insensitive); None if unknown."""
    lookup = {}
    for kind in ("won", "lost", "open"):
        for value in getattr(mapping.status, kind):
            lookup[value.strip().lower()] = kind
    return values.expand(values.uniques.str.lower().map(lookup).to_numpy(dtype=object))


def _out_of_order(frame: pd.DataFrame, order: tuple[str, ...]) -> np.ndarray:
    """Rows where a present date precedes a present earlier one (``order``: the date
    columns in funnel order, created first)."""
    bad = np.zeros(len(frame), dtype=bool)
    latest = frame[order[0]].to_numpy()
    for stage in order[1:]:
        current = frame[stage].to_numpy()
        present = ~np.isnat(current)
        with np.errstate(invalid="ignore"):
            bad |= present & ~np.isnat(latest) & (current < latest)
        latest = np.where(present, current, latest)
    return bad


def _amounts(values: _Distinct | None, n_rows: int) -> tuple[pd.Series, dict[str, np.ndarray]]:
    """Amounts as floats (currency signs and thousands separators stripped) and the rows
    whose amount is not a number, not finite (inf, 1e400) or negative: those become NaN."""
    none = np.zeros(n_rows, dtype=bool)
    if values is None:
        empty = dict.fromkeys(("not_numeric", "amount_not_finite", "amount_negative"), none)
        return pd.Series(np.nan, index=range(n_rows)), empty
    cleaned = values.uniques.str.replace(r"[\s$€£,]", "", regex=True).str.replace(
        r"^[A-Z]{3}", "", regex=True
    )
    numbers = values.expand(pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float))
    amount = pd.Series(numbers)
    infinite = np.isinf(numbers)
    negative = numbers < 0
    problems = {
        "not_numeric": np.isnan(numbers),
        "amount_not_finite": infinite,
        "amount_negative": negative & ~infinite,
    }
    return amount.where(~(infinite | negative)), problems


def _names(values: _Distinct | None, default: str, n_rows: int) -> np.ndarray:
    """Category names (source, segment) as clean identifiers: ``default`` when the column is
    not mapped, BLANK for a blank (or symbols-only) value, which no slug can equal."""
    if values is None:
        return np.full(n_rows, default, dtype=object)
    slug = values.uniques.str.lower().str.replace(r"[^0-9a-z]+", "_", regex=True).str.strip("_")
    return values.expand(slug.where(slug != "", BLANK).to_numpy(dtype=object))


def _blank_count(values: _Distinct | None, keep: np.ndarray) -> int:
    """Usable rows whose value in a mapped column is blank."""
    return 0 if values is None else int((values.blank() & keep).sum())


def _status_from_close(close: pd.Series) -> pd.Series:
    """Without a status column, a record with a close date is won; the rest are open."""
    return pd.Series(np.where(close.notna(), "won", "open"), index=close.index, dtype=object)
