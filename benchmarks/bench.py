"""Benchmark funnelsim against a straightforward SimPy model of the same funnel.

Run ``python benchmarks/bench.py`` (``--quick`` for a smoke run, ``--big`` to add 10M
leads). Each measurement runs in a fresh subprocess, so its peak RSS is its own; times
are CPU seconds of the simulation call only (no imports, no scenario loading), because
wall time on a shared machine is noisy. At each size the two engines run in interleaved
pairs (the order alternating), and the ratio is the median over pairs of reference CPU /
funnelsim CPU. Figures are printed and written as JSON (``--out``) with the machine, the
git commit and min/median/max per size; ``--readme`` rewrites the README's table from
that JSON. funnelsim's run sets glibc's allocator thresholds as a user's run does
(``funnelsim.engine.heap.tune_allocator``); the reference runs with the C library's
defaults, which is what a plain SimPy model gets (the setting does not speed it up).

Memory is the peak resident set size of the child above its floor, per 1,000 leads. The
floor is read after the child imported everything a run imports (numpy, pandas,
scipy.special and SimPy through ``funnelsim.engine``; the reference's modules for the
reference) and built the scenario: the run itself imports nothing of weight, so what
lies above the floor is the run's own (its arrays and temporaries, the heap it leaves
fragmented, the library code it first touches, ~20 MB at the baseline's size).
``ledger_bytes_per_lead`` is what the ledger's columns hold as stored (late-funnel columns
sparse: ``Columns.stored_bytes``), ``ledger_dense_bytes_per_lead`` what they give readers.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
README = ROOT / "README.md"
HOURS_PER_WEEK = 168.0
# (label, leads (None: the baseline as it is), pairs); 10M only with --big.
SIZES = (("baseline", None, 5), ("100k", 100_000, 3), ("1M", 1_000_000, 3), ("3M", 3_000_000, 1))
QUICK_SIZES = (("baseline", None, 3), ("100k", 100_000, 1))
BIG_SIZE = ("10M", 10_000_000, 1)
TABLE_START = "<!-- bench:table:start -->"
TABLE_END = "<!-- bench:table:end -->"


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


def factor_for(leads: int | None) -> int:
    """The smallest whole scale factor whose expected lead count reaches ``leads``."""
    if leads is None:
        return 1
    import funnelsim as fs

    scenario = fs.load_scenario(BASELINE)
    per_week = sum(s.leads_per_week for s in scenario.sources.values())
    expected = per_week * scenario.horizon_hours / HOURS_PER_WEEK
    return max(1, math.ceil(leads * 1.01 / expected))


def _peak_rss_mb() -> float:
    """This process's peak resident set size in MB (Linux reports KB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(engine: str, factor: int, seed: int) -> dict[str, Any]:
    """One run of one engine on the scaled baseline: CPU and wall time, leads, peak RSS."""
    scenario = scaled_scenario(factor)
    if engine == "funnelsim":
        from funnelsim.engine import simulate

        def once() -> tuple[int, int, float, float]:
            ledger = simulate(scenario, seed)
            n = max(ledger.n_leads, 1)
            stored, dense = _ledger_bytes(ledger)
            return ledger.n_leads, ledger.meta["simpy_events"], stored / n, dense / n
    else:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from reference import run_reference

        def once() -> tuple[int, int, float, float]:
            result = run_reference(scenario, seed)
            return result["n_leads"], result["simpy_events"], math.nan, math.nan

    floor = _peak_rss_mb()
    wall, cpu = time.perf_counter(), time.process_time()
    n_leads, events, ledger_bytes, dense_bytes = once()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _peak_rss_mb()
    return {
        "engine": engine,
        "scale": factor,
        "seed": seed,
        "n_leads": n_leads,
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "leads_per_cpu_second": n_leads / cpu,
        "events_per_lead": events / max(n_leads, 1),
        "peak_rss_mb": peak,
        "rss_after_imports_mb": floor,
        "rss_mb_per_1k_leads": (peak - floor) / max(n_leads, 1) * 1000,
        "ledger_bytes_per_lead": ledger_bytes,
        "ledger_dense_bytes_per_lead": dense_bytes,
    }


