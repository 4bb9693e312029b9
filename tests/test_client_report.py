"""A report a consultant can hand a client: labels, title block, hidden zero rows,
assumption-driven losses apart, forest charts judged per metric with one panel per unit and
no overlapping labels, and print that fills at most six A4 pages."""

from __future__ import annotations

import base64
import io
import itertools
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import headless_chromium, sdr_team
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.text import Text
from PIL import Image
from pypdf import PdfReader

import funnelsim as fs
from funnelsim.cli import main
from funnelsim.report import charts
from funnelsim.report.charts.experiments import JUDGEMENT_COLORS
from funnelsim.report.data import REASON_LABELS, ReportData
from funnelsim.report.html import (
    DPI,
    render_report,
    report_from_decision,
    report_from_results,
    write_report,
)
from funnelsim.report.html.tables import leakage_table
from funnelsim.report.labels import METRIC_LABELS, judgement

ROOT = Path(__file__).resolve().parents[1]
A4_POINTS = (595.3, 841.9)
LABELLED = {
    "name": "acme-q3",
    "label": "Acme Analytics: revenue engine today",
    "client": "Acme Analytics Ltd",
    "start_date": "2027-01-04",
    "horizon_days": 240,
    "sources": {"inbound": {"leads_per_week": 40, "cost_per_lead": 50, "label": "Web inbound"}},
    "teams": {"sdr": {**sdr_team(4), "label": "Inbound SDRs"}},
    "segments": {
        "smb": {
            "share": 1.0,
            "deal_value": {"dist": "lognormal", "median": 12000, "p90": 30000},
            "label": "Small business",
        }
    },
    "sales": {
        "qualify_prob": {"smb": 0.6},
        "win_rate": {"smb": 0.3},
        "cycle_days": {"smb": {"dist": "lognormal", "median": 20, "p90": 60}},
    },
}


def _chromium_run(page: Path, tmp_path: Path, *args: str) -> None:
    headless_chromium(page, tmp_path / "profile", *args)


@pytest.fixture(scope="module")
def labelled(tmp_path_factory: pytest.TempPathFactory) -> fs.Results:
    path = tmp_path_factory.mktemp("labelled") / "acme.yaml"
    path.write_text(yaml.safe_dump(LABELLED))
    return fs.run(fs.load_scenario(path), replications=2, seed=3)


@pytest.fixture(scope="module")
def baseline_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The baseline's report with seam fixes, as ``run --leaks --report`` writes it."""
    scenario = fs.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    results = fs.run(scenario, replications=2, seed=0)
    leaks = fs.leaks(scenario, replications=2, seed=0)
    folder = tmp_path_factory.mktemp("baseline")
    return write_report(report_from_results(results, leaks=leaks), folder / "baseline.html")


# ------------------------------------------------------------------------ print


# Six A4 pages held the report before it gained "Month by month" and "Forecast against
# actual" (a fan chart and a forecast chart with its table): one page more for those two.
MAX_PAGES = 7


def test_baseline_report_prints_on_at_most_seven_a4_pages(
    baseline_report: Path, tmp_path: Path
) -> None:
    pdf = tmp_path / "baseline.pdf"
    _chromium_run(baseline_report, tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}")
    pages = PdfReader(pdf).pages
    assert 1 <= len(pages) <= MAX_PAGES, f"{len(pages)} pages"
    for page in pages:
        size = (float(page.mediabox.width), float(page.mediabox.height))
        assert size == pytest.approx(A4_POINTS, abs=1.5)
    # Every section's heading is in the PDF (nothing was cut off).
    text = " ".join(page.extract_text() for page in pages)
    for heading in ("Summary", "Where revenue leaks", "Headline metrics", "How to read"):
        assert heading in text


def test_print_css_forces_no_page_per_section_and_keeps_tables_whole(
    baseline_report: Path,
) -> None:
    html = baseline_report.read_text(encoding="utf-8")
    printed = html[html.index("@media print") :]
    assert "break-before: page" not in printed and "page-break-before: always" not in printed
    assert re.search(r"table \{[^}]*break-inside: avoid", html)


def test_charts_are_print_sharp(baseline_report: Path) -> None:
    html = baseline_report.read_text(encoding="utf-8")
    encoded = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert encoded and DPI >= 200
    for data in encoded:
        dpi = Image.open(io.BytesIO(base64.b64decode(data))).info["dpi"]
        assert min(dpi) >= 199


