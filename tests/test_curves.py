"""Waiting curves: shapes, validation, per-source curves and the literature preset."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import funnelsim as fs
from funnelsim.analysis import response_buckets, speed_to_lead_ratios
from funnelsim.engine.ledger import LOST_AT_SEAM
from funnelsim.experiment.replications import replication_seeds
from funnelsim.scenario import scenario_from_dict
from funnelsim.scenario.curves import PRESETS, ExponentialCurve, PointsCurve, PresetCurve
from funnelsim.scenario.loading import ScenarioError, load_scenario

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"


def test_exponential_curve_is_the_half_life_formula() -> None:
    curve = ExponentialCurve(half_life_hours=18, floor=0.2)
    waits = np.array([0.0, 1.0, 18.0, 36.0, 500.0])
    expected = 0.2 + 0.8 * 0.5 ** (waits / 18)
    expected[0] = 1.0
    np.testing.assert_allclose(curve.chances(waits), expected)
    assert ExponentialCurve(half_life_hours=None).chance_function() is None


def test_points_interpolate_on_log_time_and_are_flat_outside() -> None:
    curve = PointsCurve(points={1.0: 1.0, 4.0: 0.5, 16.0: 0.2})
    # Halfway in log time between 1 h and 4 h is 2 h: halfway between the chances.
    assert curve.chances(np.array([2.0]))[0] == pytest.approx(0.75)
    assert curve.chances(np.array([8.0]))[0] == pytest.approx(0.35)
    # Flat before the first point and after the last.
    np.testing.assert_allclose(curve.chances(np.array([0.0, 0.5, 1.0])), 1.0)
    np.testing.assert_allclose(curve.chances(np.array([16.0, 1e4])), 0.2)
    # Never rising with the wait.
    waits = np.geomspace(0.01, 1e3, 500)
    assert np.all(np.diff(curve.chances(waits)) <= 1e-12)


def test_preset_is_its_table() -> None:
    preset = PresetCurve(preset="literature")
    table = PointsCurve(points=PRESETS["literature"])
    waits = np.geomspace(0.01, 500, 200)
    np.testing.assert_array_equal(preset.chances(waits), table.chances(waits))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seam1.decay={points: {0.5: 0.9, 2: 0.5}}", "chance at the shortest wait must be 1"),
        ("seam1.decay={points: {0.5: 1, 2: 0.5, 4: 0.6}}", "may not rise with the wait"),
        ("seam1.decay={points: {0: 1}}", "waits must be > 0"),
        ("seam1.decay={points: {1: 1, 2: 1.5}}", "chances must be in [0, 1]"),
        ("seam1.decay={preset: fastest}", "seam1.decay.preset"),
        ("seam1.decay.points={1: 1}", "a curve has one shape"),
        ("seam1.decay={preset: literature, by_source: {nope: {preset: literature}}}", "nope"),
        ("sales.followup_decay={points: {1: 1}, floor: 0.2}", "sales.followup_decay"),
    ],
)
def test_bad_curves_are_refused_in_one_line(override: str, message: str) -> None:
    with pytest.raises(ScenarioError) as error:
        load_scenario(BASELINE, [override])
    text = str(error.value)
    assert message in text
    assert "\n" not in text


def test_a_child_scenario_can_change_the_curve_shape(tmp_path: Path) -> None:
    """``extends:`` replaces a curve given as points or preset whole (no mixed shapes)."""
    parent = tmp_path / "parent.yaml"
    parent.write_text("seam1:\n  decay: {half_life_hours: 18, floor: 0.2}\n")
    child = tmp_path / "child.yaml"
    child.write_text("extends: parent.yaml\nseam1:\n  decay: {preset: literature}\n")
    assert load_scenario(child).seam1.decay == PresetCurve(preset="literature")
    dumped = fs.scenario.loading.dump_scenario(load_scenario(child))
    again = tmp_path / "again.yaml"
    again.write_text(dumped)
    assert load_scenario(again).seam1.decay == PresetCurve(preset="literature")


def test_a_source_can_have_its_own_curve() -> None:
    """Referral leads that never cool, paid leads that do: went_cold only among paid."""
    scenario = scenario_from_dict(
        {
            "horizon_days": 200,
            "sources": {"paid": {"leads_per_week": 60}, "referral": {"leads_per_week": 60}},
            "seam1": {
                "response_delay": {"dist": "lognormal", "median": 12, "p90": 60},
                "decay": {
                    "points": {0.5: 1.0, 24: 0.4},
                    "by_source": {"referral": {"half_life_hours": None}},
                },
            },
        }
    )
    ledger = fs.simulate(scenario, 4)
    c = ledger.columns
    cold = (c["outcome"] == LOST_AT_SEAM) & (
        c["loss_reason"] == ledger.reason_names.index("went_cold")
    )
    referral = c["source"] == ledger.source_names.index("referral")
    assert cold[~referral].sum() > 0
    assert cold[referral].sum() == 0


def _buckets(overrides: list[str], replications: int) -> pd.DataFrame:
    scenario = load_scenario(BASELINE, overrides)
    seeds = replication_seeds(0, replications)
    return pd.concat([response_buckets(fs.simulate(scenario, s)) for s in seeds])


def test_literature_preset_reproduces_the_published_ratios_observationally() -> None:
    """On a baseline run, by first-response bucket as the studies measured: ~21x and ~7x."""
    literature = _buckets(["seam1.decay={preset: literature}"], replications=10)
    ratios = speed_to_lead_ratios(literature)
    assert 21 / 1.5 <= ratios["odds_5_vs_30_min"] <= 21 * 1.5, ratios
    assert 7 / 1.5 <= ratios["within_hour_vs_later"] <= 7 * 1.5, ratios
    # Read literally, the company keeps ~5% of its SQLs (as the docs and scenario say).
    baseline = _buckets([], replications=10)
    kept = literature["qualified"].sum() / baseline["qualified"].sum()
    assert 0.02 < kept < 0.1, kept


def test_baseline_curve_is_a_moderate_reading() -> None:
    """The baseline's own curve stays far gentler than the studies (as its YAML says)."""
    ratios = speed_to_lead_ratios(_buckets([], replications=5))
    assert 0.8 < ratios["odds_5_vs_30_min"] < 2.0, ratios
    assert 1.2 < ratios["within_hour_vs_later"] < 3.0, ratios
    assert math.isfinite(ratios["within_hour_vs_day"])


