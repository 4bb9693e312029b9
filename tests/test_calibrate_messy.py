"""Messy exports: every unusable row is counted under its reason; bad input gives one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from funnelsim.calibrate import MappingError, calibrate, read_export
from funnelsim.calibrate.mapping import BLANK, POOLED, mapping_from_dict
from funnelsim.calibrate.synthetic import SYNTHETIC_MAPPING, synthetic_export
from funnelsim.cli import main
from funnelsim.scenario.loading import load_scenario

MAPPING = {
    "id": "Id",
    "created": "Created",
    "created_stage": "opportunity",
    "stages": {"close": "Closed"},
    "status": {"column": "Stage", "won": ["Won"], "lost": ["Lost"], "open": ["Open"]},
    "amount": "Amount",
    "owner": "Owner",
    "date_formats": ["%Y-%m-%d", "%m/%d/%Y"],
    "export_date": "2024-06-30",
}
CSV = """\
Id,Created,Closed,Stage,Amount,Owner
a1,2024-01-02,2024-02-01,Won,"$1,200.50",ann
a2,01/05/2024,02/10/2024,Lost,0,bob
a3,2024-01-09,,Open,,ann
a1,2024-01-10,2024-03-01,Won,900,bob
,2024-01-11,2024-03-01,Won,900,bob
a4,,2024-03-01,Lost,0,bob
a5,2024-13-45,2024-03-01,Lost,0,bob
a6,2024-01-12,2024-03-01,Maybe,0,bob
a7,2024-03-01,2024-02-01,Won,500,ann
a8,2024-01-15,,Won,500,ann
a9,2024-01-16,2024-02-20,Won,n/a,ann
a10,2024-01-17,not a date,Open,,ann
a11,2024-01-18,2024-02-01,Open,,ann
a12,2024-08-01,,Open,,ann
"""


def _read(tmp_path: Path):
    path = tmp_path / "export.csv"
    path.write_text(CSV)
    return read_export(path, mapping_from_dict(MAPPING))


def test_each_problem_is_counted_by_reason(tmp_path: Path) -> None:
    export = _read(tmp_path)
    expected = {
        "duplicate_id": 1,
        "missing_id": 1,
        "missing_created_date": 1,
        "bad_created_date": 1,
        "unknown_status": 1,
        "stages_out_of_order": 1,
        "closed_without_close_date": 1,
        "created_after_export": 1,
        "amount_not_numeric": 1,
        "bad_stage_date": 1,
        "open_with_close_date": 1,
    }
    for reason, rows in expected.items():
        assert export.issue_count(reason) == rows, reason
    excluded = export.issues.loc[export.issues["effect"] == "excluded", "rows"].sum()
    assert len(export.records) + excluded == export.n_rows
    assert set(export.records["id"]) == {"a1", "a2", "a3", "a9", "a10", "a11"}
    amounts = export.records.set_index("id")["amount"]
    assert amounts["a1"] == pytest.approx(1200.5)
    assert export.date_formats_used["%m/%d/%Y"] == 2  # mixed formats both parse


def test_unknown_column_names_the_field(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text(CSV.replace("Owner", "Rep"))
    with pytest.raises(MappingError, match=r"^owner: column 'Owner'"):
        read_export(path, mapping_from_dict(MAPPING))


def test_bad_mapping_and_missing_file_exit_2(tmp_path: Path) -> None:
    runner = CliRunner()
    export = tmp_path / "export.csv"
    export.write_text(CSV)
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: Id\ncreated: Created\nstatus: {column: Stage, lost: [Lost]}\n")
    out = tmp_path / "out.yaml"
    for args in (
        ["calibrate", str(tmp_path / "nope.csv"), "--mapping", str(bad), "-o", str(out)],
        ["calibrate", str(export), "--mapping", str(bad), "-o", str(out)],
        ["calibrate", str(export), "--mapping", str(tmp_path / "nope.yaml"), "-o", str(out)],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in result.output
    assert (
        "status.won: required field is missing"
        in runner.invoke(
            main, ["calibrate", str(export), "--mapping", str(bad), "-o", str(out)]
        ).output
    )
    assert not out.exists()


# Degenerate exports (reliability review, case table K): refused with one line naming the
# field and exit 2, or fitted with loud warnings and marked defaults; never a traceback.


def _synthetic(tmp_path: Path, rows: int = 300, name: str = "export.csv", **edits) -> Path:
    """A clean synthetic opportunity export, with ``edits`` applied to the frame."""
    frame = synthetic_export(rows, seed=7)
    for edit in edits.values():
        edit(frame)
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _mapping_file(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump({**SYNTHETIC_MAPPING, **changes}))
    return path


def _calibrate(tmp_path: Path, export: Path, mapping: Path | None = None):
    out = tmp_path / "out.yaml"
    args = ["calibrate", str(export), "--mapping", str(mapping or _mapping_file(tmp_path))]
    return CliRunner().invoke(main, [*args, "-o", str(out)]), out


def _one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    return lines[0]


def test_one_row_export_is_refused(tmp_path: Path) -> None:
    result, out = _calibrate(tmp_path, _synthetic(tmp_path, rows=1))
    assert "only 1 usable records in the window" in _one_error_line(result)
    assert not out.exists()


def test_small_export_warns_loudly(tmp_path: Path) -> None:
    result, out = _calibrate(tmp_path, _synthetic(tmp_path, rows=60))
    assert result.exit_code == 0, result.output
    assert "warning: only 60 usable records" in result.stderr
    assert "# WARNING: only 60 usable records" in out.read_text()


def test_all_open_export_marks_the_win_rate_as_default(tmp_path: Path) -> None:
    def all_open(frame):
        frame["deal_stage"] = "Engaging"
        frame["close_date"] = ""

    result, out = _calibrate(tmp_path, _synthetic(tmp_path, open=all_open))
    assert result.exit_code == 0, result.output
    assert "warning: no record in the window has closed" in result.stderr
    line = next(x for x in out.read_text().splitlines() if x.strip().startswith("win_rate:"))
    assert "# default 0.25: not estimable (no closed record in the window)" in line


def test_rows_dated_far_in_the_future_are_named(tmp_path: Path) -> None:
    def future(frame):
        frame.loc[:4, "engage_date"] = "01/01/2099"
        frame.loc[:4, "close_date"] = "02/01/2099"

    result, _ = _calibrate(tmp_path, _synthetic(tmp_path, future=future))
    line = _one_error_line(result)
    assert "5 rows are dated far beyond the rest of the export" in line
    assert "OP000000000" in line and "export_date" in line


def test_all_records_on_one_date_is_refused(tmp_path: Path) -> None:
    def same_day(frame):
        frame["engage_date"] = "03/01/2021"
        frame["close_date"] = ""
        frame["deal_stage"] = "Engaging"

    result, _ = _calibrate(tmp_path, _synthetic(tmp_path, same=same_day))
    assert "every usable record was created on 2021-03-01" in _one_error_line(result)


@pytest.mark.parametrize(
    ("formats", "expected"),
    [
        (["%Q-%Z"], "date_formats: '%Q-%Z' is not a valid strftime format"),
        (["YYYY-MM-DD"], "date_formats: 'YYYY-MM-DD' has no strftime directive"),
        (["%Y-%m-%d"], "date_formats: no value of column 'engage_date' matches"),
    ],
)
def test_bad_date_formats_name_date_formats(tmp_path: Path, formats, expected) -> None:
    mapping = _mapping_file(tmp_path, date_formats=formats)
    result, _ = _calibrate(tmp_path, _synthetic(tmp_path), mapping)
    assert expected in _one_error_line(result)


def test_export_date_before_the_data_is_refused(tmp_path: Path) -> None:
    mapping = _mapping_file(tmp_path, export_date="2020-01-01")
    result, _ = _calibrate(tmp_path, _synthetic(tmp_path), mapping)
    assert _one_error_line(result).startswith(
        "error: export_date: 2020-01-01 is before every usable record"
    )


def test_infinite_and_negative_amounts_are_counted_and_never_used(tmp_path: Path) -> None:
    def weird(frame):
        won = frame.index[frame["deal_stage"] == "Won"]
        frame.loc[won[:3], "close_value"] = "1e400"
        frame.loc[won[3:6], "close_value"] = "inf"
        frame.loc[won[6:10], "close_value"] = "-500"

    path = _synthetic(tmp_path, weird=weird)
    export = read_export(path, mapping_from_dict(SYNTHETIC_MAPPING))
    assert export.issue_count("amount_not_finite") == 6
    assert export.issue_count("amount_negative") == 4
    assert np.isfinite(export.records["amount"].dropna()).all()
    assert (export.records["amount"].dropna() > 0).all()
    result, out = _calibrate(tmp_path, path)
    assert result.exit_code == 0, result.output
    assert "inf" not in out.read_text().lower().replace("infer", "")
    values = load_scenario(out).segments
    assert all(np.isfinite(s.deal_value.mean()) for s in values.values())


def test_check_fit_warns_when_segments_do_not_match(tmp_path: Path) -> None:
    scenario = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
    args = ["check-fit", str(scenario), str(_synthetic(tmp_path)), "--reps", "2"]
    result = CliRunner().invoke(main, [*args, "--mapping", str(_mapping_file(tmp_path))])
    assert "warning: the export's segments ['gtx_basic'" in result.stderr
    assert "are not in the scenario" in result.stderr


def test_blank_and_literal_all_segments_never_overwrite_the_pooled_estimate(tmp_path) -> None:
    """Blank segment values once became a segment named 'all', the pooled estimate's key."""

    def segments(frame):
        frame["product"] = np.where(np.arange(len(frame)) % 3 == 0, "", "All")

    path = _synthetic(tmp_path, rows=600, segment=segments)
    export = read_export(path, mapping_from_dict(SYNTHETIC_MAPPING))
    assert export.issue_count("blank_segment") == 200
    cal = calibrate(path, mapping_from_dict(SYNTHETIC_MAPPING), replicates=20)
    assert set(cal.scenario.segments) == {"all", BLANK}
    assert set(cal.fitted.cycles) == {"all", BLANK, POOLED}
    pooled = cal.fitted.cycles[POOLED]
    assert pooled.won + pooled.lost + pooled.still_open == 600


