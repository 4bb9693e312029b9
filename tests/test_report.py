"""Charts and the HTML report: they render without warnings, and show the results' numbers."""

from __future__ import annotations

import re
import shutil
import subprocess
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.image import imread

import funnelsim as fs
from funnelsim.analysis import first_response as first_response_table
from funnelsim.analysis import pipeline, stage_counts
from funnelsim.cli import main
from funnelsim.output import write_results
from funnelsim.report import charts
from funnelsim.report.data import ReportData, flow_table, seam_leakage
from funnelsim.report.html import (
    render_report,
    report_from_comparison,
    report_from_directory,
    report_from_results,
    summary_facts,
    write_report,
)

ROOT = Path(__file__).resolve().parents[1]
SMALL = """\
name: small
horizon_days: 240
sources:
  inbound: {leads_per_week: 40, cost_per_lead: 50}
"""
NO_WINS = [f"sales.win_rate.{s}=0" for s in ("smb", "mid_market", "enterprise")]
ACCESSOR_CHARTS = ("funnel", "waterfall", "flow", "first_response", "teams", "pipeline")


@contextmanager
def no_warnings() -> Iterator[None]:
    """Fail on any warning, as ``pytest -W error`` would."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


@pytest.fixture(scope="module")
def small_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "small.yaml"
    path.write_text(SMALL)
    return path


@pytest.fixture(scope="module")
def small(small_path: Path) -> fs.Results:
    return fs.run(fs.load_scenario(small_path), replications=3, seed=3)


@pytest.fixture(scope="module")
def small_dir(small: fs.Results, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small run's results directory (Results.terms mutates ledgers: write it once)."""
    return write_results(small, tmp_path_factory.mktemp("results") / "run")


@pytest.fixture(scope="module")
def no_wins(small_path: Path) -> fs.Results:
    return fs.run(fs.load_scenario(small_path, NO_WINS), replications=2, seed=3)


@pytest.fixture(scope="module")
def baseline() -> fs.Results:
    return fs.run(fs.load_scenario(ROOT / "scenarios" / "baseline.yaml"), replications=2, seed=1)


@pytest.fixture(scope="module")
def comparison(small_path: Path) -> fs.Comparison:
    base = fs.load_scenario(small_path)
    variant = fs.load_scenario(small_path, ["seam1.response_delay=1"])
    return fs.compare(base, variant, replications=3, seed=3)


def _gids(ax: plt.Axes, prefix: str) -> dict[str, object]:
    return {
        p.get_gid(): p for p in [*ax.patches, *ax.lines] if (p.get_gid() or "").startswith(prefix)
    }


def _ledgers(results: fs.Results) -> list:
    return [rep.ledger for rep in results.replications]


def _mean_stage_counts(results: fs.Results) -> pd.Series:
    """Leads reaching each stage, mean over the replications."""
    counts = pd.concat([stage_counts(ledger) for ledger in _ledgers(results)])
    return counts.groupby("stage")["count"].mean()


# ----------------------------------------------------------------------- rendering


@pytest.mark.parametrize("which", ["baseline", "small", "no_wins"])
def test_every_accessor_chart_renders_without_warnings(
    which: str, request: pytest.FixtureRequest
) -> None:
    results = request.getfixturevalue(which)
    with no_warnings():
        for name in ACCESSOR_CHARTS:
            ax = getattr(results.plot, name)()
            assert isinstance(ax, plt.Axes), name
            ax.figure.canvas.draw()
            plt.close(ax.figure)
        ax = results.plot.teams(measure="queue_length")
        ax.figure.canvas.draw()
        plt.close(ax.figure)


def test_charts_draw_on_a_given_axes(small: fs.Results) -> None:
    figure, axes = plt.subplots(2, 3)
    with no_warnings():
        for ax, name in zip(axes.flat, ACCESSOR_CHARTS, strict=True):
            assert getattr(small.plot, name)(ax=ax) is ax
        figure.canvas.draw()
    plt.close(figure)


def test_zero_won_deals_is_an_edge_case_that_draws(no_wins: fs.Results) -> None:
    assert no_wins.summary().set_index("metric").at["won_deals", "mean"] == 0
    ax = no_wins.plot.pipeline()
    assert all(p.get_height() == 0 for gid, p in _gids(ax, "won:").items())
    plt.close(ax.figure)


# ------------------------------------------------------------- data matches results


def test_funnel_bars_equal_stage_counts(small: fs.Results) -> None:
    ax = small.plot.funnel()
    expected = _mean_stage_counts(small)
    bars = _gids(ax, "stage:")
    assert set(bars) == {f"stage:{stage}" for stage in expected.index}
    for stage, mean in expected.items():
        assert bars[f"stage:{stage}"].get_width() == pytest.approx(mean)
    plt.close(ax.figure)


