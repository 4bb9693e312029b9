"""Round trips on sparse marketing-funnel exports (issue 12).

A known funnel (default-style marketing, seam 1 with decay, qualification and a sales
cycle; two sources of different quality) is simulated, exported one row per MQL and
thinned to each shape real exports take: MQL and won dates only; wins recorded only from
months after the first MQL; no amounts; no lost rows; two owner columns; blank sources.
Each is calibrated and re-simulated. The re-simulated MQL -> won rate, overall and per
source, must lie inside the truth's 95% interval (the truth: the same MQLs followed up
for six more months), and days from MQL to won must pass a two-sample KS test at 5%
against the export's, pooled over replications and seen through the same export lens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from funnelsim.calibrate import calibrate, read_export
from funnelsim.calibrate.export import MQL_COLUMNS, ledger_records, to_mql_export
from funnelsim.calibrate.mapping import BLANK, mapping_from_dict
from funnelsim.engine import simulate
from funnelsim.experiment.variants import with_overrides
from funnelsim.scenario.loading import scenario_from_dict

EXPORT_DAY = 364
FOLLOW_DAYS = 180
LATE_DAYS = 150
REPS = 6
KS_LEVEL = 0.05
START = pd.Timestamp("2027-01-04")
TRUTH = {
    "name": "truth",
    "start_date": START.date().isoformat(),
    "horizon_days": EXPORT_DAY + FOLLOW_DAYS,
    "segments": {
        "smb": {"share": 0.7, "deal_value": {"dist": "lognormal", "median": 10000, "p90": 25000}},
        "mid_market": {
            "share": 0.3,
            "deal_value": {"dist": "lognormal", "median": 40000, "p90": 90000},
        },
    },
    "sources": {
        "web": {"leads_per_week": 120, "fit": {"dist": "beta", "a": 6, "b": 2}},
        "partner": {"leads_per_week": 60, "fit": {"dist": "beta", "a": 3, "b": 4}},
    },
    "seam1": {"decay": {"half_life_hours": 72, "floor": 0.5}},
    "teams": {
        "sdr": {"headcount": 8, "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5}},
        "ae": {"headcount": 10, "capacity_per_head": 200},
    },
    "sales": {
        "qualify_prob": {"smb": 0.5, "mid_market": 0.4},
        "win_rate": {"smb": 0.35, "mid_market": 0.25},
        "cycle_days": {
            "smb": {"dist": "lognormal", "median": 20, "p90": 50},
            "mid_market": {"dist": "lognormal", "median": 35, "p90": 80},
        },
        "lost_cycle_days": {
            "smb": {"dist": "lognormal", "median": 10, "p90": 30},
            "mid_market": {"dist": "lognormal", "median": 15, "p90": 40},
        },
        "slip": {"prob": 0.0},
    },
}
BASE_MAPPING = {
    "name": "mql-export",
    "id": MQL_COLUMNS["id"],
    "created": MQL_COLUMNS["created"],
    "created_stage": "mql",
    "stages": {"close": MQL_COLUMNS["close"]},
    "status": {"column": "Status", "won": ["Won"], "lost": ["Lost"], "open": ["MQL"]},
    "source": MQL_COLUMNS["source"],
    "segment": MQL_COLUMNS["segment"],
    "date_formats": ["%Y-%m-%d"],
    "export_date": (START + pd.Timedelta(days=EXPORT_DAY - 1)).date().isoformat(),
}


@dataclass(frozen=True)
class Shape:
    """How an export is thinned, and the mapping that reads it."""

    thin: Callable[[pd.DataFrame], pd.DataFrame]
    mapping: dict


def _won_date_only(frame: pd.DataFrame) -> pd.DataFrame:
    won = frame["Status"] == "Won"
    return pd.DataFrame(
        {
            "MQL ID": frame["MQL ID"],
            "MQL Date": frame["MQL Date"],
            "Source": frame["Source"],
            "Won Date": frame["Closed Date"].where(won, ""),
        }
    )


def _late_window(frame: pd.DataFrame) -> pd.DataFrame:
    out = _won_date_only(frame)
    early = pd.to_datetime(out["Won Date"], errors="coerce") < START + pd.Timedelta(days=LATE_DAYS)
    out.loc[early, "Won Date"] = ""
    return out


def _no_lost(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    lost = out["Status"] == "Lost"
    out.loc[lost, ["Status", "Closed Date"]] = ["MQL", ""]
    return out


def _two_owners(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    rng = np.random.default_rng(5)
    closer = rng.choice([f"closer {i}" for i in range(6)], len(out))
    out["Closer"] = np.where(out["Status"] == "Won", closer, "")
    return out


def _blank_sources(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.drop(columns=["Amount"])
    blank = np.random.default_rng(9).random(len(out)) < 0.2
    out.loc[blank, "Source"] = ""
    return out


WON_ONLY = {
    **{k: v for k, v in BASE_MAPPING.items() if k not in ("status", "segment")},
    "stages": {"close": "Won Date"},
}
SHAPES = {
    "mql_and_won_dates_only": Shape(_won_date_only, WON_ONLY),
    "late_recording_window": Shape(_late_window, WON_ONLY),
    "no_amounts": Shape(lambda f: f.drop(columns=["Amount"]), BASE_MAPPING),
    "no_lost_rows": Shape(
        _no_lost,
        {
            **BASE_MAPPING,
            "amount": "Amount",
            "status": {"column": "Status", "won": ["Won"], "open": ["MQL"]},
        },
    ),
    "two_owner_columns": Shape(
        _two_owners, {**BASE_MAPPING, "amount": "Amount", "owners": {"sdr": "SDR", "ae": "Closer"}}
    ),
    "blank_sources": Shape(_blank_sources, BASE_MAPPING),
}


@pytest.fixture(scope="module")
def truth() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The truth's export records (MQLs by the export day) and each one's final outcome."""
    scenario = scenario_from_dict(TRUTH)
    leads = simulate(scenario, seed=7).leads
    records = ledger_records(leads, START, EXPORT_DAY * 24.0, "mql", outcome_dates=True)
    won_by_id = pd.Series(leads["won_time"].notna().to_numpy(), index=_ids(leads))
    return records, won_by_id


