"""Arrow tables that a worker sends back without what the receiver can rebuild.

A replication's Parquet tables travel from a worker process to the main process pickled
through a pipe, which costs both ends time per byte (~3.4 MB a baseline replication).
``PackedTables`` (a dict of tables by name) pickles each numeric column in the smallest of
these forms and unpickles to equal tables (same schema, metadata, values and missing
values; floats bit for bit): one value repeated (the ``replication`` column), the count
0..n-1 (the leads' ``lead_id``), the values present and a bitmap of where (a time most
leads never reach), the values that are not zero and their rows (money most leads never
earn), or as it is. A third of the bytes are left to send.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

# How a column is sent: a form's name and what rebuilds it.
Packed = tuple[Any, ...]


class PackedTables(dict[str, pa.Table]):
    """Tables by name that pickle compactly (see the module's docstring)."""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        packed = {
            name: (table.schema, table.num_rows, _columns(table)) for name, table in self.items()
        }
        return _unpacked, (packed,)


def _unpacked(packed: dict[str, tuple[pa.Schema, int, list[Packed]]]) -> PackedTables:
    tables = PackedTables()
    for name, (schema, rows, columns) in packed.items():
        arrays = [
            _unpack(column, field.type, rows) for column, field in zip(columns, schema, strict=True)
        ]
        tables[name] = pa.Table.from_arrays(arrays, schema=schema)
    return tables


def _columns(table: pa.Table) -> list[Packed]:
    return [_pack(column) for column in table.columns]


def _bits(array: pa.Array) -> np.ndarray | None:
    """A numeric column's values as unsigned integers of its width (their exact bits), or
    None for a column sent as it is (not numeric, several chunks, a slice, empty)."""
    kind = array.type
    if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)) or array.offset:
        return None
    if len(array) == 0:
        return None
    width = kind.bit_width // 8
    data = array.buffers()[1]
    return np.frombuffer(data, dtype=f"<u{width}", count=len(array))


def _pack(column: pa.ChunkedArray) -> Packed:
    if column.num_chunks != 1:
        return ("as is", column)
    array = column.chunk(0)
    bits = _bits(array)
    if bits is None:
        return ("as is", column)
    rows = len(array)
    if array.null_count:
        if 2 * array.null_count < rows:
            return ("as is", column)
        present = np.unpackbits(
            np.frombuffer(array.buffers()[0], np.uint8, count=(rows + 7) // 8),
            count=rows,
            bitorder="little",
        ).view(bool)
        return ("present", np.packbits(present, bitorder="little"), bits[present])
    if bits[0] == bits[-1] and (bits == bits[0]).all():
        return ("one value", bits[0])
    if bits[0] == 0 and np.array_equal(bits, np.arange(rows, dtype=bits.dtype)):
        return ("count",)
    nonzero = np.flatnonzero(bits)
    if 2 * len(nonzero) < rows:
        return ("not zero", nonzero.astype(np.int32), bits[nonzero])
    return ("as is", column)


def _unpack(packed: Packed, kind: pa.DataType, rows: int) -> pa.Array | pa.ChunkedArray:
    form = packed[0]
    if form == "as is":
        return packed[1]
    dtype = np.dtype(f"<u{kind.bit_width // 8}")
    validity = None
    if form == "one value":
        bits = np.full(rows, packed[1], dtype=dtype)
    elif form == "count":
        bits = np.arange(rows, dtype=dtype)
    elif form == "not zero":
        bits = np.zeros(rows, dtype=dtype)
        bits[packed[1]] = packed[2]
    else:  # "present"
        bitmap, values = packed[1], packed[2]
        present = np.unpackbits(bitmap, count=rows, bitorder="little").view(bool)
        bits = np.zeros(rows, dtype=dtype)
        bits[present] = values
        validity = pa.py_buffer(bitmap)
    nulls = rows - len(packed[2]) if validity is not None else 0
    return pa.Array.from_buffers(kind, rows, [validity, pa.py_buffer(bits)], null_count=nulls)
