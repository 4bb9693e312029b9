"""The faster paths of a run pinned against the plain versions they replace: tables shared
between one replication's reductions, stacking, forecast accuracy, the prestarted and
forked worker pool, and ``run``'s default worker count."""

from __future__ import annotations

import multiprocessing
import sys
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import reduction_reference as reference
import yaml
from click.testing import CliRunner

import funnelsim as fs
from funnelsim.analysis._common import per_ledger, shared_per_ledger
from funnelsim.analysis.capacity import peak_occupancy, team_occupancy
from funnelsim.analysis.cashflow import cash_metrics, cashflow
from funnelsim.analysis.forecast import _mean_absolute, forecast_part
from funnelsim.analysis.headline import headline
from funnelsim.analysis.leakage import attributed_leakage
from funnelsim.analysis.saturation import quarterly_load
from funnelsim.analysis.timeseries import timeseries
from funnelsim.bundled import resolve_scenario
from funnelsim.cli import main
from funnelsim.experiment import executors
from funnelsim.experiment.replications import (
    CASH_HEADLINE,
    net_value_rows,
    replication_seeds,
    run_replication,
)
from funnelsim.ledger_files import (
    LEDGER_TABLES,
    ROW_GROUP_ROWS,
    PartWriter,
    arrow_tables,
    leads_arrow,
    plain_arrow,
    write_tables,
)
from funnelsim.output import write_results
from funnelsim.scenario import scenario_from_dict
from funnelsim.scenario.loading import load_scenario

SCENARIO = {
    "horizon_days": 400,
    "sources": {"paid": {"leads_per_week": 60, "cost_per_lead": 80}},
    "seam1": {"sla_hours": 8, "fallback_team": "backup"},
    "teams": {"backup": {"headcount": 1, "work_time": {"dist": "exponential", "mean": 0.5}}},
}
# A hiring plan, attrition and commissions: headcount and cash tables with something in them.
WITH_PLAN = ("hiring_plan", ["horizon_days=300"])
# Set in this process only: a forked worker inherits it, a spawned one would not.
INHERITED = {"marker": None}


@pytest.mark.parametrize(
    ("name", "overrides", "root"),
    [
        (*WITH_PLAN, 3),
        ("baseline", [], 3),
        ("baseline", ["seam1.sla_hours=2"], 11),
        ("outbound_motion", ["horizon_days=300"], 4),
        ("sla_1h_fallback", ["horizon_days=300"], 5),
    ],
)
def test_a_replication_reduced_with_shared_tables_equals_the_plain_reductions(
    name: str, overrides: list[str], root: int
) -> None:
    """Every table of ``run_replication`` (cash flow, forecast share, ARR events and
    headcount made once; the headline and team load each built as one frame) equals the
    same reductions each made on its own and concatenated."""
    scenario = load_scenario(resolve_scenario(name), overrides)
    seed = replication_seeds(root, 1)[0]
    rep = run_replication(scenario, 0, seed, keep_ledger=True, tables=True)
    ledger = fs.simulate(scenario, seed)
    figures = headline(ledger, scenario)
    cash = cash_metrics(ledger, scenario)
    plain = pd.concat(
        [
            figures,
            net_value_rows(ledger, scenario, figures),
            cash[cash["metric"].isin(CASH_HEADLINE)],
        ],
        ignore_index=True,
    )
    pd.testing.assert_frame_equal(rep.headline, plain)
    pd.testing.assert_frame_equal(rep.leakage, attributed_leakage(ledger, scenario))
    pd.testing.assert_frame_equal(rep.load, quarterly_load(ledger))
    load = pd.concat([team_occupancy(ledger), peak_occupancy(ledger)], axis=1)
    pd.testing.assert_frame_equal(rep.team_load, load.rename_axis("team").reset_index())
    assert rep.tables is not None
    pd.testing.assert_frame_equal(rep.tables["cashflow"], cashflow(ledger, scenario))
    pd.testing.assert_frame_equal(rep.tables["timeseries"], timeseries(ledger, scenario))
    part = forecast_part(ledger, scenario)
    pd.testing.assert_frame_equal(rep.tables["forecast"].pipeline, part.pipeline)
    np.testing.assert_array_equal(rep.tables["forecast"].open_wins, part.open_wins)


