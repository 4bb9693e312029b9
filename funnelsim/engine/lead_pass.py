"""One pass over the ledger's rows, a block at a time: fates, marketing, queued inputs.

Each lead's row of the fate stream is drawn once: marketing reads its columns for every
lead, and the same block's MQLs keep the columns the queued part and the customer phase
read. The queued part's inputs are built block by block, so neither the fates of every
lead nor those of every MQL are ever held at once; they are the numbers a whole-run draw
gives (:class:`funnelsim.engine.fates.RowStream`), the inputs equal to one
``flow_inputs`` call over all items.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from funnelsim.engine.book import BookColumn
from funnelsim.engine.customer_phase import CUSTOMER_FATES, draw_source
from funnelsim.engine.fates import (
    FATE_STREAM,
    PRODUCT_STREAM,
    STAGE_STREAM,
    Fate,
    RowStream,
)
from funnelsim.engine.inputs import SPARSE_INPUTS, FlowInputs, Sparse, flow_inputs
from funnelsim.engine.marketing import MARKETING_FATES, draw_products, run_marketing
from funnelsim.engine.stages import UNIFORMS_PER_STAGE
from funnelsim.scenario.models import Scenario

BLOCK_ROWS = 1 << 15
ALL_FATES = [int(fate) for fate in Fate]
# The fates the queued part and the customer phase read: the marketing phase's own
# (segment, fit, scoring, nurture, deal value) are not kept for the items.
ITEM_FATES = tuple(
    fate
    for fate in Fate
    if fate
    not in (
        Fate.SEGMENT,
        Fate.FIT,
        Fate.SCORE_NOISE,
        Fate.DEAL_VALUE,
        Fate.RESURFACE,
        Fate.RESURFACE_DELAY,
    )
)


@dataclass
class StageOffsets:
    """Hours from the start of sales to each stage's entry (NaN: never entered), kept
    only for the items that enter a stage: ``at`` their positions among the items."""

    at: np.ndarray
    offsets: np.ndarray


@dataclass
class LeadPass:
    """What the pass leaves: the queued part's items (ledger rows, sorted) and inputs;
    the customer phase's fates, kept for the items that can close a deal (``closing``,
    their positions among the items); per row the product-churn uniforms (None
    without products)."""

    items: np.ndarray
    inputs: FlowInputs
    closing: np.ndarray
    fates: dict[Fate, np.ndarray]
    churn_u: np.ndarray | None
    stage_offsets: StageOffsets


def run_lead_pass(
    scenario: Scenario,
    seed: int,
    columns: dict[str, np.ndarray],
    perfect: frozenset[int],
    n_new: int,
    opp_age: BookColumn | None = None,
    opp_stage: BookColumn | None = None,
) -> LeadPass:
    """Marketing for the ``n_new`` new leads, then the queued inputs of every row that
    reaches seam 1 (an MQL within the horizon) or starts in sales (``opp_age`` finite).

    ``columns`` already holds the book's rows after the new leads (their marketing
    done by the book); the book's rows draw from the book's own streams.
    """
    names = tuple(scenario.sources)
    horizon = scenario.horizon_hours
    n_rows = len(columns["created"])
    row_source = draw_source(columns)
    fate_stream = RowStream(seed, FATE_STREAM, row_source, names, len(Fate))
    width = UNIFORMS_PER_STAGE * (len(scenario.sales.stages or {}) - 1)
    stage_stream = RowStream(seed, STAGE_STREAM, row_source, names, width) if width > 0 else None
    product_stream = None
    churn_u = None
    if scenario.products is not None:
        product_stream = RowStream(seed, PRODUCT_STREAM, columns["source"][:n_new], names, 2)
        churn_u = np.empty(n_new)
    inputs = _InputsBuilder()
    customer: dict[Fate, list[np.ndarray]] = {fate: [] for fate in CUSTOMER_FATES}
    closing: list[np.ndarray] = [np.empty(0, dtype=np.int64)]
    blocks = [*_blocks(0, n_new), *_blocks(n_new, n_rows)]
    for lo, hi in blocks:
        rows = np.arange(lo, hi)
        u = fate_stream.take(rows, ALL_FATES)
        if hi <= n_new:
            block = slice(lo, hi)
            run_marketing(scenario, {f: u[f] for f in MARKETING_FATES}, columns, perfect, block)
            if product_stream is not None and churn_u is not None:
                product_u = product_stream.take(rows, [0, 1])
                churn_u[block] = draw_products(
                    scenario, product_u, u[Fate.DEAL_VALUE], columns, block
                )
        queued = columns["mql_time"][lo:hi] < horizon
        if opp_age is not None and hi > n_new:
            queued |= np.isfinite(opp_age[rows])
        at = np.flatnonzero(queued)
        item_fates = {fate: u[fate, at] for fate in ITEM_FATES}
        del u
        block_items = lo + at
        stage_u = None
        if scenario.sales.stages is not None:
            stage_u = _stage_uniforms(stage_stream, block_items, item_fates, width)
        part = flow_inputs(
            scenario, item_fates, columns, block_items, perfect, opp_age, opp_stage, stage_u
        )
        # Only an opportunity the lead's fates let win can become a customer.
        can_close = np.flatnonzero(_flag(part.opportunity) & _flag(part.win))
        closing.append(inputs.n_items + can_close)
        inputs.add(part)
        del part
        for fate in CUSTOMER_FATES:
            customer[fate].append(item_fates[fate][can_close])
    if not blocks:  # no rows at all: the inputs of no items
        empty = np.empty(0, dtype=np.int64)
        fates = {fate: np.empty(0) for fate in ITEM_FATES}
        stage_u = None
        if scenario.sales.stages is not None:
            stage_u = np.empty((0, UNIFORMS_PER_STAGE + width))
        inputs.add(flow_inputs(scenario, fates, columns, empty, perfect, None, None, stage_u))
        customer = {fate: [np.empty(0)] for fate in CUSTOMER_FATES}
    built = inputs.build()
    return LeadPass(
        items=built.lead,
        inputs=built,
        closing=np.concatenate(closing),
        fates={fate: np.concatenate(parts) for fate, parts in customer.items()},
        churn_u=churn_u,
        stage_offsets=inputs.stage_offsets(),
    )


def _flag(values: Any) -> np.ndarray:
    """A block's 0/1 input flags as booleans."""
    return np.asarray(values, dtype=np.int8).astype(bool)


