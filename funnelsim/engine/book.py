"""The starting book as ledger rows: customers, open opportunities and queued leads.

Book records are appended after the run's own leads and flagged ``from_book``. They enter
the run at time 0 through the mechanisms new leads use: customers go straight into the
term loop (their current term started before the run), open opportunities into the sales
stage with the time they have left, queued leads into seam 1 as MQLs already waiting.

Every draw a book record needs comes from the book's own streams (source code
``BOOK_SOURCE`` in the fate, term, payment and product draws; one stream per book entry
for its values), so a book never moves a new lead's random numbers and a scenario
without a book runs exactly as before.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from funnelsim.engine.fates import (
    BOOK_SOURCE,
    BOOK_STREAM,
    PRODUCT_STREAM,
    Fate,
    draw_fates,
    draw_rows,
    stream,
)
from funnelsim.engine.ledger import LazyColumns, empty_columns
from funnelsim.engine.marketing import (
    HOURS_PER_DAY,
    MARKETING_FATES,
    by_segment,
    pick_products,
    product_deal_values,
    segments_of,
)
from funnelsim.scenario.distributions import Distribution
from funnelsim.scenario.models import Scenario

HOURS_PER_MONTH = 8760.0 / 12
CUSTOMER, OPPORTUNITY, QUEUED_LEAD = range(3)


@dataclass
class BookRows:
    """The book's records as ledger columns, and what only the engine needs of them.

    ``kind`` is CUSTOMER, OPPORTUNITY or QUEUED_LEAD per record; ``term_start`` a
    customer's current term start (hours, at or before 0; NaN for others); ``stage`` and
    ``age`` an opportunity's stage index and hours already spent in it; ``churn_u`` the
    product-churn uniforms (None without products).
    """

    columns: dict[str, np.ndarray]
    kind: np.ndarray
    term_start: np.ndarray
    stage: np.ndarray
    age: np.ndarray
    churn_u: np.ndarray | None

    @property
    def size(self) -> int:
        return len(self.kind)


@dataclass(frozen=True)
class BookColumn:
    """A per-ledger-row value only the book's rows (from ``n_new`` on) carry, stored for
    the book alone: indexed by ledger rows like an array, ``fill`` for the new leads."""

    n_new: int
    values: np.ndarray
    fill: float

    def __getitem__(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows)
        out = np.full(rows.shape, self.fill, dtype=self.values.dtype)
        book = rows >= self.n_new
        out[book] = self.values[rows[book] - self.n_new]
        return out

    def __len__(self) -> int:
        return self.n_new + len(self.values)

    def finite(self) -> np.ndarray:
        """Per ledger row: does the row carry a value (finite)?"""
        mask = np.zeros(len(self), dtype=bool)
        mask[self.n_new :] = np.isfinite(self.values)
        return mask


def book_times(n_new: int, book: BookRows) -> tuple[BookColumn, BookColumn, BookColumn]:
    """Per ledger row: a book opportunity's hours in its stage and the stage, a book
    customer's term start (NaN, 0 and NaN elsewhere)."""
    opps = book.kind == OPPORTUNITY
    age = np.where(opps, book.age, np.nan)
    stage = np.where(opps, book.stage, 0).astype(np.int64)
    return (
        BookColumn(n_new, age, np.nan),
        BookColumn(n_new, stage, 0),
        BookColumn(n_new, np.asarray(book.term_start, dtype=float), np.nan),
    )


