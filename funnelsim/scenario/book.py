"""The starting book: what the company already has on the first day of the run.

A run starts from today's book rather than from an empty company: active customers (with
ARR, product, segment and the end of their current term), open opportunities (with their
stage and how long they have been in it) and leads already waiting for a first response.
Each entry is a group of ``count`` alike records whose values are fixed numbers or
distributions (a bare number is a fixed value), so a book can be a handful of named
accounts or a few hundred drawn from a distribution.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from funnelsim.scenario.base import Count, _Spec
from funnelsim.scenario.distributions import Distribution, Fixed

# A book entry's count: far above any real company, low enough to stay in memory.
MAX_BOOK_COUNT = 1_000_000


class BookCustomers(_Spec):
    """Active customers of one segment: ARR, product and the end of the current term."""

    segment: str
    count: Count = Field(default=1, ge=1, le=MAX_BOOK_COUNT)
    arr: Distribution | None = Field(
        default=None,
        description="each customer's ARR today; null: the product's or segment's deal value",
    )
    product: str | None = Field(
        default=None, description="the customers' product; null: drawn by the product shares"
    )
    term_end: dt.date | None = Field(
        default=None,
        description="the date the current term ends (after start_date, at most one term on)",
    )
    months_to_renewal: Distribution | None = Field(
        default=None,
        description="months until the current term ends; null (and no term_end): uniform "
        "over one term, as for contracts signed evenly through the year",
    )


class BookOpportunities(_Spec):
    """Open opportunities of one segment in one sales stage, with their time in it."""

    segment: str
    count: Count = Field(default=1, ge=1, le=MAX_BOOK_COUNT)
    stage: str | None = Field(
        default=None, description="the sales stage they are in; null: the first stage"
    )
    age_days: Distribution = Field(
        default_factory=lambda: Fixed(value=0),
        description="days each has already spent in its current stage",
    )
    value: Distribution | None = Field(
        default=None, description="deal value (first-year ARR); null: the segment's deal value"
    )


class BookLeads(_Spec):
    """MQLs of one source already waiting for a first response at the start."""

    source: str
    count: Count = Field(default=1, ge=1, le=MAX_BOOK_COUNT)
    waiting_hours: Distribution = Field(
        default_factory=lambda: Fixed(value=0),
        description="hours each has already waited since it became an MQL",
    )


class Book(_Spec):
    """The starting book: customers, open opportunities and queued leads at the start."""

    customers: list[BookCustomers] = Field(default_factory=list)
    opportunities: list[BookOpportunities] = Field(default_factory=list)
    queued_leads: list[BookLeads] = Field(default_factory=list)

    @property
    def size(self) -> int:
        """Records the book adds to a run's ledger."""
        groups = (*self.customers, *self.opportunities, *self.queued_leads)
        return sum(group.count for group in groups)


def check_book(
    book: Book,
    segments: set[str],
    sources: set[str],
    products: set[str] | None,
    stages: tuple[str, ...],
    start: dt.date,
    term_months: int,
) -> None:
    """Book entries name known segments, sources, products and stages; term ends fit.

    A term end must fall after the start and no later than one term after it (the
    current term started before the run).
    """
    last_end = start + dt.timedelta(days=int(term_months * 365 / 12))
    for i, group in enumerate(book.customers):
        path = f"book.customers[{i}]"
        _known(f"{path}.segment", group.segment, segments, "segment")
        if group.product is not None:
            if products is None:
                raise ValueError(f"{path}.product: the scenario defines no products")
            _known(f"{path}.product", group.product, products, "product")
        if group.term_end is not None and group.months_to_renewal is not None:
            raise ValueError(f"{path}: give term_end or months_to_renewal, not both")
        if group.term_end is not None and not start < group.term_end <= last_end:
            raise ValueError(
                f"{path}.term_end: expected a date after {start} and no later than {last_end} "
                f"(one term of {term_months} months), got {group.term_end}"
            )
    for i, group in enumerate(book.opportunities):
        path = f"book.opportunities[{i}]"
        _known(f"{path}.segment", group.segment, segments, "segment")
        if group.stage is not None:
            _known(f"{path}.stage", group.stage, set(stages), "stage")
    for i, group in enumerate(book.queued_leads):
        _known(f"book.queued_leads[{i}].source", group.source, sources, "source")


def _known(path: str, name: str, allowed: set[str], kind: str) -> None:
    if name not in allowed:
        raise ValueError(f"{path}: unknown {kind} '{name}' ({kind}s: {sorted(allowed)})")
