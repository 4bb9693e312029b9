"""The results folder's Parquet tables, made per replication and written as one file each.

A replication turns its ledger's tables (leads, terms, team levels, stage rows, each with
a ``replication`` column first) into Arrow tables where it ran, so a pool of workers
shares that work; the main process only joins them (no copy) and writes each file, in
threads, since Parquet encoding runs outside Python's lock. ``PartWriter`` writes the
replications' parts in order as they come (a row group once consecutive parts hold
``ROW_GROUP_ROWS`` rows), so that the encoding overlaps the replications still running.
pyarrow.parquet is imported only to write (workers that build the tables never load it).
Float columns are written
without a dictionary: their values rarely repeat, and trying one took a third of the
time. The files read back exactly as the stacked DataFrames of ``Results`` written with
``DataFrame.to_parquet``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from funnelsim.engine.ledger import OUTCOMES, Ledger
from funnelsim.packed_tables import PackedTables

if TYPE_CHECKING:
    import pyarrow.parquet as pq

# Rows of consecutive parts ``PartWriter`` writes as one row group (at least).
ROW_GROUP_ROWS = 65_536
# (Arrow schema, name lists) -> the pandas metadata ``Table.from_pandas`` gives the table.
_PANDAS_METADATA: dict[tuple, dict[bytes, bytes]] = {}


def _stage_rows(ledger: Ledger) -> pd.DataFrame:
    from funnelsim.analysis.stages import stage_rows

    return stage_rows(ledger)


# File name -> the ledger table it holds.
LEDGER_TABLES: dict[str, Callable[[Ledger], pd.DataFrame]] = {
    "ledger.parquet": lambda ledger: ledger.leads,
    "terms.parquet": lambda ledger: ledger.terms,
    "team_levels.parquet": lambda ledger: ledger.team_levels,
    "stages.parquet": _stage_rows,
}


def arrow_tables(ledger: Ledger, replication: int) -> PackedTables:
    """One replication's Parquet tables as Arrow tables, by file name (compact to send
    from a worker)."""
    tables = PackedTables()
    for name, pick in LEDGER_TABLES.items():
        if name == "ledger.parquet":
            tables[name] = leads_arrow(ledger, replication)
        else:
            tables[name] = plain_arrow(pick(ledger), replication)
    return tables


def plain_arrow(frame: pd.DataFrame, replication: int) -> pa.Table:
    """A ledger table with a ``replication`` column first, equal to ``Table.from_pandas``
    of it (types, nulls, pandas metadata): numeric columns straight from their numpy
    arrays, the others (text, categoricals) converted by pyarrow one by one, the pandas
    metadata made once per schema (:func:`_pandas_metadata`)."""
    arrays = [pa.array(np.full(len(frame), replication, dtype=np.int64))]
    labels = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":
            arrays.append(_numeric(column.to_numpy()))
        else:
            arrays.append(pa.Array.from_pandas(column))
            if isinstance(column.dtype, pd.CategoricalDtype):
                labels.append(tuple(column.dtype.categories))
    table = pa.Table.from_arrays(arrays, ["replication", *frame.columns])
    return table.replace_schema_metadata(_pandas_metadata(table, tuple(labels)))


def _numeric(values: np.ndarray) -> pa.Array:
    """A numeric column as Arrow, NaN as null (as pandas' conversion makes it): the nulls
    found by numpy, which is several times faster than pyarrow's ``from_pandas`` scan."""
    if values.dtype.kind == "f":
        missing = np.isnan(values)
        if missing.any():
            return pa.array(values, mask=missing)
    return pa.array(values)


def leads_arrow(ledger: Ledger, replication: int) -> pa.Table:
    """``plain_arrow(ledger.leads, replication)`` built from the ledger's columns (numeric
    ones without a copy, name codes as dictionaries)."""
    names = _category_names(ledger)
    n = ledger.n_leads
    arrays = [pa.array(np.full(n, replication, dtype=np.int64)), pa.array(np.arange(n))]
    fields = ["replication", "lead_id"]
    for column, values in ledger.columns.items():
        fields.append(column)
        if column in names:
            labels, shift = names[column]
            arrays.append(_dictionary(np.asarray(values) - shift, labels))
        else:
            arrays.append(_numeric(np.asarray(values)))
    table = pa.Table.from_arrays(arrays, fields)
    labels = tuple(labels for labels, _ in names.values())
    return table.replace_schema_metadata(_pandas_metadata(table, labels))


def _category_names(ledger: Ledger) -> dict[str, tuple[tuple[str, ...], int]]:
    """The leads' columns of name codes (as ``Ledger.leads`` makes them categoricals):
    their names and the shift from a stored code to a name's index."""
    return {
        "source": (tuple(ledger.source_names), 0),
        "segment": (tuple(ledger.segment_names), 0),
        "outcome": (tuple(OUTCOMES), 0),
        "product": (tuple(ledger.product_names), 0),
        "loss_reason": (tuple(ledger.reason_names[1:]), 1),
    }


def _dictionary(codes: np.ndarray, labels: tuple[str, ...]) -> pa.DictionaryArray:
    """Codes into ``labels`` (negative: missing) as pandas' categorical converts: indices
    of the smallest integer type that holds the labels, values typed as pandas types them."""
    width = next(t for t in (np.int8, np.int16, np.int32) if len(labels) < np.iinfo(t).max)
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(width), mask=codes < 0), _dictionary_values(labels)
    )


