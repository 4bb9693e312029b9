"""Bounded work in calibrate: memory on a large export, the runaway back-solve case, a
back-solve that cannot succeed stops with one line, and the tallied (vectorised)
estimators equal record-level ones."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from funnelsim.calibrate import calibrate, survival
from funnelsim.calibrate.mapping import mapping_from_dict
from funnelsim.calibrate.synthetic import (
    SYNTHETIC_MAPPING,
    synthetic_export,
    write_synthetic_export,
)
from funnelsim.cli import main
from funnelsim.engine import simulate

LARGE_ROWS = 500_000
MEMORY_LIMIT_MB = 1024
CHILD = """
import resource, sys
from funnelsim.cli import main
from funnelsim.engine import simulate
try:
    main(sys.argv[2:])
except SystemExit as exc:
    code = exc.code or 0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
open(sys.argv[1], "w").write(f"{code} {peak}")
"""


def test_large_export_calibrates_within_the_memory_limit(tmp_path: Path) -> None:
    export = write_synthetic_export(tmp_path / "large.csv", LARGE_ROWS, seed=3)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(SYNTHETIC_MAPPING))
    report = tmp_path / "peak.txt"
    args = ["calibrate", str(export), "--mapping", str(mapping), "-o", str(tmp_path / "o.yaml")]
    subprocess.run([sys.executable, "-c", CHILD, str(report), *args], check=True, timeout=600)
    code, peak_mb = map(int, report.read_text().split())
    assert code == 0
    assert (tmp_path / "o.yaml").is_file()
    assert peak_mb < MEMORY_LIMIT_MB, f"peak RSS {peak_mb} MB"


def _stalled_export(tmp_path: Path) -> Path:
    """The review's runaway case: most records stay open for ever and only won deals name
    their owner (an MQL export mapped with created_stage: opportunity)."""
    frame = synthetic_export(8000, seed=1)
    rng = np.random.default_rng(0)
    kept = (frame["deal_stage"] == "Won") & (rng.random(len(frame)) < 0.2)
    frame.loc[~kept, ["deal_stage", "close_date", "sales_agent"]] = ["Engaging", "", ""]
    path = tmp_path / "stalled.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_runaway_workaround_now_reproduces_the_rate(tmp_path: Path) -> None:
    """Formerly the back-solve multiplied the volume by 10 a round until memory ran out;
    with the stages before the export passing through, the rate is simply reproduced."""
    cal = calibrate(_stalled_export(tmp_path), mapping_from_dict(SYNTHETIC_MAPPING), replicates=20)
    observed = cal.fitted.arrivals["per_week"].sum()
    assert sum(s.leads_per_week for s in cal.scenario.sources.values()) == pytest.approx(
        observed, rel=1e-3
    )
    leads = simulate(cal.scenario, seed=3).leads
    weeks = cal.scenario.horizon_days / 7
    assert leads["opp_time"].notna().sum() / weeks == pytest.approx(observed, rel=0.05)


def test_a_back_solve_that_cannot_converge_stops_with_one_line(tmp_path: Path) -> None:
    """With upstream: defaults and two named SDRs, the default seam 1 cannot pass the
    volume the export needs: more leads bring no more opportunities."""
    frame = synthetic_export(8000, seed=1)
    frame["sdr"] = np.where(np.arange(len(frame)) % 2 == 0, "ann", "bob")
    export = tmp_path / "two_sdrs.csv"
    frame.to_csv(export, index=False)
    mapping = tmp_path / "mapping.yaml"
    degenerate = {**SYNTHETIC_MAPPING, "upstream": "defaults", "owners": {"sdr": "sdr"}}
    mapping.write_text(yaml.safe_dump(degenerate))
    out = tmp_path / "o.yaml"
    args = ["calibrate", str(export), "--mapping", str(mapping), "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "cannot back-solve leads per week" in lines[0]
    assert not out.exists()


def _naive_km(durations: np.ndarray, events: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan-Meier by the textbook loop over event times."""
    times, survival_after, s = [], [], 1.0
    for t in np.unique(durations[events]):
        at_risk = np.sum(durations >= t)
        s *= 1.0 - np.sum((durations == t) & events) / at_risk
        times.append(t)
        survival_after.append(s)
    return np.array(times), np.array(survival_after)


@pytest.mark.parametrize("seed", range(5))
def test_tallied_estimators_match_record_level_ones(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 400
    durations = np.round(rng.exponential(20, n))
    causes = rng.choice(3, n, p=[0.3, 0.4, 0.3])
    never = rng.random(n) < 0.1
    durations[never], causes[never] = np.inf, 0
    events = causes > 0
    times, expected = _naive_km(durations, events)
    got_times, got = survival.kaplan_meier(durations, events)
    np.testing.assert_allclose(got_times, times)
    np.testing.assert_allclose(got, expected)
    assert survival.km_conversion(durations, events) == pytest.approx(1 - expected[-1])
    # Aalen-Johansen: won share among closes, from the naive cumulative incidences
    s, won, lost = 1.0, 0.0, 0.0
    for t in np.unique(durations[events]):
        at_risk = np.sum(durations >= t)
        won += s * np.sum((durations == t) & (causes == 1)) / at_risk
        lost += s * np.sum((durations == t) & (causes == 2)) / at_risk
        s *= 1.0 - np.sum((durations == t) & events) / at_risk
    assert survival.win_share(durations, causes) == pytest.approx(won / (won + lost))


def test_bootstrap_redraws_match_resampled_records() -> None:
    """A multinomial redraw of the tally is a resample of records: same spread."""
    rng = np.random.default_rng(11)
    durations = np.round(rng.exponential(15, 600))
    causes = rng.choice(3, 600, p=[0.2, 0.5, 0.3])
    low, high = survival.bootstrap(survival.share_won, survival.tally(durations, causes), rng, 2000)
    resampled = []
    for _ in range(2000):
        index = rng.integers(0, 600, 600)
        resampled.append(survival.win_share(durations[index], causes[index]))
    expected_low, expected_high = np.quantile(resampled, [0.025, 0.975])
    assert low == pytest.approx(expected_low, abs=0.01)
    assert high == pytest.approx(expected_high, abs=0.01)
