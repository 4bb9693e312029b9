"""Where new business comes from: per source and per segment, leads, won deals, new ARR
booked and lead-to-customer conversion, with means and intervals over replications.

Sources come from :func:`funnelsim.analysis.revenue.by_source` (the same counts as its
CAC table); segments are counted the same way. Only leads the run created count: the
starting book was won before the run and has no source.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from funnelsim.analysis._common import closed_won, from_book
from funnelsim.analysis.revenue import by_source
from funnelsim.engine import Ledger
from funnelsim.experiment.stats import CONFIDENCE, summarise
from funnelsim.scenario.models import Scenario

Origin = Literal["source", "segment"]
# Measure -> its unit (the currency for money).
ORIGIN_MEASURES: dict[str, str] = {
    "leads": "leads",
    "won_deals": "deals",
    "booked_arr": "currency",
    "conversion": "share",
}


def origins(ledger: Ledger, scenario: Scenario, by: Origin) -> pd.DataFrame:
    """One replication per source (or segment): leads, won_deals, booked_arr and
    conversion (won deals over leads; NaN with no leads)."""
    if by == "source":
        table = by_source(ledger, scenario)[["source", "leads", "won_deals", "booked_arr"]]
    elif by == "segment":
        table = _by_segment(ledger)
    else:
        raise ValueError(f"by: expected 'source' or 'segment', not {by!r}")
    table = table.copy()
    leads = table["leads"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        table["conversion"] = np.where(leads > 0, table["won_deals"] / leads, np.nan)
    return table


def origin_summary(
    per_replication: pd.DataFrame,
    scenario: Scenario,
    by: Origin,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Per source (or segment) and measure: its display label, unit, mean and interval.

    ``per_replication`` stacks :func:`origins` with a ``replication`` column. Columns:
    ``by``, label, measure, unit, mean, ci_low, ci_high, replications; rows in the
    scenario's order, measures in :data:`ORIGIN_MEASURES` order.
    """
    long = per_replication.melt(
        id_vars=["replication", by],
        value_vars=list(ORIGIN_MEASURES),
        var_name="measure",
        value_name="value",
    )
    long[by] = long[by].astype(str)
    table = summarise(long, [by, "measure"], "value", confidence)
    entries = scenario.sources if by == "source" else scenario.segments
    table.insert(1, "label", [(entries[k].label if k in entries else None) or k for k in table[by]])
    units = {m: (scenario.currency if u == "currency" else u) for m, u in ORIGIN_MEASURES.items()}
    table.insert(3, "unit", table["measure"].map(units))
    order = {name: i for i, name in enumerate(entries)}
    measures = {name: i for i, name in enumerate(ORIGIN_MEASURES)}
    table = table.assign(
        _entry=table[by].map(order).fillna(len(order)), _measure=table["measure"].map(measures)
    )
    return (
        table.sort_values(["_entry", "_measure"], kind="stable")
        .drop(columns=["_entry", "_measure"])
        .reset_index(drop=True)
    )


def _by_segment(ledger: Ledger) -> pd.DataFrame:
    """Leads the run created, won deals and ARR booked, per segment."""
    c = ledger.columns
    new = ~from_book(ledger)
    segment = c["segment"][new]
    n = len(ledger.segment_names)

    def count(weights: np.ndarray) -> np.ndarray:
        return np.bincount(segment, weights=np.asarray(weights, dtype=float)[new], minlength=n)

    names = list(ledger.segment_names)
    return pd.DataFrame(
        {
            "segment": pd.Categorical(names, categories=names),
            "leads": np.bincount(segment, minlength=n).astype(np.int64),
            "won_deals": count(closed_won(ledger)).astype(np.int64),
            "booked_arr": count(c["booked_arr"]),
        }
    )