@pytest.mark.parametrize(
    ("name", "overrides"),
    [("baseline", []), WITH_PLAN, ("outbound_motion", ["horizon_days=200"])],
)
def test_the_leads_arrow_table_equals_converting_the_leads_frame(
    name: str, overrides: list[str]
) -> None:
    """The leads table built from the ledger's columns equals ``Table.from_pandas`` of
    ``Ledger.leads`` (types, nulls, dictionaries, pandas metadata) and reads back as it."""
    scenario = load_scenario(resolve_scenario(name), overrides)
    ledger = fs.simulate(scenario, replication_seeds(5, 1)[0])
    # A ledger of the same columns but other name lists first: its metadata is not reused.
    leads_arrow(fs.simulate(scenario_from_dict(SCENARIO), 1), 0)
    fast = leads_arrow(ledger, 4)
    plain = reference.pandas_arrow(ledger.leads, 4)
    assert fast.schema.equals(plain.schema, check_metadata=True)
    assert fast.equals(plain)
    expected = ledger.leads
    expected.insert(0, "replication", 4)
    pd.testing.assert_frame_equal(fast.to_pandas(), expected)
    tables = arrow_tables(ledger, 4)
    assert list(tables) == list(LEDGER_TABLES)
    assert tables["ledger.parquet"].equals(plain)


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("baseline", []),
        WITH_PLAN,
        ("outbound_motion", ["horizon_days=200"]),
        ("sla_1h_fallback", ["horizon_days=200"]),
    ],
)
def test_the_other_arrow_tables_equal_converting_their_frames(
    name: str, overrides: list[str]
) -> None:
    """Terms, team levels and stage rows built from their numpy columns equal
    ``Table.from_pandas`` of the frames (types, nulls, categoricals, pandas metadata)."""
    scenario = load_scenario(resolve_scenario(name), overrides)
    ledger = fs.simulate(scenario, replication_seeds(6, 1)[0])
    tables = arrow_tables(ledger, 2)
    for file_name, pick in LEDGER_TABLES.items():
        expected = reference.pandas_arrow(pick(ledger), 2)
        assert tables[file_name].schema.equals(expected.schema, check_metadata=True), file_name
        assert tables[file_name].equals(expected), file_name
    # Columns with and without NaN, and a table without rows.
    frame = pd.DataFrame(
        {
            "a": [1.0, np.nan, -0.0],
            "b": np.array([1, 2, 3], dtype=np.int32),
            "c": [True, False, True],
            "d": np.array([np.nan, 2.5, np.inf], dtype=np.float32),
            "e": ["x", "y", "x"],
            "f": pd.Categorical(["u", "v", "u"], categories=["v", "u", "w"]),
        }
    )
    for table in (frame, frame.iloc[:0]):
        expected = reference.pandas_arrow(table, 7)
        fast = plain_arrow(table, 7)
        assert fast.schema.equals(expected.schema, check_metadata=True)
        assert fast.equals(expected)


def test_tables_are_shared_only_inside_the_block_and_per_ledger() -> None:
    scenario = scenario_from_dict(SCENARIO)
    one, two = fs.simulate(scenario, 1), fs.simulate(scenario, 2)
    made: list[int] = []

    def make(ledger: fs.Ledger) -> int:
        made.append(id(ledger))
        return len(made)

    assert per_ledger("t", one, lambda: make(one)) != per_ledger("t", one, lambda: make(one))
    with shared_per_ledger():
        first = per_ledger("t", one, lambda: make(one))
        assert per_ledger("t", one, lambda: make(one)) == first
        assert per_ledger("t", two, lambda: make(two)) != first
        assert per_ledger("u", one, lambda: make(one)) != first
    assert per_ledger("t", one, lambda: make(one)) != first
    assert len(made) == 6