def _blocks(start: int, stop: int) -> list[tuple[int, int]]:
    """Row ranges of at most ``BLOCK_ROWS`` covering ``start``..``stop``."""
    return [(lo, min(lo + BLOCK_ROWS, stop)) for lo in range(start, stop, BLOCK_ROWS)]


def _stage_uniforms(
    stream: RowStream | None, items: np.ndarray, fates: dict[Fate, np.ndarray], width: int
) -> np.ndarray:
    """The items' stage uniforms (items x 4 per stage): the first stage reads the lead's
    win, cycle and slip fates, so one stage meets exactly the draws the one-stage sales
    cycle meets; later stages read their own stream."""
    first = np.column_stack(
        [fates[Fate.WIN], fates[Fate.CYCLE], fates[Fate.SLIP], fates[Fate.SLIP_DAYS]]
    )
    if stream is None or width <= 0:
        return first
    return np.hstack([first, stream.take(items, list(range(width))).T])


class _InputsBuilder:
    """Concatenates blocks' ``FlowInputs`` into one, growing compact arrays in place
    (numpy fields are grown as typed arrays and viewed as numpy without a copy; the
    ``SPARSE_INPUTS`` as the rows where they are not zero and their values). The stage
    offsets, read only after the run, are kept apart for the rows entering sales."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.shapes: dict[str, tuple[np.dtype, tuple[int, ...]]] = {}
        self.sparse: dict[str, tuple[array, array]] = {}
        self.n_items = 0
        self.stage_at = array("q")
        self.stage_rows = array("d")
        self.n_stages = 1

    def add(self, part: FlowInputs) -> None:
        if part.stage_offsets is not None:
            offsets = np.asarray(part.stage_offsets, dtype=float)
            self.n_stages = offsets.shape[1]
            entering = np.flatnonzero(np.isfinite(offsets).any(axis=1))
            self.stage_at.frombytes((self.n_items + entering).astype(np.int64).tobytes())
            self.stage_rows.frombytes(np.ascontiguousarray(offsets[entering]).tobytes())
        for spec in fields(FlowInputs):
            name = spec.name
            value = None if name == "stage_offsets" else getattr(part, name)
            if value is None:
                self.values.setdefault(name, None)
            elif name in SPARSE_INPUTS:
                block = Sparse.of(np.asarray(value, dtype=float))
                positions, values = self.sparse.setdefault(name, (array("q"), array("d")))
                rows = self.n_items + np.frombuffer(block.positions, dtype=np.int64)
                positions.frombytes(rows.tobytes())
                values.extend(block.values)
            elif isinstance(value, np.ndarray):
                dtype = np.dtype(np.int64) if value.dtype.kind in "iu" else np.dtype(float)
                self.shapes[name] = (dtype, value.shape[1:])
                grown = self.values.setdefault(name, array("q" if dtype.kind == "i" else "d"))
                grown.frombytes(np.ascontiguousarray(value, dtype=dtype).tobytes())
            elif isinstance(value, array):
                grown = self.values.setdefault(name, array(value.typecode))
                grown.extend(value)
            elif name == "enter_sales":  # positions among the items
                grown = self.values.setdefault(name, [])
                grown.extend(self.n_items + int(i) for i in value)
            else:
                raise TypeError(f"FlowInputs.{name}: no rule to join a {type(value).__name__}")
        self.n_items += len(part.lead)

    def build(self) -> FlowInputs:
        values = dict(self.values)
        for name, (dtype, shape) in self.shapes.items():
            flat = np.frombuffer(values[name], dtype=dtype) if len(values[name]) else np.empty(0)
            values[name] = flat.astype(dtype, copy=False).reshape((-1, *shape))
        for name, (positions, joined) in self.sparse.items():
            sparse = Sparse(positions, joined, self.n_items)
            values[name] = sparse if sparse.halves else array("d", sparse.dense().tobytes())
        return FlowInputs(**values)

    def stage_offsets(self) -> StageOffsets:
        at = np.frombuffer(self.stage_at, dtype=np.int64) if self.stage_at else np.empty(0)
        rows = np.frombuffer(self.stage_rows, dtype=float) if self.stage_rows else np.empty(0)
        return StageOffsets(at.astype(np.int64, copy=False), rows.reshape(-1, self.n_stages))
