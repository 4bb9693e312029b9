"""``--xlsx``: workbooks of a run and of a comparison, text never a formula, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook

import funnelsim as fs
from funnelsim.atomic import OutputExistsError
from funnelsim.cli import main
from funnelsim.excel import results_sheets, write_xlsx
from funnelsim.safe_cells import neutralise

FORMULA = "=1+2"
SCENARIO = {
    "name": '=HYPERLINK("http://x")',
    "currency": FORMULA,
    "horizon_days": 240,
    "sources": {"inbound": {"leads_per_week": 40, "cost_per_lead": 50}},
}


@pytest.fixture(scope="module")
def scenario_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("xlsx") / "formula.yaml"
    path.write_text(yaml.safe_dump(SCENARIO))
    return path


@pytest.fixture(scope="module")
def workbooks(scenario_path: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("books")
    run, compare = folder / "run.xlsx", folder / "compare.xlsx"
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["run", str(scenario_path), "--reps", "2", "--out", str(folder / "r"), "--xlsx", str(run)],
    )
    assert result.exit_code == 0, result.output
    option = folder / "option.yaml"
    option.write_text(yaml.safe_dump({**SCENARIO, "name": "@SUM(A1)", "seam1": {"sla_hours": 2}}))
    result = runner.invoke(
        main,
        ["compare", str(scenario_path), str(option), "--reps", "2", "--xlsx", str(compare)],
    )
    assert result.exit_code == 0, result.output
    return {"run": run, "compare": compare}


def _rows(path: Path, sheet: str) -> list[tuple]:
    return list(load_workbook(path)[sheet].iter_rows(values_only=True))


def test_run_workbook_has_the_summary_leakage_and_cash_flow(workbooks: dict[str, Path]) -> None:
    book = load_workbook(workbooks["run"])
    assert book.sheetnames == ["summary", "leakage", "cash flow", "timeseries"]
    header, *months = _rows(workbooks["run"], "timeseries")
    assert "month" in header and len(months) > 0
    header, *rows = _rows(workbooks["run"], "summary")
    assert header[:3] == ("metric", "label", "unit")
    by_metric = {row[0]: row for row in rows}
    assert by_metric["won_deals"][1] == "Won deals"
    assert isinstance(by_metric["leads"][3], int | float)
    months = _rows(workbooks["run"], "cash flow")
    assert months[0][0] == "month" and [row[0] for row in months[1:]] == list(range(1, 9))


def test_compare_workbook_has_the_decision_table(workbooks: dict[str, Path]) -> None:
    book = load_workbook(workbooks["compare"])
    assert book.sheetnames == ["decision", "paired differences", "base summary", "base leakage"]
    header, *rows = _rows(workbooks["compare"], "decision")
    options = [row[header.index("option")] for row in rows]
    assert sorted(options) == sorted(["no change (baseline)", neutralise("@SUM(A1)")])
    net = header.index("net_value")
    assert all(isinstance(row[net], int | float) for row in rows)


@pytest.mark.parametrize("which", ["run", "compare"])
def test_no_cell_is_a_formula(workbooks: dict[str, Path], which: str) -> None:
    book = load_workbook(workbooks[which])
    texts = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate} is a formula"
                if isinstance(cell.value, str):
                    texts.append(cell.value)
                    assert neutralise(cell.value) == cell.value, cell.value
    assert "'" + FORMULA in texts


def test_an_existing_workbook_is_refused_before_simulating(
    scenario_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "book.xlsx"
    target.write_bytes(b"keep")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("simulated although the workbook could not be written")

    monkeypatch.setattr("funnelsim.api.run", refuse)
    monkeypatch.setattr("funnelsim.api.compare", refuse)
    for args in (
        ["run", str(scenario_path), "--out", str(tmp_path / "r")],
        ["compare", str(scenario_path), "--set", "seam1.sla_hours=2"],
    ):
        result = CliRunner().invoke(main, [*args, "--xlsx", str(target)])
        assert result.exit_code == 2, result.output
        lines = [line for line in result.output.splitlines() if line.strip()]
        assert len(lines) == 1 and "already exists" in lines[0], result.output
    assert target.read_bytes() == b"keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["book.xlsx"]


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    class Broken(pd.DataFrame):
        def reset_index(self, *args: object, **kwargs: object) -> pd.DataFrame:
            raise RuntimeError("disk full")

    target = tmp_path / "book.xlsx"
    with pytest.raises(RuntimeError, match="disk full"):
        write_xlsx({"ok": pd.DataFrame({"a": [1]}), "broken": Broken({"a": [1]})}, target)
    assert list(tmp_path.iterdir()) == []
    write_xlsx({"ok": pd.DataFrame({"a": [1]})}, target)
    with pytest.raises(OutputExistsError, match="exists"):
        write_xlsx({"ok": pd.DataFrame({"a": [2]})}, target)
    write_xlsx({"ok": pd.DataFrame({"a": [3]})}, target, force=True)
    assert _rows(target, "ok") == [("a",), (3,)]


def test_a_timeseries_sheet_appears_when_results_offer_one(scenario_path: Path) -> None:
    results = fs.run(fs.load_scenario(scenario_path), replications=2, seed=1)
    if not hasattr(fs.Results, "timeseries"):  # another change adds it; until then no sheet
        assert "timeseries" not in results_sheets(results)
    monthly = pd.DataFrame({"month": ["2027-01", "2027-02"], "bookings": [1.0, 2.0]})
    results.timeseries = lambda: monthly  # type: ignore[attr-defined]
    sheets = results_sheets(results)
    pd.testing.assert_frame_equal(sheets["timeseries"], monthly)
