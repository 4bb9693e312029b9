"""The Python API given bad arguments: an exception that names the argument and what was
expected, raised before anything runs; never a stray TypeError from deep inside, and never
nonsense (0 workers, 2.5 replications, a 200% confidence level) accepted without a word."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

import funnelsim as fs
from funnelsim.experiment.plans import Hire
from funnelsim.scenario.loading import scenario_from_dict

S = scenario_from_dict({"name": "tiny", "horizon_days": 30})
HIRE = Hire("ae", 1, dt.date(2027, 1, 20))
GRID = {"teams.sdr.headcount": [2, 3]}

CASES: list[tuple[str, Callable[[], object], type[Exception], str]] = [
    ("run reps 0", lambda: fs.run(S, replications=0), ValueError, "replications"),
    ("run reps text", lambda: fs.run(S, replications="a"), TypeError, "replications"),
    ("run reps 2.5", lambda: fs.run(S, replications=2.5), TypeError, "replications"),
    ("run reps True", lambda: fs.run(S, replications=True), TypeError, "replications"),
    ("run seed -1", lambda: fs.run(S, seed=-1), ValueError, "seed"),
    ("run seed 1.5", lambda: fs.run(S, seed=1.5), TypeError, "seed"),
    ("run seed text", lambda: fs.run(S, seed="x"), TypeError, "seed"),
    ("run workers 0", lambda: fs.run(S, workers=0), ValueError, "workers"),
    ("run workers -2", lambda: fs.run(S, workers=-2), ValueError, "workers"),
    ("run scenario int", lambda: fs.run(123), TypeError, "scenario"),
    ("run scenario dict", lambda: fs.run({"name": "x"}), TypeError, "scenario"),
    ("compare variant None", lambda: fs.compare(S, None), TypeError, "variant"),
    ("compare variant text", lambda: fs.compare(S, "sla.yaml"), TypeError, "variant"),
    ("compare option text", lambda: fs.compare(S, [S, "x"]), TypeError, "variant"),
    ("compare baseline None", lambda: fs.compare(None, S), TypeError, "baseline"),
    ("compare reps 1", lambda: fs.compare(S, S, replications=1), ValueError, "replications"),
    ("compare seed -1", lambda: fs.compare(S, S, seed=-1), ValueError, "seed"),
    ("compare workers 0", lambda: fs.compare(S, S, workers=0), ValueError, "workers"),
    ("plan scenario path", lambda: fs.plan("tiny.yaml", [HIRE]), TypeError, "scenario"),
    ("plan no hires", lambda: fs.plan(S, []), ValueError, "hires"),
    ("plan hire text", lambda: fs.plan(S, "ae=+1@2027-01-20"), TypeError, "hires"),
    ("plan reps 0", lambda: fs.plan(S, [HIRE], replications=0), ValueError, "replications"),
    ("sweep no grid", lambda: fs.sweep(S, {}), ValueError, "grid"),
    ("sweep grid None", lambda: fs.sweep(S, None), TypeError, "grid"),
    ("sweep scalar", lambda: fs.sweep(S, {"teams.sdr.headcount": 3}), TypeError, "grid"),
    ("sweep text", lambda: fs.sweep(S, {"teams.sdr.headcount": "3,4"}), TypeError, "grid"),
    ("sweep empty values", lambda: fs.sweep(S, {"teams.sdr.headcount": []}), ValueError, "grid"),
    ("sweep reps 0", lambda: fs.sweep(S, GRID, replications=0), ValueError, "replications"),
    ("sweep confidence 2", lambda: fs.sweep(S, GRID, confidence=2), ValueError, "confidence"),
    (
        "leaks confidence nan",
        lambda: fs.leaks(S, confidence=float("nan")),
        ValueError,
        "confidence",
    ),
    ("sensitivity step 5", lambda: fs.sensitivity(S, step=5), ValueError, "step"),
]


@pytest.mark.parametrize(
    ("call", "error", "argument"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_argument_is_named(
    call: Callable[[], object], error: type[Exception], argument: str
) -> None:
    with pytest.raises(error, match=rf"^{argument}\b.*expected"):
        call()


def test_plan_is_part_of_the_package_api() -> None:
    """The README lists fs.plan beside fs.run and fs.compare."""
    assert fs.plan is fs.api.plan
    assert "plan" in fs.__all__
