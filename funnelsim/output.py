"""Writing a results directory atomically: Parquet ledgers, CSV/JSON summaries, scenario.

The directory is built under a temporary name beside its target and renamed into place
only when complete, so an interrupted or failed write never leaves a half directory and
never damages an existing one. An existing directory is replaced only when asked, and
only when it is funnelsim's own run results (its marker).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnelsim.analysis.forecast import forecast_accuracy
from funnelsim.atomic import (
    OutputExistsError,
    StagedFolder,
    probe_writable,
    refuse_existing,
    refuse_input,
    write_folder,
    write_text,
)
from funnelsim.ledger_files import PartWriter, arrow_tables, write_tables
from funnelsim.results import Results
from funnelsim.safe_cells import csv_text, write_csv
from funnelsim.scenario.loading import dump_scenario

RUN_KIND = "run"
PARQUET_THREADS = 2

__all__ = [
    "RUN_KIND",
    "OutputExistsError",
    "check_writable",
    "fill_results",
    "stage_results",
    "summary_document",
    "write_results",
    "write_table",
]


def check_writable(path: Path, force: bool) -> None:
    """Refuse early (before any simulation) an output file that exists while force is off,
    or that could not be written there, or that is a file the command read as input;
    creates nothing."""
    refuse_input(path)
    refuse_existing(path, force)
    if path.exists() and path.is_dir():
        raise OutputExistsError(f"{path}: is a directory; give a file name")
    probe_writable(path)


def stage_results(out_dir: Path, force: bool = False) -> StagedFolder:
    """The results directory's staging, to open before simulating (refuses bad targets)."""
    return StagedFolder(Path(out_dir), RUN_KIND, force)


def summary_document(results: Results) -> dict[str, Any]:
    """The run's summary as a JSON-ready dict: metadata, headline metrics, leakage."""
    scenario = results.scenario
    return {
        "funnelsim_version": version("funnelsim"),
        "scenario": scenario.name,
        "description": scenario.description,
        "currency": scenario.currency,
        "horizon_days": scenario.horizon_days,
        "seed": results.seed,
        "replications": results.n_replications,
        "confidence": results.confidence,
        "headline": _records(results.summary()),
        "leakage": _records(results.leakage_summary()),
    }


def write_results(
    results: Results,
    out_dir: Path,
    force: bool = False,
    tables: Mapping[str, pd.DataFrame] | None = None,
) -> Path:
    """Write the results directory (plus extra ``tables`` by file name) atomically."""
    return write_folder(
        Path(out_dir), lambda folder: fill_results(results, folder, tables), force, RUN_KIND
    )


def fill_results(
    results: Results,
    folder: Path,
    tables: Mapping[str, pd.DataFrame] | None = None,
    parts: PartWriter | None = None,
) -> None:
    """Write every results file, and extra ``tables`` as CSV, into a staging folder;
    ``parts``: the Parquet files' writer the replications' parts were streamed to."""
    _write_all(results, folder, parts)
    for name, frame in (tables or {}).items():
        write_table(frame, folder / name)


def _write_all(results: Results, folder: Path, parts: PartWriter | None = None) -> None:
    """Every file; the ledger's tables from the kept ledgers or the replications' own
    tables (``output_tables``), or left to ``parts`` that had them as they came."""
    kept = parts is not None or all(
        rep.ledger is not None or "parquet" in (rep.tables or {}) for rep in results.replications
    )
    # The Parquet files are encoded in threads while this thread writes the rest.
    with ThreadPoolExecutor(PARQUET_THREADS) as pool:
        here = kept and parts is None
        parquet = write_tables(_parquet_parts(results), folder, pool) if here else []
        summary = results.summary()
        write_csv(summary, folder / "summary.csv")
        write_csv(results.leakage_summary(), folder / "leakage.csv")
        write_csv(results.per_replication(), folder / "replications.csv")
        write_csv(results.leakage(), folder / "leakage_replications.csv")
        (folder / "summary.json").write_text(
            json.dumps(summary_document(results), indent=2, allow_nan=False, default=str) + "\n",
            encoding="utf-8",
        )
        (folder / "scenario.yaml").write_text(dump_scenario(results.scenario), encoding="utf-8")
        if kept:
            write_csv(results.cashflow(), folder / "cashflow.csv")
            timeseries = results.timeseries()
            write_csv(timeseries, folder / "timeseries.csv")
            write_csv(results.timeseries_bands(timeseries), folder / "timeseries_bands.csv")
            forecast = results.forecast()
            write_csv(forecast, folder / "forecast.csv")
            accuracy = forecast_accuracy(forecast, results.confidence)
            write_csv(accuracy, folder / "forecast_accuracy.csv")
        for written in parquet:
            written.result()
        if parts is not None:
            parts.finish(len(results.replications))


def _parquet_parts(results: Results) -> list[dict[str, Any]]:
    """Each replication's Parquet tables: made by the replication when it was asked to
    (``output_tables``), else here."""
    return [
        (rep.tables or {}).get("parquet") or arrow_tables(rep.ledger, rep.index)
        for rep in results.replications
    ]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as dicts with NaN turned into None (valid JSON)."""
    clean = frame.astype(object).where(frame.notna(), None)
    return [
        {
            key: (value.item() if isinstance(value, np.generic) else value)
            for key, value in row.items()
        }
        for row in clean.to_dict(orient="records")
    ]


def write_table(frame: pd.DataFrame, path: Path, force: bool = False) -> Path:
    """Write one table as spreadsheet-safe CSV atomically (temporary file, then rename)."""
    return write_text(Path(path), csv_text(frame), force)
