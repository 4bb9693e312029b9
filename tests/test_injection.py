"""No injection: user text never becomes live HTML in a report, nor a formula in a CSV.

Regression tests for the reliability review's injection cases: a currency (or a name,
description, label, client, segment, source, team, product, loss reason, what-if label)
carrying markup reached the HTML report live, and ``currency: "=1+2"`` reached CSV cells
as a formula.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import chromium_binary, headless_chromium
from hypothesis import given
from hypothesis import strategies as st

import funnelsim as fs
from funnelsim.cli import main
from funnelsim.report.data import ReportData
from funnelsim.report.html import render_report
from funnelsim.report.html.markup import chart, table
from funnelsim.safe_cells import FORMULA_STARTS, neutralise, spreadsheet_safe

# Each payload sets window.__pwned when it runs in a browser.
SVG = "<svg/onload=window.__pwned=1>"
SCRIPT = "<script>window.__pwned=1</script>"
IMG = '"><img src=x onerror=window.__pwned=1>'
IMG_SINGLE = "'><img src=x onerror=window.__pwned=1>"
PAYLOADS = (SVG, SCRIPT, IMG, IMG_SINGLE)

# Every element and attribute the report itself uses; anything else came from user text.
REPORT_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "div", "h1", "h2", "h3", "p",
    "nav", "a", "main", "section", "ul", "li", "b", "span", "figure", "img", "table",
    "caption", "thead", "tbody", "tr", "th", "td", "code", "footer",
}  # fmt: skip
REPORT_ATTRIBUTES = {"lang", "charset", "name", "content", "class", "id", "href", "style"}
PROBE = (
    '<script>window.addEventListener("load", () => document.documentElement'
    '.setAttribute("data-pwned", String(window.__pwned)));</script>'
)
FORMULA = "=1+2"
LABEL = f"Acme label {SCRIPT}"
CLIENT = f"Client {IMG}"


def payload_scenario(currency: str = "EUR") -> dict[str, Any]:
    """A small scenario with a payload in every free-text field and every kind of name."""
    segments = [f"smb{SVG}", f"ent{IMG}"]
    teams = {
        f"sdr{SVG}": {
            "headcount": 3,
            "capacity_per_head": 2,
            "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5},
        },
        f"ae{IMG}": {"headcount": 3, "capacity_per_head": 10},
        f"desk{SCRIPT}": {
            "headcount": 1,
            "capacity_per_head": 10,
            "work_time": {"dist": "lognormal", "median": 1, "p90": 3},
        },
        f"csm{IMG_SINGLE}": {"headcount": 2, "capacity_per_head": 10},
    }
    sdr, ae, desk, csm = teams
    for number, team in enumerate(teams.values()):
        team["label"] = f"team label {number} {PAYLOADS[number % len(PAYLOADS)]}"
    return {
        "name": f"Acme {SVG} {IMG}",
        "label": LABEL,
        "client": CLIENT,
        "description": f"About {SCRIPT} {IMG_SINGLE}",
        "currency": currency,
        "horizon_days": 240,
        "segments": {
            name: {
                "share": 0.5,
                "deal_value": {"dist": "lognormal", "median": 2e4, "p90": 6e4},
                "label": f"segment {SCRIPT}",
            }
            for name in segments
        },
        "sources": {
            f"inbound{IMG} $\\foo$": {
                "leads_per_week": 30,
                "cost_per_lead": 50,
                "label": f"source {IMG_SINGLE}",
            },
            f"partner{SCRIPT}": {"leads_per_week": 10, "label": f"partner {SVG}"},
        },
        "teams": teams,
        "seam1": {"team": sdr},
        "sales": {
            "team": ae,
            "qualify_prob": dict.fromkeys(segments, 0.7),
            "win_rate": dict.fromkeys(segments, 0.4),
            "cycle_days": {s: {"dist": "lognormal", "median": 10, "p90": 30} for s in segments},
            "lost_reasons": {f"price{SVG}": 1.0, f"timing{SCRIPT}": 1.0},
        },
        "seam2": {"team": desk},
        "seam3": {"team": csm},
        "products": {f"core{IMG}": {"share": 0.7}, f"addon{SVG}": {"share": 0.3}},
    }


def _write_yaml(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False))
    return path


def _invoke(*args: str) -> None:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output


# ------------------------------------------------------------------ the HTML checker


class _Page(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def assert_no_live_markup(html: str, shown: tuple[str, ...]) -> None:
    """Only the report's own elements and attributes; each ``shown`` text appears as text."""
    page = _Page()
    page.feed(html)
    page.close()
    for tag, attrs in page.tags:
        assert tag in REPORT_TAGS, f"foreign element <{tag} {attrs}>"
        handlers = [name for name in attrs if name.startswith("on")]
        assert not handlers, f"event handler on <{tag}>: {handlers}"
        allowed = {"alt", "src"} if tag == "img" else REPORT_ATTRIBUTES
        assert set(attrs) <= allowed, f"foreign attribute on <{tag}>: {attrs}"
        if tag == "img":
            assert (attrs["src"] or "").startswith("data:image/png;base64,")
        if tag == "a":
            assert (attrs["href"] or "").startswith("#")
    text = "".join(page.text)
    for payload in shown:
        assert payload in text, f"{payload!r} is not shown as text"


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_checker_finds_a_live_payload(payload: str) -> None:
    """The checker is not blind: the same page with a payload pasted in raw fails it."""
    page = f'<html><body><p class="note">x {payload} y</p></body></html>'
    with pytest.raises(AssertionError):
        assert_no_live_markup(page, ())
    assert_no_live_markup(page.replace(payload, "plain"), ())


