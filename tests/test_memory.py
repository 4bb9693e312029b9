"""The compact ledger and the one-pass engine: same numbers, fewer bytes.

``data/ledger_before_compact.npz`` holds the float64/int32 ledgers, terms and stage rows
the engine wrote before the ledger was made compact (the baseline over 60 days, seeds
3 and 4, the second with seams 1 and 2 perfect). The compact ledger must hold exactly
those values: times rounded down to float32 once, fit and score rounded to float32,
everything else equal. They were written when remaining-time draws took their CDF by
bisection on the quantile (analytic CDFs differ from it by an ulp or so), so the comparison
runs with the bisection.
"""

from __future__ import annotations

import dataclasses
import importlib
import pickle
import weakref
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import funnelsim as fs
from funnelsim.engine import fates as fates_module
from funnelsim.engine import lead_pass
from funnelsim.engine.fates import FATE_STREAM, RowStream, draw_rows
from funnelsim.engine.heap import release_free_memory
from funnelsim.engine.inputs import Sparse, dense
from funnelsim.engine.ledger import (
    COLUMN_NAMES,
    LEDGER_DTYPES,
    TIME_COLUMNS,
    Columns,
    SparseColumn,
    floor32,
    ledger_dtypes,
)
from funnelsim.experiment.replications import run_replication
from funnelsim.experiment.variants import with_overrides
from funnelsim.scenario.distributions import _Dist

# The module (``funnelsim.engine.simulate`` names the function once the package is imported).
simulate_module = importlib.import_module("funnelsim.engine.simulate")
ROOT = Path(__file__).resolve().parents[1]
BEFORE = Path(__file__).parent / "data" / "ledger_before_compact.npz"
TERM_HOURS = ("start", "end", "paid_time", "upsell_time", "upsell_paid_time")
# Bytes per lead of the ledger's columns: 15 float32 times, fit and score float32, five
# float64 money columns, 14 flags and the codes (int8/int16/int32).
MAX_LEDGER_BYTES_PER_LEAD = 145


@pytest.fixture(scope="module")
def short_baseline() -> fs.Scenario:
    return with_overrides(
        fs.load_scenario(ROOT / "scenarios" / "baseline.yaml"), {"horizon_days": 60}
    )


def _stored(name: str, before: np.ndarray) -> np.ndarray:
    """What the compact ledger stores for a value the plain one held."""
    if name in TIME_COLUMNS or name in TERM_HOURS or name in ("entered", "left"):
        return floor32(before)
    return before.astype(LEDGER_DTYPES.get(name, before.dtype))


@pytest.mark.parametrize(("seed", "perfect"), [(3, ()), (4, (1, 2))])
def test_compact_ledger_holds_the_plain_ledgers_values(
    short_baseline, seed, perfect, monkeypatch
) -> None:
    monkeypatch.setattr(_Dist, "cdf", _Dist.bisected_cdf)
    before = np.load(BEFORE)
    ledger = fs.simulate(short_baseline, seed, perfect_seams=perfect)
    tag = f"s{seed}"
    assert set(ledger.columns) == {key.split("/")[2] for key in before if "/leads/" in key}
    for name, values in ledger.columns.items():
        old = before[f"{tag}/leads/{name}"]
        assert values.dtype == LEDGER_DTYPES[name], name
        np.testing.assert_array_equal(values, _stored(name, old), err_msg=name)
    for table, frame in (("terms", ledger.terms), ("stages", ledger.stages)):
        for key in [k for k in before if k.startswith(f"{tag}/{table}/")]:
            name = key.split("/")[2]
            np.testing.assert_array_equal(
                frame[name].to_numpy(), _stored(name, before[key]), err_msg=f"{table}.{name}"
            )


