"""Messy exports: every unusable row is counted under its reason; bad input gives one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from funnelsim.calibrate import MappingError, read_export
from funnelsim.calibrate.mapping import mapping_from_dict
from funnelsim.cli import main

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
    bad.write_text("id: Id\ncreated: Created\nstatus: {column: Stage, won: [Won]}\n")
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
        "status.lost: required field is missing"
        in runner.invoke(
            main, ["calibrate", str(export), "--mapping", str(bad), "-o", str(out)]
        ).output
    )
    assert not out.exists()