# ----------------------------------------------------------------------- the reports


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Reports of run --report, compare --report (--set and variant file), report DIR."""
    folder = tmp_path_factory.mktemp("payload")
    scenario = _write_yaml(folder / "payload.yaml", payload_scenario())
    variant_spec = payload_scenario()
    variant_spec["name"] = f"What-if {IMG_SINGLE} {SVG}"
    variant_spec["seam1"]["sla_hours"] = 4
    variant = _write_yaml(folder / "variant.yaml", variant_spec)
    out = folder / "results"
    paths = {kind: folder / f"{kind}.html" for kind in ("run", "set", "variant", "dir")}
    reps = ("--reps", "2", "--seed", "5")
    _invoke(
        "run", str(scenario), *reps, "--leaks", "--out", str(out), "--report", str(paths["run"])
    )
    _invoke(
        "compare", str(scenario), "--set", f"description={SCRIPT}", *reps,
        "--report", str(paths["set"]),
    )  # fmt: skip
    _invoke("compare", str(scenario), str(variant), *reps, "--report", str(paths["variant"]))
    # A results folder sent by someone else: summary.json is not validated on the way back.
    document = json.loads((out / "summary.json").read_text())
    document.update(currency=SVG, description=f"{IMG} {SCRIPT}")
    (out / "summary.json").write_text(json.dumps(document))
    _invoke("report", str(out), "-o", str(paths["dir"]))
    return paths


# The scenario has a label, so reports name it by its label only (its name is a key).
SHOWN = {
    "run": (f"About {SCRIPT} {IMG_SINGLE}", LABEL, CLIENT),
    "set": (f"--set description={SCRIPT}", LABEL, CLIENT),
    "variant": (f"What-if {IMG_SINGLE} {SVG}", LABEL, CLIENT),
    "dir": (f"{IMG} {SCRIPT}", f"money in {SVG}", f"{SVG}", LABEL),
}


@pytest.mark.parametrize("kind", sorted(SHOWN))
def test_cli_reports_show_payloads_as_text(reports: dict[str, Path], kind: str) -> None:
    assert_no_live_markup(reports[kind].read_text(encoding="utf-8"), SHOWN[kind])


@pytest.fixture(scope="module")
def currency_report(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An in-memory report with a currency the scenario model would refuse, everywhere."""
    path = _write_yaml(tmp_path_factory.mktemp("cur") / "payload.yaml", payload_scenario())
    base = fs.load_scenario(path)
    variant = fs.load_scenario(path, ["seam1.sla_hours=4"])
    results = fs.run(base, replications=2, seed=5)
    comparison = fs.compare(base, variant, replications=2, seed=5)
    leaks = fs.leaks(base, replications=2, seed=5)
    data = dataclasses.replace(ReportData.from_results(results), currency=IMG)
    return render_report(data, {f"faster {SCRIPT}": comparison}, leaks)


def test_currency_payload_is_text_in_every_table_and_card(currency_report: str) -> None:
    assert_no_live_markup(currency_report, (f"{IMG}", f"faster {SCRIPT}"))
    page = _Page()
    page.feed(currency_report)
    # The currency reaches the cards, sentences and every money cell, as text.
    assert "".join(page.text).count(IMG) > 20


