"""Fit-then-hold-out with check-fit on a stationary marketing-funnel export (issue 12).

The truth of test_calibrate_shapes is exported one row per MQL; calibration sees it as it
stood at 60% of its period (``--as-of``), and check-fit compares the scenario with the
rest (``--period``): like with like, at the export's created stage (MQLs), over the
held-out period only. A hold-out whose win rate was halved must be flagged.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from test_calibrate_shapes import BASE_MAPPING, EXPORT_DAY, START, TRUTH

from funnelsim.calibrate import calibrate, read_export
from funnelsim.calibrate.checking import check_fit
from funnelsim.calibrate.export import ledger_records, to_mql_export
from funnelsim.calibrate.mapping import mapping_from_dict
from funnelsim.cli import main
from funnelsim.engine import simulate
from funnelsim.experiment.variants import with_overrides
from funnelsim.scenario.loading import scenario_from_dict

CUT_DAY = 218
MAPPING = {**BASE_MAPPING, "amount": "Amount"}
CUT = (START + pd.Timedelta(days=CUT_DAY)).date()
PERIOD = (CUT + pd.Timedelta(days=1), (START + pd.Timedelta(days=EXPORT_DAY - 1)).date())
HEADLINE = ("MQLs per week", "win rate", "conversion mql -> won", "cycle days (won) KS")
VERDICTS = {"ok", "outside", "close", "differs", "skipped"}


def _export(scenario, path: Path) -> Path:
    leads = simulate(scenario, seed=7).leads
    records = ledger_records(leads, START, EXPORT_DAY * 24.0, "mql", outcome_dates=True)
    to_mql_export(records).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    """The full export, and the scenario calibrated on its first 60% (as of the cut)."""
    folder = tmp_path_factory.mktemp("holdout")
    truth = scenario_from_dict({**TRUTH, "horizon_days": EXPORT_DAY})
    path = _export(truth, folder / "full.csv")
    as_of = mapping_from_dict({**MAPPING, "export_date": CUT.isoformat()})
    cal = calibrate(path, as_of, seed=1, replicates=50)
    return truth, path, cal, folder


def _table(scenario, path: Path) -> pd.DataFrame:
    mapping = mapping_from_dict(MAPPING)
    table = check_fit(scenario, read_export(path, mapping), mapping, reps=8, seed=2, period=PERIOD)
    return table.set_index("quantity")


def test_calibration_as_of_the_cut_sees_only_the_past(fitted) -> None:
    _, _, cal, _ = fitted
    assert cal.export.export_date == pd.Timestamp(CUT) + pd.Timedelta(days=1)
    assert cal.export.records["created"].max() < cal.export.export_date
    assert cal.export.issue_count("created_after_export") > 0
    assert cal.export.issue_count("after_export_date") > 0
    assert cal.scenario.horizon_days == CUT_DAY + 1


def test_hold_out_on_a_stationary_export_reads_ok(fitted) -> None:
    _, path, cal, _ = fitted
    table = _table(cal.scenario, path)
    for quantity in HEADLINE:
        assert table.loc[quantity, "verdict"] == "ok", table
    weeks = (pd.Timestamp(PERIOD[1]) + pd.Timedelta(days=1) - pd.Timestamp(PERIOD[0])).days / 7
    held_out = pd.read_csv(path)
    created = pd.to_datetime(held_out["MQL Date"])
    expected = ((created >= pd.Timestamp(PERIOD[0])) & (created <= pd.Timestamp(PERIOD[1]))).sum()
    assert table.loc["MQLs per week", "observed"] == pytest.approx(expected / weeks)
    others = table.drop(index=list(HEADLINE))
    assert (others["verdict"] == "outside").sum() <= 1, table


def test_hold_out_with_a_halved_win_rate_is_flagged(fitted) -> None:
    truth, _, cal, folder = fitted
    halved = {f"sales.win_rate.{s}": r / 2 for s, r in truth.sales.win_rate.items()}
    path = _export(with_overrides(truth, halved), folder / "halved.csv")
    table = _table(cal.scenario, path)
    assert table.loc["win rate", "verdict"] == "outside"
    assert table.loc["conversion mql -> won", "verdict"] == "outside"
    assert table.loc["MQLs per week", "verdict"] == "ok"


def test_check_fit_skips_what_the_export_cannot_tell_and_never_says_nan(fitted) -> None:
    _, path, cal, _ = fitted
    no_amount = mapping_from_dict(BASE_MAPPING)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        table = check_fit(cal.scenario, read_export(path, no_amount), no_amount, reps=3)
    assert set(table["verdict"]) <= VERDICTS
    skipped = table[table["verdict"] == "skipped"].set_index("quantity")
    assert skipped.loc["won revenue", "note"] == "no amount column mapped"
    assert not table["quantity"].str.startswith("won revenue 20").any()
    judged = table[table["verdict"] != "skipped"]
    assert judged["observed"].notna().all()


def test_check_fit_command_with_a_period(fitted) -> None:
    _, path, cal, folder = fitted
    scenario = folder / "fit.yaml"
    scenario.write_text(cal.yaml_text)
    mapping = folder / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(BASE_MAPPING))
    period = f"{PERIOD[0]}..{PERIOD[1]}"
    args = ["check-fit", str(scenario), str(path), "--mapping", str(mapping), "--reps", "3"]
    result = CliRunner().invoke(main, [*args, "--period", period])
    assert result.exit_code == 0, result.output
    assert "MQLs per week: observed" in result.output
    assert "-        won revenue: skipped (no amount column mapped)" in result.output
    assert "nan" not in result.output.lower() and "Warning" not in result.stderr
    result = CliRunner().invoke(main, [*args, "--period", "2020-01-01..2020-02-01"])
    assert result.exit_code == 2
    assert result.output.startswith("error: --period: ")
