"""Sales stages: the walk, one stage as the one-stage cycle, fitting stages back from dates."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import per_segment, sdr_team

import funnelsim as fs
from funnelsim.analysis.stages import km_median, stage_conversion, wilson
from funnelsim.scenario import ScenarioError, apply_overrides, scenario_from_dict
from funnelsim.scenario.distributions import Lognormal

# Three stages alike in every segment; no stalls, so a stage's time is its lognormal.
DAYS = {"discovery": (8, 20), "proposal": (12, 30), "commit": (5, 12)}
ADVANCE = {"discovery": 0.6, "proposal": 0.55, "commit": 0.8}
STAGED: dict[str, Any] = {
    "horizon_days": 730,
    "sources": {"inbound": {"leads_per_week": 70, "fit": {"dist": "beta", "a": 5, "b": 2}}},
    "teams": {"sdr": sdr_team(8), "ae": {"headcount": 30, "capacity_per_head": 30}},
    "sales": {
        "qualify_prob": per_segment(0.7),
        "followup_decay": None,
        "stages": {
            name: {
                "advance": ADVANCE[name],
                "days": {"dist": "lognormal", "median": median, "p90": p90},
            }
            for name, (median, p90) in DAYS.items()
        },
    },
}


@pytest.fixture(scope="module")
def staged() -> fs.Ledger:
    return fs.simulate(scenario_from_dict(STAGED), seed=21)


def test_one_stage_meets_exactly_the_one_stage_cycle():
    """A single stage with the one-stage cycle's win rate, days and slip is the same run."""
    base: dict[str, Any] = {
        "horizon_days": 365,
        "sources": {"inbound": {"leads_per_week": 40, "fit": {"dist": "beta", "a": 4, "b": 2}}},
        "teams": {"sdr": sdr_team(6)},
        "sales": {
            "win_rate": {"smb": 0.3, "mid_market": 0.25, "enterprise": 0.2},
            "slip": {"prob": 0.3, "extra_days": {"dist": "lognormal", "median": 20, "p90": 50}},
        },
        "book": {"opportunities": [{"segment": "smb", "count": 10, "age_days": 12}]},
    }
    plain = scenario_from_dict(base)
    sales = plain.model_dump(mode="json", by_alias=True)["sales"]
    one_stage = {
        "open": {"advance": sales["win_rate"], "days": sales["cycle_days"], "stall": sales["slip"]}
    }
    staged = scenario_from_dict(apply_overrides(base, [f"sales.stages={one_stage}"]))
    a, b = fs.simulate(plain, 5), fs.simulate(staged, 5)
    for name, values in a.columns.items():
        assert np.array_equal(values, b.columns[name], equal_nan=True), name
    pd.testing.assert_frame_equal(a.terms, b.terms)
    pd.testing.assert_frame_equal(a.stages, b.stages)
    assert a.stage_names == b.stage_names == ("open",)


def test_stage_rows_follow_each_deal_through_its_walk(staged: fs.Ledger):
    rows = staged.stages
    c = staged.columns
    assert set(rows["stage"]) == {0, 1, 2}
    first = rows[rows["stage"] == 0].set_index("lead_id")
    assert np.allclose(first["entered"], c["opp_time"][first.index])
    for lead, walk in rows.groupby("lead_id"):
        walk = walk.sort_values("stage")
        stages = walk["stage"].to_numpy()
        assert (stages == np.arange(len(stages))).all(), "stages are entered in order"
        results = walk["result"].astype(str).tolist()
        assert all(r == "advanced" for r in results[:-1])
        left = walk["left"].to_numpy()
        assert np.allclose(left[:-1], walk["entered"].to_numpy()[1:])
        if results[-1] == "won":
            assert len(stages) == 3 and c["won"][lead]
            assert left[-1] == pytest.approx(c["won_time"][lead])
        elif results[-1] == "lost":
            assert not c["won"][lead] and left[-1] == pytest.approx(c["close_time"][lead])
        else:
            assert np.isnan(left[-1])