def test_markup_helpers_escape_unless_marked() -> None:
    html = table([SVG], [(SCRIPT,), (IMG,)], caption=IMG_SINGLE)
    assert_no_live_markup(html, (SVG, SCRIPT, IMG, IMG_SINGLE))
    figure = chart(lambda ax: ax, (1.0, 1.0), alt=IMG)
    assert_no_live_markup(figure, ())
    assert 'alt="&#34;&gt;&lt;img' in figure


def test_dollar_signs_in_chart_text_are_drawn_literally() -> None:
    """Mathtext is off in report charts: a name like ``$\\foo$`` cannot break the report."""

    def draw(ax):
        ax.plot([0, 1], [0, 1], label="team $\\foo$")
        ax.set_title("$\\frac{1}$ source")
        ax.legend()
        return ax

    assert "data:image/png;base64," in chart(draw, (2.0, 2.0), alt="chart")


def _pwned_in_chromium(html: str, tmp_path: Path) -> str:
    """Load the page in headless Chromium with a probe; the value of window.__pwned."""
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = headless_chromium(
        page, tmp_path / "profile", "--virtual-time-budget=5000", "--dump-dom", timeout=120
    )
    start = dom.index('data-pwned="') + len('data-pwned="')
    return dom[start : dom.index('"', start)]


def test_chromium_probe_sees_a_live_payload(tmp_path: Path) -> None:
    """The probe is not blind: raw payloads do run in Chromium."""
    page = "<!DOCTYPE html><html><body><p>" + " ".join(PAYLOADS) + "</p></body></html>"
    assert _pwned_in_chromium(page, tmp_path) == "1"


@pytest.mark.parametrize("kind", ["run", "set", "variant", "dir", "currency"])
def test_no_payload_runs_in_chromium(
    reports: dict[str, Path], currency_report: str, kind: str, tmp_path: Path
) -> None:
    chromium_binary()
    html = currency_report if kind == "currency" else reports[kind].read_text(encoding="utf-8")
    assert _pwned_in_chromium(html, tmp_path) == "undefined"


# ------------------------------------------------------------------ currency values


@pytest.mark.parametrize("currency", [SVG, "a&b", 'US"D', "ABCDEFGHI", "", "U\x07SD"])
def test_a_currency_with_markup_is_one_line_exit_2(currency: str, tmp_path: Path) -> None:
    path = _write_yaml(tmp_path / "s.yaml", {"horizon_days": 60, "currency": currency})
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "currency: expected a currency code or symbol" in lines[0]


@pytest.mark.parametrize("currency", ["USD", "€", "R$", "CHF", FORMULA])
def test_currency_codes_and_symbols_are_accepted(currency: str, tmp_path: Path) -> None:
    path = _write_yaml(tmp_path / "s.yaml", {"horizon_days": 60, "currency": currency})
    assert fs.load_scenario(path).currency == currency


