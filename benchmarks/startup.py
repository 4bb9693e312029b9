"""Time to first result: ``import funnelsim``, the API's imports, ``--help`` and a default run.

Run ``python benchmarks/startup.py`` (``--repeats N``; ``--phases run --reps 30`` for the
phases of one command alone). Every command runs in a fresh process from an empty folder,
``repeats`` times, interleaved; each gives its wall time and
its CPU time (user + system of the child, which includes worker processes). The default run
is ``funnelsim run`` with no arguments (the bundled baseline, the CLI's default
replications and workers -- one per CPU --, its results folder written), beside the same
run on one worker (``--workers 1``: serial, in the command's own process). The target is
``funnelsim run`` at most 1.0 s wall.

``measure_run_phases`` splits the default run (fresh processes again) into its start
(imports, loading, forking the workers: until the first replication is queued), the
replications (simulation and per-replication reductions, in the workers: until the last
result is in), writing the results folder and the rest (committing, printing), each in
wall seconds, with the main process's CPU seconds and the workers'; the main process's
CPU is split by thread: its main thread, each kind of Python thread (the Parquet
writers' ``ThreadPoolExecutor``, the pool's ``_ExecutorManagerThread`` receiving results
and ``QueueFeederThread`` sending jobs) and the rest (native threads).

Before measuring, the package's bytecode is compiled (``compileall``), as an installed
package has it: a development checkout run with ``PYTHONDONTWRITEBYTECODE`` would
otherwise compile every module in every measured process and time that too.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
FUNNELSIM = str(Path(sys.executable).with_name("funnelsim"))
COMMANDS: dict[str, list[str]] = {
    "import funnelsim": [PYTHON, "-c", "import funnelsim"],
    "import the API": [PYTHON, "-c", "import funnelsim as fs; fs.run, fs.simulate"],
    "funnelsim --help": [FUNNELSIM, "--help"],
    "funnelsim run": [FUNNELSIM, "run"],
    "funnelsim run --workers 1": [FUNNELSIM, "run", "--workers", "1"],
}
# ``funnelsim run`` in one process, its phases timed from marks set by wrapping what the
# command calls: the start until the first replication is queued (imports, loading the
# scenario, forking the workers, staging the outputs), the replications until the last
# result is in, writing the results folder, and the rest (committing, printing); prints
# the phases as JSON, last, on stderr. Only modules the command loads before its workers
# start are imported here first.
RUN_IN_PHASES = """
import time
start = time.perf_counter()
import json, resource, sys
import funnelsim.cli
import funnelsim.experiment.executors as executors
import funnelsim.experiment.replications as replications
import funnelsim.output as output
marks = {}
cpu = {}

plain_submit = executors.ProcessPoolExecutor.submit
def submit(self, fn, /, *args, **kwargs):
    if fn is replications.run_replication:
        marks.setdefault("queued", time.perf_counter())
        marks.setdefault("workers", self._max_workers)
    return plain_submit(self, fn, *args, **kwargs)
executors.ProcessPoolExecutor.submit = submit

plain_execute = replications.execute
def execute(fn, jobs, *args, on_done=None, **kwargs):
    marks.setdefault("queued", time.perf_counter())
    count = [0]
    def done(index, result):
        count[0] += 1
        if count[0] == len(jobs):
            marks["last"] = time.perf_counter()
        if on_done:
            on_done(index, result)
    return plain_execute(fn, jobs, *args, on_done=done, **kwargs)
replications.execute = execute

plain_fill = output.fill_results
def fill_results(*args, **kwargs):
    began, cpu_began = time.perf_counter(), time.process_time()
    try:
        return plain_fill(*args, **kwargs)
    finally:
        marks["writing"] = time.perf_counter() - began
        cpu["writing"] = time.process_time() - cpu_began
output.fill_results = fill_results

# Each Python thread's CPU seconds when it ends, summed by kind (its class, or its name
# without the numbers).
import threading
threads = {}
plain_inner = threading.Thread._bootstrap_inner
def inner(self):
    try:
        plain_inner(self)
    finally:
        kind = type(self).__name__
        if kind == "Thread":
            kind = self.name.rstrip("0123456789_-") or kind
        threads[kind] = threads.get(kind, 0.0) + time.thread_time()
threading.Thread._bootstrap_inner = inner

sys.argv = ["funnelsim", *sys.argv[1:]]
try:
    funnelsim.cli.entry()
except SystemExit as exit:
    if exit.code:
        raise
finally:
    cpu["main_thread"] = time.thread_time()
    total = time.perf_counter() - start
    phases = {
        "start": marks["queued"] - start,
        "replications": marks["last"] - marks["queued"],
        "writing": marks.get("writing", 0.0),
    }
    phases["rest"] = total - sum(phases.values())
    phases["total"] = total
    cpu["main_process"] = time.process_time()
    cpu.update({"thread " + kind: seconds for kind, seconds in threads.items()})
    cpu["other threads"] = cpu["main_process"] - cpu["main_thread"] - sum(threads.values())
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu["workers"] = workers.ru_utime + workers.ru_stime
    found = {"wall": phases, "cpu": cpu, "workers": marks.get("workers", 1)}
    print(json.dumps(found), file=sys.stderr)