@pytest.mark.parametrize("extra", [",x,y,z", ",,x"])
def test_row_with_more_fields_than_the_header_is_refused(tmp_path: Path, extra: str) -> None:
    """A ragged row (review case K20) shifts its values: refused with its line, never read
    as if the extra fields were not there (reading only the mapped columns must not hide it)."""
    lines = CSV.splitlines()
    lines[3] += extra
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(MappingError, match=r"export\.csv: not a readable CSV export \(.*line 4"):
        read_export(path, mapping_from_dict(MAPPING))
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(yaml.safe_dump(MAPPING))
    line = _one_error_line(_calibrate(tmp_path, path, mapping)[0])
    assert "line 4" in line and "6" in line


def test_short_rows_and_quoted_delimiters_are_still_read(tmp_path: Path) -> None:
    """Fewer fields than the header (blank trailing values) and a delimiter inside quotes are
    ordinary CSV, not ragged rows."""
    lines = CSV.splitlines()
    lines[3] = "a3,2024-01-09"
    lines.append('a13,2024-01-19,2024-02-01,Won,"1,000",ann')
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    export = read_export(path, mapping_from_dict(MAPPING))
    assert export.n_rows == len(lines) - 1


@pytest.mark.parametrize(
    ("as_of", "expected"),
    [("1990-01-01", "before every usable record"), ("2099-01-01", "more than the 3650")],
)
def test_as_of_outside_the_data_names_as_of(tmp_path: Path, as_of: str, expected: str) -> None:
    """A --as-of date the export cannot support is named as --as-of (the option given), not
    as the mapping's export_date or window_start the user never set."""
    export = _synthetic(tmp_path)
    mapping = _mapping_file(tmp_path)
    for command in (["calibrate"], ["check-fit", "baseline"]):
        args = [*command, str(export), "--mapping", str(mapping), "--as-of", as_of]
        if command == ["calibrate"]:
            args += ["-o", str(tmp_path / "out.yaml")]
        line = _one_error_line(CliRunner().invoke(main, args))
        assert line.startswith("error: --as-of") and expected in line, line
        assert "export_date" not in line and "window_start" not in line, line


