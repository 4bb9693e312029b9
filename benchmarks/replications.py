"""Replications that scale: the CLI on 1 and 2 workers, and a Dask sweep against the local pool.

Run ``python benchmarks/replications.py`` (``--repeats N``, ``--reps``, ``--points``).

* ``measure_cli``: ``funnelsim run --reps 30`` (the bundled baseline, results folder
  written) on 1 and on 2 workers, interleaved, each in a fresh process; wall and CPU time
  (min, median, max) and the speedup of the medians.
* ``measure_dask_sweep``: a sweep of ``points`` grid points of the baseline on the local
  pool (2 workers) and on a ``dask.distributed.LocalCluster`` with 2 single-threaded worker
  processes (``processes=True, threads_per_worker=1``) started and warmed up beforehand
  (a cluster that is already there, as in real use: its start-up and first imports are
  not counted in the sweep times, and are given apart as ``cluster_startup``); wall
  times interleaved, and whether the two tables are identical. The target is Dask within
  15% of the local pool.

The CLI target is a speedup of at least 1.7x on 2 workers. Timings on a shared machine
are noisy: the CPU-time figures say what idle cores would give. The package's bytecode
is compiled first, as in an installed package (see ``startup.py``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from startup import _spread, _timed, compile_package, measure_run_phases

# Runs the CLI as its console script does and prints, last on stderr, its own CPU seconds
# (not its workers').
CLI_REPORTING_ITS_CPU = """
import json, resource, sys
from funnelsim.cli import entry
sys.argv = ["funnelsim", *sys.argv[1:]]
try:
    entry()
finally:
    own = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps(own.ru_utime + own.ru_stime), file=sys.stderr)