def test_a_later_stage_is_likelier_to_win(staged: fs.Ledger):
    rows = staged.stages
    won = rows.groupby("lead_id")["result"].apply(lambda r: (r == "won").any())
    decided = rows.groupby("lead_id")["result"].apply(lambda r: (r != "open").all())
    chance = []
    for stage in range(3):
        leads = rows.loc[rows["stage"] == stage, "lead_id"]
        leads = leads[decided.loc[leads].to_numpy()]
        chance.append(won.loc[leads].mean())
    assert chance[0] < chance[1] < chance[2]
    expected = [
        ADVANCE["discovery"] * ADVANCE["proposal"] * ADVANCE["commit"],
        ADVANCE["proposal"] * ADVANCE["commit"],
        ADVANCE["commit"],
    ]
    assert np.allclose(chance, expected, atol=0.05)


def test_stage_conversion_and_time_fitted_back_lie_in_their_intervals(staged: fs.Ledger):
    table = stage_conversion(staged, confidence=0.99).set_index("stage")
    for name, (median, _p90) in DAYS.items():
        row = table.loc[name]
        assert row["conversion_low"] <= ADVANCE[name] <= row["conversion_high"], row
        assert row["median_days_low"] <= median <= row["median_days_high"], row
        assert row["entered"] == row["moved_on"] + row["lost"] + row["open"]
    assert table.loc["discovery", "entered"] > 1000
    # Censoring handled: deals still in a stage at the horizon are neither lost nor dropped.
    assert table["open"].sum() > 0


def test_km_median_with_heavy_censoring_is_unbiased():
    rng = np.random.default_rng(3)
    true = Lognormal(median=20, p90=60)
    durations = true.sample(rng, 4000)
    censor = rng.uniform(0, 60, len(durations))
    seen = np.minimum(durations, censor)
    median, low, high = km_median(seen, durations <= censor, 2.576)
    assert low <= median <= high
    assert low <= 20 <= high
    assert np.median(seen) < low, "a naive median of censored times is biased short"


def test_wilson_interval():
    low, high = wilson(30, 100, 1.96)
    assert low < 0.3 < high and high - low == pytest.approx(0.18, abs=0.01)
    assert np.isnan(wilson(0, 0, 1.96)[0])


def test_book_opportunities_start_at_their_stage(staged: fs.Ledger):
    book = [
        {"segment": "smb", "count": 200, "stage": "commit", "age_days": 2},
        {"segment": "smb", "count": 200, "stage": "discovery", "age_days": 2},
    ]
    ledger = fs.simulate(scenario_from_dict({**STAGED, "book": {"opportunities": book}}), 4)
    rows = ledger.stages
    book_leads = np.flatnonzero(ledger.columns["from_book"])
    late, early = book_leads[:200], book_leads[200:]
    first_stage = rows.groupby("lead_id")["stage"].min()
    assert (first_stage.loc[late] == 2).all() and (first_stage.loc[early] == 0).all()
    entered = rows[rows["lead_id"].isin(late)].groupby("lead_id")["entered"].min()
    assert (entered < 0).all(), "in the stage before the run"
    won = ledger.columns["won"]
    assert won[late].mean() > 0.7 > 0.3 > won[early].mean()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sales.stages={}", "sales.stages: name at least one stage"),
        ("sales.stages={a: {advance: {smb: 0.5}, days: 3}}", "missing a value for segment"),
        ("sales.stages={a: {advance: 0.5, days: {smx: 3}}}", "unknown segment 'smx'"),
        ("sales.stages={a: {advance: 1.5, days: 3}}", "sales.stages.a.advance"),
        ("sales.close_date_push_days=0", "sales.close_date_push_days"),
    ],
)
def test_bad_stages_are_named(override: str, message: str):
    with pytest.raises(ScenarioError, match=message):
        scenario_from_dict(apply_overrides({}, [override]))