def _ledger_bytes(ledger: Any) -> tuple[int, int]:
    """Bytes a ledger's columns hold as stored (sparse ones as rows and values) and as
    full columns, without expanding any."""
    columns = ledger.columns
    if not hasattr(columns, "stored_bytes"):
        size = sum(column.nbytes for column in columns.values())
        return size, size
    dense = sum(columns.stored(name).dtype.itemsize for name in columns) * ledger.n_leads
    return columns.stored_bytes(), dense


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


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def measure_size(label: str, leads: int | None, pairs: int, seed: int) -> dict[str, Any]:
    """Interleaved pairs of both engines at one size; the order alternates by pair."""
    factor = factor_for(leads)
    runs: dict[str, list[dict[str, Any]]] = {"funnelsim": [], "reference": []}
    for k in range(pairs):
        order = ("funnelsim", "reference") if k % 2 == 0 else ("reference", "funnelsim")
        for engine in order:
            run = _child(["one", engine, str(factor), str(seed + k)])
            runs[engine].append(run)
            _print_run(label, run)
    ratios = [
        ref["cpu_seconds"] / own["cpu_seconds"]
        for own, ref in zip(runs["funnelsim"], runs["reference"], strict=True)
    ]
    own = runs["funnelsim"]
    summary = {
        "label": label,
        "scale": factor,
        "pairs": pairs,
        "n_leads": statistics.median(r["n_leads"] for r in own),
        "cpu_ratio": _spread(ratios),
        "funnelsim_cpu_seconds": _spread([r["cpu_seconds"] for r in own]),
        "reference_cpu_seconds": _spread([r["cpu_seconds"] for r in runs["reference"]]),
        "funnelsim_leads_per_cpu_second": _spread([r["leads_per_cpu_second"] for r in own]),
        "funnelsim_peak_rss_mb": _spread([r["peak_rss_mb"] for r in own]),
        "funnelsim_rss_mb_per_1k_leads": _spread([r["rss_mb_per_1k_leads"] for r in own]),
        "funnelsim_ledger_bytes_per_lead": statistics.median(
            r["ledger_bytes_per_lead"] for r in own
        ),
        "reference_peak_rss_mb": _spread([r["peak_rss_mb"] for r in runs["reference"]]),
        "runs": runs,
    }
    print(
        f"{label}: reference / funnelsim CPU = {summary['cpu_ratio']['median']:.2f}x "
        f"(min {summary['cpu_ratio']['min']:.2f}, max {summary['cpu_ratio']['max']:.2f})"
    )
    return summary


def _git_commit() -> str | None:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def _machine() -> dict[str, Any]:
    """What the figures were measured on."""
    import numpy
    import simpy

    cpu_model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "system": platform.system(),
        "machine": platform.machine(),
        "cpu": cpu_model,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "simpy": simpy.__version__,
    }


def scaling(sizes: dict[str, Any]) -> dict[str, float] | None:
    """Leads per CPU-second at the largest size over the figure at 100k (linear: ~1)."""
    if "100k" not in sizes:
        return None
    base = sizes["100k"]["funnelsim_leads_per_cpu_second"]["median"]
    return {
        label: size["funnelsim_leads_per_cpu_second"]["median"] / base
        for label, size in sizes.items()
        if label != "baseline"
    }


def best_scaling(figures: dict[str, Any]) -> dict[str, float]:
    """Leads per CPU-second of the fastest run at each size over the fastest at 100k."""
    sizes = figures["sizes"]
    if "100k" not in sizes:
        return {}
    base = sizes["100k"]["funnelsim_leads_per_cpu_second"]["max"]
    return {
        label: size["funnelsim_leads_per_cpu_second"]["max"] / base
        for label, size in sizes.items()
        if label != "baseline"
    }


