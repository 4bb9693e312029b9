"""The ledger: one row per lead, columnar (numpy arrays), plus contract terms and team levels.

Times are wall-clock hours since the scenario's start date; NaN means the lead never got
there. Every lead ends in exactly one ``outcome``; a lead lost at a seam also names the
``seam`` (1-4) and a ``loss_reason``. Records of the starting book (customers, open
opportunities, queued leads) follow the run's own leads, flagged ``from_book``; a book
customer or opportunity has no source (code -1).
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, Iterator, ValuesView
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

OUTCOMES = ("active", "churned", "closed_lost", "lost_at_seam", "not_a_fit", "in_flight")
ACTIVE, CHURNED, CLOSED_LOST, LOST_AT_SEAM, NOT_A_FIT, IN_FLIGHT = range(len(OUTCOMES))
UNDECIDED = -1

# Seam loss reasons, by seam. Reasons that erode value or defer revenue without losing the
# lead (contract_error, slow_quote_to_cash) appear in leakage, never as an outcome.
SEAM_REASONS: dict[int, tuple[str, ...]] = {
    1: ("scored_out", "unrouted", "stale_contact", "went_cold", "rejected", "not_followed_up"),
    2: ("fell_through", "contract_error", "slow_quote_to_cash"),
    3: ("missing_context", "slow_onboarding"),
    4: ("late_renewal",),
}
STATIC_REASONS: tuple[str, ...] = (
    "",
    *[reason for reasons in SEAM_REASONS.values() for reason in reasons],
    "disqualified",
    "churned",
)
REASON_CODE = {name: code for code, name in enumerate(STATIC_REASONS)}

TIME_COLUMNS = (
    "created",
    "mql_time",
    "first_response",
    "sql_time",
    "ae_start",
    "opp_time",
    "expected_close",
    "close_time",
    "won_time",
    "contract_done",
    "invoice_time",
    "onboard_start",
    "onboarded_time",
    "churn_time",
    "loss_time",
)
FLOAT_COLUMNS = (
    "fit",
    "score",
    "deal_value",
    "booked_arr",
    "arr_at_horizon",
    "invoiced_revenue",
    "horizon_revenue",
)
BOOL_COLUMNS = (
    "mql",
    "is_fit",
    "nurtured",
    "resurfaced",
    "sla_breached",
    "rerouted",
    "opportunity",
    "won",
    "slipped",
    "stale_stage",
    "nonstandard",
    "contract_error",
    "context_transferred",
    "from_book",
)
INT_COLUMNS = ("source", "segment", "sdr_head", "outcome", "seam", "loss_reason", "terms")
# The lead's product (-1: the scenario has no products) and outbound account (-1: inbound).
PRODUCT_COLUMNS = ("product", "account")
COLUMN_NAMES = (*TIME_COLUMNS, *FLOAT_COLUMNS, *BOOL_COLUMNS, *INT_COLUMNS, *PRODUCT_COLUMNS)

# Stored dtypes, chosen for memory (about 142 bytes per lead): times, fit and score as
# float32 (times computed in float64 and rounded down once on storage: within 4 s over a
# year, 7 s over two, and a time before the horizon stays before it), money as float64,
# codes of names a scenario lists (sources, segments, reasons, products) as int16 (int32
# past 32,767 names: :func:`ledger_dtypes`), fixed codes (outcome, seam) as int8, heads
# and outbound accounts as int32.
LEDGER_DTYPES: dict[str, np.dtype] = {
    **{name: np.dtype(np.float32) for name in TIME_COLUMNS},
    "fit": np.dtype(np.float32),
    "score": np.dtype(np.float32),
    **{name: np.dtype(np.float64) for name in FLOAT_COLUMNS[2:]},
    **{name: np.dtype(bool) for name in BOOL_COLUMNS},
    **{name: np.dtype(np.int16) for name in ("source", "segment", "loss_reason", "terms")},
    **{name: np.dtype(np.int8) for name in ("outcome", "seam")},
    "sdr_head": np.dtype(np.int32),
    "product": np.dtype(np.int16),
    "account": np.dtype(np.int32),
}
NAME_CODES = ("source", "segment", "loss_reason", "product")


def ledger_dtypes(n_names: int = 0) -> dict[str, np.dtype]:
    """The stored dtypes for a scenario whose longest list of names has ``n_names``."""
    if n_names <= np.iinfo(np.int16).max:
        return LEDGER_DTYPES
    return {**LEDGER_DTYPES, **{name: np.dtype(np.int32) for name in NAME_CODES}}


# Columns the engine reads back at full precision while it runs: float64 until
# :func:`compact` rounds them once, after their last exact use.
WORKING_F64 = frozenset({"created", "mql_time", "fit"})
_MINUS_ONE = frozenset({"sdr_head", "product", "account"})


def fill_value(name: str) -> float:
    """What column ``name`` holds for a lead that never got there: NaN, -1 or 0."""
    if name in TIME_COLUMNS:
        return np.nan
    if name == "outcome":
        return UNDECIDED
    if name in _MINUS_ONE:
        return -1
    return 0


def new_column(name: str, n_rows: int, dtypes: dict[str, np.dtype] = LEDGER_DTYPES) -> np.ndarray:
    """A fresh column in its working dtype: times NaN, flags False, codes -1/0."""
    dtype = np.dtype(np.float64) if name in WORKING_F64 else dtypes[name]
    return np.full(n_rows, fill_value(name), dtype=dtype)


class SparseColumn:
    """A column stored as the rows whose value is not the fill value (sorted) and those
    values: most late-funnel times are NaN and most money is 0. :meth:`expand` gives
    back exactly the dense column (a -0.0 or a NaN's place kept as it was)."""

    __slots__ = ("fill", "length", "rows", "values")

    def __init__(self, rows: np.ndarray, values: np.ndarray, length: int, fill: float) -> None:
        self.rows = rows
        self.values = values
        self.length = length
        self.fill = fill

    @classmethod
    def of(cls, column: np.ndarray, fill: float) -> SparseColumn | None:
        """``column`` stored sparse, or None where that would not at least halve it."""
        if column.dtype.kind == "f":
            if np.isnan(fill):
                differs = ~np.isnan(column)
            else:
                differs = (column != fill) | np.isnan(column) | np.signbit(column)
        else:
            differs = column != fill
        count = int(np.count_nonzero(differs))
        index = np.dtype(np.int32) if len(column) < 2**31 else np.dtype(np.int64)
        if count * (index.itemsize + column.itemsize) * 2 > column.nbytes:
            return None
        rows = np.flatnonzero(differs).astype(index)
        return cls(rows, column[rows], len(column), fill)

    @property
    def dtype(self) -> np.dtype:
        return self.values.dtype

    @property
    def nbytes(self) -> int:
        """Bytes held (what the dense column would hold: ``expand().nbytes``)."""
        return self.rows.nbytes + self.values.nbytes

    def expand(self) -> np.ndarray:
        """The dense column, made afresh and read-only (writing to it would be lost)."""
        out = np.full(self.length, self.fill, dtype=self.values.dtype)
        out[self.rows] = self.values
        out.flags.writeable = False
        return out


class Columns(dict):
    """Ledger columns by name, some held as :class:`SparseColumn`: reading any column
    (``columns[name]``, ``get``, ``items``, ``values``, ``dict(columns)``) gives its full
    array, a sparse one expanded afresh (read-only) on each read, so a reader going
    through the columns one by one never holds them all expanded at once.

    ``dense`` names the frozen columns found not worth holding sparse, with the dtype
    they were found in: a frozen column is never written again, so a later freeze skips
    them (the engine freezes as each phase ends, and a check reads the whole column)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.dense: dict[str, np.dtype] = {}
        super().__init__(*args, **kwargs)

    def __setitem__(self, name: str, value: np.ndarray | SparseColumn) -> None:
        self.dense.pop(name, None)
        super().__setitem__(name, value)

    def __getitem__(self, name: str) -> np.ndarray:
        value = super().__getitem__(name)
        return value.expand() if isinstance(value, SparseColumn) else value

    def get(self, name: str, default: Any = None) -> Any:
        """Column ``name`` (expanded) if held, else ``default`` (nothing is made)."""
        if name not in self:
            return default
        return self[name]

    def __iter__(self) -> Iterator[str]:
        # Not dict's own iterator: ``dict(columns)`` and ``{**columns}`` then read
        # through __getitem__ (expanded columns), never the stored form.
        return iter(self.keys())

    def values(self) -> ValuesView:  # type: ignore[override]
        return ValuesView(self)

    def items(self) -> ItemsView:  # type: ignore[override]
        return ItemsView(self)

    def stored(self, name: str) -> np.ndarray | SparseColumn:
        """Column ``name`` as held (made first where it is made on use)."""
        return super().__getitem__(name)

    def freeze(self, names: Iterable[str]) -> None:
        """Hold ``names`` (where made and dense) sparse where that at least halves them;
        a frozen column is read, never written again."""
        dense = self.dense
        for name in names:
            if name not in self:
                continue
            value = self.stored(name)
            # (``dense.get(name) != dtype`` would not do: numpy reads None as float64.)
            if isinstance(value, np.ndarray) and (name not in dense or dense[name] != value.dtype):
                sparse = SparseColumn.of(value, fill_value(name))
                if sparse is None:
                    dense[name] = value.dtype
                else:
                    super().__setitem__(name, sparse)

    def stored_bytes(self) -> int:
        """Bytes the columns hold as stored."""
        return sum(self.stored(name).nbytes for name in self.keys())

    def __reduce__(self) -> tuple:
        # Pickled as stored (sparse columns stay sparse between processes).
        return (Columns, (), None, None, iter(dict.items(self)))


def empty_columns(
    n_leads: int, dtypes: dict[str, np.dtype] = LEDGER_DTYPES
) -> dict[str, np.ndarray]:
    """Fresh ledger columns for ``n_leads`` leads: times NaN, flags False, codes -1/0."""
    return {name: new_column(name, n_leads, dtypes) for name in COLUMN_NAMES}


class LazyColumns(Columns):
    """Ledger columns made on first use, so a column exists only from the phase that
    fills it (the queued part's times are not held while its inputs are built).

    ``tail`` holds columns of rows appended after the ``n_new`` leads (the starting
    book) not yet made: a column made later is its fresh part followed by its tail.
    """

    def __init__(
        self,
        n_new: int,
        dtypes: dict[str, np.dtype] = LEDGER_DTYPES,
        tail: dict[str, np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        self.n_new = n_new
        self.dtypes = dtypes
        self.tail = {} if tail is None else tail

    def __missing__(self, name: str) -> np.ndarray:
        if name not in self.dtypes:
            raise KeyError(name)
        column = new_column(name, self.n_new, self.dtypes)
        tail = self.tail.pop(name, None)
        if tail is not None:
            column = np.concatenate([column, tail.astype(column.dtype, copy=False)])
        self[name] = column
        return column

    def make(self, *names: str) -> None:
        """Make ``names`` now (where not made yet)."""
        for name in names:
            if name not in self:
                self.__missing__(name)


def freeze(columns: dict[str, np.ndarray], names: Iterable[str]) -> None:
    """Hold final columns sparse where ``columns`` can (:meth:`Columns.freeze`)."""
    if isinstance(columns, Columns):
        columns.freeze(names)


def floor32(values: np.ndarray) -> np.ndarray:
    """Float64 hours rounded down to float32: order kept, a time before the horizon (or
    any float32 bound) stays before it, equal times stay equal."""
    exact = np.asarray(values, dtype=np.float64)
    stored = exact.astype(np.float32)
    over = stored > exact
    stored[over] = np.nextafter(stored[over], np.float32(-np.inf))
    return stored


def stored(name: str, values: np.ndarray, dtypes: dict[str, np.dtype] = LEDGER_DTYPES):
    """``values`` of column ``name`` in its stored dtype (times rounded down)."""
    if name in TIME_COLUMNS and values.dtype != np.float32:
        return floor32(values)
    return values.astype(dtypes[name], copy=False)


def put(columns: dict[str, np.ndarray], name: str, rows: np.ndarray, values: np.ndarray) -> None:
    """Scatter ``values`` into column ``name`` at ``rows``: into a float32 time column
    rounded down (:func:`floor32`), into a working float64 one exactly."""
    column = columns[name]
    if column.dtype == np.float32 and name in TIME_COLUMNS:
        values = floor32(values)
    column[rows] = values


def compact(
    columns: dict[str, np.ndarray],
    names: tuple[str, ...] = COLUMN_NAMES,
    dtypes: dict[str, np.dtype] = LEDGER_DTYPES,
) -> None:
    """Cast ``names`` (where made) to their stored dtypes, one column at a time."""
    for name in names:
        if name in columns and columns[name].dtype != dtypes[name]:
            columns[name] = stored(name, columns[name], dtypes)


def ledger_columns(columns: Columns, dtypes: dict[str, np.dtype] = LEDGER_DTYPES) -> Columns:
    """Every ledger column in its stored dtype and the ledger's column order, held sparse
    where that at least halves it (:meth:`Columns.freeze`); each is taken out of
    ``columns`` as it is cast, so no column is held twice. A column ``columns`` found
    dense in the same dtype stays dense unchecked."""
    out = Columns()
    for name in COLUMN_NAMES:
        column = columns.stored(name)
        found_dense = columns.dense.get(name)
        del columns[name]
        if isinstance(column, SparseColumn):
            dict.__setitem__(out, name, column)
            continue
        out[name] = stored(name, column, dtypes)
        del column
        if found_dense is not None:
            out.dense[name] = found_dense
        out.freeze((name,))
    return out


@dataclass
class Ledger:
    """One replication's results: leads, contract terms, weekly team levels and metadata.

    ``headcount`` is the ledger of team capacity: one row per team and change (team,
    time, date, headcount, present, effective_capacity; built on access from
    ``capacity_rows``); ``staff`` one row per person's stint on a team whose headcount
    changes or whose heads work staggered shifts (team, seat, start, end, tenure_months,
    absence_hours; from ``stint_rows``). ``team_levels`` has per team and week the
    occupancy, mean queue length and ``on_duty_hours`` (person-hours on shift).
    """

    columns: dict[str, np.ndarray]
    terms: pd.DataFrame
    team_levels: pd.DataFrame
    source_names: tuple[str, ...]
    segment_names: tuple[str, ...]
    reason_names: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    capacity_rows: list[tuple[str, float, int, int, float]] = field(default_factory=list)
    stint_rows: list[tuple[str, int, float, float, float, float]] = field(default_factory=list)

    @property
    def headcount(self) -> pd.DataFrame:
        """The ledger of team capacity: team, time, date, headcount, present, capacity."""
        columns = ["team", "time", "headcount", "present", "effective_capacity"]
        table = pd.DataFrame(self.capacity_rows, columns=columns)
        table = table.astype(
            {"time": float, "headcount": np.int64, "present": np.int64, "effective_capacity": float}
        )
        start = pd.Timestamp(self.meta.get("start_date", "1970-01-01"))
        table.insert(2, "date", start + pd.to_timedelta(table["time"], unit="h"))
        # Several changes at one time leave one row: the state after all of them.
        return table.drop_duplicates(["team", "time"], keep="last").reset_index(drop=True)

    @property
    def staff(self) -> pd.DataFrame:
        """One row per person's stint on a team whose headcount changes over the run."""
        columns = ["team", "seat", "start", "end", "tenure_months", "absence_hours"]
        return pd.DataFrame(self.stint_rows, columns=columns)

    product_names: tuple[str, ...] = ()
    outbound_attempts: pd.DataFrame | None = None
    stage_names: tuple[str, ...] = ("open",)
    # One row per opportunity and sales stage entered: lead_id, stage (index into
    # stage_names), entered, left (NaN: still in it at the horizon), result.
    stages: pd.DataFrame | None = None

    @property
    def n_leads(self) -> int:
        return len(self.columns["created"])

    def with_dates(self, table: str = "leads") -> pd.DataFrame:
        """A table of this ledger (``leads``, ``terms``, ``team_levels``, ``headcount``,
        ``staff``) with a datetime column beside each hours column (see funnelsim.dates)."""
        from funnelsim.dates import with_dates

        return with_dates(getattr(self, table), self.meta.get("start_date", "1970-01-01"))

    def __repr__(self) -> str:
        return (
            f"Ledger({self.n_leads} leads, {len(self.terms)} terms, "
            f"start_date={self.meta.get('start_date')!r})"
        )

    @property
    def leads(self) -> pd.DataFrame:
        """The leads as a tidy DataFrame (categoricals for names, hours for times)."""
        frame = pd.DataFrame({"lead_id": np.arange(self.n_leads)})
        for name, values in self.columns.items():
            if name == "source":
                frame[name] = _categorical(values, self.source_names)
            elif name == "segment":
                frame[name] = _categorical(values, self.segment_names)
            elif name == "outcome":
                frame[name] = _categorical(values, OUTCOMES)
            elif name == "product":
                frame[name] = _categorical(values, self.product_names)
            elif name == "loss_reason":
                frame[name] = _categorical(values - 1, self.reason_names[1:])
            else:
                frame[name] = values
        return frame


def _categorical(codes: np.ndarray, names: tuple[str, ...]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=list(names))
