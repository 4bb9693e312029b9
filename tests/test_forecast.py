"""The stage-weighted quarterly forecast: stage rules, CRM hygiene and what it is compared with."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import sales, sdr_team

import funnelsim as fs
from funnelsim.analysis import forecast_accuracy, forecast_error
from funnelsim.analysis.forecast import STAGE_WEIGHTS, recorded_stage
from funnelsim.scenario import apply_overrides, scenario_from_dict

# Enough opportunities within a year, cycles of weeks to months so that many are open at
# each quarter's start.
PIPELINE: dict[str, Any] = {
    "horizon_days": 365,
    "sources": {"inbound": {"leads_per_week": 50, "fit": {"dist": "beta", "a": 4, "b": 2}}},
    "teams": {"sdr": sdr_team(5)},
    "sales": sales(0.4, 40, 120),
}


def _ledger(*overrides: str, seed: int = 9) -> fs.Ledger:
    return fs.simulate(scenario_from_dict(apply_overrides(PIPELINE, overrides)), seed)


def test_recorded_stage_follows_the_elapsed_share_of_the_cycle():
    share = np.array([0.0, 0.24, 0.25, 0.49, 0.5, 0.74, 0.75, 1.0, 3.0])
    fresh = recorded_stage(share, np.zeros(len(share), dtype=bool))
    assert fresh.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 3]
    stale = recorded_stage(share, np.ones(len(share), dtype=bool))
    assert stale.tolist() == [1, 1, 2, 2, 3, 3, 3, 3, 3], "one stage later, commit stays commit"
    assert list(STAGE_WEIGHTS) == sorted(STAGE_WEIGHTS)


def test_forecast_table_shape_and_error_columns():
    table = forecast_accuracy(_ledger())
    assert list(table.columns) == [
        "quarter",
        "start_day",
        "forecast",
        "actual",
        "error",
        "abs_pct_error",
    ]
    assert table["quarter"].tolist() == list(range(1, len(table) + 1))
    assert table.at[0, "forecast"] == 0 and table.at[0, "actual"] == 0, "nothing open at start"
    assert (table["forecast"] >= 0).all() and (table["actual"] >= 0).all()
    assert np.allclose(table["error"], table["forecast"] - table["actual"])
    won = table["actual"] > 0
    assert won.sum() >= 2
    expected = (table["error"].abs() / table["actual"])[won]
    assert np.allclose(table.loc[won, "abs_pct_error"], expected)
    assert table.loc[~won, "abs_pct_error"].isna().all()
    assert forecast_error(_ledger()) == pytest.approx(expected.mean())


def test_stale_crm_stages_forecast_more():
    clean = forecast_accuracy(_ledger("sales.crm_hygiene.stale_stage_share=0"))
    stale = forecast_accuracy(_ledger("sales.crm_hygiene.stale_stage_share=1"))
    # Same seed, same deals: only the recorded stages differ, so the actuals agree.
    assert np.allclose(clean["actual"], stale["actual"])
    assert (stale["forecast"] >= clean["forecast"] - 1e-9).all()
    assert stale["forecast"].sum() > clean["forecast"].sum()


def test_sure_deals_that_never_slip_are_forecast_below_their_value():
    # Every opportunity wins on its expected close date: everything expected in a quarter
    # closes in it, and each counts at a stage weight between the lowest and the highest.
    ledger = _ledger(
        "sales.win_rate.smb=1",
        "sales.win_rate.mid_market=1",
        "sales.win_rate.enterprise=1",
        "sales.slip.prob=0",
    )
    table = forecast_accuracy(ledger)
    won = table[table["actual"] > 0]
    assert len(won) >= 2
    assert (won["forecast"] <= max(STAGE_WEIGHTS) * won["actual"] + 1e-6).all()
    assert (won["forecast"] >= min(STAGE_WEIGHTS) * won["actual"] - 1e-6).all()
    assert (table.loc[table["actual"] == 0, "forecast"] == 0).all()