"""
GRID = {
    "seam1.sla_hours": [1, 2, 4, 8, 12, 16, 24, 48],
    "teams.sdr.headcount": [3, 4, 5, 6],
}


def measure_cli(
    replications: int = 30, repeats: int = 3, workers: tuple[int, ...] = (1, 2)
) -> dict[str, Any]:
    """``funnelsim run --reps N`` on each worker count: wall/CPU spread and the speedup.

    Besides wall time (noisy on a shared machine) each run gives its main process's CPU
    time (imports, loading, collecting and writing) and its workers'. The
    ``cpu_bound_speedup`` is what otherwise idle cores would give: the one-worker CPU time
    over the last count's main-process part plus its workers' part shared among them.
    ``serial`` is the last count's serial part and the bound it sets (``serial_part``).
    """
    compile_package()
    walls: dict[int, list[float]] = {w: [] for w in workers}
    cpus: dict[int, list[float]] = {w: [] for w in workers}
    serial: dict[int, list[float]] = {w: [] for w in workers}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeats):
            for count in workers:
                folder = Path(tempfile.mkdtemp(dir=scratch))
                args = ["run", "--reps", str(replications), "--workers", str(count)]
                command = [sys.executable, "-c", CLI_REPORTING_ITS_CPU, *args]
                wall, cpu, stderr = _timed(command, folder)
                walls[count].append(wall)
                cpus[count].append(cpu)
                serial[count].append(float(stderr.strip().splitlines()[-1]))
    first, last = workers[0], workers[-1]
    main_part = statistics.median(serial[last])
    pool_part = statistics.median(cpus[last]) - main_part
    return {
        "replications": replications,
        "repeats": repeats,
        "workers": {
            str(w): {
                "wall": _spread(walls[w]),
                "cpu": _spread(cpus[w]),
                "main_process_cpu": _spread(serial[w]),
            }
            for w in workers
        },
        "speedup_median": statistics.median(walls[first]) / statistics.median(walls[last]),
        "speedup_min": min(walls[first]) / min(walls[last]),
        "cpu_bound_speedup": statistics.median(cpus[first]) / (main_part + pool_part / last),
        "serial": serial_part(
            *(
                measure_run_phases(
                    repeats, ("run", "--reps", str(replications), "--workers", str(count))
                )["wall_median"]
                for count in (first, last)
            ),
            last,
        ),
    }


def serial_part(one: dict[str, float], many: dict[str, float], workers: int) -> dict[str, float]:
    """What no worker count shares, from the median phases of a run on one worker (``one``)
    and on ``workers`` (``many``): the latter's start (imports, loading, forking, until its
    first replication is queued), writing the results folder and the rest; and the most
    ``workers`` could give over one worker if they shared all else perfectly at no cost
    (Amdahl's law)."""
    serial = many["start"] + many["writing"] + many["rest"]
    total = one["total"]
    return {
        "seconds": serial,
        "of_total": total,
        "workers": workers,
        "bound": total / (serial + (total - serial) / workers),
    }


def measure_dask_sweep(points: int = 32, replications: int = 2, repeats: int = 3) -> dict:
    """A sweep of ``points`` grid points on the local pool and on a 2-worker LocalCluster."""
    from dask.distributed import LocalCluster

    import funnelsim as fs

    base = fs.load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml")
    grid = _grid(points)
    local: list[float] = []
    dask: list[float] = []
    identical = True
    started = time.perf_counter()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        # A cluster in use has funnelsim imported in its workers already: warm both up.
        warm = {"seam1.sla_hours": [1, 2]}
        fs.sweep(base, warm, replications=1, scheduler=cluster.scheduler_address)
        startup = time.perf_counter() - started
        fs.sweep(base, warm, replications=1, workers=2)
        for _ in range(repeats):
            start = time.perf_counter()
            on_pool = fs.sweep(base, grid, replications=replications, workers=2)
            local.append(time.perf_counter() - start)
            start = time.perf_counter()
            on_dask = fs.sweep(
                base, grid, replications=replications, scheduler=cluster.scheduler_address
            )
            dask.append(time.perf_counter() - start)
            identical = identical and on_pool.equals(on_dask)
    return {
        "points": len(on_pool) - 1,
        "replications": replications,
        "repeats": repeats,
        "local_pool": _spread(local),
        "dask": _spread(dask),
        "dask_over_local_median": statistics.median(dask) / statistics.median(local),
        "dask_over_local_min": min(dask) / min(local),
        "identical": identical,
        "cluster_startup": startup,
    }


def _grid(points: int) -> dict[str, list[Any]]:
    """A grid of at least ``points`` points from ``GRID`` (its first axis cut short)."""
    per_first = -(-points // len(GRID["teams.sdr.headcount"]))
    return {
        "seam1.sla_hours": GRID["seam1.sla_hours"][:per_first],
        "teams.sdr.headcount": GRID["teams.sdr.headcount"],
    }


def print_cli(cli: dict[str, Any]) -> None:
    """:func:`measure_cli`'s figures, a line per worker count and the speedup."""
    for count, row in cli["workers"].items():
        wall, cpu = row["wall"], row["cpu"]
        print(
            f"run --reps {cli['replications']} --workers {count}: wall {wall['min']:.2f} / "
            f"{wall['median']:.2f} / {wall['max']:.2f} s, cpu {cpu['median']:.2f} s "
            f"(main process {row['main_process_cpu']['median']:.2f} s)"
        )
    print(
        f"speedup 2 vs 1 workers: {cli['speedup_median']:.2f}x wall (min "
        f"{cli['speedup_min']:.2f}x), {cli['cpu_bound_speedup']:.2f}x from CPU times"
    )
    serial = cli.get("serial")
    if serial:
        print(
            f"serial on {serial['workers']} workers: {serial['seconds']:.2f} s of 1 worker's"
            f" {serial['of_total']:.2f} s, so {serial['workers']} workers give at most"
            f" {serial['bound']:.2f}x"
        )


def print_dask_sweep(sweep: dict[str, Any]) -> None:
    """:func:`measure_dask_sweep`'s figures in one line."""
    print(
        f"sweep of {sweep['points']} points: local pool {sweep['local_pool']['median']:.2f} s,"
        f" Dask {sweep['dask']['median']:.2f} s, ratio {sweep['dask_over_local_median']:.2f}"
        f" (min {sweep['dask_over_local_min']:.2f}), identical {sweep['identical']}; cluster"
        f" start-up and warm-up {sweep['cluster_startup']:.1f} s (not counted)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--reps", type=int, default=30, help="Replications of the CLI run.")
    parser.add_argument("--points", type=int, default=32, help="Grid points of the sweep.")
    parser.add_argument("--skip-cli", action="store_true")
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--out", help="Also write the figures as JSON to this file.")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    if not args.skip_cli:
        figures["cli"] = measure_cli(args.reps, args.repeats)
        print_cli(figures["cli"])
    if not args.skip_dask:
        figures["dask_sweep"] = measure_dask_sweep(args.points, repeats=args.repeats)
        print_dask_sweep(figures["dask_sweep"])
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
