"""A sales completion decided at the AE's start gives the ledger of deciding at completion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import assert_same_ledger

import funnelsim as fs
from funnelsim.engine.flow import Flow
from funnelsim.engine.ledger import CLOSED_LOST, NOT_A_FIT, REASON_CODE
from funnelsim.scenario.loading import load_scenario
from funnelsim.scenario.models import Scenario

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"


def _plain_hold(self: Flow, item: int, start: float) -> float:
    """``_ae_hold`` as it was: the start, the end, the follow-up decay; no decision."""
    self._ae_start[item] = start
    end = start + self._discovery[item]
    if self._opportunity[item]:
        curve = self._followup[self._source[item]]
        threshold = self._opportunity_threshold[item]
        waited = curve is not None and threshold >= 0.0
        if waited and threshold >= curve(start - self._sql_time[item]):
            self.opened[item] = False
            self.not_followed_up[item] = True
            return end
        end = end + self._cycle[item] + self._slip[item]
    return end


def _plain_done(self: Flow, item: int, now: float) -> None:
    """``_ae_done`` as it was: every column read at the completion."""
    x = self.x
    self._close_time[item] = now
    if self.not_followed_up[item]:
        self._lose(item, 1, "not_followed_up", now)
        return
    if not self._opportunity[item]:
        is_fit = self._is_fit[item]
        self.outcome[item] = CLOSED_LOST if is_fit else NOT_A_FIT
        if is_fit:
            self.reason[item] = REASON_CODE["disqualified"]
        self._loss_time[item] = now
    elif self._win[item]:
        self._won_time[item] = now
        if self.rules.skip_deal_desk:
            self._contract_done(item, now)
        else:
            head = self.deal_desk.route(x.segment[item])
            self.deal_desk.arrive(item, head, self._deal_desk_hold, self._deal_desk_done)
    else:
        self.outcome[item] = CLOSED_LOST
        self.reason[item] = x.lost_reason[item]
        self._loss_time[item] = now


@pytest.mark.parametrize(
    ("name", "ae_heads"),
    [
        ("baseline", None),
        # A short-handed sales team: SQLs wait for an AE and cool (``not_followed_up``).
        ("baseline", 2),
        ("hiring_plan", None),
        ("sla_1h_fallback", None),
        ("automated_q2c", None),
        ("literature_speed_to_lead", None),
    ],
)
def test_ledgers_equal_deciding_at_completion(
    name: str, ae_heads: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.yaml")
    if ae_heads is not None:
        data = scenario.model_dump(by_alias=True)
        data["teams"]["ae"]["headcount"] = ae_heads
        scenario = Scenario.model_validate(data)
    decided = fs.simulate(scenario, 3)
    monkeypatch.setattr(Flow, "_ae_hold", _plain_hold)
    monkeypatch.setattr(Flow, "_ae_done", _plain_done)
    plain = fs.simulate(scenario, 3)
    assert_same_ledger(decided, plain)
    if ae_heads is not None:
        assert np.any(decided.columns["loss_reason"] == REASON_CODE["not_followed_up"])