def test_waterfall_bars_equal_the_leakage_table(small: fs.Results) -> None:
    ax = small.plot.waterfall()
    table = small.leakage_summary()
    lost = table[(table["measure"] == "horizon_revenue_lost") & (table["mean"] > 0)]
    bars = _gids(ax, "loss:")
    assert len(bars) == len(lost) > 0
    for row in lost.itertuples():
        assert bars[f"loss:{row.seam}:{row.reason}"].get_height() == pytest.approx(row.mean)
    realised = small.summary().set_index("metric").at["horizon_revenue", "mean"]
    potential = _gids(ax, "potential")["potential"].get_height()
    assert _gids(ax, "realised")["realised"].get_height() == pytest.approx(realised)
    assert potential == pytest.approx(realised + lost["mean"].sum())
    plt.close(ax.figure)


def test_a_seam_that_loses_nothing_gets_no_bar(small: fs.Results) -> None:
    """240 days of 12-month terms: no renewal falls due, so seam 4 loses nothing."""
    table = small.leakage_summary()
    assert table.loc[table["seam"] == 4, "mean"].eq(0).all()
    with no_warnings():
        ax = small.plot.waterfall()
    assert not [gid for gid in _gids(ax, "loss:") if gid.startswith("loss:4:")]
    plt.close(ax.figure)


def test_flow_trunk_equals_stage_counts_and_bands_every_lead(small: fs.Results) -> None:
    ax = small.plot.flow()
    expected = _mean_stage_counts(small)
    trunk = _gids(ax, "stage:")
    for stage, mean in expected.items():
        assert trunk[f"stage:{stage}"].get_height() == pytest.approx(mean)
    table = flow_table(_ledgers(small))
    assert table["leads"].sum() == pytest.approx(expected["leads"])
    outcomes = _gids(ax, "outcome:")
    for outcome, leads in table.groupby("outcome")["leads"].sum().items():
        assert outcomes[f"outcome:{outcome}"].get_height() == pytest.approx(leads)
    plt.close(ax.figure)


def test_first_response_ecdf_is_the_response_times(small: fs.Results) -> None:
    ax = small.plot.first_response()
    line = _gids(ax, "ecdf")["ecdf"]
    answered = sum(
        int(first_response_table(ledger, small.scenario)["n"].iloc[0]) for ledger in _ledgers(small)
    )
    assert len(line.get_xdata()) == answered
    assert line.get_ydata()[-1] == pytest.approx(1.0)
    plt.close(ax.figure)


def test_first_response_draws_the_sla_line() -> None:
    with no_warnings():
        ax = charts.first_response(np.array([0.0, 0.5, 2.0, 30.0]), sla_hours=4)
    assert _gids(ax, "sla")["sla"].get_xdata()[0] == pytest.approx(4)
    plt.close(ax.figure)


def test_team_lines_are_mean_weekly_occupancy(small: fs.Results) -> None:
    ax = small.plot.teams()
    levels = pd.concat(
        [
            ledger.team_levels.drop(columns="replication", errors="ignore")
            for ledger in _ledgers(small)
        ]
    )
    for team, line in ((g.removeprefix("team:"), ln) for g, ln in _gids(ax, "team:").items()):
        expected = levels[levels["team"] == team].groupby("week")["occupancy"].mean()
        np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())
    plt.close(ax.figure)


def test_pipeline_bars_are_mean_open_pipeline(small: fs.Results) -> None:
    ax = small.plot.pipeline()
    table = pd.concat([pipeline(ledger) for ledger in _ledgers(small)])
    expected = table.groupby("quarter")["open_pipeline"].mean()
    bars = _gids(ax, "open:")
    for quarter, mean in expected.items():
        assert bars[f"open:{quarter}"].get_height() == pytest.approx(mean)
    plt.close(ax.figure)


def test_forest_points_are_the_paired_differences(comparison: fs.Comparison) -> None:
    with no_warnings():
        ax = comparison.plot()
    summary = comparison.summary()
    money = summary[summary["unit"] == comparison.baseline.currency]
    points = _gids(ax, "difference:")
    assert len(points) == len(money)
    for row in money.itertuples():
        assert points[f"difference:{row.metric}"].get_xdata()[0] == pytest.approx(row.difference)
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="share a unit"):
        charts.forest(summary, "USD", metrics=["won_deals", "horizon_revenue"])


