"""Excel workbooks of results, the way planners pass numbers on (``--xlsx FILE``).

One sheet per table: a run's summary (with each metric's label), leakage by seam and
reason, the monthly cash flow and, when the results offer it, the monthly time series; a
comparison adds the decision table and every option's paired differences. Text cells go
through :func:`funnelsim.safe_cells.spreadsheet_safe` first, so a name or currency such as
``=1+2`` is stored as text, never as a formula. The workbook is written to a hidden part
file and renamed into place (:mod:`funnelsim.atomic`): an existing file is replaced only
with ``force`` and a failed write leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from funnelsim.atomic import StagedFile
from funnelsim.report.labels import metric_label
from funnelsim.results import Results
from funnelsim.safe_cells import spreadsheet_safe

if TYPE_CHECKING:
    from funnelsim.experiment.options import Decision

SHEET_NAME_LENGTH = 31  # Excel's limit
MAX_COLUMN_WIDTH = 60


def results_sheets(results: Results) -> dict[str, pd.DataFrame]:
    """A run's sheets: summary, leakage, and the monthly tables its ledgers allow."""
    sheets = {
        "summary": _labelled(results.summary()),
        "leakage": results.leakage_summary(),
    }
    kept = all(rep.ledger is not None for rep in results.replications)
    if kept:
        sheets["cash flow"] = _monthly_mean(results.cashflow())
    timeseries = getattr(results, "timeseries", None)
    if kept and callable(timeseries):
        sheets["timeseries"] = timeseries()
    return sheets


def decision_sheets(decision: Decision) -> dict[str, pd.DataFrame]:
    """A comparison's sheets: the decision table, each option's paired differences, and
    the base's summary and leakage."""
    differences = []
    for name, comparison in decision.comparisons.items():
        frame = _labelled(comparison.summary())
        frame.insert(0, "option", name)
        differences.append(frame)
    base = Results(
        scenario=decision.baseline,
        seed=decision.seed,
        replications=decision.baseline_runs,
        confidence=decision.confidence,
    )
    return {
        "decision": decision.summary(),
        "paired differences": pd.concat(differences, ignore_index=True),
        "base summary": _labelled(base.summary()),
        "base leakage": base.leakage_summary(),
    }


def stage_xlsx(path: str | Path, force: bool = False) -> StagedFile:
    """The workbook's staging, to open before simulating: a bad or existing path is
    refused (one line, exit 2) before any work, and the file appears only on commit."""
    return StagedFile(Path(path), force)


def fill_xlsx(staged: StagedFile, sheets: Mapping[str, pd.DataFrame]) -> None:
    """Write the sheets into the staging's part file (commit() puts it in place)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    assert staged.path is not None, "fill_xlsx() before the staging was opened"
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, frame in sheets.items():
        sheet = workbook.create_sheet(name[:SHEET_NAME_LENGTH])
        safe = spreadsheet_safe(frame.reset_index(drop=True))
        sheet.append([str(column) for column in safe.columns])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in safe.itertuples(index=False):
            sheet.append([_cell(value) for value in row])
        sheet.freeze_panes = "A2"
        for index, column in enumerate(safe.columns, start=1):
            values = [str(column), *(str(v) for v in safe.iloc[:50, index - 1])]
            width = min(max(len(v) for v in values) + 2, MAX_COLUMN_WIDTH)
            sheet.column_dimensions[get_column_letter(index)].width = width
    workbook.save(staged.path)


def write_xlsx(sheets: Mapping[str, pd.DataFrame], path: str | Path, force: bool = False) -> Path:
    """Write a workbook atomically; an existing file is replaced only with ``force``."""
    with stage_xlsx(path, force) as staged:
        fill_xlsx(staged, sheets)
        return staged.commit()


def _cell(value: object) -> object:
    """A value openpyxl stores as itself: NaN and NA as empty cells, numpy scalars as Python."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _labelled(summary: pd.DataFrame) -> pd.DataFrame:
    """A metric table with each metric's label beside its code name."""
    frame = summary.copy()
    frame.insert(1, "label", frame["metric"].map(metric_label))
    return frame


def _monthly_mean(cashflow: pd.DataFrame) -> pd.DataFrame:
    """The monthly cash flow averaged over replications (one row per month)."""
    return cashflow.drop(columns="replication").groupby("month", as_index=False).mean()
