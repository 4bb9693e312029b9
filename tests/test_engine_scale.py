"""The engine at scale: the garbage collector paused around the event loop (and restored),
per-item state in typed arrays, bulk curve chances. Each is pinned against the plain
version it replaces (no timing here: speed is measured by ``benchmarks/bench.py``)."""

from __future__ import annotations

import contextlib
import gc
from array import array
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_ledger

import funnelsim as fs
from funnelsim.engine import flow as flow_module
from funnelsim.engine.flow import Flow
from funnelsim.engine.inputs import Sparse
from funnelsim.scenario import load_scenario, scenario_from_dict
from funnelsim.scenario.curves import ExponentialCurve, PointsCurve, PresetCurve

SCENARIO = {
    "horizon_days": 300,
    "sources": {
        "paid": {"leads_per_week": 90},
        "referral": {"leads_per_week": 15, "fit": {"dist": "beta", "a": 5, "b": 2}},
    },
    "seam1": {"sla_hours": 4, "fallback_team": "backup"},
    "teams": {
        "backup": {"headcount": 1, "work_time": {"dist": "exponential", "mean": 0.5}},
    },
}


def _scenario() -> fs.Scenario:
    return scenario_from_dict(SCENARIO)


def test_the_event_loop_runs_without_the_collector_and_restores_it(monkeypatch) -> None:
    """Inside the loop the collector is off; after the run it is on again."""
    seen: list[bool] = []
    arrive = Flow._arrive_sdr

    def recording(self: Flow, item: int) -> None:
        seen.append(gc.isenabled())
        arrive(self, item)

    monkeypatch.setattr(Flow, "_arrive_sdr", recording)
    assert gc.isenabled()
    fs.simulate(_scenario(), seed=1)
    assert seen and not any(seen)
    assert gc.isenabled()


def test_the_collector_state_is_restored_after_a_failure_and_when_it_was_off(
    monkeypatch,
) -> None:
    """A run that raises turns the collector back on; a caller's disabled one stays off."""

    def failing(self: Flow, item: int) -> None:
        raise RuntimeError("boom")

    with monkeypatch.context() as patch:
        patch.setattr(Flow, "_arrive_sdr", failing)
        with pytest.raises(RuntimeError, match="boom"):
            fs.simulate(_scenario(), seed=1)
    assert gc.isenabled()
    gc.disable()
    try:
        fs.simulate(_scenario(), seed=1)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_pausing_the_collector_leaves_the_ledger_unchanged(monkeypatch) -> None:
    """The plain version (collector on throughout) gives the same ledger, bit for bit."""
    fast = fs.simulate(_scenario(), seed=5)
    monkeypatch.setattr(flow_module, "paused_gc", contextlib.nullcontext)
    plain = fs.simulate(_scenario(), seed=5)
    assert_same_ledger(fast, plain)


def test_per_item_state_holds_no_python_object_per_item(monkeypatch) -> None:
    """Every per-item container of the flow (state, results, inputs) is a typed array: a
    fixed few bytes per item, no Python object per item for the collector to walk."""
    captured: list[Flow] = []
    run = Flow.run

    def capture(self: Flow) -> None:
        run(self)  # captured at the end of the run: collecting frees the inputs
        sizes = {}
        for name, value in vars(self).items():
            sizes[name] = value
        captured.append((dict(sizes), dict(self.results), self.x))

    monkeypatch.setattr(Flow, "run", capture)
    fs.simulate(_scenario(), seed=2)
    state, results, inputs = captured[0]
    n = len(inputs.lead)
    assert n > 1000
    per_item = {name: value for name, value in state.items() if _sized(value, n)}
    per_item.update({f"results.{name}": value for name, value in results.items()})
    per_item.update(
        {
            f"x.{f.name}": getattr(inputs, f.name)
            for f in fields(inputs)
            if _sized(getattr(inputs, f.name), n)
        }
    )
    assert {"state", "head", "outcome", "opened", "x.segment", "x.is_fit"} <= set(per_item)
    sparse = {name: value for name, value in per_item.items() if isinstance(value, Sparse)}
    assert {"x.approval", "x.deal_desk_work", "x.onboarding"} <= set(sparse)
    for name, value in sparse.items():  # inputs read for few items: their rows and values
        del per_item[name]
        per_item[f"{name}.positions"] = value.positions
        per_item[f"{name}.values"] = value.values
    for name, value in per_item.items():
        assert isinstance(value, (array, np.ndarray)), f"{name} is a {type(value).__name__}"
        # Machine numbers inside, not references to Python objects.
        if isinstance(value, np.ndarray):
            assert value.dtype != object, name
        else:
            assert value.itemsize <= 8, name
    # What the collector tracks besides does not grow with the items.
    others = [value for name, value in state.items() if name not in per_item]
    assert all(not (isinstance(v, list) and len(v) >= n) for v in others)


def _sized(value: object, n: int) -> bool:
    return hasattr(value, "__len__") and not isinstance(value, (str, dict)) and len(value) == n


@pytest.mark.parametrize(
    "curve",
    [
        ExponentialCurve(),
        ExponentialCurve(half_life_hours=3.0, floor=0.0),
        ExponentialCurve(half_life_hours=None),
        PresetCurve(preset="literature"),
        PointsCurve(points={1: 1.0, 24: 0.5, 200: 0.2}),
    ],
)
def test_bulk_chances_match_the_scalar_function(curve) -> None:
    """``chances`` (numpy) agrees with the event loop's scalar function to the last bits."""
    rng = np.random.default_rng(3)
    waits = np.concatenate(
        [rng.lognormal(0.0, 3.0, 20_000), [-1.0, 0.0, 0.0833, 1.0, 24.0, 96.0, 200.0, 1e9]]
    )
    function = curve.chance_function()
    expected = np.ones(len(waits)) if function is None else [function(w) for w in waits]
    got = curve.chances(waits.reshape(4, -1))
    assert got.shape == (4, len(waits) // 4)
    np.testing.assert_allclose(got.ravel(), expected, rtol=1e-14, atol=1e-16)


@pytest.mark.parametrize(("name", "under_sla"), [("baseline", False), ("sla_1h_fallback", True)])
def test_sla_deadlines_are_held_only_under_an_sla(
    name: str, under_sla: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run without an SLA keeps no per-item deadline column (8 bytes an item it never
    reads); under an SLA every item has its deadline."""
    scenario = load_scenario(
        Path(__file__).resolve().parents[1] / "scenarios" / f"{name}.yaml", ["horizon_days=120"]
    )
    lengths: list[tuple[int, int]] = []
    run = Flow.run

    def capture(self: Flow) -> None:
        run(self)
        lengths.append((len(self.sla_deadline), len(self.x.mql_time)))

    monkeypatch.setattr(Flow, "run", capture)
    fs.simulate(scenario, 4)
    ((deadlines, items),) = lengths
    assert items > 0
    assert deadlines == (items if under_sla else 0)
