"""Before/after charts of one option against the base: what its change acts on.

Each takes the small per-replication views a decision keeps
(:mod:`funnelsim.analysis.views`) for the base and the option, pooled or averaged over
replications, and draws the base in grey and the option in the colour of the seam it
acts on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import PercentFormatter

from funnelsim.experiment.stats import CONFIDENCE, t_interval
from funnelsim.report.charts.style import (
    NEUTRAL_COLORS,
    SEAM_COLORS,
    TEAM_FALLBACK_COLORS,
    new_axes,
)
from funnelsim.report.formatting import number

ROLLING_WEEKS = 4
HOUR_TICKS = ((1 / 60, "1 min"), (0.25, "15 min"), (1, "1 h"), (4, "4 h"), (24, "1 day"))
HOUR_TICKS += ((72, "3 days"), (168, "1 week"), (672, "4 weeks"))


def response_overlay(
    base: Sequence[np.ndarray],
    option: Sequence[np.ndarray],
    names: tuple[str, str],
    sla_hours: tuple[float | None, float | None] = (None, None),
    ax: Axes | None = None,
) -> Axes:
    """Speed to lead before and after: the share of leads answered within a given time.

    ``base`` and ``option`` are first-response hours per replication (pooled here).
    """
    ax = new_axes(ax)
    floor = 1.0 / 60.0
    high = 2.0
    for values, name, color, style in (
        (base, names[0], NEUTRAL_COLORS["baseline"], "--"),
        (option, names[1], SEAM_COLORS[1], "-"),
    ):
        pooled = _pooled(values)
        if len(pooled):
            _ecdf(ax, np.maximum(pooled, floor), color, style, _with_median(name, pooled, "hours"))
            high = max(high, float(np.quantile(pooled, 0.99)))
    for sla, style in zip(sla_hours, ("--", "-"), strict=True):
        if sla is not None and np.isfinite(sla):
            ax.axvline(max(sla, floor), color=NEUTRAL_COLORS["text"], lw=1, ls=style)
            ax.annotate(
                f"SLA {number(float(sla), 'hours', '')}",
                (max(sla, floor), 0.03),
                xytext=(3, 0),
                textcoords="offset points",
                fontsize=8,
            )
    ax.set_xscale("log")
    keep = [(t, n) for t, n in HOUR_TICKS if t <= high * 1.5]
    ax.set_xlim(floor * 0.8, high * 1.5)
    ax.set_xticks([t for t, _ in keep], [n for _, n in keep])
    ax.minorticks_off()
    _share_axis(ax, "share of answered leads")
    ax.set_xlabel("time from MQL to first response (wall-clock, log scale)")
    ax.set_title("Speed to lead, before and after", fontsize=10)
    return ax


def quote_to_cash_overlay(
    base: Sequence[np.ndarray],
    option: Sequence[np.ndarray],
    names: tuple[str, str],
    ax: Axes | None = None,
) -> Axes:
    """Quote-to-cash before and after: share of booked deals invoiced within a given time."""
    ax = new_axes(ax)
    high = 1.0
    for values, name, color, style in (
        (base, names[0], NEUTRAL_COLORS["baseline"], "--"),
        (option, names[1], SEAM_COLORS[2], "-"),
    ):
        pooled = _pooled(values)
        if len(pooled):
            _ecdf(ax, pooled, color, style, _with_median(name, pooled, "days"))
            high = max(high, float(np.quantile(pooled, 0.99)))
    ax.set_xlim(0, high * 1.05)
    _share_axis(ax, "share of booked deals invoiced")
    ax.set_xlabel("days from closed-won to the first invoice")
    ax.set_title("Quote-to-cash, before and after", fontsize=10)
    return ax


def retention_overlay(
    base: Sequence[np.ndarray],
    option: Sequence[np.ndarray],
    names: tuple[str, str],
    confidence: float = CONFIDENCE,
    ax: Axes | None = None,
) -> Axes:
    """Customers still active by months since go-live, before and after, with bands."""
    ax = new_axes(ax)
    for curves, name, color, style in (
        (base, names[0], NEUTRAL_COLORS["baseline"], "--"),
        (option, names[1], SEAM_COLORS[3], "-"),
    ):
        table = _mean_curve(curves, confidence)
        if table.empty:
            continue
        ax.plot(table.index, table["mean"], color=color, ls=style, lw=1.8, label=name)
        if np.isfinite(table["ci_low"]).any():
            ax.fill_between(
                table.index, table["ci_low"], table["ci_high"], color=color, alpha=0.15, lw=0
            )
    _share_axis(ax, "customers still active")
    ax.set_xlabel("months since go-live (first invoice)")
    ax.set_title("Retention, before and after (seams 3 and 4)", fontsize=10)
    return ax


def team_load_overlay(
    base: Sequence[pd.DataFrame],
    option: Sequence[pd.DataFrame],
    teams: Sequence[str],
    start_date: dt.date,
    labels: Mapping[str, str] | None = None,
    colors: Mapping[str, str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Occupancy of the teams a change acts on: the base dashed, the option solid.

    ``base`` and ``option`` are weekly team levels per replication (team, week,
    occupancy); lines are means over replications and a rolling four weeks, by date.
    """
    ax = new_axes(ax)
    labels = dict(labels or {})
    colors = dict(colors or {})
    spare = iter((*TEAM_FALLBACK_COLORS, SEAM_COLORS[4]))
    start = np.datetime64(start_date)
    for team in teams:
        color = colors.get(team) or next(spare, "#7f7f7f")
        for frames, style, which in ((base, "--", "before"), (option, "-", "after")):
            weekly = _weekly_mean(frames, team)
            if weekly.empty:
                continue
            dates = start + (weekly.index.to_numpy() * 7).astype("timedelta64[D]")
            ax.plot(
                dates,
                weekly.to_numpy(),
                color=color,
                ls=style,
                lw=1.5 if which == "after" else 1.1,
                label=f"{labels.get(team, team)} ({which})",
            )
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
    ax.set_ylim(0, 1.1)
    _share_axis(ax, "slots busy (4-week mean)", legend_columns=2)
    ax.set_title("Team load, before and after", fontsize=10)
    return ax


