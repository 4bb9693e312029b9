"""Round trip: simulate a known scenario, export it as a CRM would, calibrate it back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from funnelsim.calibrate import calibrate, load_mapping
from funnelsim.calibrate.checking import check_fit
from funnelsim.calibrate.export import ledger_records, to_hubspot, to_salesforce
from funnelsim.calibrate.fitting import cycle_data
from funnelsim.calibrate.mapping import POOLED
from funnelsim.engine import simulate
from funnelsim.scenario.loading import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "scenarios" / "mappings"
MAVEN = ROOT / "tests" / "data" / "maven-crm" / "sales_pipeline.csv.gz"
TRUTH = {
    "name": "truth",
    "start_date": "2027-01-04",
    "horizon_days": 420,
    "segments": {
        "smb": {"share": 0.7, "deal_value": {"dist": "lognormal", "median": 10000, "p90": 25000}},
        "mid_market": {
            "share": 0.3,
            "deal_value": {"dist": "lognormal", "median": 40000, "p90": 90000},
        },
    },
    "sources": {
        "web": {"leads_per_week": 90, "fit": {"dist": "beta", "a": 6, "b": 2}},
        "referral": {"leads_per_week": 30, "fit": {"dist": "beta", "a": 8, "b": 2}},
    },
    "seam1": {"decay": {"half_life_hours": 72, "floor": 0.5}},
    "teams": {
        "sdr": {
            "headcount": 8,
            "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5},
        },
        "ae": {"headcount": 10, "capacity_per_head": 200},
    },
    "sales": {
        "qualify_prob": {"smb": 0.6, "mid_market": 0.5},
        "win_rate": {"smb": 0.3, "mid_market": 0.25},
        "cycle_days": {
            "smb": {"dist": "lognormal", "median": 30, "p90": 80},
            "mid_market": {"dist": "lognormal", "median": 30, "p90": 80},
        },
        "slip": {"prob": 0.0},
    },
}
EXPORT_DAY = 300
TRUE_MEDIAN = 30.0


@pytest.fixture(scope="module")
def world() -> tuple[object, pd.DataFrame]:
    scenario = scenario_from_dict(TRUTH)
    return scenario, simulate(scenario, seed=11).leads


def _calibrate(tmp_path: Path, scenario, leads, style: str, day: float = EXPORT_DAY):
    entry = "lead" if style == "hubspot" else "opportunity"
    records = ledger_records(leads, scenario.start_date, day * 24.0, entry)
    frame = to_hubspot(records) if style == "hubspot" else to_salesforce(records)
    path = tmp_path / f"{style}.csv"
    frame.to_csv(path, index=False)
    name = "hubspot_lifecycle.yaml" if style == "hubspot" else "salesforce_opportunities.yaml"
    export_date = (pd.Timestamp(scenario.start_date) + pd.Timedelta(days=day - 1)).date()
    mapping = load_mapping(MAPPINGS / name).model_copy(update={"export_date": export_date})
    return calibrate(path, mapping, seed=3, replicates=100), records


def _truth_conversion(leads: pd.DataFrame, before: str, after: str) -> float:
    cutoff = EXPORT_DAY * 24.0
    entered = leads[leads[before] < cutoff]
    return float(entered[after].notna().mean())


def test_hubspot_round_trip(tmp_path: Path, world) -> None:
    scenario, leads = world
    cal, _ = _calibrate(tmp_path, scenario, leads, "hubspot")
    fitted = cal.fitted
    for row in fitted.arrivals.itertuples():
        truth = scenario.sources[row.source].leads_per_week
        assert row.ci_low <= truth <= row.ci_high, row
    truths = {
        "lead -> mql": _truth_conversion(leads, "created", "mql_time"),
        "mql -> sql": _truth_conversion(leads, "mql_time", "sql_time"),
        "sql -> opportunity": _truth_conversion(leads, "sql_time", "opp_time"),
    }
    for stage in fitted.stages:
        assert stage.ci_low <= truths[stage.name] <= stage.ci_high, (stage.name, truths)
    for segment, win in (("smb", 0.3), ("mid_market", 0.25)):
        cycle = fitted.cycles[segment]
        assert cycle.win_ci[0] <= win <= cycle.win_ci[1], cycle
        assert cycle.median_ci[0] <= TRUE_MEDIAN <= cycle.median_ci[1], cycle
        assert cycle.time.median == pytest.approx(TRUE_MEDIAN, rel=0.15)
    assert cal.scenario.sources["web"].leads_per_week == pytest.approx(90, rel=0.1)
    # every conversion the export shows is reproduced when the scenario is simulated
    table = check_fit(cal.scenario, cal.export, cal.fitted.mapping, reps=5).set_index("quantity")
    conversions = table[table.index.str.startswith(("conversion", "win rate"))]
    assert len(conversions) >= 5
    assert (conversions["verdict"] == "ok").all(), conversions


def test_salesforce_round_trip(tmp_path: Path, world) -> None:
    scenario, leads = world
    cal, _ = _calibrate(tmp_path, scenario, leads, "salesforce")
    fitted = cal.fitted
    all_cycles = fitted.cycles[POOLED]
    for segment, win in (("smb", 0.3), ("mid_market", 0.25)):
        cycle = fitted.cycles[segment]
        assert cycle.win_ci[0] <= win <= cycle.win_ci[1], cycle
    assert all_cycles.median_ci[0] <= TRUE_MEDIAN <= all_cycles.median_ci[1]
    assert all_cycles.stalled == 0.0
    # opportunities per week: the truth is the rate in a long independent run
    longer = simulate(scenario_from_dict({**TRUTH, "horizon_days": 1200}), seed=5).leads
    opp = longer["opp_time"].dropna()
    truth_rate = float(((opp > 60 * 24) & (opp < 1200 * 24)).sum()) / ((1200 - 60) / 7)
    row = fitted.arrivals.iloc[0] if len(fitted.arrivals) == 1 else None
    total = fitted.arrivals["per_week"].sum()
    low, high = fitted.arrivals["ci_low"].sum(), fitted.arrivals["ci_high"].sum()
    assert low * 0.97 <= truth_rate <= high * 1.03, (total, truth_rate, row)
    # the back-solved scenario reproduces the opportunity rate
    simulated = simulate(cal.scenario, seed=9).leads["opp_time"].notna().sum()
    weeks = cal.scenario.horizon_days / 7
    assert simulated / weeks == pytest.approx(total, rel=0.15)


def test_upstream_defaults_back_solve_the_lead_volume(tmp_path: Path, world) -> None:
    """With upstream: defaults the default marketing and seam 1 stay in front of the
    opportunities and leads per week are back-solved so the opportunity rate is kept."""
    scenario, leads = world
    records = ledger_records(leads, scenario.start_date, EXPORT_DAY * 24.0, "opportunity")
    path = tmp_path / "salesforce.csv"
    to_salesforce(records).to_csv(path, index=False)
    export_date = (pd.Timestamp(scenario.start_date) + pd.Timedelta(days=EXPORT_DAY - 1)).date()
    mapping = load_mapping(MAPPINGS / "salesforce_opportunities.yaml").model_copy(
        update={"export_date": export_date, "upstream": "defaults"}
    )
    cal = calibrate(path, mapping, seed=3, replicates=20)
    observed = cal.fitted.arrivals["per_week"].sum()
    volume = sum(s.leads_per_week for s in cal.scenario.sources.values())
    assert volume > 3 * observed
    assert cal.scenario.marketing.scoring.mql_threshold > 0
    assert "back-solved" in cal.yaml_text
    simulated = simulate(cal.scenario, seed=9).leads["opp_time"].notna().sum()
    assert simulated / (cal.scenario.horizon_days / 7) == pytest.approx(observed, rel=0.15)


def test_censoring_does_not_bias_cycles_short(tmp_path: Path, world) -> None:
    scenario, leads = world
    day = 150
    cal, _records = _calibrate(tmp_path, scenario, leads, "salesforce", day=day)
    cycle = cal.fitted.cycles[POOLED]
    assert cycle.still_open > 50
    assert cycle.median_ci[0] <= TRUE_MEDIAN <= cycle.median_ci[1]
    assert cycle.time.median == pytest.approx(TRUE_MEDIAN, rel=0.15)
    durations, causes = cycle_data(cal.export.cohort, cal.fitted.chain, cal.export.export_date)
    naive = float(np.median(durations[causes > 0]))  # open deals dropped
    assert naive < cycle.median_ci[0] < TRUE_MEDIAN
    assert naive < 0.85 * TRUE_MEDIAN


def test_maven_calibrates_to_a_valid_scenario(tmp_path: Path) -> None:
    cal = calibrate(MAVEN, MAPPINGS / "maven_crm.yaml", replicates=50)
    scenario = cal.scenario
    assert cal.export.issue_count("missing_created_date") == 500
    assert scenario.teams["ae"].headcount == 30
    assert 0.58 < scenario.sales.win_rate["gtx_basic"] < 0.66
    assert len(scenario.segments) == 7
    assert "default: not estimable" in cal.yaml_text
    out = tmp_path / "maven.yaml"
    out.write_text(cal.yaml_text)
    from funnelsim.scenario.loading import load_scenario

    assert load_scenario(out) == scenario
