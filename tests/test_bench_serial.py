"""The replications benchmark's serial part: the most more workers can give over one
(Amdahl's law), as the README quotes it."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]


def _module(name: str):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return module


seconds = st.floats(min_value=0.0, max_value=100.0, allow_nan=False)


@given(seconds, seconds, seconds, seconds, st.integers(min_value=2, max_value=64))
def test_the_bound_lies_between_one_and_the_worker_count(start, work, writing, rest, workers):
    replications = _module("replications")
    phases = {"start": start, "replications": work, "writing": writing, "rest": rest}
    phases["total"] = sum(phases.values())
    if phases["total"] == 0:
        return
    serial = replications.serial_part(phases, phases, workers)
    assert serial["seconds"] == start + writing + rest
    assert 1.0 - 1e-9 <= serial["bound"] <= workers + 1e-9
    # Timed at the bound, the run takes its serial part plus its share of the rest.
    at_bound = phases["total"] / serial["bound"]
    assert abs(at_bound - (serial["seconds"] + work / workers)) <= 1e-9 * phases["total"]


def test_no_serial_part_gives_every_worker_and_all_serial_gives_none():
    replications = _module("replications")
    parallel = {"start": 0.0, "replications": 4.0, "writing": 0.0, "rest": 0.0, "total": 4.0}
    serial = {"start": 1.0, "replications": 0.0, "writing": 2.0, "rest": 1.0, "total": 4.0}
    assert replications.serial_part(parallel, parallel, 2)["bound"] == 2.0
    assert replications.serial_part(serial, serial, 2)["bound"] == 1.0


def test_the_serial_part_is_the_many_worker_runs_own():
    """Imports only the main process needs are serial on one worker but overlap the
    replications on two: the bound counts what stays serial on two."""
    replications = _module("replications")
    one = {"start": 0.7, "replications": 3.8, "writing": 0.2, "rest": 0.1, "total": 4.8}
    two = {"start": 0.5, "replications": 2.0, "writing": 0.2, "rest": 0.1, "total": 2.8}
    serial = replications.serial_part(one, two, 2)
    assert abs(serial["seconds"] - 0.8) < 1e-12
    assert serial["of_total"] == 4.8
    assert abs(serial["bound"] - 4.8 / (0.8 + 4.0 / 2)) < 1e-12


def test_the_readme_quotes_the_bound_when_the_run_measured_it():
    bench = _module("bench")
    figures = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    figures["cli_replications"]["serial"] = {
        "seconds": 0.8,
        "of_total": 4.6,
        "workers": 2,
        "bound": 4.6 / (0.8 + 3.8 / 2),
    }
    block = bench.readme_table(figures)
    assert "On 2 workers 0.80 s is serial" in block
    assert "2 workers give at most 1.70x" in block
    del figures["cli_replications"]["serial"]
    assert "Amdahl" not in bench.readme_table(figures)


@given(seconds, seconds, seconds, seconds, st.integers(min_value=1, max_value=64))
def test_a_runs_floor_is_its_serial_phases_and_its_workers_cpu_shared(
    start, work, writing, rest, workers
):
    """A run whose workers were busy the whole of its replications phase on every core takes
    exactly its floor; any idle core makes it take longer."""
    startup = _module("startup")
    wall = {"start": start, "replications": work, "writing": writing, "rest": rest}
    wall["total"] = sum(wall.values())
    busy = startup.run_floor(wall, work * workers, workers)
    assert busy["serial"] == start + writing + rest
    assert abs(busy["seconds"] - wall["total"]) <= 1e-9 * max(wall["total"], 1.0)
    if work > 1e-6:
        idle = startup.run_floor(wall, work * workers / 2, workers)
        assert idle["seconds"] < wall["total"]


def test_a_run_without_workers_has_its_replications_serial():
    startup = _module("startup")
    wall = {"start": 0.5, "replications": 1.5, "writing": 0.1, "rest": 0.05, "total": 2.15}
    assert startup.run_floor(wall, 0.0, 1)["seconds"] == wall["total"]


def test_the_readme_quotes_the_default_runs_floor_when_the_run_measured_it():
    bench = _module("bench")
    figures = json.loads((ROOT / "benchmarks" / "results.json").read_text())
    phases = figures["startup"]["run_phases"]
    phases["floor"] = {
        "serial": 0.7,
        "workers_cpu": 1.3,
        "workers": 2,
        "shared": 0.65,
        "seconds": 1.35,
        "total": 1.45,
    }
    block = bench.readme_table(figures)
    assert "it cannot take less than 1.35 s" in block
    assert "its 2 workers' 1.30 CPU s shared perfectly 0.65 s" in block
    del phases["floor"]
    assert "cannot take less" not in bench.readme_table(figures)
