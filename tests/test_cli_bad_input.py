"""Bad input through the CLI: one clear line naming the field, exit code 2, nothing damaged."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from funnelsim.cli import main

SMALL = """\
name: tiny
horizon_days: 60
sources:
  inbound: {leads_per_week: 20, cost_per_lead: 50}
"""


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def small(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(SMALL)
    return path


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_missing_scenario_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "o")])
    line = _one_line_error(result)
    assert "nope.yaml" in line and "no such scenario file" in line
    assert not (tmp_path / "o").exists()


def test_misspelt_key_suggests_the_right_one(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL + "seam1: {sla_hourz: 4}\n")
    line = _one_line_error(runner.invoke(main, ["validate", str(path)]))
    assert "seam1.sla_hourz" in line and "did you mean 'sla_hours'" in line


def test_wrong_type_names_field_and_expectation(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(SMALL + "teams: {sdr: {headcount: many}}\n")
    line = _one_line_error(runner.invoke(main, ["validate", str(path)]))
    assert "teams.sdr.headcount" in line and "integer" in line


def test_probability_out_of_range(runner: CliRunner, small: Path) -> None:
    result = runner.invoke(main, ["validate", str(small), "--set", "seam2.contract_error_prob=1.5"])
    line = _one_line_error(result)
    assert "seam2.contract_error_prob" in line and "less than or equal to 1" in line


def test_invalid_yaml_gives_line(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nsources: [unclosed\n")
    line = _one_line_error(runner.invoke(main, ["validate", str(path)]))
    assert "invalid YAML" in line and "line" in line


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("seam1.sla_hours", "expected path.to.field=value"),
        ("=3", "expected path.to.field=value"),
        ("seam1.sla_hourz=3", "did you mean 'sla_hours'"),
        ("horizon_days.x=3", "horizon_days is a value, not a section"),
        ("seam1.routing=random", "seam1.routing"),
        ("seam1.sla_hours=[1", "not a YAML scalar"),
    ],
)
def test_bad_set_override(runner: CliRunner, small: Path, override: str, expected: str) -> None:
    line = _one_line_error(runner.invoke(main, ["validate", str(small), "--set", override]))
    assert expected in line


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ("seam1.sla_hourz=3", "seam1.sla_hourz: unknown field"),
        ("seam1.sla_hours=-4", "seam1.sla_hours: Input should be greater than 0"),
        ("seam1.routing=random", "seam1.routing:"),
    ],
)
def test_a_bad_value_set_on_the_command_line_names_set_not_the_file(
    runner: CliRunner, small: Path, override: str, field: str
) -> None:
    """The scenario file never held the value: the error says it came from --set."""
    line = _one_line_error(runner.invoke(main, ["validate", str(small), "--set", override]))
    assert line.startswith(f"error: --set: {field}"), line
    assert str(small) not in line


def test_a_bad_value_in_the_file_still_names_the_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("name: typo\nhorizon_days: 60\nseam1: {sla_hourz: 3}\n")
    line = _one_line_error(
        runner.invoke(main, ["validate", str(path), "--set", "seam1.sla_hours=2"])
    )
    assert line.startswith(f"error: {path}: seam1.sla_hourz: unknown field"), line


def test_set_is_never_evaluated_as_code(runner: CliRunner, small: Path) -> None:
    result = runner.invoke(main, ["validate", str(small), "--set", "name=__import__('os')"])
    assert result.exit_code == 0
    shown = runner.invoke(
        main, ["validate", str(small), "--show", "--set", "name=__import__('os')"]
    )
    assert "__import__('os')" in shown.output


def test_existing_results_dir_is_not_overwritten(
    runner: CliRunner, small: Path, tmp_path: Path
) -> None:
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    line = _one_line_error(runner.invoke(main, ["run", str(small), "--out", str(out)]))
    assert "--force" in line
    assert (out / "keep.txt").read_text() == "precious"
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_failed_run_leaves_no_partial_directory(
    runner: CliRunner, small: Path, tmp_path: Path
) -> None:
    result = runner.invoke(
        main, ["run", str(small), "--out", str(tmp_path / "o"), "--set", "seam1.team=nobody"]
    )
    line = _one_line_error(result)
    assert "seam1.team" in line
    assert list(tmp_path.iterdir()) == [small]


@pytest.mark.parametrize(
    "options",
    [
        ["sensitivity", "--reps", "2", "--step", "nan"],
        ["run", "--scheduler", "tcp://127.0.0.1:9", "--scheduler-timeout", "NaN"],
    ],
)
def test_nan_is_refused_by_every_range_option(
    runner: CliRunner, small: Path, tmp_path: Path, options: list[str]
) -> None:
    """nan passes every comparison, so click's own ranges let it through (exit 1 later)."""
    command, *rest = options
    result = runner.invoke(main, [command, str(small), *rest, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    assert "is not a number" in result.output
    assert not (tmp_path / "o").exists()
