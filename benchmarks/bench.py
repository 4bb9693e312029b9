"""Benchmark funnelsim against a straightforward SimPy model of the same funnel.

Run ``python benchmarks/bench.py`` (``--quick`` for a smoke run). Each measurement runs in
a fresh subprocess, so its peak RSS is its own; times cover the simulation call only (no
imports, no scenario loading). Figures are printed and written as JSON (``--out``) with
the git commit and the CPU count, so runs can be compared across commits.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
HOURS_PER_WEEK = 168.0


def scaled_scenario(factor: int) -> Any:
    """The baseline with every source's rate and every team's headcount times ``factor``."""
    import funnelsim as fs
    from funnelsim.scenario.models import Scenario

    scenario = fs.load_scenario(BASELINE)
    if factor == 1:
        return scenario
    data = scenario.model_dump(by_alias=True)
    for source in data["sources"].values():
        source["leads_per_week"] *= factor
    for team in data["teams"].values():
        team["headcount"] *= factor
        if team.get("segments"):
            team["segments"] = {k: v * factor for k, v in team["segments"].items()}
    return Scenario.model_validate(data)


def factor_for(leads: int) -> int:
    """The smallest whole scale factor whose expected lead count reaches ``leads``."""
    import funnelsim as fs

    scenario = fs.load_scenario(BASELINE)
    per_week = sum(s.leads_per_week for s in scenario.sources.values())
    expected = per_week * scenario.horizon_hours / HOURS_PER_WEEK
    return max(1, math.ceil(leads * 1.01 / expected))


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(engine: str, factor: int, repeats: int, seed: int) -> dict[str, Any]:
    """Run one engine on the scaled baseline ``repeats`` times; the fastest run counts."""
    scenario = scaled_scenario(factor)
    if engine == "funnelsim":
        from funnelsim.engine import simulate

        def once(s: int) -> tuple[int, int]:
            ledger = simulate(scenario, s)
            return ledger.n_leads, ledger.meta["simpy_events"]
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from reference import run_reference

        def once(s: int) -> tuple[int, int]:
            result = run_reference(scenario, s)
            return result["n_leads"], result["simpy_events"]

    rss_before = _peak_rss_mb()
    best: dict[str, Any] | None = None
    for k in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        n_leads, events = once(seed + k)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if best is None or wall < best["seconds"]:
            best = {"seconds": wall, "cpu_seconds": cpu, "n_leads": n_leads, "events": events}
    assert best is not None
    return {
        "engine": engine,
        "scale": factor,
        "repeats": repeats,
        "n_leads": best["n_leads"],
        "seconds": best["seconds"],
        "cpu_seconds": best["cpu_seconds"],
        "leads_per_second": best["n_leads"] / best["seconds"],
        "events_per_lead": best["events"] / max(best["n_leads"], 1),
        "peak_rss_mb": _peak_rss_mb(),
        "rss_after_imports_mb": rss_before,
    }


def measure_replications(replications: int, workers: int) -> dict[str, Any]:
    """Time ``fs.run`` of the baseline over a process pool (pool start-up included)."""
    import funnelsim as fs

    scenario = fs.load_scenario(BASELINE)
    wall = time.perf_counter()
    fs.run(scenario, replications=replications, seed=0, workers=workers, keep_ledgers=False)
    return {
        "replications": replications,
        "workers": workers,
        "seconds": time.perf_counter() - wall,
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(args: list[str]) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter and return its JSON figures."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", *args]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _git_commit() -> str | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def main(argv: list[str] | None = None) -> int:
    """Measure, print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (~100k leads)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    parser.add_argument("--leads", type=int, default=None, help="leads in the scaled run")
    parser.add_argument("--repeats", type=int, default=None, help="baseline runs per engine")
    parser.add_argument("--replications", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        kind, *rest = args.child
        if kind == "reps":
            result = measure_replications(int(rest[0]), int(rest[1]))
        else:
            result = measure(kind, int(rest[0]), int(rest[1]), int(rest[2]))
        print(json.dumps(result))
        return 0

    leads = args.leads or (100_000 if args.quick else 1_000_000)
    repeats = args.repeats or (2 if args.quick else 5)
    replications = args.replications or (4 if args.quick else 30)
    factor = factor_for(leads)
    figures: dict[str, Any] = {
        "commit": _git_commit(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "quick": args.quick,
        "runs": {},
    }
    for label, scale, reps in (("baseline", 1, repeats), ("scaled", factor, 1)):
        pair = {}
        for engine in ("funnelsim", "reference"):
            pair[engine] = _child([engine, str(scale), str(reps), str(args.seed)])
            _print_run(label, pair[engine])
        pair["speedup"] = (
            pair["funnelsim"]["leads_per_second"] / pair["reference"]["leads_per_second"]
        )
        pair["memory_ratio"] = pair["funnelsim"]["peak_rss_mb"] / pair["reference"]["peak_rss_mb"]
        print(
            f"{label}: funnelsim / reference = {pair['speedup']:.1f}x leads per second, "
            f"{pair['memory_ratio']:.2f}x peak memory"
        )
        figures["runs"][label] = pair
    reps = _child(["reps", str(replications), str(args.workers)])
    figures["replications"] = reps
    print(
        f"baseline x {reps['replications']} replications on {reps['workers']} workers: "
        f"{reps['seconds']:.1f} s ({reps['seconds'] / reps['replications']:.2f} s each)"
    )
    import replications as scaling  # benchmarks/: startup and scaling (issue 15, part B)
    import startup

    times = min(repeats, 3)
    startup.print_startup(figures.setdefault("startup", startup.measure_startup(times)))
    scaling.print_cli(figures.setdefault("scaling", scaling.measure_cli(replications, times)))
    sweep = scaling.measure_dask_sweep(8 if args.quick else 32, repeats=times)
    scaling.print_dask_sweep(figures.setdefault("dask_sweep", sweep))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {out}")
    return 0


def _print_run(label: str, run: dict[str, Any]) -> None:
    print(
        f"{label:>8} {run['engine']:<9} {run['n_leads']:>9,d} leads  "
        f"{run['seconds']:7.2f} s  {run['leads_per_second']:>10,.0f} leads/s  "
        f"{run['events_per_lead']:5.2f} events/lead  peak {run['peak_rss_mb']:6.0f} MB"
    )


if __name__ == "__main__":
    sys.exit(main())
