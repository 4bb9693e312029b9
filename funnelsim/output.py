"""Writing a results directory atomically: Parquet ledgers, CSV/JSON summaries, scenario.

The directory is built under a temporary name beside its target and renamed into place
only when complete, so an interrupted or failed write never leaves a half directory and
never damages an existing one. An existing directory is replaced only when asked.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnelsim.results import Results
from funnelsim.scenario.loading import dump_scenario


class OutputExistsError(FileExistsError):
    """The results directory exists and overwriting was not asked for."""


def check_writable(out_dir: Path, force: bool) -> None:
    """Refuse early (before any simulation) when ``out_dir`` exists and force is off."""
    if out_dir.exists() and not force:
        raise OutputExistsError(f"{out_dir}: already exists; pass --force to replace it")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputExistsError(f"{out_dir}: exists and is not a directory")


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


def write_results(results: Results, out_dir: Path, force: bool = False) -> Path:
    """Write the results directory atomically and return its path."""
    out_dir = Path(out_dir)
    check_writable(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        _write_all(results, staging)
        os.chmod(staging, _default_file_mode() | 0o111)
        _swap_into_place(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out_dir


def _write_all(results: Results, folder: Path) -> None:
    summary = results.summary()
    summary.to_csv(folder / "summary.csv", index=False)
    results.leakage_summary().to_csv(folder / "leakage.csv", index=False)
    results.per_replication().to_csv(folder / "replications.csv", index=False)
    results.leakage().to_csv(folder / "leakage_replications.csv", index=False)
    (folder / "summary.json").write_text(
        json.dumps(summary_document(results), indent=2, allow_nan=False, default=str) + "\n",
        encoding="utf-8",
    )
    (folder / "scenario.yaml").write_text(dump_scenario(results.scenario), encoding="utf-8")
    if all(rep.ledger is not None for rep in results.replications):
        results.ledger.to_parquet(folder / "ledger.parquet", index=False)
        results.terms.to_parquet(folder / "terms.parquet", index=False)
        results.team_levels.to_parquet(folder / "team_levels.parquet", index=False)
        results.cashflow().to_csv(folder / "cashflow.csv", index=False)


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.replace(staging, out_dir)
        return
    retired = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old.", dir=out_dir.parent))
    os.replace(out_dir, retired / out_dir.name)
    os.replace(staging, out_dir)
    shutil.rmtree(retired, ignore_errors=True)


def _default_file_mode() -> int:
    """0o666 less the process umask: what a plain open() would have given the file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


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
    """Write one table as CSV atomically (temporary file, then rename)."""
    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists; pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            frame.to_csv(stream, index=False)
        os.chmod(tmp, _default_file_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