@functools.lru_cache(maxsize=64)
def _dictionary_values(labels: tuple[str, ...]) -> pa.Array:
    """A dictionary's names typed as pandas types a categorical's (made once per names;
    Arrow arrays are immutable)."""
    return pa.array(pd.Index(list(labels), dtype=None if labels else object))


def _pandas_metadata(table: pa.Table, labels: tuple) -> dict[bytes, bytes]:
    """The pandas metadata ``Table.from_pandas`` would attach to this table (taken from an
    empty frame of the same columns, once per schema and name lists: the metadata counts
    each categorical's names, which the schema's dictionary types do not hold)."""
    key = (table.schema, labels)
    if key not in _PANDAS_METADATA:
        empty = table.slice(0, 0).to_pandas()
        _PANDAS_METADATA[key] = pa.Table.from_pandas(empty, preserve_index=False).schema.metadata
    return _PANDAS_METADATA[key]


def write_tables(
    parts: Sequence[dict[str, pa.Table]], folder: Path, pool: ThreadPoolExecutor
) -> list[Future]:
    """Start writing each file of ``LEDGER_TABLES`` from the replications' parts (in
    replication order) on ``pool``; the caller waits on the futures."""
    return [
        pool.submit(_write, [part[name] for part in parts], folder / name) for name in LEDGER_TABLES
    ]


def _write(tables: list[pa.Table], path: Path) -> None:
    import pyarrow.parquet as pq

    try:
        joined = pa.concat_tables(tables)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # parts whose column types differ
        frames = [table.to_pandas() for table in tables]
        pd.concat(frames, ignore_index=True).to_parquet(path, index=False)
        return
    pq.write_table(joined, path, **_encoding(joined.schema))


