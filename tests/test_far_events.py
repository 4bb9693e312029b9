"""Far events held out of SimPy's heap: the same events in the same order, the same ledgers."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import simpy
from conftest import assert_same_ledger

import funnelsim as fs
from funnelsim.engine import far_events, team_setup
from funnelsim.engine.far_events import FarEvents
from funnelsim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SIMULATE = importlib.import_module("funnelsim.engine.simulate")


def _trace(install: bool, seed: int, initial_time: float, width: float) -> list[tuple]:
    """Random processes with timeouts near and far, ties and urgent events: what ran when."""
    env = simpy.Environment(initial_time=initial_time)
    far = FarEvents(env, horizon=initial_time + 2_000.0, width=width) if install else None
    rng = np.random.default_rng(seed)
    seen: list[tuple] = []

    def worker(name: int):
        for _ in range(40):
            delay = float(rng.choice([0.0, 1.0, 24.0, 48.0, rng.exponential(30.0)]))
            yield env.timeout(round(delay, 1))
            seen.append((env.now, name))
            if rng.random() < 0.2:
                event = env.event()
                event.callbacks.append(lambda _e, n=name: seen.append((env.now, "urgent", n)))
                event.succeed()

    for name in range(25):
        env.process(worker(name))
    env.run(until=initial_time + 1_500.0)
    if far is not None:
        assert far.pending() >= 0
    return seen


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize(("initial_time", "width"), [(0.0, 24.0), (130.0, 24.0), (5.0, 7.5)])
def test_simpy_processes_run_in_the_same_order(seed: int, initial_time: float, width: float):
    plain = _trace(False, seed, initial_time, width)
    assert len(plain) > 500
    assert _trace(True, seed, initial_time, width) == plain


def test_far_entries_wait_outside_the_heap_until_near() -> None:
    env = simpy.Environment()
    far = FarEvents(env, horizon=1_000.0, width=24.0)
    fired: list[float] = []
    for delay in (1.0, 47.0, 48.0, 100.0, 999.0, 1_000.0, 1_001.0, float("inf")):
        env.timeout(delay).callbacks.append(lambda _e: fired.append(env.now))
    held = far.pending()
    assert held == 6  # 48, 100, 999, 1000 in buckets; 1001 and inf beyond the horizon
    assert len(env._queue) < 8
    env.run(until=1_000.0)
    assert fired == [1.0, 47.0, 48.0, 100.0, 999.0]


class _Plain:
    """FarEvents with nothing held back: plain SimPy scheduling."""

    def __init__(self, env: simpy.Environment, horizon: float) -> None:
        del env, horizon


@pytest.mark.parametrize(
    "name", ["baseline", "hiring_plan", "sla_1h_fallback", "outbound_motion", "renewal_90d"]
)
def test_ledgers_equal_plain_simpy(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Far events held back (forced at any size) give the ledger plain SimPy gives."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    monkeypatch.setattr(SIMULATE, "FAR_EVENTS_LEADS", 0)
    held = fs.simulate(scenario, 5)
    monkeypatch.setattr(team_setup, "FarEvents", _Plain)
    assert_same_ledger(held, fs.simulate(scenario, 5))


def test_far_events_only_in_large_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run below ``FAR_EVENTS_LEADS`` schedules plainly; at or above it, far events are
    held back; the ledger is the same either way."""
    installed: list[float] = []

    class Spy(FarEvents):
        def __init__(self, env: simpy.Environment, horizon: float) -> None:
            installed.append(horizon)
            super().__init__(env, horizon)

    monkeypatch.setattr(team_setup, "FarEvents", Spy)
    scenario = load_scenario(SCENARIOS / "baseline.yaml", ["horizon_days=200"])
    plain = fs.simulate(scenario, 3)
    assert installed == [] and plain.n_leads < SIMULATE.FAR_EVENTS_LEADS
    monkeypatch.setattr(SIMULATE, "FAR_EVENTS_LEADS", plain.meta["new_leads"])
    assert_same_ledger(plain, fs.simulate(scenario, 3))
    assert installed == [scenario.horizon_hours]


def test_a_narrow_bucket_gives_the_same_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(SCENARIOS / "hiring_plan.yaml")
    monkeypatch.setattr(SIMULATE, "FAR_EVENTS_LEADS", 0)
    default = fs.simulate(scenario, 9)
    monkeypatch.setattr(far_events, "WIDTH", 0.7)
    monkeypatch.setattr(FarEvents.__init__, "__defaults__", (0.7,))
    assert_same_ledger(default, fs.simulate(scenario, 9))
