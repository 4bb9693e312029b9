"""Spreadsheet-safe tables: text cells a spreadsheet would run as a formula get a quote.

A CSV or XLSX cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
is read by Excel and LibreOffice as a formula (CSV/formula injection), so user text such as
a currency ``=1+2`` must not reach a file as is. The usual defence (OWASP) is to prefix a
single quote, which spreadsheets show as text. Only text cells are touched: numeric columns
(negative numbers included) stay numbers, and so does text that is a plain number.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")


def neutralise(text: str) -> str:
    """``text`` with a leading quote when a spreadsheet would read it as a formula."""
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _cell(value: object) -> object:
    return neutralise(value) if isinstance(value, str) else value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with its text cells and column names neutralised."""
    safe = frame.rename(columns=_cell)
    for column in range(safe.shape[1]):
        values = safe.iloc[:, column]
        if isinstance(values.dtype, pd.CategoricalDtype):
            values = values.astype(object)
        if pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values):
            safe.isetitem(column, values.map(_cell, na_action="ignore"))
    return safe


def csv_text(frame: pd.DataFrame) -> str:
    """``frame`` as spreadsheet-safe CSV text (no index)."""
    return spreadsheet_safe(frame).to_csv(index=False)


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` to ``path`` as spreadsheet-safe CSV (no index)."""
    spreadsheet_safe(frame).to_csv(path, index=False)
