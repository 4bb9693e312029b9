"""Operations charts: speed to lead, team load and queues, and the pipeline over time."""

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
    error_bars,
    error_style,
    money_formatter,
    new_axes,
)
from funnelsim.report.formatting import number


def first_response(
    hours: pd.DataFrame | Sequence[float] | np.ndarray,
    sla_hours: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Speed to lead: the ECDF of hours from MQL to first response, with the SLA line.

    ``hours`` is a ``hours`` column (e.g. :func:`funnelsim.report.data.response_hours`) or
    an array, pooled over replications. The x axis is logarithmic (a minute to weeks).
    """
    ax = new_axes(ax)
    values = np.asarray(hours["hours"] if isinstance(hours, pd.DataFrame) else hours, float)
    values = np.sort(values[np.isfinite(values)])
    floor = 1.0 / 60.0
    ax.set_xscale("log")
    ticks = [1 / 60, 0.25, 1, 4, 24, 72, 168, 672]
    names = ["1 min", "15 min", "1 h", "4 h", "1 day", "3 days", "1 week", "4 weeks"]
    if len(values):
        shown = np.maximum(values, floor)
        share = np.arange(1, len(values) + 1) / len(values)
        (line,) = ax.step(shown, share, where="post", color=SEAM_COLORS[1], lw=1.8)
        line.set_gid("ecdf")
        median, p90 = np.quantile(values, [0.5, 0.9])
        for q, value in (("median", median), ("90th percentile", p90)):
            ax.axvline(max(value, floor), color=NEUTRAL_COLORS["muted"], lw=0.8, ls=":")
            ax.annotate(
                f"{q}: {number(value, 'hours', '')}",
                (max(value, floor), 0.02 if q == "median" else 0.1),
                xytext=(3, 0),
                textcoords="offset points",
                fontsize=8,
                color=NEUTRAL_COLORS["muted"],
            )
        high = max(float(shown[-1]), 2.0)
    else:
        ax.text(0.5, 0.5, "no lead was answered", transform=ax.transAxes, ha="center")
        high = 672.0
    if sla_hours is not None and np.isfinite(sla_hours):
        sla_line = ax.axvline(max(float(sla_hours), floor), color=NEUTRAL_COLORS["text"], lw=1.5)
        sla_line.set_gid("sla")
        within = float((values <= sla_hours).mean()) if len(values) else np.nan
        text = f"SLA {number(float(sla_hours), 'hours', '')}"
        if np.isfinite(within):
            text += f": {100 * within:.0f}% answered within it"
        ax.annotate(
            text,
            (max(float(sla_hours), floor), 0.95),
            xytext=(4, 0),
            textcoords="offset points",
            fontsize=8.5,
            fontweight="bold",
            color=NEUTRAL_COLORS["text"],
        )
        high = max(high, float(sla_hours))
    else:
        ax.text(
            0.01,
            0.95,
            "no response SLA set",
            transform=ax.transAxes,
            fontsize=8.5,
            color=NEUTRAL_COLORS["muted"],
        )
    keep = [(t, n) for t, n in zip(ticks, names, strict=True) if t <= high * 1.5]
    ax.set_xlim(floor * 0.8, high * 1.5)
    ax.set_xticks([t for t, _ in keep], [n for _, n in keep])
    ax.minorticks_off()
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel("time from MQL to first response (wall-clock, log scale)")
    ax.set_ylabel("share of answered leads")
    ax.grid(color=NEUTRAL_COLORS["grid"])
    ax.set_title("Speed to lead: share of leads answered within a given time")
    return ax


def teams(
    levels: pd.DataFrame,
    measure: str = "occupancy",
    colors: Mapping[str, str] | None = None,
    confidence: float = CONFIDENCE,
    ax: Axes | None = None,
    labels: Mapping[str, str] | None = None,
    start_date: dt.date | None = None,
) -> Axes:
    """Weekly team occupancy (share of slots busy) or mean queue length over time.

    ``levels`` is ``Results.team_levels`` (team, week, occupancy, queue_length, and a
    replication column): a line per team, the mean over replications, with its interval
    band when there are two or more. ``labels`` are the teams' display names. With
    ``start_date`` the weeks are placed on the calendar, else numbered from the start.
    """
    if measure not in {"occupancy", "queue_length"}:
        raise ValueError(f"measure: expected 'occupancy' or 'queue_length', got {measure!r}")
    ax = new_axes(ax)
    frame = levels if "replication" in levels else levels.assign(replication=0)
    names = list(dict.fromkeys(frame["team"]))
    colors = dict(colors or {})
    spare = iter(TEAM_FALLBACK_COLORS + tuple(SEAM_COLORS.values()))
    for team in names:
        mine = frame[frame["team"] == team]
        table = _mean_by(mine, "week", measure, confidence)
        color = colors.get(team) or next(spare, "#7f7f7f")
        name = (labels or {}).get(team, team)
        x = _week_axis(table["week"].to_numpy(), start_date)
        (line,) = ax.plot(x, table["mean"], color=color, lw=1.6, label=name)
        line.set_gid(f"team:{team}")
        if np.isfinite(table["ci_low"]).any():
            ceiling = 1.0 if measure == "occupancy" else np.inf
            ax.fill_between(
                x,
                table["ci_low"].clip(0.0, ceiling),
                table["ci_high"].clip(0.0, ceiling),
                color=color,
                alpha=0.1,
                lw=0,
            )
    if start_date is None:
        ax.set_xlabel("week since start")
    else:
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        ax.set_xlabel("week starting")
    if measure == "occupancy":
        ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_ylabel("slots busy (wall-clock share)")
        ax.set_ylim(0, 1.2)
        ax.set_title("Team occupancy: share of capacity busy, week by week")
    else:
        ax.set_ylabel("items waiting (weekly mean)")
        ax.set_ylim(0, max(float(frame[measure].max()) if len(frame) else 0.0, 1.0) * 1.25)
        ax.set_title("Queues: work waiting for each team, week by week")
    ax.grid(color=NEUTRAL_COLORS["grid"])
    if names:
        # As many columns as fit the labels (long display names get fewer).
        longest = max(len((labels or {}).get(team, team)) for team in names)
        columns = max(1, min(len(names), 5, 60 // max(longest, 1)))
        ax.legend(fontsize=8, frameon=False, ncols=columns, loc="upper left")
    return ax


def _week_axis(weeks: np.ndarray, start_date: dt.date | None) -> np.ndarray:
    """Week numbers, or with a start date each week's first day on the calendar."""
    if start_date is None:
        return weeks
    return np.datetime64(start_date, "D") + (weeks.astype(np.int64) * 7).astype("timedelta64[D]")


def _mean_by(frame: pd.DataFrame, key: str, value: str, confidence: float) -> pd.DataFrame:
    """Mean and interval of ``value`` over replications for each ``key``."""
    rows = []
    for k, group in frame.groupby(key, sort=True):
        values = group[value].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if len(values) == 0:
            rows.append((k, np.nan, np.nan, np.nan))
            continue
        mean, low, high = t_interval(values, confidence)
        rows.append((k, mean, low, high))
    return pd.DataFrame(rows, columns=[key, "mean", "ci_low", "ci_high"])


def pipeline(
    table: pd.DataFrame,
    currency: str,
    confidence: float = CONFIDENCE,
    ax: Axes | None = None,
    start_date: dt.date | None = None,
) -> Axes:
    """Pipeline over time: open pipeline at each quarter's start and value won in it.

    ``table`` is ``analysis.revenue.pipeline`` output (with a replication column for
    several runs, see :func:`funnelsim.report.data.pipeline_table`): bars are the means
    over replications with interval whiskers. With ``start_date`` each quarter is named
    by the date it starts, else numbered from the start (Q1, Q2, ...).
    """
    ax = new_axes(ax)
    frame = table if "replication" in table else table.assign(replication=0)
    open_ = _mean_by(frame, "quarter", "open_pipeline", confidence)
    won = _mean_by(frame, "quarter", "won_value", confidence)
    x = open_["quarter"].to_numpy(dtype=float)
    width = 0.38
    for offset, data, name, color, label in (
        (-width / 2, open_, "open", NEUTRAL_COLORS["potential"], "open pipeline at quarter start"),
        (width / 2, won, "won", NEUTRAL_COLORS["realised"], "deal value won in the quarter"),
    ):
        means = np.nan_to_num(data["mean"].to_numpy(dtype=float))
        bars = ax.bar(
            x + offset,
            means,
            width,
            color=color,
            label=label,
            yerr=error_bars(means, data["ci_low"].to_numpy(), data["ci_high"].to_numpy()),
            error_kw=error_style(),
        )
        for bar, quarter in zip(bars, data["quarter"], strict=True):
            bar.set_gid(f"{name}:{int(quarter)}")
    if start_date is None:
        ax.set_xticks(x, [f"Q{int(q)}" for q in x])
        ax.set_xlabel("quarter since start")
    else:
        days = frame.groupby("quarter", sort=True)["start_day"].first().reindex(open_["quarter"])
        starts = [start_date + dt.timedelta(days=float(d)) for d in days.to_numpy()]
        ax.set_xticks(x, [f"{d.day} {d:%b}\n{d:%Y}" for d in starts])
        ax.set_xlabel("quarter starting")
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_ylabel(f"deal value ({currency})")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_title("Pipeline: open opportunities at each quarter's start and value won")
    return ax