def _pooled(values: Sequence[np.ndarray]) -> np.ndarray:
    arrays = [np.asarray(v, dtype=float) for v in values]
    pooled = np.concatenate(arrays) if arrays else np.zeros(0)
    return np.sort(pooled[np.isfinite(pooled)])


def _ecdf(ax: Axes, values: np.ndarray, color: str, style: str, label: str) -> None:
    share = np.arange(1, len(values) + 1) / len(values)
    ax.step(values, share, where="post", color=color, ls=style, lw=1.8, label=label)


def _with_median(name: str, values: np.ndarray, unit: str) -> str:
    return f"{name} (median {number(float(np.median(values)), unit, '')})"


def _share_axis(ax: Axes, label: str, legend_columns: int = 1) -> None:
    """A 0-100% axis, with the legend under the plot where it hides no line."""
    ax.set_ylim(0, max(ax.get_ylim()[1], 1.02))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(label)
    ax.grid(color=NEUTRAL_COLORS["grid"])
    if ax.get_legend_handles_labels()[0]:
        ax.legend(
            fontsize=8,
            frameon=False,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.2),
            ncols=legend_columns,
        )


def _mean_curve(curves: Sequence[np.ndarray], confidence: float) -> pd.DataFrame:
    """Mean and interval per month over replications of equal-length curves."""
    if not len(curves):
        return pd.DataFrame(columns=["mean", "ci_low", "ci_high"])
    stacked = np.vstack([np.asarray(c, dtype=float) for c in curves])
    rows = [t_interval(stacked[:, m], confidence) for m in range(stacked.shape[1])]
    return pd.DataFrame(rows, columns=["mean", "ci_low", "ci_high"]).dropna(subset=["mean"])


def _weekly_mean(frames: Sequence[pd.DataFrame], team: str) -> pd.Series:
    """A team's weekly occupancy, mean over replications (empty when it has none)."""
    mine = [frame[frame["team"] == team] for frame in frames]
    mine = [frame for frame in mine if len(frame)]
    if not mine:
        return pd.Series(dtype=float)
    weekly = pd.concat(mine).groupby("week")["occupancy"].mean()
    return weekly.rolling(ROLLING_WEEKS, min_periods=1).mean()