def _encoding(schema: pa.Schema) -> dict[str, object]:
    """How the files are encoded: dictionaries only where they pay, and the values handed
    to the encoder in batches of a row group's rows rather than Arrow's 1,024 (a tenth
    less encoding time; the same pages and bytes at the baseline's size, the same values
    always)."""
    return {"use_dictionary": _dictionary_columns(schema), "write_batch_size": ROW_GROUP_ROWS}


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary encoding: all but floats, whose values (times, money)
    rarely repeat, so that trying a dictionary for them only costs time (and size)."""
    return [field.name for field in schema if not pa.types.is_floating(field.type)]


class PartWriter:
    """Writes the ``LEDGER_TABLES`` files of a folder from the replications' parts as they
    arrive (``add``, any order), in replication order, in one thread per file; ``finish``
    waits for the files. Consecutive parts are written as one row group once they hold
    ``ROW_GROUP_ROWS`` rows (a row group per part costs a quarter more time and a tenth
    more bytes at the baseline's size), and let go once written, so the parts of a run are
    never all in memory at once. Given the run's ``count`` of parts, the last row groups
    are written as soon as the last part is in (while the caller writes other files).
    From the first part whose column types differ from the first part's, a file keeps its
    parts and is written again at the end as ``write_tables`` writes it (the rows written
    before read back from the file).

    A context manager: leaving it (on an error too) stops the threads and closes the
    files before the folder they are in is committed or removed.
    """

    def __init__(self, folder: Path, count: int | None = None) -> None:
        self.folder = folder
        self.count = count
        self.waiting: dict[int, dict[str, pa.Table]] = {}  # added before an earlier part
        self.added = 0
        self.written = 0  # the parts 0 .. written - 1 are queued for writing
        self.threads: dict[str, ThreadPoolExecutor] = {}  # one per file, made when needed
        self.writers: dict[str, pq.ParquetWriter | None] = {}
        self.queued: dict[str, list[Future]] = {name: [] for name in LEDGER_TABLES}
        self.batches: dict[str, list[pa.Table]] = {name: [] for name in LEDGER_TABLES}
        self.mixed: dict[str, list[pa.Table]] = {}  # files whose parts' column types differ

    def __enter__(self) -> PartWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        for thread in self.threads.values():
            thread.shutdown(wait=True, cancel_futures=True)
        self.threads.clear()
        for writer in self.writers.values():
            if writer is not None:
                writer.close()
        self.writers.clear()

    def add(self, index: int, part: Mapping[str, pa.Table]) -> None:
        """Replication ``index``'s part; written once every part before it is in."""
        self.waiting[index] = dict(part)
        self.added += 1
        while self.written in self.waiting:
            ready = self.waiting.pop(self.written)
            for name in LEDGER_TABLES:
                self._submit(name, self._append, name, ready.pop(name))
            self.written += 1
        if self.written == self.count:
            for name in LEDGER_TABLES:
                self._submit(name, self._write_batch, name)

    def _submit(self, name: str, work: Callable[..., None], *args: object) -> None:
        """Queue ``work`` on the file's thread (started again after ``wait``)."""
        if name not in self.threads:
            self.threads[name] = ThreadPoolExecutor(1)
        self.queued[name].append(self.threads[name].submit(work, *args))

    def _append(self, name: str, table: pa.Table) -> None:
        if name in self.mixed:
            self.mixed[name].append(table)
            return
        batch = self.batches[name]
        if batch and not table.schema.equals(batch[0].schema, check_metadata=False):
            self._write_batch(name)
            self.mixed[name] = [table]
            return
        batch.append(table)
        if sum(len(table) for table in batch) >= ROW_GROUP_ROWS:
            self._write_batch(name)

    def _write_batch(self, name: str) -> None:
        """The file's parts waiting so far, as one row group (its first, when it opens)."""
        batch = self.batches[name]
        if not batch:
            return
        writer = self.writers.get(name)
        if writer is None:
            import pyarrow.parquet as pq

            schema = batch[0].schema
            writer = pq.ParquetWriter(self.folder / name, schema, **_encoding(schema))
            self.writers[name] = writer
        writer.write_table(pa.concat_tables(batch))
        batch.clear()

    def wait(self) -> None:
        """Wait for the parts queued so far and end the threads (e.g. before forking)."""
        for futures in self.queued.values():
            for future in futures:
                future.result()
            futures.clear()
        for thread in self.threads.values():
            thread.shutdown(wait=True)
        self.threads.clear()

    def finish(self, count: int) -> None:
        """Write the files of parts 0 .. ``count`` - 1 (all of them added) and close them;
        a file whose parts differ in type is written again as ``write_tables`` does."""
        if self.written != count or self.added != count:
            raise ValueError(f"expected the parts of {count} replications, got {self.added}")
        for name in LEDGER_TABLES:
            self._submit(name, self._write_batch, name)
        self.wait()
        for name in LEDGER_TABLES:
            writer = self.writers.pop(name, None)
            if writer is not None:
                writer.close()
            if name in self.mixed:
                import pyarrow.parquet as pq

                before = pq.read_table(self.folder / name)
                _write([before, *self.mixed.pop(name)], self.folder / name)