def _ids(leads: pd.DataFrame) -> list[str]:
    return [f"R{i:07d}" for i in leads["lead_id"]]


@dataclass
class RoundTrip:
    """One shape calibrated back: the calibration, the export as read, and the truth: the
    final outcome of each record created inside the recording window (the records whose
    conversion the export can tell), with its source as the export names it."""

    cal: object
    export: object
    truth_groups: pd.Series
    truth_won: pd.Series


@pytest.fixture(scope="module", params=list(SHAPES))
def round_trip(request, truth, tmp_path_factory) -> tuple[str, RoundTrip]:
    records, won_by_id = truth
    shape = SHAPES[request.param]
    frame = shape.thin(to_mql_export(records))
    path = tmp_path_factory.mktemp(request.param) / "export.csv"
    frame.to_csv(path, index=False)
    mapping = mapping_from_dict(shape.mapping)
    cal = calibrate(path, mapping, seed=1, replicates=50)
    export = read_export(path, mapping)
    informed = export.records[export.records["created"] >= cal.fitted.window.start]
    groups = pd.Series(informed["source"].to_numpy(), index=informed["id"])
    return request.param, RoundTrip(cal, export, groups, won_by_id[groups.index])


def _interval(won: pd.Series) -> tuple[float, float]:
    p, n = float(won.mean()), len(won)
    half = 1.96 * np.sqrt(p * (1 - p) / n)
    return p - half, p + half


def _resimulated_rates(scenario) -> dict[str, float]:
    """MQL -> won per source (and overall) over REPS runs followed up FOLLOW_DAYS more."""
    longer = with_overrides(scenario, {"horizon_days": scenario.horizon_days + FOLLOW_DAYS})
    runs = [simulate(longer, seed).leads for seed in range(REPS)]
    leads = pd.concat(runs, ignore_index=True)
    mqls = leads[leads["mql_time"] < scenario.horizon_hours]
    won = mqls["won_time"].notna()
    rates = won.groupby(mqls["source"].astype(str), observed=True).mean().to_dict()
    return {"overall": float(won.mean()), **rates}