def test_ledger_bytes_per_lead(short_baseline) -> None:
    ledger = fs.simulate(short_baseline, 1)
    assert list(ledger.columns) == list(COLUMN_NAMES)
    per_lead = sum(column.nbytes for column in ledger.columns.values()) / ledger.n_leads
    assert per_lead <= MAX_LEDGER_BYTES_PER_LEAD
    # The times a user compares with the horizon stay on the right side of it.
    horizon = ledger.meta["horizon_hours"]
    for name in ("first_response", "ae_start", "opp_time", "onboard_start"):
        values = ledger.columns[name]
        assert not np.any(values[np.isfinite(values)] > horizon), name
    assert np.all(ledger.terms["start"] < horizon)


def test_blocks_of_any_size_give_the_same_ledger(short_baseline, monkeypatch) -> None:
    """The one pass over the leads, in blocks, equals a pass in one block, whatever the
    block sizes of the pass and of the streams."""
    whole = fs.simulate(short_baseline, 9)
    monkeypatch.setattr(lead_pass, "BLOCK_ROWS", 97)
    monkeypatch.setattr(fates_module, "STREAM_BLOCK_ROWS", 13)
    blocked = fs.simulate(short_baseline, 9)
    for name, values in whole.columns.items():
        np.testing.assert_array_equal(values, blocked.columns[name], err_msg=name)
    pd.testing.assert_frame_equal(whole.terms, blocked.terms)
    pd.testing.assert_frame_equal(whole.stages, blocked.stages)
    assert whole.meta == blocked.meta


@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=400),
    st.integers(1, 50),
    st.data(),
)
def test_row_stream_reads_the_same_rows_as_one_draw(sources, piece, data) -> None:
    source = np.array(sources, dtype=np.int16) - 1  # -1: the starting book's rows
    names = ("a", "b", "c")
    rows = np.array(sorted(data.draw(st.sets(st.integers(0, len(source) - 1)))), dtype=np.int64)
    # Some columns, and every column in order (read as a view of each block's rows).
    for columns in ([0, 5, 29], list(range(30))):
        whole = draw_rows(3, FATE_STREAM, source, names, 30, rows, columns)
        stream = RowStream(3, FATE_STREAM, source, names, 30)
        parts = [stream.take(rows[lo : lo + piece], columns) for lo in range(0, len(rows), piece)]
        got = np.hstack(parts) if parts else np.empty((len(columns), 0))
        np.testing.assert_array_equal(got, whole)


def test_row_stream_refuses_going_back(monkeypatch) -> None:
    """A row whose block was dropped cannot be read again."""
    monkeypatch.setattr(fates_module, "STREAM_BLOCK_ROWS", 2)
    source = np.zeros(10, dtype=np.int16)
    stream = RowStream(1, FATE_STREAM, source, ("a",), 4)
    stream.take(np.array([5]), [0])
    with pytest.raises(ValueError, match="increasing order"):
        stream.take(np.array([2]), [0])


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=50))
def test_floor32_rounds_down_once_and_keeps_order(values) -> None:
    exact = np.array(values)
    stored = floor32(exact)
    assert stored.dtype == np.float32
    assert np.all(stored.astype(float) <= exact)
    above = np.nextafter(stored, np.float32(np.inf)).astype(float)
    assert np.all(above > exact)
    order = np.argsort(exact, kind="stable")
    assert np.all(np.diff(stored[order].astype(float)) >= 0)
    horizon = np.float32(8760.0)
    assert np.all(floor32(exact[exact < horizon]) < horizon)


def test_name_codes_widen_past_int16() -> None:
    assert ledger_dtypes(300)["source"] == np.int16
    wide = ledger_dtypes(40_000)
    for name in ("source", "segment", "loss_reason", "product"):
        assert wide[name] == np.int32


def test_many_lost_reasons_keep_their_codes(short_baseline) -> None:
    """Reason codes past int8's range are stored and read back by name."""
    reasons = {f"reason_{i:03d}": 1.0 for i in range(300)}
    scenario = with_overrides(short_baseline, {"sales.lost_reasons": reasons})
    ledger = fs.simulate(scenario, 2)
    codes = ledger.columns["loss_reason"]
    assert codes.max() > 127
    named = ledger.leads["loss_reason"].dropna().astype(str)
    assert named.str.startswith("reason_").any()