def test_decision_report_screenshot_is_not_blank(tmp_path: Path) -> None:
    base = fs.load_scenario(ROOT / "scenarios" / "baseline.yaml", ["horizon_days=240"])
    faster = fs.load_scenario(ROOT / "scenarios" / "sla_1h_fallback.yaml", ["horizon_days=240"])
    decision = fs.compare(base, [faster], replications=2, seed=1)
    page = write_report(report_from_decision(decision), tmp_path / "decision.html")
    shot = tmp_path / "shot.png"
    _chromium_run(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2400")
    pixels = imread(shot)[..., :3]
    assert pixels.std() > 0.05, "screenshot is blank"
    dark = (pixels.mean(axis=2) < 0.5).mean()
    assert 0.02 < dark < 0.9, "screenshot is mostly one colour"


# ------------------------------------------------------------------- the forest


def _summary(rows: list[tuple[str, str, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["metric", "unit", "difference", "ci_low", "ci_high"])


WHATIF = _summary(
    [
        ("horizon_revenue", "USD", 1.6e6, 0.75e6, 2.4e6),
        ("arr_at_horizon", "USD", 1.8e6, 1.2e6, 2.4e6),
        ("total_cost", "USD", 150e3, 150e3, 150e3),
        ("net_value", "USD", 0.8e6, -0.1e6, 1.5e6),
        ("cac", "USD", -3.8e3, -5.1e3, -2.4e3),
        ("won_deals", "deals", 89, 76, 101),
        ("active_customers", "customers", -4, -6, -2),
    ]
)


def _texts(figure: Figure) -> list[Text]:
    """Every text drawn on the figure: titles, axis labels, values and the tick labels
    inside each axis's view."""
    texts = [t for t in figure.texts if t.get_visible() and t.get_text().strip()]
    for ax in figure.axes:
        texts += [t for t in ax.texts if t.get_visible() and t.get_text().strip()]
        texts += [t for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text().strip()]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if low <= tick.get_loc() <= high and tick.label1.get_text().strip():
                    texts.append(tick.label1)
    return texts


def _assert_no_overlap(figure: Figure) -> None:
    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    renderer = canvas.get_renderer()
    boxes = [(text.get_text(), text.get_window_extent(renderer)) for text in _texts(figure)]
    assert len(boxes) > 10
    for (a, box_a), (b, box_b) in itertools.combinations(boxes, 2):
        overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert overlap_x <= 0.5 or overlap_y <= 0.5, f"{a!r} overlaps {b!r}"


def test_forest_panels_have_no_overlapping_labels() -> None:
    figure = charts.forest_panels(WHATIF, "USD")
    _assert_no_overlap(figure)


def test_the_checker_sees_overlapping_labels() -> None:
    figure = Figure(figsize=(4, 3))
    ax = figure.add_subplot()
    ax.text(0.5, 0.5, "a long label here")
    ax.text(0.52, 0.5, "another label")
    with pytest.raises(AssertionError, match="overlaps"):
        _assert_no_overlap(figure)


MONEY_TOTALS = ("horizon_revenue", "arr_at_horizon", "total_cost", "net_value")


def test_forest_has_one_panel_per_unit_and_cac_apart() -> None:
    figure = charts.forest_panels(WHATIF, "USD")
    panels = [ax for ax in figure.axes if ax.get_lines()]
    gids = [{line.get_gid() for line in ax.get_lines() if line.get_gid()} for ax in panels]
    assert gids == [
        {
            f"difference:{m}"
            for m in ("horizon_revenue", "arr_at_horizon", "total_cost", "net_value")
        },
        {"difference:cac"},
        {"difference:won_deals"},
        {"difference:active_customers"},
    ]


@pytest.mark.parametrize(
    "metric, expected",
    [
        ("total_cost", "worse"),  # cost up
        ("cac", "better"),  # CAC down
        ("horizon_revenue", "better"),
        ("net_value", "unclear"),  # the interval spans zero
        ("active_customers", "worse"),
    ],
)
def test_forest_colours_by_better_or_worse(metric: str, expected: str) -> None:
    row = WHATIF.set_index("metric").loc[metric]
    assert judgement(metric, row["ci_low"], row["ci_high"]) == expected
    figure = charts.forest_panels(WHATIF, "USD")
    points = {
        line.get_gid(): line for ax in figure.axes for line in ax.get_lines() if line.get_gid()
    }
    color = to_hex(points[f"difference:{metric}"].get_color())
    assert color == to_hex(JUDGEMENT_COLORS[expected])


def test_single_axes_forest_keeps_its_contract() -> None:
    ax = charts.forest(WHATIF, "USD")
    money = WHATIF[WHATIF["unit"] == "USD"]
    assert len([line for line in ax.get_lines() if line.get_gid()]) == len(money)
    top = ax.get_yticklabels()[0].get_text()
    assert top == METRIC_LABELS["horizon_revenue"]
    plt.close(ax.figure)


# ------------------------------------------------------------------ the content


def test_title_block_shows_label_client_and_dates(labelled: fs.Results) -> None:
    html = report_from_results(labelled)
    assert "<h1>Acme Analytics: revenue engine today</h1>" in html
    assert '<div class="client">Acme Analytics Ltd</div>' in html
    assert '<div class="dates">4 Jan 2027 – 31 Aug 2027</div>' in html


def test_team_charts_use_display_labels(labelled: fs.Results) -> None:
    ax = labelled.plot.teams()
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "Inbound SDRs" in legend and "sdr" not in legend
    plt.close(ax.figure)


def test_zero_rows_are_hidden_and_assumption_losses_stand_apart(labelled: fs.Results) -> None:
    data = ReportData.from_results(labelled)
    summary = data.leakage_summary.set_index(["seam", "reason", "measure"])
    zero = [
        reason
        for (seam, reason), group in data.leakage_summary.groupby(["seam", "reason"])
        if (group[["mean", "ci_low", "ci_high"]].fillna(0) == 0).all().all()
    ]
    assert zero, "the scenario should have a reason that never loses anything"
    html = str(leakage_table(data))
    for reason in zero:
        assert f"<td>{REASON_LABELS[reason]}</td>" not in html
    assert summary.loc[(1, "scored_out", "horizon_revenue_lost"), "mean"] > 0
    handoff = html.index("Hand-off losses")
    assumed = html.index("Assumption-driven")
    assert handoff < html.index("<td>went cold</td>") < assumed < html.index("scored out")
    report = render_report(data)
    assert "Biggest hand-off leak" in report and "is <b>scored out</b>" in report


def test_report_shows_none_of_its_own_markup_escaped(labelled: fs.Results) -> None:
    leaks = fs.leaks(labelled.scenario, replications=2, seed=3)
    html = report_from_results(labelled, leaks=leaks)
    assert "&lt;span" not in html and "&lt;b&gt;" not in html


# ---------------------------------------------------------- --report everywhere

SMALL = {
    "name": "small",
    "horizon_days": 240,
    "sources": {"inbound": {"leads_per_week": 40, "cost_per_lead": 50}},
}
COMMANDS = {
    "leaks": ["leaks"],
    "plan": ["plan", "--hire", "sdr=+1@2027-03-01"],
    "sweep": ["sweep", "--grid", "teams.sdr.headcount=2,4"],
    "sensitivity": ["sensitivity", "--param", "teams.sdr.headcount"],
}
KICKERS = {
    "leaks": "Revenue leakage report",
    "plan": "Revenue leakage report",
    "sweep": "Parameter sweep",
    "sensitivity": "Sensitivity",
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_result_command_writes_a_report(command: str, tmp_path: Path) -> None:
    scenario = tmp_path / "small.yaml"
    scenario.write_text(yaml.safe_dump(SMALL))
    report = tmp_path / "report.html"
    name, *rest = COMMANDS[command]
    args = [name, str(scenario), *rest, "--reps", "2", "--report", str(report)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    html = report.read_text(encoding="utf-8")
    assert f'<div class="kicker">{KICKERS[command]} · funnelsim</div>' in html
    assert not re.search(r"https?://", html) and "<script" not in html.lower()
    assert html.count("data:image/png;base64,") >= 1
    if command == "plan":
        assert '<section id="headcount">' in html
    if command == "leaks":
        assert "What fixing each seam is worth" in html and '<section id="speed">' in html
    before = report.read_bytes()
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 2 and "--force" in again.output
    assert report.read_bytes() == before