@pytest.mark.parametrize("seed", range(6))
def test_mean_absolute_error_per_replication_is_the_plain_apply(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    error = rng.normal(size=n) * 10 ** rng.uniform(-4, 4, size=n)
    if seed % 2:
        error[rng.random(n) < 0.25] = np.nan
    frame = pd.DataFrame({"replication": rng.integers(0, 30, n), "error": error})
    per_rep = frame.groupby("replication")["error"]
    plain = per_rep.apply(lambda e: e.abs().mean()).to_numpy()
    np.testing.assert_array_equal(_mean_absolute(per_rep), plain)


def test_stacked_tables_are_the_frames_with_their_replication_first() -> None:
    scenario = scenario_from_dict(SCENARIO)
    results = fs.run(scenario, replications=3, seed=4, keep_ledgers=False, output_tables=True)
    for stacked, attribute in (
        (results.per_replication(), "headline"),
        (results.leakage(), "leakage"),
    ):
        frames = []
        for rep in results.replications:
            frame = getattr(rep, attribute).copy()
            frame.insert(0, "replication", rep.index)
            frames.append(frame)
        pd.testing.assert_frame_equal(stacked, pd.concat(frames, ignore_index=True))


def _marker() -> object:
    return INHERITED["marker"]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_a_prestarted_pool_is_forked_and_taken_by_the_next_run() -> None:
    INHERITED["marker"] = "set in the parent"
    try:
        with executors.prestarted_pool(2):
            assert 2 in executors._prestarted
            found = executors.execute(_marker, [(), (), ()], workers=2)
            assert 2 not in executors._prestarted  # the run took it over
    finally:
        INHERITED["marker"] = None
    assert found == ["set in the parent"] * 3
    assert multiprocessing.active_children() == []


def test_an_untaken_prestarted_pool_is_shut_down() -> None:
    with executors.prestarted_pool(2):
        pass
    assert executors._prestarted == {}
    assert multiprocessing.active_children() == []


def test_run_uses_one_worker_per_cpu_by_default_and_one_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "workers", **SCENARIO}))
    used: list[int] = []
    plain = executors.execute

    def recording(fn, jobs, workers=1, scheduler=None, on_done=None):
        used.append(workers)
        return plain(fn, jobs, workers=workers, scheduler=scheduler, on_done=on_done)

    monkeypatch.setattr("funnelsim.cli.common.available_cpus", lambda: 3)
    monkeypatch.setattr(executors, "available_cpus", lambda: 3)
    monkeypatch.setattr("funnelsim.experiment.replications.execute", recording)
    for extra, expected in (([], 2), (["--workers", "1"], 1)):
        out = tmp_path / f"out{len(used)}"
        args = ["run", str(path), "--reps", "2", "-o", str(out), *extra]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
        assert used[-1] == expected
    assert "the CPUs available" in CliRunner().invoke(main, ["run", "--help"]).output


def _plain_headcount(ledger: fs.Ledger, times: np.ndarray) -> dict[str, np.ndarray]:
    levels = ledger.headcount
    out = {}
    for team in dict.fromkeys(levels["team"]):
        rows = levels[levels["team"] == team].sort_values("time")
        at = np.searchsorted(rows["time"].to_numpy(dtype=float), times, side="right") - 1
        values = rows["headcount"].to_numpy(dtype=float)
        out[str(team)] = np.where(at >= 0, values[np.maximum(at, 0)], 0.0)
    return out


@pytest.mark.parametrize(
    ("name", "overrides"),
    [("baseline", []), WITH_PLAN, ("outbound_motion", ["horizon_days=400"])],
)
def test_array_reductions_equal_the_pandas_versions_bit_for_bit(
    name: str, overrides: list[str]
) -> None:
    """The headcount steps per team, the ARR event signs and the cached quarter edges give
    exactly the floats of the pandas code they replace."""
    from funnelsim.analysis import arr, forecast
    from funnelsim.analysis.timeseries import _headcount

    scenario = load_scenario(resolve_scenario(name), overrides)
    ledger = fs.simulate(scenario, replication_seeds(11, 1)[0])
    times = np.linspace(-10.0, float(ledger.meta["horizon_hours"]) + 10, 57)
    fast, plain = _headcount(ledger, times), _plain_headcount(ledger, times)
    assert list(fast) == list(plain)
    for team in plain:
        np.testing.assert_array_equal(fast[team], plain[team])
    events = arr.arr_events(ledger)
    plain_signs = events["kind"].astype(str).map(arr.SIGN).to_numpy(dtype=float)
    np.testing.assert_array_equal(arr._signs(events), plain_signs)
    edges, labels = forecast.quarter_edges(scenario, 9000.0)
    edges[:] = -1.0
    labels.clear()
    again, labels_again = forecast.quarter_edges(scenario, 9000.0)
    assert again[0] == 0.0 and labels_again


