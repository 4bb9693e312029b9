"""Time to first result: ``import funnelsim``, the API's imports, ``--help`` and a default run.

Run ``python benchmarks/startup.py`` (``--repeats N``). Every command runs in a fresh
process from an empty folder, ``repeats`` times, interleaved; each gives its wall time and
its CPU time (user + system of the child, which includes worker processes). The default run
is ``funnelsim run`` with no arguments (the bundled baseline, the CLI's default
replications, its results folder written), on one worker and on two.
"""

from __future__ import annotations

import argparse
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
    "funnelsim run --workers 2": [FUNNELSIM, "run", "--workers", "2"],
}


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


def measure_startup(repeats: int = 3, commands: dict[str, list[str]] | None = None) -> dict:
    """Per command: wall and CPU seconds (min, median, max over ``repeats`` interleaved runs)."""
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
    }


def print_startup(figures: dict) -> None:
    """One line per command of :func:`measure_startup`'s figures."""
    for name, row in figures["commands"].items():
        wall, cpu = row["wall"], row["cpu"]
        print(
            f"{name:<28} wall {wall['min']:5.2f} / {wall['median']:5.2f} / {wall['max']:5.2f} s"
            f"   cpu {cpu['min']:5.2f} / {cpu['median']:5.2f} / {cpu['max']:5.2f} s"
            "   (min / median / max)"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="Also write the figures as JSON to this file.")
    args = parser.parse_args(argv)
    figures = measure_startup(args.repeats)
    print_startup(figures)
    if args.out:
        Path(args.out).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