def test_response_buckets_count_every_answered_mql() -> None:
    ledger = fs.simulate(load_scenario(BASELINE, ["horizon_days=120"]), 2)
    table = response_buckets(ledger)
    c = ledger.columns
    horizon = ledger.meta["horizon_hours"]
    answered = (c["mql_time"] <= horizon) & (c["first_response"] <= horizon)
    assert table["n"].sum() == answered.sum()
    assert table["qualified"].sum() == (answered & (c["sql_time"] <= horizon)).sum()
    assert table["bucket"].iloc[0] == "<=5 min"


def test_sensitivity_all_leaves_curve_points_alone() -> None:
    """``--param all`` names only curve fields a dotted path can reach, and they nudge validly."""
    from funnelsim.experiment.sensitivity import _nudges, resolve_parameters
    from funnelsim.experiment.variants import get_path, scenario_data, with_overrides

    scenario = load_scenario(BASELINE, ["seam1.decay={points: {0.0833: 1, 2: 0.5}}"])
    data = scenario_data(scenario)
    paths = resolve_parameters(data, ["all"])
    assert "seam1.decay.points" not in {p.rsplit(".", 1)[0] for p in paths}
    assert not any(p.startswith("sales.followup_decay") for p in paths)
    for path in [p for p in paths if "decay" in p]:
        value = get_path(data, path)
        for nudged in _nudges(path, value, 0.2):
            with_overrides(scenario, {path: nudged})