def _plain_attributed_leakage(ledger: fs.Ledger, scenario: fs.Scenario) -> pd.DataFrame:
    from funnelsim.analysis.leakage import (
        LEAKAGE_COLUMNS,
        _contract_error,
        leakage_reasons,
        lost_lead_values,
    )

    values = lost_lead_values(ledger, scenario)
    sums = values.groupby(["seam", "reason"])[["arr_lost", "horizon_revenue_lost"]].sum()
    counts = values.groupby(["seam", "reason"]).size()
    error_deals, error_arr, error_revenue = _contract_error(ledger)
    rows = []
    for seam, reason in leakage_reasons():
        key = (seam, reason)
        if reason == "contract_error":
            rows.append((seam, reason, 0, error_deals, error_arr, error_revenue))
            continue
        leads = int(counts.get(key, 0))
        arr = float(sums["arr_lost"].get(key, 0.0))
        revenue = float(sums["horizon_revenue_lost"].get(key, 0.0))
        rows.append((seam, reason, leads, leads, arr, revenue))
    table = pd.DataFrame(rows, columns=["seam", "reason", *LEAKAGE_COLUMNS])
    return table.astype({"seam": np.int64, "leads_lost": np.int64, "deals_affected": np.int64})


@pytest.mark.parametrize(
    ("name", "overrides"),
    [("baseline", []), WITH_PLAN, ("outbound_motion", ["horizon_days=400"])],
)
def test_leakage_grouped_by_reason_code_equals_grouping_by_name(
    name: str, overrides: list[str]
) -> None:
    """Attributed leakage summed per (seam, reason code) is exactly the table summed per
    (seam, reason name), and the lost leads' reasons are still their names."""
    scenario = load_scenario(resolve_scenario(name), overrides)
    ledger = fs.simulate(scenario, replication_seeds(13, 1)[0])
    pd.testing.assert_frame_equal(
        attributed_leakage(ledger, scenario),
        _plain_attributed_leakage(ledger, scenario),
        check_exact=True,
    )
    from funnelsim.analysis.leakage import lost_lead_values

    values = lost_lead_values(ledger, scenario)
    codes = ledger.columns["loss_reason"][values["lead_id"].to_numpy()]
    assert values["reason"].tolist() == [ledger.reason_names[code] for code in codes]
    assert list(values.columns[:3]) == ["lead_id", "seam", "reason"]


