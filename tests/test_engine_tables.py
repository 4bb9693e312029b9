"""Engine steps made cheaper give exactly what their plain versions give
(``tests/engine_reference.py``): team levels and contract terms built as one frame,
arrival curves made once per calendar and source, columns found dense not checked again,
the sales stages walked over the active items only."""

from __future__ import annotations

import importlib
import pickle

import engine_reference as plain
import numpy as np
import pandas as pd
import pytest
from conftest import assert_same_ledger

import funnelsim as fs
from funnelsim.bundled import resolve_scenario
from funnelsim.engine import customers, fates, ledger, results_tables, stages
from funnelsim.engine.customer_phase import TERM_HOURS
from funnelsim.scenario.loading import load_scenario
from funnelsim.scenario.models import OutboundSource

CASES = [
    ("baseline", ["horizon_days=300"]),
    ("hiring_plan", ["horizon_days=300"]),
    ("outbound_motion", ["horizon_days=400"]),
    ("sla_1h_fallback", ["horizon_days=300", "sources.paid_search.business_hours_share=0.9"]),
]


@pytest.fixture(params=CASES, ids=[name for name, _ in CASES])
def scenario(request: pytest.FixtureRequest) -> fs.Scenario:
    name, overrides = request.param
    return load_scenario(resolve_scenario(name), overrides)


def test_team_levels_and_terms_equal_the_plain_frames(scenario, monkeypatch) -> None:
    """Every run's team levels and terms, as made, equal one frame per team (per round)
    concatenated; a run reaches both with several teams and several rounds of terms."""
    seen: dict[str, int] = {"levels": 0, "rounds": 0}

    def levels(teams, spec):
        made = team_levels(teams, spec)
        pd.testing.assert_frame_equal(made, plain.team_levels(teams, spec), check_exact=True)
        seen["levels"] += len(teams)
        return made

    def terms(rows, stored):
        made = terms_table(rows, stored)
        assert stored == TERM_HOURS
        if rows:
            expected = plain.terms_table(rows, stored)
            pd.testing.assert_frame_equal(made, expected, check_exact=True)
        seen["rounds"] = max(seen["rounds"], len(rows))
        return made

    team_levels, terms_table = results_tables.team_levels, customers._terms_table
    monkeypatch.setattr(importlib.import_module("funnelsim.engine.simulate"), "team_levels", levels)
    monkeypatch.setattr(customers, "_terms_table", terms)
    fs.simulate(scenario, 5)
    assert seen["levels"] >= 3 and seen["rounds"] >= 1


def test_arrival_curves_made_once_equal_the_plain_curves(scenario) -> None:
    """The cached grid and each inbound source's curve are the plain ones, read-only, and
    a copy of the scenario (as a worker receives it) finds them and draws the same run."""
    fates._hour_grid.cache_clear()
    fates._inbound_intensity.cache_clear()
    grid = (scenario.calendar, scenario.start_date, float(scenario.horizon_hours))
    for made, expected in zip(
        fates._hour_grid(*grid), plain.hour_grid(scenario, scenario.horizon_hours), strict=True
    ):
        np.testing.assert_array_equal(made, expected)
        assert not made.flags.writeable
    for name, source in scenario.sources.items():
        if isinstance(source, OutboundSource):
            continue
        made = fates._inbound_intensity(
            *grid, source.leads_per_week, source.seasonality, source.business_hours_share
        )
        np.testing.assert_array_equal(made, plain.inbound_intensity(scenario, name))
        assert not made.flags.writeable
    first = fates.draw_all_arrivals(scenario, 9)
    hits = fates._inbound_intensity.cache_info().hits
    again = fates.draw_all_arrivals(pickle.loads(pickle.dumps(scenario)), 9)
    assert fates._inbound_intensity.cache_info().hits > hits
    for field in ("times", "source", "account"):
        np.testing.assert_array_equal(getattr(again, field), getattr(first, field))
    pd.testing.assert_frame_equal(again.attempts, first.attempts)


def test_an_empty_attempt_log_is_a_fresh_frame() -> None:
    """A run without outbound sources gets its own empty log: changing one leaves the
    next run's untouched."""
    log = fates._empty_attempts()
    log["extra"] = 1
    assert list(fates._empty_attempts()) == ["source", "time", "account", "attempt", "outcome"]


@pytest.mark.parametrize("perfect", [(), (2, 3)])
def test_columns_held_as_when_every_freeze_checks_them(scenario, perfect, monkeypatch) -> None:
    """A column found dense is not checked again: every column is held (sparse or dense,
    in the same bytes) and reads as when every freeze checks every column it names."""
    made = fs.simulate(scenario, 4, perfect)
    monkeypatch.setattr(ledger.Columns, "freeze", plain.freeze)
    expected = fs.simulate(scenario, 4, perfect)
    assert_same_ledger(made, expected)
    held = {name: made.columns.stored(name) for name in made.columns}
    plain_held = {name: expected.columns.stored(name) for name in expected.columns}
    assert list(held) == list(plain_held)
    for name, value in held.items():
        assert type(value) is type(plain_held[name]), name
        assert value.nbytes == plain_held[name].nbytes, name
    assert any(isinstance(value, ledger.SparseColumn) for value in held.values())
    assert any(isinstance(value, np.ndarray) for value in held.values())


@pytest.mark.parametrize("active_share", [0.0, 0.2, 1.0])
def test_stage_walk_of_the_active_items_equals_the_walk_of_all(active_share) -> None:
    """Walked over its active items only, every item's walk (times, stalls, planned close,
    win, stage entries) is the one walked among all items, book opportunities part-way
    through a later stage included."""
    scenario = load_scenario(resolve_scenario("baseline"))
    n_stages = len(scenario.sales.stages)
    rng = np.random.default_rng(11)
    n = 5_000
    segment = rng.integers(0, len(scenario.segments), n)
    active = rng.random(n) < active_share
    u = rng.random((n, stages.UNIFORMS_PER_STAGE * n_stages))
    start = np.where(rng.random(n) < 0.1, rng.integers(0, n_stages, n), 0)
    age = np.where(start > 0, rng.exponential(200.0, n), np.nan)
    made = stages.walk_stages(scenario, segment, active, u, start, age)
    expected = plain.walk_stages(scenario, segment, active, u, start, age)
    for name in ("cycle", "stall", "planned", "win", "offsets"):
        np.testing.assert_array_equal(getattr(made, name), getattr(expected, name), name)
        assert getattr(made, name).dtype == getattr(expected, name).dtype
    assert made.win.any() == (active_share > 0)