def test_mql_to_won_reproduced_overall_and_per_source(round_trip) -> None:
    name, trip = round_trip
    rates = _resimulated_rates(trip.cal.scenario)
    low, high = _interval(trip.truth_won)
    assert low <= rates["overall"] <= high, (name, rates["overall"], (low, high))
    for group, won in trip.truth_won.groupby(trip.truth_groups):
        low, high = _interval(won)
        assert low <= rates[group] <= high, (name, group, rates[group], (low, high))


def _days_to_win(records: pd.DataFrame, start: pd.Timestamp) -> np.ndarray:
    won = records[(records["status"] == "won") & (records["created"] >= start)]
    return (
        (won["close"].dt.floor("D") - won["created"].dt.floor("D")) / pd.Timedelta(days=1)
    ).to_numpy()


def test_days_to_win_pass_a_two_sample_ks(round_trip) -> None:
    name, trip = round_trip
    scenario = trip.cal.scenario
    window_start = trip.cal.fitted.window.start
    observed = _days_to_win(trip.export.records, window_start)
    hours = (trip.export.export_date - pd.Timestamp(scenario.start_date)) / pd.Timedelta(hours=1)
    simulated = np.concatenate(
        [
            _days_to_win(
                ledger_records(
                    simulate(scenario, seed).leads, scenario.start_date, hours, "mql", True
                ),
                window_start,
            )
            for seed in range(REPS)
        ]
    )
    result = stats.ks_2samp(observed, simulated)
    assert result.pvalue >= KS_LEVEL, (name, result, np.median(observed), np.median(simulated))


def test_late_recording_window_is_reported_and_used(truth, tmp_path: Path) -> None:
    records, _ = truth
    path = tmp_path / "late.csv"
    _late_window(to_mql_export(records)).to_csv(path, index=False)
    cal = calibrate(path, mapping_from_dict(WON_ONLY), replicates=20)
    first = START + pd.Timedelta(days=LATE_DAYS)
    assert abs((cal.fitted.window.start - first).days) <= 2
    assert any("outcomes are recorded only from" in w for w in cal.fitted.warnings)
    assert "WARNING: stages.close: outcomes are recorded only from" in cal.yaml_text


def test_sparse_export_writes_pass_through_stages_and_fitted_durations(truth, tmp_path) -> None:
    """The issue's case: no default stage may thin the observed rate, and the fitted time
    to win is the one written."""
    records, _ = truth
    path = tmp_path / "sparse.csv"
    _won_date_only(to_mql_export(records)).to_csv(path, index=False)
    cal = calibrate(path, mapping_from_dict(WON_ONLY), replicates=20)
    spec = cal.scenario
    assert spec.seam1.acceptance.p_accept_fit == 1.0
    assert spec.seam1.decay.half_life_hours is None
    assert set(spec.sales.qualify_prob.values()) == {1.0}
    assert spec.sales.discovery_days.mean() == 0.0
    pooled = cal.fitted.cycles["_pooled"]
    assert pooled.won_only
    assert spec.sales.cycle_days["all"].model_dump(mode="json") == pooled.won_time.spec
    assert "pass-through: the export starts at an MQL" in cal.yaml_text


def test_two_owner_columns_size_both_teams(truth, tmp_path: Path) -> None:
    records, _ = truth
    path = tmp_path / "owners.csv"
    frame = _two_owners(to_mql_export(records))
    frame.to_csv(path, index=False)
    mapping = mapping_from_dict(SHAPES["two_owner_columns"].mapping)
    cal = calibrate(path, mapping, replicates=20)
    assert cal.scenario.teams["sdr"].headcount == frame.loc[frame["SDR"] != "", "SDR"].nunique()
    assert cal.scenario.teams["ae"].headcount == 6


def test_blank_sources_keep_their_own_group(truth, tmp_path: Path) -> None:
    records, _ = truth
    path = tmp_path / "blank.csv"
    _blank_sources(to_mql_export(records)).to_csv(path, index=False)
    mapping = {**BASE_MAPPING, "default_source": "all", "default_segment": "all"}
    cal = calibrate(path, mapping_from_dict(mapping), replicates=20)
    assert set(cal.scenario.sources) == {"web", "partner", BLANK}
    assert cal.export.issue_count("blank_source") > 0
    assert "_pooled" in cal.fitted.cycles and BLANK not in cal.fitted.cycles
