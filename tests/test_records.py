"""A stage's inputs read from one record per item give what reading each column gives."""

from __future__ import annotations

from array import array
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_ledger

import funnelsim as fs
from funnelsim.engine import flow as flow_module
from funnelsim.engine import records
from funnelsim.engine.flow import (
    AE_DISQUALIFIED,
    AE_LOST,
    AE_NFU_FIT,
    AE_NFU_UNFIT,
    AE_UNFIT,
    AE_WON,
    NOT_A_FIT,
    Flow,
)
from funnelsim.engine.inputs import FlowInputs
from funnelsim.scenario.loading import load_scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _columns(n: int, seed: int) -> dict[str, array]:
    """Every recorded input as the compact column the flow is given, with awkward values
    (NaN, infinities, -0.0, extremes of each type) among random ones."""
    rng = np.random.default_rng(seed)
    columns = {}
    for name, code in (*records.SDR_DONE, *records.AE_START):
        if code == "d":
            values = rng.normal(size=n) * 1e3
            values[:5] = [np.nan, np.inf, -np.inf, -0.0, 5e-324]
        elif code == "i":
            values = rng.integers(-(2**31), 2**31, size=n)
        else:
            values = rng.integers(-128, 128, size=n)
        columns[name] = array(code, np.asarray(values, dtype=np.dtype(code)).tobytes())
    return columns


def _inputs(columns: dict[str, array]) -> FlowInputs:
    """FlowInputs holding ``columns`` (copies); the rest empty."""
    empty = array("d")
    values = {name: empty for name in FlowInputs.__dataclass_fields__}
    values.update({name: array(col.typecode, col) for name, col in columns.items()})
    values["lead"] = np.arange(len(columns["mql_time"]))
    for name in ("enter_sales", "planned", "stage_offsets"):
        del values[name]
    return FlowInputs(**values)


@pytest.mark.parametrize("fields", [records.SDR_DONE, records.AE_START])
def test_each_record_holds_its_items_column_values_bit_for_bit(fields) -> None:
    columns = _columns(300, seed=4)
    inputs = _inputs(columns)
    data, record = records.interleave(inputs, fields)
    assert len(data) == 300 * record.size
    for item in range(300):
        got = record.unpack_from(data, item * record.size)
        want = tuple(columns[name][item] for name, _ in fields)
        assert np.array_equal(
            np.array(got, dtype=float).view(np.int64), np.array(want, dtype=float).view(np.int64)
        ), item
    # The columns only this stage reads are views of the record; the shared ones stay.
    for name, _ in fields:
        kept = getattr(inputs, name)
        if name in records.SHARED:
            assert isinstance(kept, array)
        else:
            assert isinstance(kept, np.ndarray) and not kept.flags.owndata
        assert np.ascontiguousarray(kept).tobytes() == columns[name].tobytes(), name


def test_a_record_read_in_the_wrong_order_changes_the_ledger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The ledger pin below can fail: two of an SDR record's fields laid out swapped (a
    stale-contact time read as the cold threshold and back) give another ledger."""
    scenario = load_scenario(SCENARIOS / "baseline.yaml", ["horizon_days=200"])
    recorded = fs.simulate(scenario, 6)
    fields = list(records.SDR_DONE)
    stale, threshold = fields.index(("stale_time", "d")), fields.index(("reach_threshold", "d"))
    fields[stale], fields[threshold] = fields[threshold], fields[stale]
    monkeypatch.setattr(flow_module, "SDR_DONE", tuple(fields))
    broken = fs.simulate(scenario, 6)
    with pytest.raises(AssertionError):
        assert_same_ledger(recorded, broken)


def _plain_sdr_done(self: Flow, item: int, now: float) -> None:
    """``_sdr_done`` as it was: a subscript per column."""
    x = self.x
    first_response = self._first_response[item]
    wait = first_response - x.mql_time[item]
    if self._sla and first_response > self.sla_deadline[item]:
        self.sla_breached[item] = True
    curve = self._reach[x.source[item]]
    reach = 1.0 if curve is None or wait <= 0 else curve(wait)
    if not x.is_fit[item]:
        if x.accept_unfit_u[item] < self._p_accept_unfit * reach:
            self._to_sales(item, now, x.segment[item])
        else:
            self.outcome[item] = NOT_A_FIT
            self._loss_time[item] = now
    elif first_response > x.stale_time[item]:
        self._lose(item, 1, "stale_contact", now)
    elif x.reach_threshold[item] >= reach:
        self._lose(item, 1, "went_cold", now)
    elif not x.accept_fit[item]:
        self._lose(item, 1, "rejected", now)
    else:
        self._to_sales(item, now, x.segment[item])


def _plain_ae_hold(self: Flow, item: int, start: float) -> float:
    """``_ae_hold`` as it was: a subscript per column."""
    x = self.x
    self._ae_start[item] = start
    end = start + float(x.discovery[item])
    if x.opportunity[item]:
        curve = self._followup[x.source[item]]
        threshold = float(x.opportunity_threshold[item])
        waited = curve is not None and threshold >= 0.0
        if waited and threshold >= curve(start - self._sql_time[item]):
            self.opened[item] = False
            self.not_followed_up[item] = True
            self.ae_code[item] = AE_NFU_FIT if x.is_fit[item] else AE_NFU_UNFIT
            return end
        end = end + float(x.cycle[item]) + float(x.slip[item])
        self.ae_code[item] = AE_WON if x.win[item] else AE_LOST + int(x.lost_reason[item])
    else:
        self.ae_code[item] = AE_DISQUALIFIED if x.is_fit[item] else AE_UNFIT
    return end


@pytest.mark.parametrize(
    "name",
    ["baseline", "sla_1h_fallback", "hiring_plan", "literature_speed_to_lead", "automated_q2c"],
)
def test_ledgers_equal_reading_each_column(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    recorded = fs.simulate(scenario, 6)
    monkeypatch.setattr(Flow, "_sdr_done", _plain_sdr_done)
    monkeypatch.setattr(Flow, "_ae_hold", _plain_ae_hold)
    assert_same_ledger(recorded, fs.simulate(scenario, 6))