@pytest.mark.parametrize("target", ["export", "mapping"])
def test_out_over_an_input_is_refused_even_with_force(tmp_path: Path, target: str) -> None:
    """`-o` naming the export or mapping being read would replace it with the scenario
    (with --force): refused with one line, the input left as it was."""
    export = _synthetic(tmp_path)
    mapping = _mapping_file(tmp_path)
    inputs = {"export": export, "mapping": mapping}
    before = inputs[target].read_bytes()
    args = ["calibrate", str(export), "--mapping", str(mapping), "-o", str(inputs[target])]
    line = _one_error_line(CliRunner().invoke(main, [*args, "--force"]))
    assert target in line and "-o" in line, line
    assert inputs[target].read_bytes() == before


def test_owner_holding_more_open_records_than_a_head_may_is_capped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-all owner (an integration user holding every open record) can need more AE
    slots than the scenario allows per head (review case K45, a 2M-row export): the fitted
    capacity is capped at the limit with a warning, not refused as a field of the calibrated
    scenario the user never wrote."""
    from funnelsim.calibrate import fitting
    from funnelsim.scenario.base import MAX_CAPACITY_PER_HEAD

    monkeypatch.setattr(fitting, "_concurrency", lambda *args: 5.0 * MAX_CAPACITY_PER_HEAD)
    cal = calibrate(_synthetic(tmp_path), mapping_from_dict(SYNTHETIC_MAPPING), replicates=20)
    team = cal.scenario.teams["ae"]
    assert team.capacity_per_head == MAX_CAPACITY_PER_HEAD
    warned = [w for w in cal.fitted.warnings if w.startswith("teams.ae.capacity_per_head")]
    assert len(warned) == 1 and f"{MAX_CAPACITY_PER_HEAD:,} a head may hold" in warned[0]


def test_volume_needing_more_heads_than_a_team_may_have_names_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Teams sized to the export's volume beyond a scenario's headcount limit (review case
    K45): one line saying the export's volume is too large, not a field of the calibrated
    scenario the user never wrote."""
    from funnelsim.calibrate import sizing

    monkeypatch.setattr(sizing, "MAX_HEADCOUNT", 0)
    line = _one_error_line(_calibrate(tmp_path, _synthetic(tmp_path))[0])
    assert line.startswith("error: the export's volume (") and "heads in teams." in line, line
    assert "calibrated scenario" not in line
