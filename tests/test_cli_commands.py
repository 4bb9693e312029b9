"""Every CLI command, end to end on a small scenario: exit 0 and output a machine can read."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from funnelsim.cli import main

SMALL = """\
name: tiny
horizon_days: 150
sources:
  inbound: {leads_per_week: 40, cost_per_lead: 50}
teams:
  sdr: {headcount: 2, work_time: 0.5}
seam4: {term_months: 3}
"""


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(SMALL)
    return path


def _json(runner: CliRunner, args: list[str]) -> object:
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_run_writes_a_complete_results_directory(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    document = _json(CliRunner(), ["run", str(small), "--reps", "2", "--out", str(out), "--json"])
    assert document["replications"] == 2
    metrics = {row["metric"] for row in document["headline"]}
    assert {"leads", "won_deals", "horizon_revenue", "cac"} <= metrics
    for name in ("ledger.parquet", "terms.parquet", "summary.csv", "summary.json", "scenario.yaml"):
        assert (out / name).is_file(), name


def test_compare_with_set_pairs_the_runs(small: Path) -> None:
    rows = _json(
        CliRunner(),
        ["compare", str(small), "--set", "seam1.response_delay=1", "--reps", "3", "--json"],
    )
    by_metric = {row["metric"]: row for row in rows}
    assert by_metric["leads"]["difference"] == 0
    assert by_metric["seam1_leads_lost"]["difference"] <= 0


def test_leaks_ranks_four_seams(small: Path) -> None:
    rows = _json(CliRunner(), ["leaks", str(small), "--reps", "2", "--json"])
    seams = [row for row in rows if row["kind"] == "seam"]
    assert sorted(row["seam"] for row in seams) == [1, 2, 3, 4]
    assert [row["rank"] for row in seams] == [1, 2, 3, 4]
    assert [row["kind"] for row in rows[4:]] == ["all", "sum", "interaction"]


def test_sweep_marks_one_best_point_and_saves_points(small: Path, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    args = ["sweep", str(small), "--grid", "teams.sdr.headcount=1,3", "--reps", "2"]
    rows = _json(CliRunner(), [*args, "--out", str(out), "--json"])
    assert len(rows) == 3
    assert sum(row["best"] for row in rows) == 1
    assert len(list((out / "points").glob("*.json"))) == 3
    assert (out / "sweep.csv").is_file()


def test_sensitivity_on_a_chosen_parameter(small: Path) -> None:
    rows = _json(
        CliRunner(),
        [
            "sensitivity",
            str(small),
            "--param",
            "seam1.acceptance.p_accept_fit",
            "--reps",
            "2",
            "--json",
        ],
    )
    assert [row["parameter"] for row in rows] == ["seam1.acceptance.p_accept_fit"]


def test_init_then_validate(tmp_path: Path) -> None:
    runner = CliRunner()
    path = tmp_path / "mine.yaml"
    assert runner.invoke(main, ["init", str(path)]).exit_code == 0
    assert runner.invoke(main, ["validate", str(path)]).exit_code == 0
    again = runner.invoke(main, ["init", str(path)])
    assert again.exit_code == 2 and "--force" in again.output


def test_bundled_baseline_is_found_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert "baseline.yaml: valid" in result.output


def test_run_with_leaks_puts_seam_fixes_in_tables_and_report(small: Path, tmp_path: Path) -> None:
    out, report = tmp_path / "out", tmp_path / "report.html"
    result = CliRunner().invoke(
        main,
        ["run", str(small), "--reps", "2", "--leaks", "--out", str(out), "--report", str(report)],
    )
    assert result.exit_code == 0, result.output
    assert "What fixing each seam is worth" in result.output
    fixes = pd.read_csv(out / "seam_fixes.csv")
    assert sorted(fixes.loc[fixes["kind"] == "seam", "seam"]) == [1, 2, 3, 4]
    html = report.read_text()
    assert "seam fix" in html.lower() or "fixing" in html.lower()
    assert "all four seams fixed together" in html
    assert "All four fixed together are worth" in html
