"""Reproducibility: the same scenario and seed give the same ledger, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from click.testing import CliRunner
from conftest import assert_same_ledger

import funnelsim as fs
from funnelsim.cli import main
from funnelsim.output import write_results
from funnelsim.scenario import scenario_from_dict

SCENARIO = {
    "horizon_days": 400,
    "sources": {
        "paid": {"leads_per_week": 60, "cost_per_lead": 80},
        "referral": {"leads_per_week": 10, "fit": {"dist": "beta", "a": 5, "b": 2}},
    },
    "seam1": {"sla_hours": 8, "fallback_team": "backup"},
    "teams": {
        "backup": {"headcount": 1, "work_time": {"dist": "exponential", "mean": 0.5}},
    },
}


def test_same_seed_same_ledger() -> None:
    scenario = scenario_from_dict(SCENARIO)
    assert_same_ledger(fs.simulate(scenario, 7), fs.simulate(scenario, 7))


def test_same_seed_same_ledger_with_perfect_seam() -> None:
    scenario = scenario_from_dict(SCENARIO)
    assert_same_ledger(fs.simulate(scenario, 3, [1, 2]), fs.simulate(scenario, 3, [1, 2]))


def test_rebuilt_scenario_same_ledger() -> None:
    """No state leaks between runs: a freshly validated copy gives the same ledger."""
    first = fs.simulate(scenario_from_dict(SCENARIO), 11)
    fs.simulate(scenario_from_dict(SCENARIO), 12)
    assert_same_ledger(first, fs.simulate(scenario_from_dict(SCENARIO), 11))


def test_different_seeds_differ() -> None:
    scenario = scenario_from_dict(SCENARIO)
    a, b = fs.simulate(scenario, 1), fs.simulate(scenario, 2)
    assert a.n_leads != b.n_leads or not np.array_equal(a.columns["created"], b.columns["created"])
    shared = min(a.n_leads, b.n_leads)
    assert not np.array_equal(a.columns["fit"][:shared], b.columns["fit"][:shared])
    assert not np.array_equal(a.columns["outcome"][:shared], b.columns["outcome"][:shared])


def test_tables_computed_in_the_replications_equal_those_from_the_ledgers() -> None:
    """``output_tables`` moves work into the workers; the tables (and the forecast, whose
    open-pipeline draws each replication makes from its own stream) stay the same."""
    scenario = scenario_from_dict(SCENARIO)
    ready = fs.run(scenario, replications=2, seed=5, output_tables=True)
    plain = fs.run(scenario, replications=2, seed=5)
    assert all(rep.tables for rep in ready.replications)
    assert not any(rep.tables for rep in plain.replications)
    pd.testing.assert_frame_equal(ready.cashflow(), plain.cashflow())
    pd.testing.assert_frame_equal(ready.timeseries(), plain.timeseries())
    pd.testing.assert_frame_equal(ready.timeseries_bands(), plain.timeseries_bands())
    pd.testing.assert_frame_equal(ready.forecast(), plain.forecast())


def test_the_cli_writes_the_same_results_on_one_and_two_workers(tmp_path: Path) -> None:
    """Every file of ``funnelsim run``'s results folder is the same whatever the workers."""
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "det", **SCENARIO}))
    folders = {}
    for workers in (1, 2):
        folders[workers] = tmp_path / f"w{workers}"
        args = ["run", str(path), "--reps", "3", "--workers", str(workers)]
        result = CliRunner().invoke(main, [*args, "-o", str(folders[workers])])
        assert result.exit_code == 0, result.output
    names = sorted(p.name for p in folders[1].iterdir() if p.name != ".funnelsim-results")
    assert names == sorted(p.name for p in folders[2].iterdir() if p.name != ".funnelsim-results")
    assert "ledger.parquet" in names and "timeseries.csv" in names
    for name in names:
        one, two = folders[1] / name, folders[2] / name
        if name.endswith(".parquet"):
            pd.testing.assert_frame_equal(pd.read_parquet(one), pd.read_parquet(two))
        else:
            assert one.read_bytes() == two.read_bytes(), name


def test_parquet_files_read_back_as_the_stacked_tables(tmp_path: Path) -> None:
    """Written from per-replication Arrow parts, each file reads back exactly as the
    stacked DataFrame written whole (``DataFrame.to_parquet``), with or without parts."""
    scenario = scenario_from_dict(SCENARIO)
    for output_tables in (True, False):
        results = fs.run(scenario, replications=3, seed=2, output_tables=output_tables)
        folder = write_results(results, tmp_path / f"parts-{output_tables}")
        stacked = {
            "ledger": results.ledger,
            "terms": results.terms,
            "team_levels": results.team_levels,
            "stages": results.stages,
        }
        for name, frame in stacked.items():
            whole = tmp_path / f"{name}-whole.parquet"
            frame.to_parquet(whole, index=False)
            written = pd.read_parquet(folder / f"{name}.parquet")
            pd.testing.assert_frame_equal(written, pd.read_parquet(whole), obj=name)
