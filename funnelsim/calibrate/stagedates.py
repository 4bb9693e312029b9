"""Sales-stage dates of an export: "date entered" columns, a long stage-history file, or both.

Each deal gets the date it entered each mapped sales stage (NaT where it never did or the
export does not say). A stage column's date wins over the history's; the history keeps a
deal's first entry into a stage. Closing stages of the history (values listed as won or
lost under ``status``) are not sales stages and are left out; any other unknown name is
a mapping error, as is a stage list whose order the data contradicts.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from funnelsim.calibrate.mapping import Mapping, MappingError

# Records' column prefix of a sales stage's entry date: "sales:discovery".
SALES = "sales:"
# The share of deals with both dates whose next stage comes first that means the list is
# out of order (rather than a few rows entered wrongly), and the fewest deals to judge by.
UNORDERED_SHARE = 0.5
UNORDERED_MIN = 5


def sales_columns(mapping: Mapping) -> list[str]:
    """The records' columns of the sales-stage entry dates, in walking order."""
    return [SALES + name for name in mapping.sales_stages or {}]


def read_history(folder: Path, mapping: Mapping) -> pd.DataFrame | None:
    """The stage history as (id, stage name, date) rows, or None when none is mapped.

    A relative ``file`` is read from the export's folder. Dates use the mapping's formats;
    rows whose date parses with none of them are dropped (counted by the caller as
    ``bad_stage_date`` through the deals they would have dated).
    """
    spec = mapping.stage_history
    if spec is None:
        return None
    path = Path(spec.file)
    path = path if path.is_absolute() else folder / path
    if not path.is_file():
        raise MappingError(f"stage_history.file: no such file '{spec.file}' (looked in {path})")
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MappingError(f"stage_history.file: not a readable CSV ({first})") from None
    raw = raw.rename(columns=lambda c: str(c).strip())
    for field in ("id", "stage", "date"):
        column = getattr(spec, field)
        if column not in raw.columns:
            raise MappingError(
                f"stage_history.{field}: column '{column}' is not in the history file "
                f"(columns: {list(raw.columns)})"
            )
    names = {name.strip().lower(): name for name in mapping.sales_stages or {}}
    closing = set()
    if mapping.status is not None:
        closing = {v.strip().lower() for v in (*mapping.status.won, *mapping.status.lost)}
    given = raw[spec.stage].str.strip()
    key = given.str.lower()
    unknown = sorted(set(given[~key.isin(names) & ~key.isin(closing) & (key != "")]))
    if unknown:
        raise MappingError(
            f"stage_history.stage: '{unknown[0]}' is in none of sales_stages "
            f"{list(names.values())} (nor a won or lost status value)"
        )
    keep = key.isin(names).to_numpy()
    dates = parse_dates(raw.loc[keep, spec.date].str.strip(), mapping.date_formats)
    out = pd.DataFrame(
        {
            "id": raw.loc[keep, spec.id].str.strip().to_numpy(),
            "stage": key[keep].map(names).to_numpy(),
            "date": dates,
        }
    )
    return out.dropna(subset=["date"]).groupby(["id", "stage"], as_index=False)["date"].min()


def parse_dates(text: pd.Series, formats: tuple[str, ...]) -> np.ndarray:
    """Each value parsed with the first format that fits; NaT where none does."""
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for fmt in formats:
        todo = out.isna() & (text != "")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(text[todo], format=fmt, errors="coerce")
    return out.to_numpy(dtype="datetime64[ns]")


def history_dates(history: pd.DataFrame, ids: np.ndarray, stage: str) -> np.ndarray:
    """The history's entry date into ``stage`` for each id (NaT where it has none)."""
    rows = history[history["stage"] == stage]
    found = pd.Series(rows["date"].to_numpy(), index=rows["id"].to_numpy())
    return pd.Series(ids).map(found).to_numpy(dtype="datetime64[ns]")


def check_order(frame: pd.DataFrame, keep: np.ndarray, mapping: Mapping) -> None:
    """Refuse a stage list the data contradicts: most deals dated at two consecutive stages
    entered the later one first."""
    names = list(mapping.sales_stages or {})
    for first, second in itertools.pairwise(names):
        a, b = frame[SALES + first].to_numpy(), frame[SALES + second].to_numpy()
        both = keep & ~np.isnat(a) & ~np.isnat(b)
        backwards = int((b[both] < a[both]).sum())
        if both.sum() >= UNORDERED_MIN and backwards > UNORDERED_SHARE * both.sum():
            raise MappingError(
                f"sales_stages.{second}: dated before '{first}' in {backwards} of the "
                f"{int(both.sum())} deals dated at both; list the stages in walking order"
            )
