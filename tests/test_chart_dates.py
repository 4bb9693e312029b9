"""Charts over time read on the calendar (the UX review: "week since start" and "Q1..Q8"
mean nothing to a client): team load by the week's date, the pipeline by the date each
quarter starts, from the scenario's start_date; the charts called without one keep
numbering weeks and quarters from the start."""

from __future__ import annotations

import datetime as dt

import matplotlib
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pytest

import funnelsim as fs
from funnelsim.report import charts

START = dt.date(2031, 3, 2)


@pytest.fixture(scope="module")
def results() -> fs.Results:
    scenario = fs.load_scenario(
        "baseline", overrides=[f"start_date={START.isoformat()}", "horizon_days=200"]
    )
    return fs.run(scenario, replications=2, seed=3, workers=1)


def _labels(ax: matplotlib.axes.Axes) -> list[str]:
    ax.figure.canvas.draw()
    return [t.get_text() for t in ax.get_xticklabels() if t.get_text()]


@pytest.mark.parametrize("measure", ["occupancy", "queue_length"])
def test_team_load_is_on_the_calendar(results: fs.Results, measure: str) -> None:
    ax = results.plot.teams(measure=measure)
    assert "since start" not in ax.get_xlabel()
    line = next(line for line in ax.get_lines() if (line.get_gid() or "").startswith("team:"))
    first = mdates.num2date(line.get_xdata(orig=False)[0]).date()
    assert first == START
    labels = _labels(ax)
    assert labels and all("2031" in label for label in labels), labels
    plt.close(ax.figure)


def test_pipeline_quarters_are_named_by_their_start_date(results: fs.Results) -> None:
    ax = results.plot.pipeline()
    assert "since start" not in ax.get_xlabel()
    labels = _labels(ax)
    assert labels[0] == "2 Mar\n2031", labels
    assert not any(label.startswith("Q") for label in labels)
    plt.close(ax.figure)


def test_without_a_start_date_the_charts_number_from_the_start(results: fs.Results) -> None:
    ax = charts.teams(results.team_levels)
    assert ax.get_xlabel() == "week since start"
    plt.close(ax.figure)
