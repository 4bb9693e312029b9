"""The queued part's items renumbered in the order they reach seam 1, and back.

The lead pass numbers items block by block in the ledger's row order, so items that reach
seam 1 one after another lie thousands of numbers apart (a median of ~5,000 at 1M leads,
ten times that at 10M): at scale each per-item column read at an arrival, a start or an
SDR completion was a cache (and TLB) miss. Renumbered in pickup order, the flow reads its
columns front to back. The walk meets the same events in the same order (ties broken by
the original numbers, as before), so a run's results, put back in item order after it,
are bit for bit those of the original numbering (``tests/test_item_order.py``).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence

import numpy as np

from funnelsim.engine.inputs import FlowInputs, Sparse

# The inputs the flow reads by item number. (``lead``, ``planned`` and ``stage_offsets``
# are read after the run, in item order; ``enter_sales`` holds item numbers.)
PER_ITEM = (
    "segment",
    "source",
    "mql_time",
    "pickup_time",
    "sdr_work",
    "fallback_delay",
    "fallback_work",
    "is_fit",
    "reach_threshold",
    "stale_time",
    "accept_fit",
    "accept_unfit_u",
    "discovery",
    "opportunity",
    "opportunity_threshold",
    "cycle",
    "slip",
    "win",
    "lost_reason",
    "approval",
    "deal_desk_work",
    "fallthrough_u",
    "invoice_delay",
    "onboarding",
)


def arrival_order(pickup_time: np.ndarray) -> np.ndarray:
    """The items by pickup time, ties by number: new item k is original item ``order[k]``."""
    return np.argsort(np.asarray(pickup_time, dtype=float), kind="stable")


def renumber(inputs: FlowInputs, order: np.ndarray) -> None:
    """Renumber ``inputs`` in place (one column at a time, each old one freed as it goes)."""
    for name in PER_ITEM:
        setattr(inputs, name, _permuted(getattr(inputs, name), order))
    if len(inputs.enter_sales):
        new_number = np.empty(len(order), dtype=np.int64)
        new_number[order] = np.arange(len(order))
        inputs.enter_sales = new_number[np.asarray(inputs.enter_sales, dtype=np.int64)].tolist()


def in_item_order(values: Sequence, order: np.ndarray) -> np.ndarray:
    """A column kept under the new numbering, back in the original item order."""
    dense = values.dense() if isinstance(values, Sparse) else np.asarray(values)
    out = np.empty_like(dense)
    out[order] = dense
    return out


def _permuted(values: Sequence, order: np.ndarray) -> Sequence:
    """``values`` under the new numbering, in the same form (compact array, Sparse, ndarray)."""
    if isinstance(values, Sparse):
        return Sparse.of(values.dense()[order])
    if isinstance(values, array):
        return array(values.typecode, np.asarray(values)[order].tobytes())
    return np.asarray(values)[order]
