"""The figures in docs/calibration.md come from these runs: the sparse MQL walkthrough (its
Python block is executed as written) and the hold-out recipe on the maven sample.

Figures that follow from the data (counts, observed rates, fitted values) must match the
page; simulated intervals depend on the seed, so only the verdicts that hold by a wide
margin are compared, besides the observed value on each line.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import funnelsim as fs
from funnelsim.calibrate import load_mapping, read_export
from funnelsim.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "calibration.md").read_text()
MAVEN = ROOT / "tests" / "data" / "maven-crm" / "sales_pipeline.csv.gz"
MAVEN_MAPPING = ROOT / "scenarios" / "mappings" / "maven_crm.yaml"
MQL_MAPPING = ROOT / "scenarios" / "mappings" / "mql_won_dates.yaml"


def _blocks() -> list[tuple[int, int, str]]:
    """Fenced blocks of the page: (start offset, end offset, text)."""
    out, offset, opened, lines = [], 0, None, []
    for line in DOC.splitlines(keepends=True):
        if line.startswith("```"):
            if opened is None:
                opened, lines = offset, []
            else:
                out.append((opened, offset + len(line), "".join(lines)))
                opened = None
        elif opened is not None:
            lines.append(line)
        offset += len(line)
    return out


def _block(anchor: str) -> str:
    """The fenced block holding ``anchor``, or the next one after it."""
    at = DOC.index(anchor)
    return next(text for start, end, text in _blocks() if end > at)


def _run(args: list[str]) -> list[str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def _observed(line: str) -> tuple[str, str, str]:
    """(verdict, quantity, observed figure) of a check-fit line."""
    verdict, rest = line.split(None, 1)
    quantity, detail = rest.split(": ", 1)
    figure = re.search(r"(observed |median )(\S+)", detail)
    return verdict, quantity, figure.group(2).rstrip(",") if figure else detail


def _compare_check_fit(actual: list[str], documented: list[str], robust: set[str]) -> None:
    """Same quantities and observed figures; the same verdict where it holds by far."""
    assert len(actual) == len(documented), actual
    for got, want in zip(actual, documented, strict=True):
        got_verdict, quantity, got_figure = _observed(got)
        want_verdict, want_quantity, want_figure = _observed(want)
        assert quantity == want_quantity
        assert got_figure == want_figure, (quantity, got_figure, want_figure)
        if quantity in robust or got_verdict == "-":
            assert got_verdict == want_verdict, (quantity, got, want)


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory) -> Path:
    """Run the page's Python block in a scratch folder that sees the bundled scenarios."""
    folder = tmp_path_factory.mktemp("walkthrough")
    (folder / "scenarios").symlink_to(ROOT / "scenarios")
    code = _block("(run from the project folder)")
    cwd = Path.cwd()
    try:
        os.chdir(folder)
        exec(compile(code, "docs/calibration.md", "exec"), {})
    finally:
        os.chdir(cwd)
    return folder


def test_walkthrough_calibrate_output_is_the_documented_one(walkthrough: Path) -> None:
    export = walkthrough / "mql_export.csv"
    out = walkthrough / "mql.yaml"
    lines = _run(["calibrate", export, "--mapping", MQL_MAPPING, "-o", out])
    documented = _block("$ funnelsim calibrate mql_export.csv").splitlines()[1:]
    assert lines[:-1] == documented[:-1]
    text = out.read_text()
    assert "share of MQLs ever won, 0.048 (95% CI 0.041-0.055" in text
    assert "{dist: lognormal, median: 52.27" in text


def test_walkthrough_truth_is_the_documented_one() -> None:
    scenario = fs.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    leads = fs.simulate(scenario, seed=1).leads
    mqls = leads[leads["mql_time"] < 365 * 24.0]
    won = mqls["won_time"].notna()
    assert f"{won.mean():.1%}" == "4.6%"
    by_source = won.groupby(mqls["source"].astype(str), observed=True).mean()
    expected = {"content_organic": "4.2%", "events_webinars": "4.0%", "paid_search": "5.0%"}
    for source, figure in {**expected, "referral_partner": "5.6%"}.items():
        assert f"{by_source[source]:.1%}" == figure


def test_walkthrough_check_fit_is_the_documented_one(walkthrough: Path) -> None:
    export, scenario = walkthrough / "mql_export.csv", walkthrough / "mql.yaml"
    if not scenario.exists():
        _run(["calibrate", export, "--mapping", MQL_MAPPING, "-o", scenario])
    lines = _run(["check-fit", scenario, export, "--mapping", MQL_MAPPING])
    documented = _block("$ funnelsim check-fit mql.yaml").splitlines()[1:]
    robust = {"MQLs per week", "conversion mql -> won"}
    _compare_check_fit(lines, documented, robust)


def test_maven_hold_out_recipe_is_the_documented_one(tmp_path: Path) -> None:
    block = _block("Fit on the first ~60% of the period").splitlines()
    calibrate_lines = block[2 : block.index("wrote fit.yaml") + 1]
    check_lines = block[block.index("wrote fit.yaml") + 3 :]
    fit = tmp_path / "fit.yaml"
    args = ["calibrate", MAVEN, "--mapping", MAVEN_MAPPING, "--as-of", "2017-08-31", "-o", fit]
    lines = _run(args)
    assert lines[:-1] == calibrate_lines[:-1]
    period = ["--period", "2017-09-01..2017-12-31"]
    lines = _run(["check-fit", fit, MAVEN, "--mapping", MAVEN_MAPPING, *period])
    robust = {"opportunities per week", "conversion opportunity -> won"}
    _compare_check_fit(lines, check_lines, robust)


def test_maven_figures_quoted_on_the_page(tmp_path: Path) -> None:
    export = read_export(MAVEN, load_mapping(MAVEN_MAPPING))
    cohort = export.cohort
    assert (len(export.records), len(cohort)) == (8300, 7115)
    assert cohort["status"].value_counts().to_dict() == {"won": 3530, "lost": 2209, "open": 1376}
    days = pd.Series(pd.date_range("2017-03-01", "2017-12-31")).dt.month.value_counts()
    weekly = cohort.groupby(cohort["created"].dt.month).size() / days * 7
    assert (round(weekly[11]), round(weekly[12])) == (66, 27)
    assert 170 <= weekly[[3, 5, 6, 8, 9, 10]].mean() <= 190
    share_open = (cohort["status"] == "open").groupby(cohort["created"].dt.month).mean()
    assert share_open[[7, 8]].between(0.3, 0.36).all()
    assert share_open[[9, 10, 11, 12]].round(2).between(0.08, 0.15).all()
    full = tmp_path / "full.yaml"
    lines = _run(["calibrate", MAVEN, "--mapping", MAVEN_MAPPING, "-o", full])
    assert "  all_sources: 162.8 opportunities/week" in lines
    assert "  win rate 0.616, cycle median 17 days (gamma), stalled 18.1%" in lines
    checks = _run(["check-fit", full, MAVEN, "--mapping", MAVEN_MAPPING])
    verdicts = {_observed(line)[1]: _observed(line) for line in checks}
    assert verdicts["opportunities per week"][2] == "162.8"
    assert verdicts["win rate"][2] == "0.6161"
    assert verdicts["conversion opportunity -> won"][2] == "0.5046"
    for quarter in ("2017Q1", "2017Q2", "2017Q3"):
        assert verdicts[f"won revenue {quarter}"][0] == "outside"
    assert "162.8 observed), win rate (0.616) and\nconversion to won (0.505)" in DOC
