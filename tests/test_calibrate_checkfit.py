"""check-fit on a known truth, and the engine's outcome-dependent sales cycle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from funnelsim.calibrate import calibrate, load_mapping
from funnelsim.calibrate.checking import check_fit
from funnelsim.calibrate.export import ledger_records, to_salesforce
from funnelsim.engine import simulate
from funnelsim.experiment.variants import with_overrides
from funnelsim.scenario.loading import ScenarioError, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
MAPPING = ROOT / "scenarios" / "mappings" / "salesforce_opportunities.yaml"
CYCLE = {"dist": "lognormal", "median": 45, "p90": 90}
LOST_CYCLE = {"dist": "lognormal", "median": 12, "p90": 30}
TRUTH = {
    "name": "truth",
    "start_date": "2027-01-04",
    "horizon_days": 300,
    "segments": {
        "smb": {"share": 1.0, "deal_value": {"dist": "lognormal", "median": 10000, "p90": 25000}}
    },
    "sources": {"web": {"leads_per_week": 60, "fit": {"dist": "beta", "a": 6, "b": 2}}},
    "teams": {
        "sdr": {"headcount": 6, "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5}},
        "ae": {"headcount": 8, "capacity_per_head": 200},
    },
    "sales": {
        "qualify_prob": {"smb": 0.7},
        "win_rate": {"smb": 0.4},
        "cycle_days": {"smb": CYCLE},
        "lost_cycle_days": {"smb": LOST_CYCLE},
        "slip": {"prob": 0.0},
    },
}
EXPORT_DAY = 300


def _closes(leads: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Days from opportunity to close of won and of lost deals, by lead id."""
    closed = leads[leads["opp_time"].notna() & leads["close_time"].notna()]
    days = (closed["close_time"] - closed["opp_time"]) / 24.0
    days.index = closed["lead_id"]
    won = closed["won_time"].notna().to_numpy()
    return days[won], days[~won]


def test_lost_cycle_changes_only_lost_deals() -> None:
    truth = scenario_from_dict(TRUTH)
    without = with_overrides(truth, {"sales.lost_cycle_days": None})
    won_a, lost_a = _closes(simulate(truth, seed=4).leads)
    won_b, lost_b = _closes(simulate(without, seed=4).leads)
    pd.testing.assert_series_equal(won_a, won_b)
    assert len(lost_a) > 200
    assert np.median(lost_a) == pytest.approx(12, rel=0.15)
    assert np.median(lost_b) == pytest.approx(45, rel=0.15)
    assert np.median(won_a) == pytest.approx(45, rel=0.15)


def test_lost_cycle_must_cover_the_segments() -> None:
    bad = {**TRUTH, "sales": {**TRUTH["sales"], "lost_cycle_days": {"other": LOST_CYCLE}}}
    with pytest.raises(ScenarioError, match=r"sales\.lost_cycle_days"):
        scenario_from_dict(bad)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory: pytest.TempPathFactory):
    truth = scenario_from_dict(TRUTH)
    leads = simulate(truth, seed=21).leads
    records = ledger_records(leads, truth.start_date, EXPORT_DAY * 24.0, "opportunity")
    path = tmp_path_factory.mktemp("checkfit") / "salesforce.csv"
    to_salesforce(records).to_csv(path, index=False)
    export_date = (pd.Timestamp(truth.start_date) + pd.Timedelta(days=EXPORT_DAY - 1)).date()
    mapping = load_mapping(MAPPING).model_copy(update={"export_date": export_date})
    return calibrate(path, mapping, seed=2, replicates=50), mapping


def test_calibration_fits_won_and_lost_cycles_apart(calibrated) -> None:
    cal, _ = calibrated
    spec = cal.scenario.sales
    assert spec.cycle_days["smb"].ppf(np.array([0.5]))[0] == pytest.approx(45, rel=0.15)
    assert spec.lost_cycle_days["smb"].ppf(np.array([0.5]))[0] == pytest.approx(12, rel=0.15)


def test_check_fit_passes_on_the_truth_and_flags_a_wrong_win_rate(calibrated) -> None:
    cal, mapping = calibrated
    table = check_fit(cal.scenario, cal.export, mapping, reps=6, seed=1).set_index("quantity")
    assert table.loc["opportunities per week", "verdict"] == "ok"
    assert table.loc["win rate", "verdict"] == "ok"
    assert table.loc["cycle days (won) KS", "verdict"] == "ok"
    assert table.loc["cycle days (lost) KS", "verdict"] == "ok"
    revenue = table[table.index.str.startswith("won revenue")]
    assert len(revenue) >= 3
    assert (revenue["verdict"] == "outside").sum() <= 1
    wrong = with_overrides(
        cal.scenario, {"sales.win_rate.smb": cal.scenario.sales.win_rate["smb"] / 2}
    )
    table = check_fit(wrong, cal.export, mapping, reps=6, seed=1).set_index("quantity")
    assert table.loc["win rate", "verdict"] == "outside"
    assert table.loc["opportunities per week", "verdict"] == "ok"