def _plain_summarise(frame: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    from funnelsim.experiment.stats import t_interval

    rows = []
    for keys, group in frame.groupby(by, sort=False, observed=True):
        mean, low, high = t_interval(group[value].to_numpy())
        keys = keys if isinstance(keys, tuple) else (keys,)
        rows.append(
            {
                **dict(zip(by, keys, strict=True)),
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "replications": int(group[value].notna().sum()),
            }
        )
    return pd.DataFrame(rows)


def test_summarise_equals_the_per_group_frames_version() -> None:
    """Summaries from one array split by group equal iterating the groupby: a run's
    metrics and leakage, categorical and integer keys, missing keys and values, none."""
    from funnelsim.experiment.stats import summarise

    results = fs.run(scenario_from_dict(SCENARIO), replications=4, seed=2, keep_ledgers=False)
    per_rep = results.per_replication()
    leakage = results.leakage()
    long = leakage.melt(
        id_vars=["replication", "seam", "reason"], value_vars=["arr_lost", "leads_lost"]
    )
    rng = np.random.default_rng(3)
    odd = pd.DataFrame(
        {
            "group": pd.Categorical(rng.choice(["b", "a", None], 40), categories=["a", "b", "c"]),
            "n": rng.integers(0, 3, 40),
            "value": np.where(rng.random(40) < 0.2, np.nan, rng.normal(size=40)),
        }
    )
    cases = [
        (per_rep, ["metric", "unit"], "value"),
        (long, ["seam", "reason", "variable"], "value"),
        (odd, ["group", "n"], "value"),
        (odd, ["n"], "value"),
        (odd.iloc[:0], ["group"], "value"),
    ]
    for frame, by, value in cases:
        pd.testing.assert_frame_equal(
            summarise(frame, by, value), _plain_summarise(frame, by, value), check_exact=True
        )


def _plain_arr_events(ledger: fs.Ledger) -> pd.DataFrame:
    from funnelsim.analysis import arr

    terms = ledger.terms
    lead = terms["lead_id"].to_numpy(dtype=np.int64)
    term = terms["term"].to_numpy(dtype=np.int64)
    start = terms["start"].to_numpy(dtype=float)
    end = terms["end"].to_numpy(dtype=float)
    amount = terms["arr"].to_numpy(dtype=float)
    status = terms["status"].to_numpy(dtype=object)
    next_arr = np.nan_to_num(terms["next_arr"].to_numpy(dtype=float), nan=0.0)
    upsell = arr._column(terms, "upsell_arr", 0.0)
    upsell_time = arr._column(terms, "upsell_time", np.nan)
    book = arr.from_book(ledger)[lead] & (start <= 0.0)
    first = term == 1
    held = amount + upsell
    change = next_arr - held
    renewed = np.isin(status, ("renewed", "expanded", "contracted"))
    churned = status == "churned"
    parts = [
        (first & book, np.zeros(len(lead)), "start", amount),
        (first & ~book, start, "new", amount),
        (upsell > 0, upsell_time, "expansion", upsell),
        (renewed & (change > 0), end, "expansion", change),
        (renewed & (change < 0), end, "contraction", -change),
        (churned & (held > 0), end, "churn", held),
    ]
    frames = [
        pd.DataFrame({"lead_id": lead[m], "time": t[m], "kind": k, "amount": a[m]})
        for m, t, k, a in parts
    ]
    events = pd.concat(frames, ignore_index=True)
    events["kind"] = pd.Categorical(events["kind"], categories=list(arr.ARR_KINDS))
    return events.sort_values(["time", "lead_id"], kind="stable").reset_index(drop=True)


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("baseline", []),
        WITH_PLAN,
        ("outbound_motion", ["horizon_days=400"]),
        ("renewal_90d", []),
    ],
)
def test_arr_events_and_costs_equal_the_plain_versions(name: str, overrides: list[str]) -> None:
    """ARR events stacked as arrays and sorted once equal the concatenated frames sorted by
    pandas; costs made once per ledger inside the block equal costs made outside it, and
    a caller changing its table does not change the shared one."""
    from funnelsim.analysis.arr import _arr_events
    from funnelsim.analysis.revenue import costs

    scenario = load_scenario(resolve_scenario(name), overrides)
    ledger = fs.simulate(scenario, replication_seeds(17, 1)[0])
    pd.testing.assert_frame_equal(_arr_events(ledger), _plain_arr_events(ledger), check_exact=True)
    plain = costs(ledger, scenario)
    with shared_per_ledger():
        first = costs(ledger, scenario)
        first["cost"] = -1.0
        pd.testing.assert_frame_equal(costs(ledger, scenario), plain, check_exact=True)


def _read_back(folder: Path) -> dict[str, pa.Table]:
    return {name: pq.read_table(folder / name) for name in LEDGER_TABLES}


def _written_at_the_end_and_streamed(
    tmp_path: Path, parts: list[dict[str, pa.Table]], order: tuple[int, ...], told: bool = False
) -> tuple[Path, Path]:
    """The parts written by ``write_tables`` into one folder and streamed, added in
    ``order``, into another (``told``: the writer knows how many parts come)."""
    plain, streamed = tmp_path / "plain", tmp_path / "streamed"
    plain.mkdir()
    streamed.mkdir()
    with ThreadPoolExecutor(2) as pool:
        for future in write_tables(parts, plain, pool):
            future.result()
    with PartWriter(streamed, len(parts) if told else None) as writer:
        for index in order:
            writer.add(index, parts[index])
        writer.finish(len(parts))
    return plain, streamed


def _row_groups(path: Path) -> list[int]:
    metadata = pq.ParquetFile(path).metadata
    return [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)]


def _batched(sizes: list[int], least: int) -> list[int]:
    """Row groups of consecutive parts of these sizes, each closed at ``least`` rows."""
    groups, rows = [], 0
    for size in sizes:
        rows += size
        if rows >= least:
            groups, rows = [*groups, rows], 0
    return [*groups, rows] if rows else groups