def _arrays(value: object) -> list[np.ndarray]:
    """Every numpy array (and DataFrame column) reachable from a replication's fields."""
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, pd.DataFrame):
        return [value[c].to_numpy() for c in value.columns]
    if isinstance(value, dict):
        return [a for v in value.values() for a in _arrays(v)]
    if dataclasses.is_dataclass(value):
        return [a for f in dataclasses.fields(value) for a in _arrays(getattr(value, f.name))]
    return []


def test_a_no_ledger_replication_returns_no_per_lead_arrays(short_baseline) -> None:
    kept = run_replication(short_baseline, 0, 11, (), keep_ledger=True)
    n_leads = kept.ledger.n_leads
    assert n_leads > 1000
    reduced = run_replication(short_baseline, 0, 11, (), keep_ledger=False)
    assert reduced.ledger is None
    assert all(len(a) < n_leads / 10 for a in _arrays(reduced))
    pd.testing.assert_frame_equal(reduced.headline, kept.headline)


# Bytes per lead the ledger's columns hold as stored: the late-funnel times, the amounts
# and rare flags are held sparse (rows and values), the rest dense.
MAX_STORED_BYTES_PER_LEAD = 75

_FILLS = {"nan": np.nan, "zero": 0.0, "minus_one": -1}


@given(
    st.sampled_from(["float32", "float64", "bool", "int8", "int16", "int32"]),
    st.sampled_from(sorted(_FILLS)),
    st.integers(0, 300),
    st.data(),
)
def test_sparse_column_expands_to_exactly_the_dense_column(dtype, fill_name, n, data) -> None:
    fill = _FILLS[fill_name]
    dtype = np.dtype(dtype)
    if dtype.kind != "f" and fill_name == "nan":
        fill = 0
    if dtype.kind == "b":
        fill = False
    column = np.full(n, fill, dtype=dtype)
    rows = data.draw(st.lists(st.integers(0, max(n - 1, 0)), max_size=n // 2 if n else 0))
    if dtype.kind == "f":
        specials = st.sampled_from([0.0, -0.0, np.nan, 1.5, -2.25, 1e30])
    elif dtype.kind == "b":
        specials = st.booleans()
    else:
        specials = st.integers(-100, 100)
    for row in rows:
        column[row] = data.draw(specials)
    sparse = SparseColumn.of(column, fill)
    if sparse is None:  # holding it sparse would not halve it
        return
    expanded = sparse.expand()
    assert expanded.dtype == column.dtype
    assert sparse.nbytes * 2 <= column.nbytes
    # Bit for bit: NaN where NaN, -0.0 where -0.0.
    assert expanded.tobytes() == column.tobytes()
    assert not expanded.flags.writeable


def test_columns_read_sparse_columns_in_full_and_keep_them_sparse() -> None:
    times = np.full(1000, np.nan, dtype=np.float32)
    times[[3, 500]] = [1.5, 2.5]
    money = np.zeros(1000)
    money[7] = 9.0
    created = np.arange(1000, dtype=np.float32)
    columns = Columns(won_time=times.copy(), booked_arr=money.copy(), created=created)
    columns.freeze(["won_time", "booked_arr", "created"])
    assert isinstance(columns.stored("won_time"), SparseColumn)
    assert isinstance(columns.stored("booked_arr"), SparseColumn)
    assert isinstance(columns.stored("created"), np.ndarray)  # dense: sparse would not halve it
    assert columns.stored_bytes() < times.nbytes + money.nbytes + created.nbytes
    for read in (
        columns,
        dict(columns),
        {**columns},
        dict(columns.items()),
        dict(zip(columns.keys(), columns.values(), strict=True)),
        pickle.loads(pickle.dumps(columns)),
    ):
        np.testing.assert_array_equal(read["won_time"], times)
        np.testing.assert_array_equal(read["booked_arr"], money)
        np.testing.assert_array_equal(read["created"], created)
    np.testing.assert_array_equal(columns.get("won_time"), times)
    assert columns.get("missing") is None
    # Reading expands afresh each time and never replaces what is held; a write to an
    # expanded column cannot be lost silently.
    assert columns["won_time"] is not columns["won_time"]
    assert isinstance(columns.stored("won_time"), SparseColumn)
    with pytest.raises(ValueError, match="read-only"):
        columns["won_time"][0] = 1.0
    assert isinstance(pickle.loads(pickle.dumps(columns)).stored("won_time"), SparseColumn)


def test_ledger_stored_bytes_per_lead(short_baseline) -> None:
    ledger = fs.simulate(short_baseline, 1)
    columns = ledger.columns
    assert isinstance(columns, Columns)
    per_lead = columns.stored_bytes() / ledger.n_leads
    assert per_lead <= MAX_STORED_BYTES_PER_LEAD
    sparse = {name for name in columns if isinstance(columns.stored(name), SparseColumn)}
    assert {"won_time", "churn_time", "booked_arr", "horizon_revenue"} <= sparse
    # Every reader gets full-length arrays in the stored dtypes.
    for name in COLUMN_NAMES:
        assert len(columns[name]) == ledger.n_leads
        assert columns[name].dtype == LEDGER_DTYPES[name]


@given(st.lists(st.sampled_from([0.0, -0.0, 1.0, -3.5, np.inf, np.nan]), max_size=60))
def test_sparse_inputs_read_every_item_as_the_dense_column(values) -> None:
    dense_values = np.array(values, dtype=float)
    sparse = Sparse.of(dense_values)
    assert len(sparse) == len(dense_values)
    got = np.array([sparse[i] for i in range(len(sparse))], dtype=float)
    if len(sparse):
        assert np.array([sparse[-1]]).tobytes() == dense_values[-1:].tobytes()
    with pytest.raises(IndexError):
        sparse[len(sparse)]
    assert got.tobytes() == dense_values.tobytes()
    assert dense(sparse).tobytes() == dense_values.tobytes()
    assert len(sparse.positions) == np.count_nonzero((dense_values != 0) | np.signbit(dense_values))


def test_returning_free_memory_between_phases_changes_nothing(short_baseline, monkeypatch) -> None:
    """A large run hands the heap's free pages back between phases: same ledger."""
    plain = fs.simulate(short_baseline, 5)
    calls: list[bool] = []

    def release() -> bool:
        calls.append(release_free_memory())
        return calls[-1]

    monkeypatch.setattr(simulate_module, "TRIM_LEADS", 0)
    monkeypatch.setattr(simulate_module, "release_free_memory", release)
    trimmed = fs.simulate(short_baseline, 5)
    assert len(calls) >= 3
    for name in COLUMN_NAMES:
        np.testing.assert_array_equal(plain.columns[name], trimmed.columns[name], err_msg=name)
    pd.testing.assert_frame_equal(plain.terms, trimmed.terms)


def test_the_summaries_only_path_expands_a_few_sparse_columns_at_a_time(
    short_baseline, monkeypatch
) -> None:
    """A replication reduced to its summaries reads sparse columns one by one: only a
    few are ever expanded at once, never the whole ledger."""
    ledger = fs.simulate(short_baseline, 1)
    n_sparse = sum(isinstance(ledger.columns.stored(n), SparseColumn) for n in ledger.columns)
    assert n_sparse >= 10
    live, most, made = [0], [0], [0]
    expand = SparseColumn.expand

    def counted(self: SparseColumn) -> np.ndarray:
        out = expand(self)
        live[0] += 1
        made[0] += 1
        most[0] = max(most[0], live[0])
        weakref.finalize(out, lambda: live.__setitem__(0, live[0] - 1))
        return out

    monkeypatch.setattr(SparseColumn, "expand", counted)
    reduced = run_replication(short_baseline, 0, 1, (), keep_ledger=False)
    assert reduced.ledger is None
    assert made[0] >= n_sparse  # the engine and the summaries read them, one by one
    assert most[0] <= 4