def readme_table(figures: dict[str, Any]) -> str:
    """The README's performance table, from one run's JSON."""
    machine = figures["machine"]
    lines = [
        f"Measured at commit `{(figures['commit'] or 'unknown')[:12]}` on {machine['cpu']} "
        f"({machine['cpu_count']} CPUs, shared; Python {machine['python']}, SimPy "
        f"{machine['simpy']}). CPU seconds of the simulation call, interleaved pairs; "
        "min / median / max over pairs:",
        "",
        "| leads | pairs | funnelsim CPU s | reference CPU s | ratio (median, min-max) "
        "| funnelsim leads per CPU-second | funnelsim peak RSS | RSS per 1k leads above imports |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for size in figures["sizes"].values():
        own, ref = size["funnelsim_cpu_seconds"], size["reference_cpu_seconds"]
        ratio = size["cpu_ratio"]
        lines.append(
            f"| {size['label']} ({int(size['n_leads']):,}) | {size['pairs']} "
            f"| {own['min']:.2f} / {own['median']:.2f} / {own['max']:.2f} "
            f"| {ref['min']:.2f} / {ref['median']:.2f} / {ref['max']:.2f} "
            f"| **{ratio['median']:.1f}x** ({ratio['min']:.1f}-{ratio['max']:.1f}) "
            f"| {size['funnelsim_leads_per_cpu_second']['median']:,.0f} "
            f"| {size['funnelsim_peak_rss_mb']['median']:,.0f} MB "
            f"| {size['funnelsim_rss_mb_per_1k_leads']['median']:.2f} MB |"
        )
    scale = figures.get("scaling") or {}
    if scale:
        parts = ", ".join(f"{label} {value:.2f}" for label, value in scale.items())
        best = ", ".join(f"{label} {value:.2f}" for label, value in best_scaling(figures).items())
        lines += [
            "",
            f"Leads per CPU-second relative to 100k leads (medians): {parts}. Fastest run at "
            f"each size over the fastest at 100k (a busy machine only slows a run, so this "
            f"is the steadier comparison when a size has few runs): {best}.",
        ]
    return "\n".join(lines + _cli_lines(figures))


def _cli_lines(figures: dict[str, Any]) -> list[str]:
    """The same run's start-up, CLI replications and Dask sweep, as README lines."""
    lines: list[str] = []
    startup = figures.get("startup")
    if startup:
        lines += [
            "",
            "| command | wall s (min / median / max) | CPU s (median) |",
            "| --- | --- | --- |",
        ]
        for name, times in startup["commands"].items():
            wall = times["wall"]
            lines.append(
                f"| `{name}` | {wall['min']:.2f} / {wall['median']:.2f} / {wall['max']:.2f} "
                f"| {times['cpu']['median']:.2f} |"
            )
        phases = startup.get("run_phases", {}).get("wall_median")
        if phases:
            parts = ", ".join(f"{name} {value:.2f}" for name, value in phases.items())
            lines += ["", f"A default `funnelsim run`, median wall seconds by phase: {parts}."]
            floor = startup["run_phases"].get("floor")
            if floor:
                lines[-1] += (
                    f" With these costs it cannot take less than {floor['seconds']:.2f} s: its"
                    f" serial phases (start, writing, rest) take {floor['serial']:.2f} s, and its"
                    f" {floor['workers']} workers' {floor['workers_cpu']:.2f} CPU s shared"
                    f" perfectly {floor['shared']:.2f} s (the whole command's wall adds the"
                    " interpreter's own start and exit)."
                )
    cli = figures.get("cli_replications")
    if cli:
        one, two = cli["workers"]["1"], cli["workers"]["2"]
        lines += [
            "",
            f"`funnelsim run --reps {cli['replications']}`: {one['wall']['median']:.2f} s wall "
            f"on 1 worker, {two['wall']['median']:.2f} s on 2 "
            f"(**{cli['speedup_median']:.2f}x**; main process "
            f"{two['main_process_cpu']['median']:.2f} CPU s on 2 workers).",
        ]
        serial = cli.get("serial")
        if serial:
            lines[-1] += (
                f" On {serial['workers']} workers {serial['seconds']:.2f} s is serial (the"
                " start: imports, loading the scenario, forking, until the first replication"
                " is queued; writing the results folder; the rest), so against the 1-worker"
                f" run's {serial['of_total']:.2f} s, {serial['workers']} workers give at most"
                f" {serial['bound']:.2f}x even if they shared the rest perfectly at no cost"
                " (Amdahl's law)."
            )
    dask = figures.get("dask_sweep")
    if dask:
        lines += [
            "",
            f"Sweep of {dask['points']} points x {dask['replications']} replications: local pool "
            f"{dask['local_pool']['median']:.2f} s, Dask `LocalCluster` (2 workers) "
            f"{dask['dask']['median']:.2f} s (**{dask['dask_over_local_median']:.2f}x**; "
            f"identical tables: {'yes' if dask['identical'] else 'NO'}; cluster start-up "
            f"{dask['cluster_startup']:.1f} s, not counted).",
        ]
    return lines


def write_readme(figures: dict[str, Any], readme: Path = README) -> None:
    """Replace the table between the README's benchmark markers."""
    text = readme.read_text()
    pattern = re.compile(re.escape(TABLE_START) + ".*?" + re.escape(TABLE_END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: no {TABLE_START} ... {TABLE_END} markers")
    block = f"{TABLE_START}\n{readme_table(figures)}\n{TABLE_END}"
    readme.write_text(pattern.sub(lambda _m: block, text))


def main(argv: list[str] | None = None) -> int:
    """Measure, print and write the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (to 100k leads)")
    parser.add_argument("--big", action="store_true", help="add 10M leads (one pair)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results.json"))
    parser.add_argument("--readme", action="store_true", help="rewrite README's table from --out")
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
            result = measure(rest[0], int(rest[1]), int(rest[2]))
        print(json.dumps(result))
        return 0
    out = Path(args.out)
    if args.readme:
        write_readme(json.loads(out.read_text()))
        print(f"README table rewritten from {out}")
        return 0

    sizes = list(QUICK_SIZES if args.quick else SIZES)
    if args.big:
        sizes.append(BIG_SIZE)
    figures: dict[str, Any] = {
        "commit": _git_commit(),
        "machine": _machine(),
        "quick": args.quick,
        "big": args.big,
        "measure": "CPU seconds of one simulate() call per run, in a fresh process",
        "sizes": {},
    }
    for label, leads, pairs in sizes:
        figures["sizes"][label] = measure_size(label, leads, pairs, args.seed)
    figures["scaling"] = scaling(figures["sizes"])
    if figures["scaling"]:
        print("leads per CPU-second relative to 100k:", figures["scaling"])
    replications = args.replications or (4 if args.quick else 30)
    reps = _child(["reps", str(replications), str(args.workers)])
    figures["replications"] = reps
    print(
        f"baseline x {reps['replications']} replications on {reps['workers']} workers: "
        f"{reps['seconds']:.1f} s ({reps['seconds'] / reps['replications']:.2f} s each)"
    )
    import replications as cli_scaling  # benchmarks/: start-up, CLI replications, Dask
    import startup

    times = 1 if args.quick else 3
    startup.print_startup(figures.setdefault("startup", startup.measure_startup(times)))
    cli = cli_scaling.measure_cli(replications, times)
    cli_scaling.print_cli(figures.setdefault("cli_replications", cli))
    sweep = cli_scaling.measure_dask_sweep(8 if args.quick else 32, repeats=times)
    cli_scaling.print_dask_sweep(figures.setdefault("dask_sweep", sweep))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"written to {out}")
    return 0


def _print_run(label: str, run: dict[str, Any]) -> None:
    print(
        f"{label:>8} {run['engine']:<9} {run['n_leads']:>10,d} leads  "
        f"{run['cpu_seconds']:8.2f} CPU s  {run['leads_per_cpu_second']:>10,.0f} leads/CPU s  "
        f"{run['events_per_lead']:5.2f} events/lead  peak {run['peak_rss_mb']:6.0f} MB  "
        f"{run['rss_mb_per_1k_leads']:.3f} MB/1k leads"
        + (
            f"  ledger {run['ledger_bytes_per_lead']:.0f} B/lead"
            if run["engine"] == "funnelsim"
            else ""
        ),
        flush=True,
    )


if __name__ == "__main__":
    sys.exit(main())