@pytest.mark.parametrize("told", [False, True])
@pytest.mark.parametrize("least", [1, 15_000, 10**9])
def test_parquet_parts_streamed_as_they_come_equal_the_files_written_at_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, least: int, told: bool
) -> None:
    """Parts added out of order, consecutive ones a row group once they hold ``least``
    rows, give the files ``write_tables`` gives (same tables, schemas and pandas
    metadata) and the same stacked DataFrames, whether or not the writer was told how
    many parts come."""
    monkeypatch.setattr("funnelsim.ledger_files.ROW_GROUP_ROWS", least)
    scenario = load_scenario(resolve_scenario(WITH_PLAN[0]), WITH_PLAN[1])
    results = fs.run(scenario, replications=4, seed=2, keep_ledgers=False, output_tables=True)
    parts = [rep.tables["parquet"] for rep in results.replications]  # type: ignore[index]
    plain, streamed = _written_at_the_end_and_streamed(tmp_path, parts, (1, 3, 2, 0), told)
    expected, found = _read_back(plain), _read_back(streamed)
    for name in LEDGER_TABLES:
        assert found[name].schema.equals(expected[name].schema, check_metadata=True)
        assert found[name].equals(expected[name])
        sizes = [len(part[name]) for part in parts]
        assert _row_groups(streamed / name) == _batched(sizes, least)
        pd.testing.assert_frame_equal(
            pd.read_parquet(streamed / name), pd.read_parquet(plain / name)
        )
    leads = [len(part["ledger.parquet"]) for part in parts]
    assert len(_batched(leads, least)) == {1: 4, 15_000: 2, 10**9: 1}[least]


def test_files_encoded_in_large_batches_equal_those_of_arrows_default_batches(
    tmp_path: Path,
) -> None:
    """The Parquet files, streamed or written at the end, hand the encoder a row group's
    rows at a time: they read back as the files of pyarrow's default batches (1,024
    values) with the same dictionaries, with the same schema, pandas metadata and values."""
    scenario = load_scenario(resolve_scenario(WITH_PLAN[0]), WITH_PLAN[1])
    results = fs.run(scenario, replications=3, seed=4, keep_ledgers=False, output_tables=True)
    parts = [rep.tables["parquet"] for rep in results.replications]  # type: ignore[index]
    at_the_end, streamed = _written_at_the_end_and_streamed(tmp_path, parts, (2, 0, 1), True)
    for name in LEDGER_TABLES:
        joined = pa.concat_tables([part[name] for part in parts])
        dictionaries = [f.name for f in joined.schema if not pa.types.is_floating(f.type)]
        pq.write_table(joined, tmp_path / name, use_dictionary=dictionaries)
        expected = pq.read_table(tmp_path / name)
        for folder in (at_the_end, streamed):
            found = pq.read_table(folder / name)
            assert found.schema.equals(expected.schema, check_metadata=True)
            assert found.equals(expected)
            columns = pq.ParquetFile(folder / name).metadata.row_group(0)
            encodings = [columns.column(i).encodings for i in range(columns.num_columns)]
            plain = pq.ParquetFile(tmp_path / name).metadata.row_group(0)
            assert encodings == [plain.column(i).encodings for i in range(plain.num_columns)]


def test_streamed_parts_whose_types_differ_are_written_as_at_the_end(tmp_path: Path) -> None:
    """A later part with other column types (a column of whole numbers, then one with a
    missing value) is refused by the first part's file, which is written again as
    ``write_tables`` writes it."""
    one = pa.table({"replication": [0, 0], "x": [1, 2]})
    two = pa.table({"replication": [1], "x": [None]}).cast(
        pa.schema([("replication", pa.int64()), ("x", pa.float64())])
    )
    parts = [dict.fromkeys(LEDGER_TABLES, one), dict.fromkeys(LEDGER_TABLES, two)]
    plain, streamed = _written_at_the_end_and_streamed(tmp_path, parts, (0, 1))
    for name in LEDGER_TABLES:
        pd.testing.assert_frame_equal(
            pd.read_parquet(streamed / name), pd.read_parquet(plain / name)
        )
        assert pd.read_parquet(streamed / name)["x"].isna().sum() == 1