def test_calibration_mapping_currency_with_markup_is_refused(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("Id,Created,Stage\na1,2024-01-02,Open\n")
    mapping = {
        "currency": SVG,
        "id": "Id",
        "created": "Created",
        "status": {"column": "Stage", "won": ["Won"], "lost": ["Lost"], "open": ["Open"]},
        "export_date": "2024-06-30",
    }
    _write_yaml(tmp_path / "mapping.yaml", mapping)
    out = tmp_path / "calibrated.yaml"
    result = CliRunner().invoke(
        main,
        ["calibrate", str(export), "--mapping", str(tmp_path / "mapping.yaml"), "-o", str(out)],
    )
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "currency: expected a currency code" in lines[0], result.output
    assert not out.exists()


# ------------------------------------------------------------------------------ CSV


def _cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def _assert_no_formula_cells(path: Path) -> None:
    for row in _cells(path):
        for cell in row:
            assert neutralise(cell) == cell, f"{path.name}: formula cell {cell!r}"


@pytest.fixture(scope="module")
def formula_outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run's results folder and a compare --out table, with currency '=1+2'."""
    folder = tmp_path_factory.mktemp("formula")
    scenario = _write_yaml(
        folder / "s.yaml",
        {
            "name": "formula",
            "horizon_days": 240,
            "currency": FORMULA,
            "sources": {"inbound": {"leads_per_week": 40, "cost_per_lead": 50}},
        },
    )
    out, table_path = folder / "results", folder / "compare.csv"
    _invoke("run", str(scenario), "--reps", "2", "--out", str(out))
    _invoke(
        "compare", str(scenario), "--set", "seam1.sla_hours=4", "--reps", "2",
        "--out", str(table_path),
    )  # fmt: skip
    return {
        "summary": out / "summary.csv",
        "replications": out / "replications.csv",
        "compare": table_path,
        **{p.stem: p for p in out.glob("*.csv")},
    }


@pytest.mark.parametrize(
    "name, numbers",
    [
        ("summary", ["mean", "ci_low", "ci_high"]),
        ("replications", ["value"]),
        ("compare", ["baseline", "variant", "difference", "ci_low", "ci_high"]),
    ],
)
def test_formula_currency_is_quoted_and_numbers_stay_numbers(
    formula_outputs: dict[str, Path], name: str, numbers: list[str]
) -> None:
    path = formula_outputs[name]
    _assert_no_formula_cells(path)
    frame = pd.read_csv(path)
    assert (frame["unit"] == "'" + FORMULA).any() and not (frame["unit"] == FORMULA).any()
    for column in numbers:
        assert pd.api.types.is_float_dtype(frame[column]), column
    assert not [cell for row in _cells(path) for cell in row if re.match(r"'[-+.0-9]", cell)]


def test_negative_numbers_stay_numbers(formula_outputs: dict[str, Path]) -> None:
    """Payroll runs far ahead of 240 days of revenue: net value and cash are negative."""
    compare = pd.read_csv(formula_outputs["compare"]).set_index("metric")
    assert compare.loc["net_value", "baseline"] < 0
    cash = pd.read_csv(formula_outputs["cashflow"])
    for column in ("net_cash", "cumulative_cash"):
        assert pd.api.types.is_float_dtype(cash[column]) and cash[column].min() < 0, column
    cells = [cell for row in _cells(formula_outputs["cashflow"]) for cell in row]
    assert any(cell.startswith("-") and float(cell) < 0 for cell in cells)


def test_every_results_csv_is_free_of_formula_cells(formula_outputs: dict[str, Path]) -> None:
    assert {"leakage", "leakage_replications", "cashflow"} <= set(formula_outputs)
    for path in formula_outputs.values():
        _assert_no_formula_cells(path)


# ---------------------------------------------------------------- the cell rule


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_text_that_starts_a_formula_gets_a_quote(start: str) -> None:
    assert neutralise(f"{start}cmd|' /C calc'!A0") == f"'{start}cmd|' /C calc'!A0"


@pytest.mark.parametrize("text", ["-5", "+1.5e3", "-0.25", "USD", "", "a=b", "'=1"])
def test_numbers_and_plain_text_are_left_alone(text: str) -> None:
    assert neutralise(text) == text


@given(st.text())
def test_neutralised_text_never_starts_a_formula(text: str) -> None:
    safe = neutralise(text)
    assert safe.endswith(text) and len(safe) - len(text) in (0, 1)
    if safe.startswith(FORMULA_STARTS):
        assert float(safe) == float(text)


def test_only_text_cells_change() -> None:
    frame = pd.DataFrame(
        {
            "=name": ["=1+2", "@x", None, "-7", "ok"],
            "value": [-1.5, 2.0, -3.0, 4.0, -5.0],
            "count": [-1, 2, 3, 4, 5],
            "mixed": [-2.5, "+x", 3, None, "\tt"],
            "kind": pd.Categorical(["-a", "b", "-a", "b", "b"]),
        }
    )
    before = frame.copy()
    safe = spreadsheet_safe(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert list(safe.columns) == ["'=name", "value", "count", "mixed", "kind"]
    assert safe["'=name"].tolist()[:2] == ["'=1+2", "'@x"] and pd.isna(safe["'=name"][2])
    assert safe["'=name"].tolist()[3:] == ["-7", "ok"]
    pd.testing.assert_series_equal(safe["value"], frame["value"])
    pd.testing.assert_series_equal(safe["count"], frame["count"])
    assert safe["mixed"].tolist()[:3] == [-2.5, "'+x", 3] and safe["mixed"][4] == "'\tt"
    assert safe["kind"].tolist() == ["'-a", "b", "'-a", "b", "b"]
