"""The README's benchmark block is the one `benchmarks/bench.py --readme` writes from
`benchmarks/results.json`, so its figures cannot drift from the measured run."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_benchmark_block_is_rendered_from_results_json() -> None:
    bench = _bench_module()
    figures = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    readme = (ROOT / "README.md").read_text()
    start = readme.index(bench.TABLE_START) + len(bench.TABLE_START)
    block = readme[start : readme.index(bench.TABLE_END)].strip("\n")
    assert block == bench.readme_table(figures)
    for size in figures["sizes"].values():
        assert f"**{size['cpu_ratio']['median']:.1f}x**" in block


def test_results_json_holds_one_full_run() -> None:
    figures = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    assert not figures["quick"]
    assert {"baseline", "100k", "1M", "3M"} <= set(figures["sizes"])
    assert {"startup", "cli_replications", "dask_sweep"} <= set(figures)
    assert figures["dask_sweep"]["identical"]


def test_best_scaling_divides_each_sizes_fastest_run_by_the_fastest_at_100k() -> None:
    bench = _bench_module()
    figures = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    sizes = figures["sizes"]
    best = bench.best_scaling(figures)
    base = max(run["leads_per_cpu_second"] for run in sizes["100k"]["runs"]["funnelsim"])
    for label, value in best.items():
        fastest = max(run["leads_per_cpu_second"] for run in sizes[label]["runs"]["funnelsim"])
        assert value == fastest / base
    assert best["100k"] == 1.0
    assert "baseline" not in best