def test_sweep_and_tornado_draw_their_tables(small_path: Path) -> None:
    base = fs.load_scenario(small_path)
    table = fs.sweep(base, {"seam1.response_delay.median": [1, 3, 12]}, replications=2, seed=1)
    sens = fs.sensitivity(
        base, ["teams.sdr.headcount", "seam1.decay.half_life_hours"], replications=2, seed=1
    )
    with no_warnings():
        ax = charts.sweep(table, "seam1.response_delay.median", currency=base.currency)
        line = _gids(ax, "curve:")["curve:None"]
        grid = table[~table["is_base"]].sort_values("seam1.response_delay.median")
        np.testing.assert_allclose(line.get_ydata(), grid["net_gain"].to_numpy())
        ax.figure.canvas.draw()
        tornado = charts.tornado(sens, base.currency)
        tornado.figure.canvas.draw()
    for row in sens.itertuples():
        assert _gids(tornado, f"high:{row.parameter}")[f"high:{row.parameter}"].get_width() == (
            pytest.approx(row.high_effect)
        )
    plt.close("all")


def test_seam_colours_are_shared_by_every_chart(small: fs.Results) -> None:
    ax = small.plot.waterfall()
    for gid, bar in _gids(ax, "loss:").items():
        seam = int(gid.split(":")[1])
        assert matplotlib.colors.to_hex(bar.get_facecolor()) == charts.SEAM_COLORS[seam].lower()
    plt.close(ax.figure)
    ax = small.plot.flow()
    for gid, band in _gids(ax, "outcome:lost at seam").items():
        seam = int(gid[-1])
        assert matplotlib.colors.to_hex(band.get_facecolor()) == charts.SEAM_COLORS[seam].lower()
    plt.close(ax.figure)


# --------------------------------------------------------------------------- report


def _assert_self_contained(html: str) -> None:
    assert not re.search(r"https?://", html)
    assert "<link" not in html.lower()
    assert "<script" not in html.lower()
    for source in re.findall(r'src="([^"]*)"', html):
        assert source.startswith("data:image/png;base64,")
    assert "url(" not in html
    assert html.count("<html") == 1


def test_report_is_one_self_contained_file(small: fs.Results, comparison: fs.Comparison) -> None:
    with no_warnings():
        html = report_from_results(small, {"faster first response": comparison})
    _assert_self_contained(html)
    assert html.count("<img") >= 7
    assert "faster first response" in html


def test_summary_numbers_equal_the_results(small: fs.Results) -> None:
    data = ReportData.from_results(small)
    facts = summary_facts(data)
    summary = small.summary().set_index("metric")
    for metric, (mean, low, high) in facts.headline.items():
        assert mean == pytest.approx(summary.at[metric, "mean"])
        assert low == pytest.approx(summary.at[metric, "ci_low"])
        assert high == pytest.approx(summary.at[metric, "ci_high"])
    # The worst seam is the one whose hand-offs lose the most revenue within the horizon
    # (bounded by the potential), not ARR a year; scored-out leads (an assumption-driven
    # loss) are stated apart and never make a seam the biggest leak.
    measure = "horizon_revenue_lost"
    leakage = small.leakage()
    handoff = leakage[leakage["reason"] != "scored_out"]
    per_rep = handoff.groupby(["replication", "seam"])[measure].sum().unstack()
    worst = int(per_rep.mean().idxmax())
    assert facts.worst_seam == worst
    assert facts.worst_seam_revenue[0] == pytest.approx(per_rep[worst].mean())
    table = seam_leakage(handoff)
    row = table[(table["seam"] == worst) & (table["measure"] == measure)].iloc[0]
    assert facts.worst_seam_revenue[1:] == pytest.approx((row["ci_low"], row["ci_high"]))
    lost = small.leakage_summary().query(
        "measure == @measure and seam == @worst and reason != 'scored_out'"
    )
    assert facts.worst_reason == lost.loc[lost["mean"].idxmax(), "reason"]
    scored_out = leakage[leakage["reason"] == "scored_out"].groupby("replication")[measure].sum()
    assert facts.assumption_revenue == pytest.approx(scored_out.mean())
    everything = leakage.groupby("replication")[measure].sum().mean()
    realised = summary.at["horizon_revenue", "mean"]
    assert facts.potential_revenue == pytest.approx(realised + everything)
    html = render_report(data)
    revenue = summary.loc["horizon_revenue"]
    text = fs.report.formatting.number(
        revenue["mean"], small.scenario.currency, small.scenario.currency
    )
    assert f"<b>{text} <span" in html


