"""ARR over time: every change to a customer's ARR as an event, and retention from them.

Read off the terms table, a customer's ARR changes at these moments (hours since the
start): ``start`` (a book customer's ARR at time 0), ``new`` (a new customer's first
term starts at its invoice), ``expansion`` (an upsell during a term, or a renewal at a
higher ARR), ``contraction`` (a renewal at a lower ARR) and ``churn`` (the customer
leaves; its whole ARR goes). Amounts are positive; the signs are the kinds'. A
customer's ARR at time t is the signed sum of its events up to and including t, so ARR
at the horizon is ``arr_at_horizon`` and every month's ARR bridge adds up by
construction.

Retention follows the standard trailing-twelve-month definitions over the whole book:
NRR is the ARR today of the customers who had ARR twelve months ago, over their ARR then;
GRR caps each customer's ARR today at its ARR then (expansion does not count).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from funnelsim.analysis._common import (
    HOURS_PER_YEAR,
    from_book,
    horizon_hours,
    per_ledger,
    ratio,
    terms_column,
)
from funnelsim.engine.ledger import Ledger

ARR_KINDS: tuple[str, ...] = ("start", "new", "expansion", "contraction", "churn")
SIGN = {"start": 1.0, "new": 1.0, "expansion": 1.0, "contraction": -1.0, "churn": -1.0}


def arr_events(ledger: Ledger) -> pd.DataFrame:
    """Every change of a customer's ARR: columns lead_id, time, kind, amount (>= 0)."""
    return per_ledger("arr_events", ledger, lambda: _arr_events(ledger))


def _arr_events(ledger: Ledger) -> pd.DataFrame:
    terms = ledger.terms
    lead = np.asarray(terms_column(ledger, "lead_id"), dtype=np.int64)
    term = np.asarray(terms_column(ledger, "term"), dtype=np.int64)
    start = np.asarray(terms_column(ledger, "start"), dtype=float)
    end = np.asarray(terms_column(ledger, "end"), dtype=float)
    arr = np.asarray(terms_column(ledger, "arr"), dtype=float)
    status = np.asarray(terms_column(ledger, "status"), dtype=object)
    next_arr = np.nan_to_num(np.asarray(terms_column(ledger, "next_arr"), dtype=float), nan=0.0)
    upsell = _column(terms, "upsell_arr", 0.0)
    upsell_time = _column(terms, "upsell_time", np.nan)
    # A book customer's current term started at or before time 0; a book opportunity won
    # in the run starts its first term later, as a new customer.
    book = from_book(ledger)[lead] & (start <= 0.0)
    first = term == 1
    held = arr + upsell
    change = next_arr - held
    renewed = np.isin(status, ("renewed", "expanded", "contracted"))
    churned = status == "churned"
    parts = [
        (first & book, np.zeros(len(lead)), "start", arr),
        (first & ~book, start, "new", arr),
        (upsell > 0, upsell_time, "expansion", upsell),
        (renewed & (change > 0), end, "expansion", change),
        (renewed & (change < 0), end, "contraction", -change),
        (churned & (held > 0), end, "churn", held),
    ]
    # The parts stacked in this order, then sorted by time and lead (stable: ties keep it).
    ids = np.concatenate([lead[mask] for mask, *_ in parts]).astype(np.int64)
    times = np.concatenate([np.asarray(at, dtype=float)[mask] for mask, at, *_ in parts])
    kinds = np.concatenate(
        [np.full(int(mask.sum()), ARR_KINDS.index(kind), np.int8) for mask, _, kind, _ in parts]
    )
    amounts = np.concatenate([np.asarray(value, dtype=float)[mask] for mask, *_, value in parts])
    order = np.lexsort((ids, times))
    return pd.DataFrame(
        {
            "lead_id": ids[order],
            "time": times[order],
            "kind": pd.Categorical.from_codes(kinds[order], dtype=_kind_dtype()),
            "amount": amounts[order],
        }
    )


@functools.cache
def _kind_dtype() -> pd.CategoricalDtype:
    """The events' ``kind`` type, made once on first use (making it from the names each
    time costs more than the column; at import it would load pyarrow's pandas module)."""
    return pd.CategoricalDtype(list(ARR_KINDS))


def arr_at(ledger: Ledger, time: float, events: pd.DataFrame | None = None) -> np.ndarray:
    """Each lead's ARR at ``time`` (hours), after every change up to and including it."""
    events = arr_events(ledger) if events is None else events
    signed = events["amount"].to_numpy(dtype=float) * _signs(events)
    upto = events["time"].to_numpy(dtype=float) <= time
    lead = events["lead_id"].to_numpy(dtype=np.int64)
    return np.bincount(lead[upto], weights=signed[upto], minlength=ledger.n_leads)


def trailing_retention(ledger: Ledger, at: float | None = None) -> pd.DataFrame:
    """NRR, GRR and logo retention over the twelve months to ``at`` (default the horizon).

    Rows nrr, grr, logo_retention and base_customers (customers with ARR twelve months
    before ``at``); the ratios are NaN when ``at`` is less than a year into the run or
    nobody had ARR then.
    """
    values = trailing_values(ledger, at)
    return pd.DataFrame({"metric": list(values), "value": list(values.values())})


def trailing_values(ledger: Ledger, at: float | None = None) -> dict[str, float]:
    """:func:`trailing_retention`'s figures by metric, for callers that read one value."""
    at = horizon_hours(ledger) if at is None else float(at)
    names = ("nrr", "grr", "logo_retention", "base_customers")
    if at < HOURS_PER_YEAR:
        return dict(zip(names, (np.nan, np.nan, np.nan, 0.0), strict=True))
    events = arr_events(ledger)
    before = arr_at(ledger, at - HOURS_PER_YEAR, events)
    now = arr_at(ledger, at, events)
    base = before > 1e-9
    total = float(before[base].sum())
    values = (
        ratio(now[base].sum(), total),
        ratio(np.minimum(now[base], before[base]).sum(), total),
        ratio(float((now[base] > 1e-9).sum()), float(base.sum())),
        float(base.sum()),
    )
    return dict(zip(names, values, strict=True))


def _signs(events: pd.DataFrame) -> np.ndarray:
    """+1 for ARR gained, -1 for ARR lost, per event."""
    kind = events["kind"]
    if isinstance(kind.dtype, pd.CategoricalDtype) and tuple(kind.cat.categories) == ARR_KINDS:
        return np.array([SIGN[name] for name in ARR_KINDS])[kind.cat.codes.to_numpy()]
    return events["kind"].astype(str).map(SIGN).to_numpy(dtype=float)


def kind_codes(events: pd.DataFrame) -> np.ndarray:
    """Each event's kind as its index in ``ARR_KINDS`` (-1 for another kind)."""
    kind = events["kind"]
    if isinstance(kind.dtype, pd.CategoricalDtype) and tuple(kind.cat.categories) == ARR_KINDS:
        return kind.cat.codes.to_numpy()
    return pd.Categorical(kind, categories=list(ARR_KINDS)).codes


def _column(terms: pd.DataFrame, name: str, default: float) -> np.ndarray:
    """A terms column as floats (the default where an older table lacks it)."""
    if name not in terms:
        return np.full(len(terms), default)
    return terms[name].to_numpy(dtype=float)
