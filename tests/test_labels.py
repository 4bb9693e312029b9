"""Display labels everywhere a person reads (issue 14): a scenario whose teams, sources and
segments carry distinctive labels shows those labels, never their keys, in every command's
terminal output, in every report and on the charts; the keys stay in CSV and JSON."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest
import yaml
from click.testing import CliRunner

import funnelsim as fs
from funnelsim.cli import main
from funnelsim.report.labels import DisplayNames, metric_heading

TEAMS = {"sdr": "Zebra desk", "ae": "Closers", "deal_desk": "Contracts office", "csm": "Crew"}
SOURCES = {"web_xq": "Website forms", "ads_xq": "Paid adverts"}
SEGMENTS = {"smb_xq": "Small firms", "ent_xq": "Large firms"}
TITLE = "Quokka Ltd revenue engine"
TAGGED = {
    "name": "tagged-xq",
    "label": TITLE,
    "horizon_days": 240,
    "sources": {
        "web_xq": {"leads_per_week": 60, "cost_per_lead": 50, "label": SOURCES["web_xq"]},
        "ads_xq": {"leads_per_week": 30, "cost_per_lead": 80, "label": SOURCES["ads_xq"]},
    },
    "segments": {
        "smb_xq": {
            "share": 0.7,
            "deal_value": {"dist": "lognormal", "median": 12000, "p90": 30000},
            "label": SEGMENTS["smb_xq"],
        },
        "ent_xq": {
            "share": 0.3,
            "deal_value": {"dist": "lognormal", "median": 40000, "p90": 90000},
            "label": SEGMENTS["ent_xq"],
        },
    },
    "sales": {
        "qualify_prob": {"smb_xq": 0.6, "ent_xq": 0.5},
        "win_rate": {"smb_xq": 0.3, "ent_xq": 0.25},
        "cycle_days": {
            "smb_xq": {"dist": "lognormal", "median": 20, "p90": 60},
            "ent_xq": {"dist": "lognormal", "median": 40, "p90": 90},
        },
    },
    "teams": {
        # One SDR with two hours of work per lead: saturated in every replication.
        "sdr": {
            "headcount": 1,
            "capacity_per_head": 1,
            "work_time": {"dist": "lognormal", "median": 2, "p90": 4},
            "cost_per_year": 80000,
            "label": TEAMS["sdr"],
        },
        "ae": {
            "headcount": 8,
            "capacity_per_head": 30,
            "cost_per_year": 160000,
            "label": TEAMS["ae"],
        },
        "deal_desk": {
            "headcount": 1,
            "capacity_per_head": 1,
            "work_time": {"dist": "gamma", "mean": 3, "sd": 2},
            "label": TEAMS["deal_desk"],
        },
        "csm": {"headcount": 1, "capacity_per_head": 4, "label": TEAMS["csm"]},
    },
}
# A key a person must not read: team, source and segment keys as words, the scenario's
# name, and snake_case code names such as horizon_revenue.
KEYS = re.compile(r"\b(?:sdr|ae|csm|deal_desk)\b|_xq\b|tagged-xq|\b[a-z]+_[a-z_]+\b")
WIDE = {"COLUMNS": "400"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("labels")
    (path / "tagged.yaml").write_text(yaml.safe_dump(TAGGED))
    option = {"extends": "tagged.yaml", "name": "tagged-opt", "label": "Two zebras"}
    option["teams"] = {"sdr": {"headcount": 2}}
    (path / "opt.yaml").write_text(yaml.safe_dump(option))
    return path


def invoke(folder: Path, *args: str) -> str:
    """A command's terminal output, one line, with the temporary folder's paths removed."""
    result = CliRunner().invoke(main, list(args), env=WIDE)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace(str(folder), "").split())


def read_text(path: Path) -> str:
    """What a person reads in a report: its visible text and the charts' alt text (not
    what it sets as code: file and function names for the analyst)."""
    page = path.read_text(encoding="utf-8")
    page = re.sub(r"<style.*?</style>|<code>.*?</code>", " ", page, flags=re.S)
    alts = " ".join(re.findall(r'alt="([^"]*)"', page))
    text = re.sub(r"<[^>]+>", " ", page)
    text = html.unescape(f"{text} {alts}")
    return " ".join(text.split())


def assert_labels_not_keys(text: str, *labels: str) -> None:
    for label in labels:
        assert label in text, label
    found = sorted(set(KEYS.findall(text)))
    assert not found, f"keys shown to a person: {found}"


def test_run_terminal_and_report(folder: Path) -> None:
    report = folder / "run.html"
    out = invoke(
        folder,
        *("run", str(folder / "tagged.yaml"), "--reps", "2", "--leaks"),
        *("--report", str(report), "--out", str(folder / "results")),
    )
    assert_labels_not_keys(out, TITLE, "Revenue within the horizon (USD)", "Zebra desk saturated")
    assert "Median first response (hours)" in out
    assert_labels_not_keys(read_text(report), TITLE, TEAMS["sdr"], SOURCES["web_xq"])
    # Machine-readable files keep the keys.
    summary = json.loads((folder / "results" / "summary.json").read_text())
    assert "horizon_revenue" in {row["metric"] for row in summary["headline"]}


def test_compare_terminal_and_report(folder: Path) -> None:
    report = folder / "compare.html"
    out = invoke(
        folder,
        *("compare", str(folder / "tagged.yaml"), str(folder / "opt.yaml"), "--reps", "2"),
        *("--report", str(report)),
    )
    assert_labels_not_keys(out, TITLE, "Two zebras", "Net value (gross profit − cost; USD)")
    text = read_text(report)
    assert_labels_not_keys(text, TITLE, "Two zebras", "Zebra desk headcount (people): 1 → 2")


def test_leaks_terminal_and_report(folder: Path) -> None:
    report = folder / "leaks.html"
    out = invoke(
        folder, "leaks", str(folder / "tagged.yaml"), "--reps", "2", "--report", str(report)
    )
    assert_labels_not_keys(out)
    assert_labels_not_keys(read_text(report), TITLE, TEAMS["sdr"])


def test_sweep_terminal_report_and_chart(folder: Path) -> None:
    report = folder / "sweep.html"
    out = invoke(
        folder,
        *("sweep", str(folder / "tagged.yaml"), "--grid", "teams.sdr.headcount=1,2"),
        *("--reps", "2", "--report", str(report)),
    )
    assert_labels_not_keys(out, "Zebra desk headcount (people)")
    assert_labels_not_keys(read_text(report), TITLE, "Zebra desk headcount (people)")
    scenario = fs.load_scenario(folder / "tagged.yaml")
    table = fs.sweep(scenario, {"teams.sdr.headcount": [1, 2]}, replications=2, seed=0)
    ax = table.plot()
    assert ax.get_xlabel() == "Zebra desk headcount (people)"
    assert not KEYS.search(ax.get_title())


def test_sensitivity_terminal_report_and_chart(folder: Path) -> None:
    report = folder / "sensitivity.html"
    out = invoke(
        folder,
        *("sensitivity", str(folder / "tagged.yaml"), "--param", "teams.sdr.headcount"),
        *("--reps", "2", "--report", str(report)),
    )
    assert_labels_not_keys(out, "Zebra desk headcount (people)", "Revenue within the horizon")
    assert_labels_not_keys(read_text(report), TITLE, "Zebra desk headcount (people)")
    scenario = fs.load_scenario(folder / "tagged.yaml")
    table = fs.sensitivity(scenario, ["teams.sdr.headcount"], replications=2, seed=0)
    ax = table.plot()
    ticks = " ".join(t.get_text() for t in ax.get_yticklabels())
    assert "Zebra desk headcount" in ticks and not KEYS.search(ticks + ax.get_xlabel())


def test_plan_terminal_and_report(folder: Path) -> None:
    report = folder / "plan.html"
    out = invoke(
        folder,
        *("plan", str(folder / "tagged.yaml"), "--hire", "sdr=+1@2027-03-01"),
        *("--reps", "2", "--report", str(report)),
    )
    assert_labels_not_keys(out, TITLE, "with Zebra desk +1 from 1 Mar 2027")
    assert_labels_not_keys(read_text(report), TITLE, "with Zebra desk +1 from 1 Mar 2027")


def test_saturation_warnings_name_the_team_by_its_label(folder: Path) -> None:
    results = fs.run(fs.load_scenario(folder / "tagged.yaml"), replications=2, seed=1)
    lines = results.warnings()
    assert any(line.startswith("Zebra desk saturated") for line in lines), lines
    assert not any(KEYS.search(line.split(":")[0]) for line in lines)
    assert "sdr" in set(results.saturation()["team"])  # the table keeps the key


def test_metric_headings_carry_units() -> None:
    assert metric_heading("horizon_revenue", "USD", "USD") == "Revenue within the horizon (USD)"
    assert metric_heading("sla_compliance", "share", "USD") == "First responses within the SLA (%)"
    assert metric_heading("won_deals", "deals", "USD") == "Won deals"
    assert metric_heading("win_rate", "share", "EUR") == "Win rate (won / closed opportunities; %)"


def test_display_names_translate_team_lists() -> None:
    names = DisplayNames(title="t", teams={"csm": "Crew", "ae": "Closers"})
    assert names.team_list("csm (99%), ae (91%)") == "Crew (99%), Closers (91%)"
    assert names.team_list("") == ""
    assert names.entry("sources", "web") == "web"


def _chart_texts(ax) -> list[str]:
    """Every text a chart draws: titles, axis labels, tick labels, notes and legends."""
    texts = [t.get_text() for t in ax.figure.texts]
    for axes in ax.figure.axes:
        texts += [axes.title.get_text(), axes.xaxis.label.get_text(), axes.yaxis.label.get_text()]
        texts += [t.get_text() for t in axes.get_xticklabels() + axes.get_yticklabels()]
        texts += [t.get_text() for t in axes.texts]
        legend = axes.get_legend()
        if legend is not None:
            texts += [t.get_text() for t in legend.get_texts()]
    return [text for text in texts if text.strip()]


CHARTS = (
    "funnel",
    "waterfall",
    "flow",
    "first_response",
    "teams",
    "pipeline",
    "timeseries",
    "forecast",
    "by_source",
    "by_segment",
)


def test_charts_name_teams_sources_and_segments_by_their_labels(folder: Path) -> None:
    import matplotlib.pyplot as plt

    scenario = fs.load_scenario(folder / "tagged.yaml")
    results = fs.run(scenario, replications=2, seed=4)
    shown: list[str] = []
    for name in CHARTS:
        texts = _chart_texts(getattr(results.plot, name)())
        assert not [t for t in texts if KEYS.search(t)], (name, texts)
        shown += texts
        plt.close("all")
    option = fs.load_scenario(folder / "opt.yaml")
    for chart in (
        fs.compare(scenario, option, replications=2).plot(),
        fs.compare(scenario, [option], replications=2).plot(),
    ):
        texts = _chart_texts(chart)
        assert not [t for t in texts if KEYS.search(t)], texts
        shown += texts
    joined = " ".join(shown)
    for label in [*SOURCES.values(), *SEGMENTS.values(), TEAMS["sdr"], "Two zebras"]:
        assert label in joined, label
