"""Items renumbered in pickup order give the ledger of the original numbering, bit for bit."""

from __future__ import annotations

import dataclasses
from array import array
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import funnelsim as fs
from funnelsim.engine import flow as flow_module
from funnelsim.engine.inputs import FlowInputs, Sparse
from funnelsim.engine.item_order import PER_ITEM, _permuted, arrival_order, in_item_order
from funnelsim.scenario.loading import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


@settings(max_examples=100, deadline=None)
@given(
    times=st.lists(st.sampled_from([0.0, 1.5, 2.0, 7.25, np.inf]), min_size=1, max_size=60),
    data=st.data(),
)
def test_columns_round_trip(times: list[float], data: st.DataObject) -> None:
    """Every column form is renumbered value for value and put back exactly."""
    order = arrival_order(np.array(times))
    n = len(times)
    picked = np.array(times)[order]
    assert picked.tolist() == sorted(times)
    assert all(order[k] < order[k + 1] for k in range(n - 1) if picked[k] == picked[k + 1])
    floats = data.draw(st.lists(st.sampled_from([0.0, -0.0, 0.5, 3.0]), min_size=n, max_size=n))
    columns = [
        array("d", floats),
        array("i", range(n)),
        array("b", [k % 2 for k in range(n)]),
        Sparse.of(np.array(floats)),
        np.array(floats),
    ]
    for column in columns:
        renumbered = _permuted(column, order)
        assert type(renumbered) is type(column)
        values = np.asarray(column.dense() if isinstance(column, Sparse) else column)
        got = np.asarray(renumbered.dense() if isinstance(renumbered, Sparse) else renumbered)
        np.testing.assert_array_equal(got, values[order])
        assert np.array_equal(np.signbit(got), np.signbit(values[order]))
        back = in_item_order(renumbered, order)
        np.testing.assert_array_equal(back, values)
        assert np.array_equal(np.signbit(back), np.signbit(values))


def _ledger(scenario: fs.Scenario, seed: int) -> fs.Ledger:
    return fs.simulate(scenario, seed)


@pytest.mark.parametrize(
    ("name", "overrides"),
    [
        ("baseline", []),
        # Business-clock SLA deadlines tie (every lead of a night gets the same one): the
        # checks must run in the original numbers' order.
        ("sla_1h_fallback", []),
        ("sla_1h_fallback", ["seam1.sla_clock=wall"]),
        ("baseline", ["seam1.sla_hours=8", "seam1.fallback_team=sdr"]),
        ("hiring_plan", []),
        ("renewal_90d", []),
    ],
)
def test_same_ledger_as_the_original_numbering(
    monkeypatch: pytest.MonkeyPatch, name: str, overrides: list[str]
) -> None:
    """Renumbered (forced at any size) or numbered as given (a small run's way): the same
    ledger."""
    scenario = load_scenario(SCENARIOS / f"{name}.yaml", overrides)
    monkeypatch.setattr(flow_module, "RENUMBER_ITEMS", 0)
    renumbered = _ledger(scenario, 5)
    monkeypatch.setattr(flow_module, "RENUMBER_ITEMS", 2**62)
    original = _ledger(scenario, 5)
    assert renumbered.columns.keys() == original.columns.keys()
    for column in renumbered.columns:
        np.testing.assert_array_equal(
            renumbered.columns[column], original.columns[column], err_msg=column
        )
    pd.testing.assert_frame_equal(renumbered.terms, original.terms)
    pd.testing.assert_frame_equal(renumbered.team_levels, original.team_levels)
    pd.testing.assert_frame_equal(renumbered.leads, original.leads)
    assert renumbered.meta == original.meta


def test_the_walk_reads_items_in_number_order() -> None:
    """Without an SLA the renumbered walk meets items 0, 1, 2, ... (front to back)."""
    seen: list[int] = []
    original_walk = flow_module.Flow._walk

    def walk(self, times, indices, kinds):  # type: ignore[no-untyped-def]
        seen.extend(indices)
        return original_walk(self, times, indices, kinds)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flow_module.Flow, "_walk", walk)
        patch.setattr(flow_module, "RENUMBER_ITEMS", 0)
        fs.simulate(load_scenario(SCENARIOS / "baseline.yaml"), 3)
    assert seen and seen == list(range(len(seen)))


def test_only_large_runs_are_renumbered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Items are renumbered from ``RENUMBER_ITEMS`` items on; a smaller run keeps the
    numbering it was given (nothing to put back)."""
    sizes: list[int] = []
    original_order = flow_module.arrival_order

    def spy(pickup_time):  # type: ignore[no-untyped-def]
        sizes.append(len(pickup_time))
        return original_order(pickup_time)

    monkeypatch.setattr(flow_module, "arrival_order", spy)
    scenario = load_scenario(SCENARIOS / "baseline.yaml", ["horizon_days=200"])
    ledger = fs.simulate(scenario, 3)
    items = ledger.meta["queued_leads"]
    assert sizes == [] and 0 < items < flow_module.RENUMBER_ITEMS
    monkeypatch.setattr(flow_module, "RENUMBER_ITEMS", items)
    fs.simulate(scenario, 3)
    assert sizes == [items]


def test_every_per_item_input_is_renumbered() -> None:
    """A new FlowInputs column is either renumbered or one of those read after the run
    (in item order) or holding item numbers; none is left out silently."""
    read_after_run = {"lead", "planned", "stage_offsets", "enter_sales"}
    fields = {field.name for field in dataclasses.fields(FlowInputs)}
    assert set(PER_ITEM) | read_after_run == fields
    assert not set(PER_ITEM) & read_after_run