def draw_book(scenario: Scenario, seed: int, new_source: np.ndarray) -> BookRows | None:
    """The book's records (None without a book), to append after ``new_source``'s leads."""
    book = scenario.book
    if book is None or book.size == 0:
        return None
    groups = [
        *((CUSTOMER, i, g) for i, g in enumerate(book.customers)),
        *((OPPORTUNITY, i, g) for i, g in enumerate(book.opportunities)),
        *((QUEUED_LEAD, i, g) for i, g in enumerate(book.queued_leads)),
    ]
    kind = np.concatenate([np.full(g.count, k, dtype=np.int8) for k, _, g in groups])
    size = len(kind)
    columns = empty_columns(size)
    columns["from_book"][:] = True
    draw_source = np.concatenate([new_source, np.full(size, BOOK_SOURCE)]).astype(np.int64)
    rows = np.arange(len(new_source), len(draw_source))
    names = tuple(scenario.sources)
    u = draw_fates(seed, draw_source, names, rows=rows, columns=MARKETING_FATES)
    source = np.full(size, -1, dtype=np.int32)
    segment = np.zeros(size, dtype=np.int32)
    segment_names = list(scenario.segments)
    source_names = list(scenario.sources)
    at = 0
    for kind_code, _, group in groups:
        block = slice(at, at + group.count)
        if kind_code == QUEUED_LEAD:
            source[block] = source_names.index(group.source)
        else:
            segment[block] = segment_names.index(group.segment)
        at += group.count
    leads = kind == QUEUED_LEAD
    segment[leads] = segments_of(scenario, source[leads], u[Fate.SEGMENT][leads])
    columns["source"] = source
    columns["segment"] = segment
    fit = np.ones(size)
    for index, spec in enumerate(scenario.sources.values()):
        mask = leads & (source == index)
        fit[mask] = np.clip(spec.fit.ppf(u[Fate.FIT][mask]), 0.0, 1.0)
    columns["fit"] = fit
    columns["score"] = fit.copy()
    columns["is_fit"] = np.where(leads, u[Fate.QUALIFY] < fit, True)
    columns["deal_value"] = by_segment(
        scenario, segment, u[Fate.DEAL_VALUE], lambda s: s.deal_value
    )
    churn_u = None
    if scenario.products is not None:
        product_u = draw_rows(seed, PRODUCT_STREAM, draw_source, names, 2, rows, [0, 1])
        columns["product"] = pick_products(scenario, segment, product_u[0])
        product_deal_values(scenario, columns["product"], u[Fate.DEAL_VALUE], columns["deal_value"])
        churn_u = product_u[1]
    term_start = np.full(size, np.nan)
    stage = np.full(size, -1, dtype=np.int32)
    age = np.zeros(size)
    term_hours = scenario.seam4.term_months * HOURS_PER_MONTH
    product_names = list(scenario.products or ())
    stage_names = list(scenario.stage_names)
    at = 0
    for kind_code, index, group in groups:
        block = slice(at, at + group.count)
        at += group.count
        v = stream(seed, BOOK_STREAM, _group_key(kind_code, index)).random((group.count, 2))
        if kind_code == CUSTOMER:
            _set_value(columns["deal_value"], block, group.arr, v[:, 0])
            if group.product is not None:
                columns["product"][block] = product_names.index(group.product)
            term_start[block] = _term_end(scenario, group, v[:, 1], term_hours) - term_hours
        elif kind_code == OPPORTUNITY:
            _set_value(columns["deal_value"], block, group.value, v[:, 0])
            stage[block] = 0 if group.stage is None else stage_names.index(group.stage)
            age[block] = np.maximum(group.age_days.ppf(v[:, 1]), 0.0) * HOURS_PER_DAY
        else:
            waited = np.maximum(group.waiting_hours.ppf(v[:, 1]), 0.0)
            columns["created"][block] = -waited
            columns["mql_time"][block] = -waited
            columns["mql"][block] = True
    return BookRows(columns, kind, term_start, stage, age, churn_u)


def append_book(columns: LazyColumns, book: BookRows) -> LazyColumns:
    """The run's ledger columns with the book's records appended after the new leads.

    Column by column, each old column freed as its longer copy is made, so the ledger is
    never held twice; columns not made yet keep the book's part as their tail.
    """
    out = LazyColumns(columns.n_new, columns.dtypes, tail=dict(book.columns))
    for name in list(columns):
        head = columns.pop(name)
        out[name] = np.concatenate([head, out.tail.pop(name).astype(head.dtype, copy=False)])
    out.make("from_book")  # draws read it to tell the book's rows
    return out


def _group_key(kind: int, index: int) -> int:
    """A stable stream key per book entry (its kind and position in the book)."""
    return zlib.crc32(f"book:{kind}:{index}".encode())


def _set_value(target: np.ndarray, block: slice, dist: Distribution | None, u: np.ndarray) -> None:
    """A book entry's own value distribution, where it gives one, at its own uniforms."""
    if dist is not None:
        target[block] = dist.ppf(u)


def _term_end(scenario: Scenario, group, u: np.ndarray, term_hours: float) -> np.ndarray:
    """Hours from the start to each customer's current term end, within one term."""
    if group.term_end is not None:
        hours = (group.term_end - scenario.start_date).days * 24.0
        return np.full(len(u), hours)
    if group.months_to_renewal is not None:
        hours = group.months_to_renewal.ppf(u) * HOURS_PER_MONTH
        return np.clip(hours, 0.0, term_hours)
    return (1.0 - u) * term_hours