def test_streamed_parts_are_let_go_once_written_and_kept_only_when_types_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A part waiting for an earlier one, or for a row group's rows, is held; once
    written, nothing holds it. A file whose later part has other column types keeps that
    part to write the file again."""
    monkeypatch.setattr("funnelsim.ledger_files.ROW_GROUP_ROWS", 2)

    def part(index: int, kind: pa.DataType) -> dict[str, pa.Table]:
        values = pa.array([index], type=kind)
        return dict.fromkeys(LEDGER_TABLES, pa.table({"replication": [index], "x": values}))

    kinds = [pa.int64(), pa.int64(), pa.int64(), pa.float64()]
    parts = [part(index, kind) for index, kind in enumerate(kinds)]
    held = [[weakref.ref(table) for table in p.values()] for p in parts]

    def alive() -> list[bool]:
        return [any(ref() is not None for ref in refs) for refs in held]

    with PartWriter(tmp_path) as writer:
        writer.add(1, parts[1])
        writer.add(2, parts[2])
        writer.add(0, parts[0])
        last = parts[3]
        parts.clear()
        for futures in writer.queued.values():
            for future in futures:
                future.result()
        assert alive() == [False, False, True, True]  # part 2 waits for a second row
        writer.add(3, last)
        del last
        writer.wait()
        assert alive() == [False, False, False, True]  # part 3's types differ: kept
        writer.finish(4)
    for name in LEDGER_TABLES:
        assert pd.read_parquet(tmp_path / name)["x"].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("told", [False, True])
def test_a_writer_told_the_count_writes_the_last_row_groups_once_the_last_part_is_in(
    tmp_path: Path, told: bool
) -> None:
    """Told how many parts come, the writer writes the rows of the last parts when the
    last one is added (before ``finish``); not told, it holds them for ``finish``."""
    part = dict.fromkeys(LEDGER_TABLES, pa.table({"replication": [0], "x": [1.5]}))
    with PartWriter(tmp_path, 2 if told else None) as writer:
        writer.add(1, part)
        writer.add(0, part)
        writer.wait()
        held = {name: len(batch) for name, batch in writer.batches.items()}
        assert held == dict.fromkeys(LEDGER_TABLES, 0 if told else 2)
        writer.finish(2)
    for name in LEDGER_TABLES:
        assert pd.read_parquet(tmp_path / name)["x"].tolist() == [1.5, 1.5]


def _record(path: Path, value: int) -> int:
    """A job that notes each call in a file (one line per call), for counting runs."""
    with path.open("a") as calls:
        calls.write(f"{value}\n")
    return value * value


def _calls(path: Path) -> list[int]:
    return sorted(int(line) for line in path.read_text().split())


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_jobs_queued_ahead_are_collected_by_the_run_and_run_once(tmp_path: Path) -> None:
    calls = tmp_path / "calls"
    jobs = [(calls, value) for value in range(6)]
    with executors.prestarted_pool(2):
        executors.submit_ahead(_record, jobs, 2)
        found = executors.execute(_record, jobs, workers=2)
    assert found == [value * value for value in range(6)]
    assert _calls(calls) == list(range(6))
    assert multiprocessing.active_children() == []


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_jobs_queued_ahead_that_the_run_does_not_ask_for_are_cancelled(tmp_path: Path) -> None:
    """Other jobs than those queued ahead: the run's own are run (once each) and given
    back; those queued ahead are cancelled (the ones already started may have run)."""
    ahead, asked = tmp_path / "ahead", tmp_path / "asked"
    with executors.prestarted_pool(2):
        executors.submit_ahead(_record, [(ahead, 100 + value) for value in range(20)], 2)
        found = executors.execute(_record, [(asked, value) for value in range(4)], workers=2)
    assert found == [0, 1, 4, 9]
    assert _calls(asked) == [0, 1, 2, 3]
    assert multiprocessing.active_children() == []


def test_nothing_is_queued_ahead_without_a_prestarted_pool_or_for_one_job(
    tmp_path: Path,
) -> None:
    calls = tmp_path / "calls"
    executors.submit_ahead(_record, [(calls, 1), (calls, 2)], 2)  # no pool started
    with executors.prestarted_pool(2):
        executors.submit_ahead(_record, [(calls, 3)], 2)  # run in this process by execute
        assert executors._prestarted[2].ahead is None
        assert executors.execute(_record, [(calls, 3)], workers=2) == [9]
    assert _calls(calls) == [3]


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_the_cli_run_executes_the_jobs_it_queued_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``funnelsim run`` queues its replications on the prestarted workers before the run
    is called; the run collects exactly those: each replication is submitted once."""
    submitted: list[object] = []

    class Counting(executors.ProcessPoolExecutor):
        def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
            submitted.append(fn)
            return super().submit(fn, *args, **kwargs)

    from funnelsim import api

    plain_run = api.run
    queued_when_called: list[int] = []

    def run(*args, **kwargs):  # type: ignore[no-untyped-def]
        queued_when_called.append(submitted.count(run_replication))
        return plain_run(*args, **kwargs)

    monkeypatch.setattr(executors, "ProcessPoolExecutor", Counting)
    monkeypatch.setattr("funnelsim.api.run", run)
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "ahead", **SCENARIO}))
    args = ["run", str(path), "--reps", "3", "--workers", "2", "-o", str(tmp_path / "out")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert queued_when_called == [3]  # all queued before the run was called
    assert submitted.count(run_replication) == 3
    assert (tmp_path / "out" / "ledger.parquet").exists()


def test_finishing_before_every_part_is_in_is_an_error(tmp_path: Path) -> None:
    part = dict.fromkeys(LEDGER_TABLES, pa.table({"replication": [1]}))
    with PartWriter(tmp_path) as writer:
        writer.add(1, part)
        with pytest.raises(ValueError, match="2 replications"):
            writer.finish(2)


@pytest.mark.parametrize("workers", [1, 2])
def test_the_cli_writes_the_results_folder_write_results_writes(
    tmp_path: Path, workers: int
) -> None:
    """``funnelsim run`` (parts streamed to the folder as they come, one row group each,
    on any number of workers) and ``write_results`` of the same run give the same files
    and tables."""
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "streamed", **SCENARIO}))
    args = ["run", str(path), "--reps", "3", "--seed", "6", "--workers", str(workers)]
    result = CliRunner().invoke(main, [*args, "-o", str(tmp_path / "cli")])
    assert result.exit_code == 0, result.output
    leads = pd.read_parquet(tmp_path / "cli" / "ledger.parquet").groupby("replication").size()
    sizes = _row_groups(tmp_path / "cli" / "ledger.parquet")
    assert sizes == _batched(leads.tolist(), ROW_GROUP_ROWS)
    scenario = load_scenario(path)
    results = fs.run(scenario, replications=3, seed=6, keep_ledgers=False, output_tables=True)
    write_results(results, tmp_path / "api")
    cli = sorted(p.name for p in (tmp_path / "cli").iterdir())
    assert cli == sorted(p.name for p in (tmp_path / "api").iterdir())
    for name in cli:
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(
                pd.read_parquet(tmp_path / "cli" / name), pd.read_parquet(tmp_path / "api" / name)
            )
        elif name != "summary.json" and not name.startswith("."):
            assert (tmp_path / "cli" / name).read_bytes() == (tmp_path / "api" / name).read_bytes()


def test_the_progress_bar_shows_on_a_terminal_only(tmp_path: Path) -> None:
    """A terminal gets the bar (its plain-text description, and the jobs done); a file or
    pipe, where a transient bar is never seen, gets none: no output, and a command run
    with its output piped never loads rich's progress module."""
    import io
    import subprocess

    from rich.console import Console

    from funnelsim.report.progress import progress_bar

    for terminal in (True, False):
        out = io.StringIO()
        console = Console(file=out, force_terminal=terminal, width=80)
        with progress_bar(console, 2, "simulating [b]x") as advance:
            advance()
            advance()
        shown = out.getvalue()
        assert ("simulating [b]x" in shown and "2/2" in shown) if terminal else shown == ""
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "piped", **SCENARIO}))
    code = (
        "import sys\nfrom funnelsim.cli import entry\n"
        f"sys.argv = ['funnelsim', 'run', {str(path)!r}, '--reps', '2', '--workers', '1', "
        f"'-o', {str(tmp_path / 'out')!r}]\n"
        "try:\n    entry()\nexcept SystemExit:\n    pass\n"
        "print('rich.progress' in sys.modules, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr
    assert (tmp_path / "out" / "summary.csv").exists()