"""
PHASES = ("start", "replications", "writing", "rest", "total")


def _timed(command: list[str], cwd: Path) -> tuple[float, float, str]:
    """Wall and CPU seconds of one child process (CPU: its own and its children's), and
    what it wrote on stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {done.stderr.strip()}")
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stderr


def _spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def compile_package() -> None:
    """Write the bytecode of every funnelsim module, as installing the package does."""
    import funnelsim

    compileall.compile_dir(Path(funnelsim.__file__).parent, quiet=1)


def measure_startup(repeats: int = 3, commands: dict[str, list[str]] | None = None) -> dict:
    """Per command: wall and CPU seconds (min, median, max over ``repeats`` interleaved runs)."""
    compile_package()
    commands = commands or COMMANDS
    walls: dict[str, list[float]] = {name: [] for name in commands}
    cpus: dict[str, list[float]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeats):
            for name, command in commands.items():
                folder = Path(tempfile.mkdtemp(dir=scratch))
                wall, cpu, _ = _timed(command, folder)
                walls[name].append(wall)
                cpus[name].append(cpu)
    return {
        "repeats": repeats,
        "cpus": os.cpu_count(),
        "commands": {
            name: {"wall": _spread(walls[name]), "cpu": _spread(cpus[name])} for name in commands
        },
        "run_phases": measure_run_phases(repeats),
    }


def measure_run_phases(repeats: int = 3, args: tuple[str, ...] = ("run",)) -> dict:
    """Median wall seconds of each phase of ``funnelsim run`` (``args``) over ``repeats``
    fresh processes, the median CPU seconds of the main process and of its workers, and
    the least the run could take with those costs (``run_floor``)."""
    compile_package()
    walls: dict[str, list[float]] = {name: [] for name in PHASES}
    cpus: dict[str, list[float]] = {"main_process": [], "workers": []}
    pool_sizes: list[int] = []
    with tempfile.TemporaryDirectory() as scratch:
        for done in range(repeats):
            folder = Path(tempfile.mkdtemp(dir=scratch))
            _, _, stderr = _timed([PYTHON, "-c", RUN_IN_PHASES, *args], folder)
            found = json.loads(stderr.strip().splitlines()[-1])
            pool_sizes.append(found["workers"])
            for name in PHASES:
                walls[name].append(found["wall"].get(name, 0.0))
            for name in {*cpus, *found["cpu"]} - {"writing"}:  # a kind missing counts 0
                cpus.setdefault(name, [0.0] * done).append(found["cpu"].get(name, 0.0))
    wall = {name: statistics.median(values) for name, values in walls.items()}
    cpu = {name: statistics.median(values) for name, values in cpus.items()}
    workers = max(pool_sizes)
    return {
        "command": " ".join(["funnelsim", *args]),
        "repeats": repeats,
        "workers": workers,
        "wall_median": wall,
        "cpu_median": cpu,
        "floor": run_floor(wall, cpu["workers"], workers),
    }


def run_floor(wall: dict[str, float], workers_cpu: float, workers: int) -> dict[str, float]:
    """The least a run could take with its measured costs: its serial phases (start,
    writing, rest) plus its workers' CPU seconds shared perfectly by its ``workers``,
    beside its measured total (in-process: without the interpreter's own start and exit).
    A run that simulates in its own process (no worker CPU) has its replications serial."""
    serial = wall["start"] + wall["writing"] + wall["rest"]
    shared = workers_cpu / workers if workers_cpu > 0 else wall["replications"]
    return {
        "serial": serial,
        "workers_cpu": workers_cpu,
        "workers": workers,
        "shared": shared,
        "seconds": serial + shared,
        "total": wall["total"],
    }


def print_run_phases(figures: dict) -> None:
    """:func:`measure_run_phases`'s figures in two lines (three with the threads)."""
    wall, cpu = figures["wall_median"], figures["cpu_median"]
    print(
        f"{figures['command']} (median wall s): "
        + ", ".join(f"{name} {wall[name]:.2f}" for name in PHASES)
    )
    print(f"  CPU s: main process {cpu['main_process']:.2f}, workers {cpu['workers']:.2f}")
    floor = figures.get("floor")
    if floor:
        print(
            f"  floor {floor['seconds']:.2f} s: serial {floor['serial']:.2f} s + workers"
            f" {floor['workers_cpu']:.2f} CPU s / {floor['workers']} = {floor['shared']:.2f} s"
        )
    if "main_thread" in cpu:
        kinds = sorted(name for name in cpu if name.startswith("thread "))
        split = ["main_thread", *kinds, "other threads"]
        print("  main process by thread: " + ", ".join(f"{n} {cpu[n]:.2f}" for n in split))


def print_startup(figures: dict) -> None:
    """One line per command of :func:`measure_startup`'s figures."""
    for name, row in figures["commands"].items():
        wall, cpu = row["wall"], row["cpu"]
        print(
            f"{name:<28} wall {wall['min']:5.2f} / {wall['median']:5.2f} / {wall['max']:5.2f} s"
            f"   cpu {cpu['min']:5.2f} / {cpu['median']:5.2f} / {cpu['max']:5.2f} s"
            "   (min / median / max)"
        )
    if "run_phases" in figures:
        print_run_phases(figures["run_phases"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="Also write the figures as JSON to this file.")
    parser.add_argument(
        "--phases",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="Only the phases of funnelsim ARGS (last), e.g. --phases run --reps 30 --workers 2.",
    )
    args = parser.parse_args(argv)
    if args.phases:
        figures = measure_run_phases(args.repeats, tuple(args.phases))
        print_run_phases(figures)
    else:
        figures = measure_startup(args.repeats)
        print_startup(figures)
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
