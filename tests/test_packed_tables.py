"""A replication's Parquet tables sent from a worker (``PackedTables``) unpickle to the
tables it made, and the files written from them are byte for byte the files written from
the tables themselves; the packed form is smaller."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelsim as fs
from funnelsim.bundled import resolve_scenario
from funnelsim.experiment.replications import replication_seeds
from funnelsim.ledger_files import LEDGER_TABLES, arrow_tables, write_tables
from funnelsim.packed_tables import PackedTables
from funnelsim.scenario.loading import load_scenario


def _round_trip(tables: PackedTables) -> PackedTables:
    back = pickle.loads(pickle.dumps(tables))
    assert isinstance(back, PackedTables)
    assert list(back) == list(tables)
    return back


def _assert_same(found: pa.Table, expected: pa.Table) -> None:
    """Equal schemas (metadata too), missing values and values; floats bit for bit
    (NaN too, which ``Table.equals`` never finds equal to itself)."""
    assert found.schema.equals(expected.schema, check_metadata=True)
    assert found.num_rows == expected.num_rows
    for got, want in zip(found.columns, expected.columns, strict=True):
        if not pa.types.is_floating(want.type):
            assert got.equals(want)
            continue
        got, want = got.combine_chunks(), want.combine_chunks()
        present = want.is_valid().to_numpy(zero_copy_only=False)
        assert np.array_equal(got.is_valid().to_numpy(zero_copy_only=False), present)
        width = f"u{want.type.bit_width // 8}"
        np.testing.assert_array_equal(
            got.to_numpy(zero_copy_only=False)[present].view(width),
            want.to_numpy(zero_copy_only=False)[present].view(width),
        )


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("baseline", []),
        ("hiring_plan", ["horizon_days=300"]),
        ("outbound_motion", ["horizon_days=200"]),
    ],
)
def test_a_replications_tables_unpickle_equal_and_write_the_same_files(
    name: str, overrides: list[str], tmp_path: Path
) -> None:
    scenario = load_scenario(resolve_scenario(name), overrides)
    seeds = replication_seeds(8, 2)
    parts = [arrow_tables(fs.simulate(scenario, seed), index) for index, seed in enumerate(seeds)]
    sent = [_round_trip(part) for part in parts]
    for part, back in zip(parts, sent, strict=True):
        for table in LEDGER_TABLES:
            _assert_same(back[table], part[table])
        assert len(pickle.dumps(part)) < 0.6 * len(pickle.dumps(dict(part)))
    for folder, written in (("plain", parts), ("sent", sent)):
        (tmp_path / folder).mkdir()
        with ThreadPoolExecutor(2) as pool:
            for future in write_tables(written, tmp_path / folder, pool):
                future.result()
    for table in LEDGER_TABLES:
        assert (tmp_path / "sent" / table).read_bytes() == (tmp_path / "plain" / table).read_bytes()


NUMERIC = st.sampled_from(
    [pa.int8(), pa.int32(), pa.int64(), pa.uint16(), pa.float32(), pa.float64()]
)


@st.composite
def columns(draw: st.DrawFn) -> pa.Array:
    """Numeric columns mostly missing, mostly zero, constant, counting or dense; floats
    with NaN, -0.0 and infinities as values; some sliced or in chunks."""
    kind = draw(NUMERIC)
    rows = draw(st.integers(0, 70))
    shape = draw(st.sampled_from(["missing", "zero", "constant", "count", "dense"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = kind.to_pandas_dtype()
    if pa.types.is_floating(kind):
        pool = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 1.5, -2.25, 3e38], dtype=dtype)
        values = rng.choice(pool, rows) if shape == "dense" else rng.normal(size=rows)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, rows, dtype=dtype, endpoint=True)
    values = values.astype(dtype)
    if shape == "zero":
        values[rng.random(rows) < 0.8] = 0
    if shape == "constant":
        values[:] = values[0] if rows else 0
    if shape == "count":
        values = np.arange(rows).astype(dtype)
    mask = rng.random(rows) < (0.8 if shape == "missing" else 0.1 if shape == "dense" else 0)
    array = pa.array(values, type=kind, mask=mask)
    if draw(st.booleans()) and rows > 2:
        return array.slice(1)
    if draw(st.booleans()) and rows > 2:
        return pa.chunked_array([array.slice(0, 2), array.slice(2)])
    return array


@settings(max_examples=150, deadline=None)
@given(st.lists(columns(), min_size=1, max_size=4), st.booleans())
def test_any_numeric_columns_unpickle_equal(arrays: list[pa.Array], chunked: bool) -> None:
    rows = min(len(array) for array in arrays)
    arrays = [array.slice(0, rows) for array in arrays]
    table = pa.table({f"c{i}": array for i, array in enumerate(arrays)})
    table = table.replace_schema_metadata({b"pandas": b"{}"})
    if chunked and rows > 1:
        table = pa.concat_tables([table.slice(0, 1), table.slice(1)])
    back = _round_trip(PackedTables({"t": table}))
    _assert_same(back["t"], table)


def test_other_columns_travel_as_they_are() -> None:
    table = pa.table(
        {
            "text": ["a", None, "b"],
            "flag": [True, False, None],
            "kind": pa.array(["x", "y", "x"]).dictionary_encode(),
            "empty": pa.array([None, None, None], type=pa.null()),
        }
    )
    _assert_same(_round_trip(PackedTables({"t": table}))["t"], table)
