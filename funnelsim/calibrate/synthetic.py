"""Synthetic opportunity exports of any size, drawn in bulk with numpy: for the memory test
and the benchmark of ``calibrate`` on exports with millions of rows, where simulating the
funnel first would cost more than calibrating it.

Opportunities arrive uniformly over ``days``; each is won (median 30 days to close), lost
(median 12 days) or stalls for ever; records still open at the export date are censored.
Columns and status values follow ``SYNTHETIC_MAPPING``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SYNTHETIC_MAPPING = {
    "name": "synthetic",
    "id": "opportunity_id",
    "created": "engage_date",
    "created_stage": "opportunity",
    "stages": {"close": "close_date"},
    "status": {"column": "deal_stage", "won": ["Won"], "lost": ["Lost"], "open": ["Engaging"]},
    "amount": "close_value",
    "owner": "sales_agent",
    "owner_team": "ae",
    "source": "lead_source",
    "segment": "product",
    "date_formats": ["%m/%d/%Y"],
}
OUTCOME_SHARES = (0.55, 0.35, 0.10)
START = "2021-01-04"
CHUNK_ROWS = 250_000


def synthetic_export(rows: int, seed: int = 0, first_id: int = 0, days: int = 730) -> pd.DataFrame:
    """``rows`` opportunities as the CSV's string columns (ids from ``first_id``)."""
    rng = np.random.default_rng([seed, first_id])
    created = rng.integers(0, days, rows)
    outcome = rng.choice(3, rows, p=OUTCOME_SHARES)
    median = np.where(outcome == 0, 30.0, 12.0)
    close = created + np.ceil(median * rng.lognormal(0.0, 0.8, rows)).astype(int)
    export_day = days + 30
    still_open = (outcome == 2) | (close > export_day)
    stage = np.where(still_open, "Engaging", np.where(outcome == 0, "Won", "Lost"))
    dates = pd.date_range(START, periods=export_day + 1, freq="D").strftime("%m/%d/%Y")
    labels = np.asarray(dates, dtype=object)
    value = np.round(rng.lognormal(np.log(5000.0), 0.6, rows)).astype(int).astype(str)
    ids = pd.Series(np.arange(first_id, first_id + rows)).astype(str).str.zfill(9)
    return pd.DataFrame(
        {
            "opportunity_id": "OP" + ids,
            "sales_agent": np.char.add("agent ", rng.integers(0, 60, rows).astype(str)),
            "product": rng.choice(["GTX Basic", "GTX Pro", "MG Special", "MG Advanced"], rows),
            "lead_source": rng.choice(["Web", "Partner", "Event"], rows, p=[0.6, 0.3, 0.1]),
            "deal_stage": stage,
            "engage_date": labels[created],
            "close_date": np.where(still_open, "", labels[np.minimum(close, export_day)]),
            "close_value": np.where(stage == "Won", value, ""),
        }
    )


def write_synthetic_export(path: str | Path, rows: int, seed: int = 0) -> Path:
    """Write a synthetic export of ``rows`` rows to ``path``, a chunk at a time."""
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as handle:
        for first in range(0, rows, CHUNK_ROWS):
            chunk = synthetic_export(min(CHUNK_ROWS, rows - first), seed, first)
            chunk.to_csv(handle, index=False, header=first == 0)
    return path
