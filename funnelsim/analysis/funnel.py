"""Funnel stage counts, stage-to-stage conversion and lead outcomes, from one ledger.

Pure functions: a :class:`~funnelsim.engine.ledger.Ledger` in, a tidy DataFrame out. The
funnel's stages are nested (every SQL was an MQL, every win an opportunity, ...), so the
stage-to-stage rates multiply to the end-to-end conversion. The funnel follows the leads
the run created: the starting book's records (customers, open opportunities, queued
leads) are in the outcomes and every money figure, not in the funnel's stages.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd

from funnelsim.analysis._common import closed_won, from_book
from funnelsim.engine.ledger import ACTIVE, LOST_AT_SEAM, OUTCOMES, SEAM_REASONS, Ledger

STAGES: tuple[str, ...] = ("leads", "mql", "sql", "opportunity", "won", "active_customer")
GROUPINGS: tuple[str, ...] = ("source", "segment")

# Reasons that erode value or defer revenue without losing the lead: never an outcome.
NON_LOSING_REASONS: frozenset[str] = frozenset({"contract_error", "slow_quote_to_cash"})


def stage_masks(ledger: Ledger) -> dict[str, np.ndarray]:
    """Boolean mask per funnel stage (which leads reached it), so counts and rates agree.

    ``won`` is a booked deal: a deal that fell through in contract review is not won.
    Only leads created in the run count (not the starting book's records).
    """
    c = ledger.columns
    horizon = float(ledger.meta["horizon_hours"])
    new = ~from_book(ledger)
    with np.errstate(invalid="ignore"):
        mql = np.isfinite(c["mql_time"]) & (c["mql_time"] < horizon)
    masks = {
        "leads": np.ones(ledger.n_leads, dtype=bool),
        "mql": mql,
        "sql": np.isfinite(c["sql_time"]),
        "opportunity": c["opportunity"].astype(bool),
        "won": closed_won(ledger),
        "active_customer": c["outcome"] == ACTIVE,
    }
    return {stage: mask & new for stage, mask in masks.items()}


def stage_counts(ledger: Ledger) -> pd.DataFrame:
    """Leads reaching each funnel stage (columns stage, count), the funnel's headline shape."""
    masks = stage_masks(ledger)
    return pd.DataFrame(
        {
            "stage": list(STAGES),
            "count": np.array([int(masks[s].sum()) for s in STAGES], dtype=np.int64),
        }
    )


def conversion(ledger: Ledger, by: str | None = None) -> pd.DataFrame:
    """Stage-to-stage conversion rates, overall or per source/segment, to locate drop-offs.

    Columns: (``by``,) from_stage, to_stage, entered, converted, rate. ``entered`` counts
    leads that reached ``from_stage``; ``converted`` those of them that also reached
    ``to_stage``; ``rate`` is their ratio (NaN when nobody entered). With ``by`` every
    group the scenario defines appears, even with no leads.
    """
    masks = stage_masks(ledger)
    if by is None:
        return _conversion_table(masks, np.ones(ledger.n_leads, dtype=bool))
    if by not in GROUPINGS:
        raise ValueError(f"by: expected one of {list(GROUPINGS)} or None, got {by!r}")
    names = ledger.source_names if by == "source" else ledger.segment_names
    codes = ledger.columns[by]
    frames = []
    for code, name in enumerate(names):
        table = _conversion_table(masks, codes == code)
        table.insert(0, by, name)
        frames.append(table)
    result = pd.concat(frames, ignore_index=True)
    result[by] = pd.Categorical(result[by], categories=list(names))
    return result


def _conversion_table(masks: dict[str, np.ndarray], members: np.ndarray) -> pd.DataFrame:
    """Conversion rows for the leads selected by ``members``."""
    rows = []
    for from_stage, to_stage in pairwise(STAGES):
        entered = int((masks[from_stage] & members).sum())
        converted = int((masks[from_stage] & masks[to_stage] & members).sum())
        rate = converted / entered if entered else np.nan
        rows.append((from_stage, to_stage, entered, converted, rate))
    return pd.DataFrame(rows, columns=["from_stage", "to_stage", "entered", "converted", "rate"])


def outcomes(ledger: Ledger) -> pd.DataFrame:
    """Leads per outcome, split by seam and reason when lost at a seam: one story per lead.

    Columns outcome, seam, reason, leads. Every outcome appears, and for ``lost_at_seam``
    every (seam, reason) that can lose a lead, with zero rows kept so tables are stable.
    Rows for other outcomes carry seam 0 and reason "". The ``leads`` column sums to the
    number of leads.
    """
    c = ledger.columns
    outcome, seam, reason = c["outcome"], c["seam"], c["loss_reason"]
    reason_code = {name: code for code, name in enumerate(ledger.reason_names)}
    rows = []
    for code, name in enumerate(OUTCOMES):
        if code != LOST_AT_SEAM:
            rows.append((name, 0, "", int((outcome == code).sum())))
            continue
        lost = outcome == LOST_AT_SEAM
        for seam_number, reasons in SEAM_REASONS.items():
            for why in reasons:
                if why in NON_LOSING_REASONS:
                    continue
                hit = lost & (seam == seam_number) & (reason == reason_code[why])
                rows.append((name, seam_number, why, int(hit.sum())))
    table = pd.DataFrame(rows, columns=["outcome", "seam", "reason", "leads"])
    table["seam"] = table["seam"].astype(np.int64)
    table["leads"] = table["leads"].astype(np.int64)
    return table
