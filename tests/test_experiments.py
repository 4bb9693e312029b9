"""Experiments: intervals that cover, paired comparisons, executors, sweeps that resume."""

from __future__ import annotations

import os
import signal
from multiprocessing import active_children
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import funnelsim as fs
from funnelsim import theory
from funnelsim.experiment.replications import replication_seeds, run_replications
from funnelsim.experiment.stats import t_interval
from funnelsim.experiment.variants import with_overrides
from funnelsim.scenario import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "scenarios" / "validation" / "mmc_rho05.yaml"

SMALL = {
    "name": "small",
    "horizon_days": 240,
    "sources": {"inbound": {"leads_per_week": 60, "cost_per_lead": 50}},
    "teams": {
        "sdr": {"headcount": 2, "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5}},
        "backup": {"headcount": 2, "work_time": 0.5, "calendar": {"hours": [7, 20]}},
    },
    "seam1": {"sla_hours": 4, "fallback_team": "backup"},
    "seam4": {"term_months": 3},
}


def _small(**overrides: object) -> fs.Scenario:
    return with_overrides(scenario_from_dict(SMALL), overrides)


def test_replication_seeds_do_not_depend_on_the_count() -> None:
    assert replication_seeds(7, 3) == replication_seeds(7, 10)[:3]
    assert len(set(replication_seeds(7, 50))) == 50


def test_confidence_intervals_cover_erlang_c_about_95_percent() -> None:
    """Many independent 95% intervals of the M/M/c mean wait: coverage near 95%."""
    scenario = with_overrides(fs.load_scenario(MMC), {"horizon_days": 60})
    rate = scenario.sources["inbound"].leads_per_week / 168.0
    mu = 1.0 / scenario.teams["sdr"].work_time.mean()
    truth = theory.mmc_mean_wait(rate, mu, scenario.teams["sdr"].headcount)
    warmup, end = 168.0, scenario.horizon_hours - 168.0
    intervals, replications = 60, 5
    covered = 0
    for experiment in range(intervals):
        results = fs.run(scenario, replications=replications, seed=1000 + experiment)
        waits = []
        for rep in results.replications:
            c = rep.ledger.columns
            window = (c["mql_time"] >= warmup) & (c["mql_time"] < end)
            waits.append(float(np.mean(c["first_response"][window] - c["mql_time"][window])))
        _, low, high = t_interval(np.array(waits), 0.95)
        covered += low <= truth <= high
    lowest_plausible = stats.binom.ppf(0.001, intervals, 0.95)
    assert lowest_plausible <= covered <= intervals


def test_comparing_a_scenario_with_itself_gives_exactly_zero() -> None:
    scenario = _small()
    comparison = fs.compare(scenario, scenario, replications=3, seed=5)
    table = comparison.per_replication()
    assert (table["difference"].fillna(0) == 0).all()
    summary = comparison.summary()
    assert (summary["difference"].fillna(0) == 0).all()


def test_paired_interval_is_markedly_narrower_than_unpaired() -> None:
    baseline = _small()
    variant = _small(**{"seam1.sla_hours": 2})
    summary = fs.compare(baseline, variant, replications=10, seed=11).summary().set_index("metric")
    for metric in ("seam1_leads_lost", "won_deals"):
        row = summary.loc[metric]
        paired = row["ci_high"] - row["ci_low"]
        unpaired = row["unpaired_ci_high"] - row["unpaired_ci_low"]
        assert paired < unpaired / 2, (metric, paired, unpaired)
    assert summary.loc["seam1_leads_lost", "difference"] < 0


def _per_replication(results: fs.Results) -> pd.DataFrame:
    return results.per_replication().sort_values(["replication", "metric"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    yield cluster
    cluster.close()


def test_same_results_with_one_two_workers_and_dask(dask_cluster) -> None:
    scenario = _small()
    one = fs.run(scenario, replications=4, seed=3, workers=1)
    two = fs.run(scenario, replications=4, seed=3, workers=2)
    dask = fs.run(scenario, replications=4, seed=3, scheduler=dask_cluster.scheduler_address)
    pd.testing.assert_frame_equal(_per_replication(one), _per_replication(two))
    pd.testing.assert_frame_equal(_per_replication(one), _per_replication(dask))
    pd.testing.assert_frame_equal(one.ledger, dask.ledger)


def test_a_sweep_on_dask_gives_the_same_table_as_the_local_pool(dask_cluster) -> None:
    base = _small()
    grid = {"seam1.sla_hours": [2, 8], "teams.sdr.headcount": [1, 3]}
    local = fs.sweep(base, grid, replications=2, seed=6, workers=2)
    dask = fs.sweep(base, grid, replications=2, seed=6, scheduler=dask_cluster.scheduler_address)
    assert len(local) == 5
    pd.testing.assert_frame_equal(local, dask)


def test_a_results_folder_from_dask_is_the_one_from_local_workers(dask_cluster, tmp_path) -> None:
    """The replications make the folder's tables (Arrow included) on the cluster too."""
    from click.testing import CliRunner

    from funnelsim.cli import main

    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    folders = {"local": tmp_path / "local", "dask": tmp_path / "dask"}
    where = {"local": ["--workers", "1"], "dask": ["--scheduler", dask_cluster.scheduler_address]}
    for name, folder in folders.items():
        args = ["run", str(path), "--reps", "2", "--seed", "4", "-o", str(folder), *where[name]]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    for table in ("ledger", "terms", "stages"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(folders["local"] / f"{table}.parquet"),
            pd.read_parquet(folders["dask"] / f"{table}.parquet"),
        )
    for table in ("forecast", "timeseries", "summary"):
        local = (folders["local"] / f"{table}.csv").read_bytes()
        assert local == (folders["dask"] / f"{table}.csv").read_bytes(), table


def test_a_killed_local_worker_loses_and_duplicates_nothing() -> None:
    scenario = _small()
    clean = run_replications(scenario, 6, seed=9, workers=1, keep_ledgers=False)
    killed: list[int] = []

    def kill_one_worker(_rep: object) -> None:
        if not killed:
            victim = active_children()[0]
            os.kill(victim.pid, signal.SIGKILL)
            killed.append(victim.pid)

    survived = run_replications(
        scenario, 6, seed=9, workers=2, keep_ledgers=False, on_done=kill_one_worker
    )
    assert killed
    assert [rep.index for rep in survived] == list(range(6))
    for a, b in zip(clean, survived, strict=True):
        pd.testing.assert_frame_equal(a.headline, b.headline)


def test_a_killed_dask_worker_loses_and_duplicates_nothing(dask_cluster) -> None:
    scenario = _small()
    clean = run_replications(scenario, 6, seed=4, workers=1, keep_ledgers=False)
    killed: list[int] = []

    def kill_one_worker(_rep: object) -> None:
        workers = [p for p in active_children() if "Dask" in p.name or "Worker" in p.name]
        if not killed and workers:
            os.kill(workers[0].pid, signal.SIGKILL)
            killed.append(workers[0].pid)

    survived = run_replications(
        scenario,
        6,
        seed=4,
        scheduler=dask_cluster.scheduler_address,
        keep_ledgers=False,
        on_done=kill_one_worker,
    )
    assert killed
    assert [rep.index for rep in survived] == list(range(6))
    for a, b in zip(clean, survived, strict=True):
        pd.testing.assert_frame_equal(a.headline, b.headline)


class _InterruptError(Exception):
    pass


def test_interrupted_sweep_resumes_to_the_same_table(tmp_path: Path) -> None:
    base = _small()
    grid = {"seam1.sla_hours": [1, 8], "teams.sdr.headcount": [1, 3]}
    whole = fs.sweep(base, grid, replications=3, seed=2, out_dir=tmp_path / "whole")
    calls = {"n": 0}

    def stop_after_seven(_job: int, _rep: object) -> None:
        calls["n"] += 1
        if calls["n"] == 7:
            raise _InterruptError

    with pytest.raises(_InterruptError):
        fs.sweep(
            base, grid, replications=3, seed=2, out_dir=tmp_path / "cut", on_done=stop_after_seven
        )
    saved = list((tmp_path / "cut" / "points").glob("*.json"))
    assert len(saved) == 2
    resumed_jobs = {"n": 0}

    def count(_job: int, _rep: object) -> None:
        resumed_jobs["n"] += 1

    resumed = fs.sweep(base, grid, replications=3, seed=2, out_dir=tmp_path / "cut", on_done=count)
    assert resumed_jobs["n"] == 3 * 3
    pd.testing.assert_frame_equal(whole, resumed)
    assert resumed["best"].sum() == 1
    assert not resumed.loc[resumed["is_base"], "best"].any()


def test_leaks_fixing_a_seam_never_costs_revenue_at_seam_one() -> None:
    everything = fs.leaks(_small(), replications=4, seed=1)
    table = everything[everything["kind"] == "seam"]
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert sorted(table["seam"]) == [1, 2, 3, 4]
    # Then all four fixed together, the sum of single fixes and their interaction.
    combined = everything[everything["kind"] != "seam"].set_index("kind")
    assert list(combined.index) == ["all", "sum", "interaction"]
    measure = "counterfactual_horizon_revenue"
    assert combined.at["sum", measure] == pytest.approx(table[measure].sum())
    assert combined.at["interaction", measure] == pytest.approx(
        combined.at["all", measure] - combined.at["sum", measure]
    )
    assert combined.at["all", "attributed_leads_lost"] == table["attributed_leads_lost"].sum()
    gains = table["counterfactual_horizon_revenue"].to_numpy()
    assert (np.diff(gains) <= 0).all()
    seam1 = table.set_index("seam").loc[1]
    assert seam1["counterfactual_won_deals"] > 0
    assert seam1["attributed_leads_lost"] > 0


def test_sensitivity_ranks_by_swing_and_is_paired() -> None:
    table = fs.sensitivity(
        _small(),
        parameters=["seam1.acceptance.p_accept_fit", "costs.tools_per_year"],
        replications=3,
        seed=1,
    )
    assert list(table["swing"]) == sorted(table["swing"], reverse=True)
    tools = table.set_index("parameter").loc["costs.tools_per_year"]
    assert tools["low_effect"] == 0 and tools["high_effect"] == 0
    accept = table.set_index("parameter").loc["seam1.acceptance.p_accept_fit"]
    assert accept["high_effect"] >= 0 >= accept["low_effect"]