def test_best_fix_and_whatif_come_from_their_tables(
    small: fs.Results, comparison: fs.Comparison
) -> None:
    leaks = pd.DataFrame(
        {
            "rank": [1, 2],
            "seam": [2, 1],
            "seam_name": ["b", "a"],
            **{
                f"{name}{suffix}": [v, v / 2]
                for name in (
                    "counterfactual_horizon_revenue",
                    "counterfactual_arr_at_horizon",
                    "attributed_horizon_revenue_lost",
                )
                for suffix, v in (("", 100.0), ("_ci_low", 50.0), ("_ci_high", 150.0))
            },
        }
    )
    facts = summary_facts(ReportData.from_results(small), {"what-if": comparison}, leaks)
    assert facts.best_fix_seam == 2
    assert facts.best_fix_value == (100.0, 50.0, 150.0)
    net = comparison.summary().set_index("metric").loc["net_value"]
    assert facts.best_whatif_net == pytest.approx(
        (net["difference"], net["ci_low"], net["ci_high"])
    )


def test_single_replication_says_it_has_no_intervals(small_path: Path) -> None:
    results = fs.run(fs.load_scenario(small_path), replications=1, seed=2)
    html = report_from_results(results)
    assert "single replication" in html
    assert 'class="ci"' not in html


def test_report_from_directory_matches_memory(small: fs.Results, small_dir: Path) -> None:
    folder = small_dir
    from_disk = summary_facts(ReportData.from_directory(folder))
    in_memory = summary_facts(ReportData.from_results(small))
    for metric, values in in_memory.headline.items():
        assert from_disk.headline[metric] == pytest.approx(values)
    assert from_disk.worst_seam == in_memory.worst_seam
    assert from_disk.worst_seam_revenue == pytest.approx(in_memory.worst_seam_revenue)
    assert from_disk.total_revenue_lost == pytest.approx(in_memory.total_revenue_lost)
    disk = ReportData.from_directory(folder)
    pd.testing.assert_frame_equal(flow_table(disk.ledgers), flow_table(_ledgers(small)))
    html = report_from_directory(folder)
    _assert_self_contained(html)


def test_comparison_report(comparison: fs.Comparison) -> None:
    html = report_from_comparison(comparison, "faster response")
    _assert_self_contained(html)
    assert "faster response" in html
    assert "need the run's ledgers" in html


def test_report_renders_in_headless_chromium(small: fs.Results, tmp_path: Path) -> None:
    binary = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
    )
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian package 'chromium')")
    page = write_report(report_from_results(small), tmp_path / "report.html")
    shot = tmp_path / "shot.png"
    subprocess.run(
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1280,2000",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = imread(shot)[..., :3]
    assert pixels.std() > 0.05, "screenshot is blank"
    dark = (pixels.mean(axis=2) < 0.5).mean()
    assert 0.02 < dark < 0.9, "screenshot is mostly one colour"


# ------------------------------------------------------------------------------ CLI


def test_cli_report_writes_once_and_refuses_overwrite(small_dir: Path, tmp_path: Path) -> None:
    folder = small_dir
    runner = CliRunner()
    target = tmp_path / "out" / "report.html"
    result = runner.invoke(main, ["report", str(folder), "-o", str(target)])
    assert result.exit_code == 0, result.output
    _assert_self_contained(target.read_text(encoding="utf-8"))
    before = target.read_bytes()
    again = runner.invoke(main, ["report", str(folder), "-o", str(target)])
    assert again.exit_code == 2
    assert "--force" in again.output
    assert target.read_bytes() == before
    forced = runner.invoke(main, ["report", str(folder), "-o", str(target), "--force"])
    assert forced.exit_code == 0, forced.output
    assert not [p for p in target.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("kind", ["missing", "not_results", "broken_json"])
def test_cli_report_bad_input_is_one_line_exit_2(kind: str, tmp_path: Path) -> None:
    folder = tmp_path / "dir"
    if kind != "missing":
        folder.mkdir()
    if kind == "broken_json":
        (folder / "summary.json").write_text("{not json")
        (folder / "scenario.yaml").write_text(SMALL)
    result = CliRunner().invoke(main, ["report", str(folder), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), result.output
    assert not (tmp_path / "r.html").exists()


def test_cli_run_and_compare_write_reports(small_path: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    report = tmp_path / "run.html"
    result = runner.invoke(
        main,
        [
            "run",
            str(small_path),
            "--reps",
            "2",
            "--out",
            str(tmp_path / "r"),
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    _assert_self_contained(report.read_text(encoding="utf-8"))
    refused = runner.invoke(
        main,
        ["run", str(small_path), "--out", str(tmp_path / "r2"), "--report", str(report)],
    )
    assert refused.exit_code == 2
    assert not (tmp_path / "r2").exists()
    compared = tmp_path / "compare.html"
    result = runner.invoke(
        main,
        [
            "compare",
            str(small_path),
            "--set",
            "seam1.response_delay=1",
            "--reps",
            "2",
            "--report",
            str(compared),
        ],
    )
    assert result.exit_code == 0, result.output
    html = compared.read_text(encoding="utf-8")
    _assert_self_contained(html)
    assert "seam1.response_delay=1" in html
