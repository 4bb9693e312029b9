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


def _trace(
    install: bool, seed: int, initial_time: float, width: float, slots: int = 1
) -> list[tuple]:
    """Random processes with timeouts near and far, ties and urgent events: what ran when."""
    env = simpy.Environment(initial_time=initial_time)
    horizon = initial_time + 2_000.0
    far = FarEvents(env, horizon, width=width, slots=slots) if install else None
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
@pytest.mark.parametrize(
    ("initial_time", "width", "slots"),
    [
        (0.0, 24.0, 1),
        (130.0, 24.0, 1),
        (5.0, 7.5, 1),
        (0.0, 24.0, 8),
        (130.0, 24.0, 5),
        (5.0, 0.7, 3),
    ],
)
def test_simpy_processes_run_in_the_same_order(
    seed: int, initial_time: float, width: float, slots: int
) -> None:
    plain = _trace(False, seed, initial_time, width)
    assert len(plain) > 500
    assert _trace(True, seed, initial_time, width, slots) == plain


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

    def __init__(self, env: simpy.Environment, horizon: float, width: float, slots: int) -> None:
        del env, horizon, width, slots


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
        def __init__(
            self, env: simpy.Environment, horizon: float, width: float, slots: int
        ) -> None:
            installed.append(horizon)
            super().__init__(env, horizon, width, slots)

    monkeypatch.setattr(team_setup, "FarEvents", Spy)
    scenario = load_scenario(SCENARIOS / "baseline.yaml", ["horizon_days=200"])
    plain = fs.simulate(scenario, 3)
    assert installed == [] and plain.n_leads < SIMULATE.FAR_EVENTS_LEADS
    monkeypatch.setattr(SIMULATE, "FAR_EVENTS_LEADS", plain.meta["new_leads"])
    assert_same_ledger(plain, fs.simulate(scenario, 3))
    assert installed == [scenario.horizon_hours]


def test_narrow_slots_give_the_same_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(SCENARIOS / "hiring_plan.yaml")
    monkeypatch.setattr(SIMULATE, "FAR_EVENTS_LEADS", 0)
    default = fs.simulate(scenario, 9)
    monkeypatch.setattr(SIMULATE, "slots_for", lambda _leads: 7)
    assert_same_ledger(default, fs.simulate(scenario, 9))


def test_far_entries_wait_in_their_day_then_their_slot() -> None:
    """With slots, an entry due past tomorrow waits in its day's list, is staged in time
    order a day ahead and reaches the heap a slot ahead; every entry fires on time."""
    env = simpy.Environment()
    far = FarEvents(env, horizon=500.0, width=24.0, slots=8)
    fired: list[float] = []
    for delay in (1.0, 5.9, 6.0, 30.0, 100.0, 100.0, 499.0):
        env.timeout(delay).callbacks.append(lambda _e: fired.append(env.now))
    assert far.pending() == 5 and len(far._days) == 2  # days 4 and 20 held whole
    env.run(until=80.0)
    assert [entry[0] for entry in far._staged] == [100.0, 100.0]
    env.run(until=500.0)
    assert fired == [1.0, 5.9, 6.0, 30.0, 100.0, 100.0, 499.0]


def test_slots_grow_in_powers_of_two_past_the_reference_size() -> None:
    """Up to ``SLOT_LEADS`` leads a day is one slot; past it, the power of two at or above
    the ratio, so the heap holds about as many events at any size."""
    assert far_events.slots_for(1) == 1
    assert far_events.slots_for(far_events.SLOT_LEADS) == 1
    assert far_events.slots_for(far_events.SLOT_LEADS + 1) == 2
    assert far_events.slots_for(100 * far_events.SLOT_LEADS) == 128


def test_a_large_run_gets_narrow_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """The slots a run's ``FarEvents`` gets follow its number of leads."""
    got: list[int] = []

    class Spy(FarEvents):
        def __init__(
            self, env: simpy.Environment, horizon: float, width: float, slots: int
        ) -> None:
            got.append(slots)
            super().__init__(env, horizon, width, slots)

    monkeypatch.setattr(team_setup, "FarEvents", Spy)
    monkeypatch.setattr(SIMULATE, "FAR_EVENTS_LEADS", 0)
    monkeypatch.setattr(far_events, "SLOT_LEADS", 500)
    scenario = load_scenario(SCENARIOS / "baseline.yaml", ["horizon_days=200"])
    ledger = fs.simulate(scenario, 3)
    assert got == [far_events.slots_for(ledger.meta["new_leads"])] and got[0] > 1
