"""Experiment charts: paired differences (forest), sweep response curves and tornadoes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from funnelsim.report.charts.parameters import parameter_label
from funnelsim.report.charts.style import (
    NEUTRAL_COLORS,
    SEAM_COLORS,
    TEAM_FALLBACK_COLORS,
    error_bars,
    error_style,
    has_interval,
    money_formatter,
    new_axes,
    style_axes,
)
from funnelsim.report.formatting import number
from funnelsim.report.labels import DisplayNames, judgement, metric_label

# The decision metrics a forest shows by default: money totals, money per deal, counts.
FOREST_METRICS: tuple[str, ...] = (
    "horizon_revenue",
    "arr_at_horizon",
    "total_cost",
    "net_value",
    "cac",
    "won_deals",
    "active_customers",
)
# Money per deal or customer: a panel of its own, never on a revenue axis in millions.
PER_DEAL_METRICS = frozenset({"cac"})
JUDGEMENT_COLORS = {
    "better": NEUTRAL_COLORS["positive"],
    "worse": NEUTRAL_COLORS["negative"],
    "unclear": NEUTRAL_COLORS["muted"],
}
FOREST_NOTE = "green: better, red: worse, grey: interval spans zero or not judged"


def forest(
    summary: pd.DataFrame,
    currency: str,
    metrics: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot of paired differences (variant − baseline) with their intervals.

    ``summary`` is ``Comparison.summary()`` (metric, unit, difference, ci_low, ci_high).
    All rows shown must share a unit; by default the money metrics. A point is green when
    the change is better for that metric (more revenue, less cost or CAC), red when worse,
    grey when its interval spans zero; each value is written in a column to the right.
    """
    ax = new_axes(ax)
    if metrics is None:
        table = summary[summary["unit"] == currency]
    else:
        table = summary.set_index("metric").loc[list(metrics)].reset_index()
    units = set(table["unit"])
    if len(units) > 1:
        raise ValueError(f"forest: metrics must share a unit, got {sorted(units)}")
    unit = units.pop() if units else currency
    _forest_rows(ax, table, unit, currency)
    ax.set_xlabel(f"paired difference, variant − baseline ({unit})")
    ax.set_title(f"What the change is worth: paired differences ({FOREST_NOTE})", fontsize=9)
    return ax


def forest_panels(
    summary: pd.DataFrame,
    currency: str,
    metrics: Sequence[str] | None = None,
    figure: Figure | None = None,
) -> Figure:
    """The forest with one panel per unit (money totals, money per deal, counts, ...).

    ``metrics`` default to :data:`FOREST_METRICS` (those present); each panel has its own
    axis, so a CAC change is never read off an axis in millions.
    """
    groups = forest_groups(summary, currency, metrics)
    rows = sum(len(table) for _, _, table in groups)
    if figure is None:
        figure = Figure(figsize=(9.0, 0.9 + 0.32 * rows + 0.55 * len(groups)), layout="constrained")
    if not groups:
        return figure
    axes = figure.subplots(
        len(groups), 1, squeeze=False, height_ratios=[len(t) + 1.2 for _, _, t in groups]
    )[:, 0]
    for ax, (title, unit, table) in zip(axes, groups, strict=True):
        style_axes(ax)
        _forest_rows(ax, table, unit, currency)
        ax.set_title(title, fontsize=9, loc="left")
    figure.suptitle(f"Paired differences, option − baseline ({FOREST_NOTE})", fontsize=9.5)
    return figure


def forest_groups(
    summary: pd.DataFrame, currency: str, metrics: Sequence[str] | None = None
) -> list[tuple[str, str, pd.DataFrame]]:
    """(panel title, unit, rows) per panel: rows sharing a unit and a scale; metrics the
    change left alone in every replication are left out."""
    wanted = list(metrics) if metrics is not None else list(FOREST_METRICS)
    table = summary[summary["metric"].isin(wanted)].copy()
    bounds = table[["difference", "ci_low", "ci_high"]].to_numpy(dtype=float)
    moved = (np.isfinite(bounds) & (bounds != 0)).any(axis=1)
    table = table[moved]
    table["_order"] = table["metric"].map({m: i for i, m in enumerate(wanted)})
    table = table.sort_values("_order").drop(columns="_order")
    panel = np.where(table["metric"].isin(PER_DEAL_METRICS), "per deal", table["unit"])
    groups = []
    for key in dict.fromkeys(panel):
        rows = table[panel == key].reset_index(drop=True)
        unit = str(rows["unit"].iloc[0])
        if key == "per deal":
            title = f"{currency} per won deal"
        elif unit == currency:
            title = f"{currency} over the horizon"
        else:
            title = unit
        groups.append((title, unit, rows))
    return groups


def _forest_rows(ax: Axes, table: pd.DataFrame, unit: str, currency: str) -> None:
    """Points, intervals and a right-hand column of values, one row per metric."""
    y = np.arange(len(table))[::-1]
    diff = table["difference"].to_numpy(dtype=float)
    low = table["ci_low"].to_numpy(dtype=float)
    high = table["ci_high"].to_numpy(dtype=float)
    for yi, d, lo, hi, metric in zip(y, diff, low, high, table["metric"], strict=True):
        color = JUDGEMENT_COLORS[judgement(metric, lo, hi)]
        if has_interval(lo, hi):
            ax.plot([lo, hi], [yi, yi], color=color, lw=2, solid_capstyle="round")
        (point,) = ax.plot([d], [yi], "o", color=color, ms=7)
        point.set_gid(f"difference:{metric}")
        text = ("+" if d > 0 else "") + number(d, unit, currency)
        if has_interval(lo, hi):
            text += f"  [{number(lo, unit, currency)}, {number(hi, unit, currency)}]"
        ax.annotate(
            text,
            xy=(1.0, yi),
            xycoords=("axes fraction", "data"),
            xytext=(8, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8,
            color=color,
        )
    ax.axvline(0, color=NEUTRAL_COLORS["muted"], lw=1)
    ax.set_yticks(y, [metric_label(m) for m in table["metric"]], fontsize=8.5)
    ax.set_ylim(-0.7, len(table) - 0.3)
    if unit == currency:
        ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.grid(axis="x", color=NEUTRAL_COLORS["grid"])


def decision(summary: pd.DataFrame, currency: str, ax: Axes | None = None) -> Axes:
    """Net value of each option against the base with its interval, best on top.

    ``summary`` is ``Decision.summary()``; colours as the forest (green: better than no
    change, red: worse, grey: not distinguishable from it).
    """
    ax = new_axes(ax, (8.0, 1.2 + 0.45 * len(summary)))
    y = np.arange(len(summary))[::-1]
    for yi, row in zip(y, summary.itertuples(index=False), strict=True):
        lo, hi, value = row.net_value_ci_low, row.net_value_ci_high, row.net_value
        color = JUDGEMENT_COLORS[judgement("net_value", lo, hi)]
        if has_interval(lo, hi):
            ax.plot([lo, hi], [yi, yi], color=color, lw=2.4, solid_capstyle="round")
        (point,) = ax.plot([value], [yi], "o", color=color, ms=8)
        point.set_gid(f"net_value:{row.option}")
        ax.annotate(
            ("+" if value > 0 else "") + number(value, currency, currency),
            xy=(1.0, yi),
            xycoords=("axes fraction", "data"),
            xytext=(8, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            fontsize=8.5,
            color=color,
        )
    ax.axvline(0, color=NEUTRAL_COLORS["muted"], lw=1)
    ax.set_yticks(y, [str(option) for option in summary["option"]], fontsize=9)
    ax.set_ylim(-0.7, len(summary) - 0.3)
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.set_xlabel(f"net value (gross profit − cost) against the base ({currency})")
    ax.grid(axis="x", color=NEUTRAL_COLORS["grid"])
    ax.set_title("Options ranked by net value, paired against the base", fontsize=10)
    return ax


def sweep(
    table: pd.DataFrame,
    parameter: str,
    metric: str = "net_gain",
    currency: str = "USD",
    by: str | None = None,
    ax: Axes | None = None,
    names: DisplayNames | None = None,
) -> Axes:
    """Sweep response curve: ``metric`` (with its interval band) against a grid parameter.

    ``table`` is ``fs.sweep`` output; with ``by`` (a second grid parameter) one line per
    value of it. The best point is starred; the base scenario is a dashed line. ``names``
    (the scenario's display names) label teams, sources and segments in the axes.
    """
    ax = new_axes(ax)
    grid = table[~table["is_base"]]
    base = table[table["is_base"]]
    groups = [(None, grid)] if by is None else list(grid.groupby(by, sort=True))
    palette = [NEUTRAL_COLORS["realised"], *SEAM_COLORS.values(), *TEAM_FALLBACK_COLORS]
    for i, (value, group) in enumerate(groups):
        group = group.sort_values(parameter)
        x = group[parameter].to_numpy(dtype=float)
        color = palette[i % len(palette)]
        label = None if by is None else f"{parameter_label(by, currency, names)} = {_short(value)}"
        (line,) = ax.plot(x, group[metric], "o-", color=color, lw=1.6, ms=4, label=label)
        line.set_gid(f"curve:{value}")
        low, high = group[f"{metric}_ci_low"], group[f"{metric}_ci_high"]
        if np.isfinite(low.to_numpy(dtype=float)).any():
            ax.fill_between(x, low, high, color=color, alpha=0.15, lw=0)
        best = group[group["best"]]
        if not best.empty:
            ax.plot(best[parameter], best[metric], "*", color=color, ms=14, mec="white")
    if metric == "net_gain":
        ax.axhline(0, color=NEUTRAL_COLORS["muted"], ls="--", lw=1, label="base scenario")
    elif not base.empty:
        ax.axhline(
            float(base[metric].iloc[0]),
            color=NEUTRAL_COLORS["muted"],
            ls="--",
            lw=1,
            label="base scenario",
        )
    money_metric = metric != "won_deals"
    if money_metric:
        ax.yaxis.set_major_formatter(money_formatter(currency))
    x_label = parameter_label(parameter, currency, names)
    ax.set_xlabel(x_label)
    unit = f" ({currency})" if money_metric else ""
    ax.set_ylabel(metric_label(metric).lower() + unit)
    ax.grid(color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"Sweep: {metric_label(metric).lower()} against {x_label} (★ best)")
    return ax


def tornado(
    table: pd.DataFrame,
    currency: str,
    ax: Axes | None = None,
    names: DisplayNames | None = None,
) -> Axes:
    """Tornado: each parameter's effect moved down (left colour) and up, widest swing on top.

    ``table`` is ``fs.sensitivity`` output (parameter, low/high value, effect and interval).
    """
    ax = new_axes(ax, (8.0, max(3.0, 0.45 * len(table) + 1.5)))
    frame = table.sort_values("swing", ascending=True, kind="stable")
    y = np.arange(len(frame))
    metric = str(frame["metric"].iloc[0]) if len(frame) else "metric"
    money_metric = metric not in {"won_deals", "active_customers"}
    for side, color in (("low", SEAM_COLORS[2]), ("high", SEAM_COLORS[1])):
        effect = frame[f"{side}_effect"].to_numpy(dtype=float)
        bars = ax.barh(
            y,
            effect,
            height=0.6,
            color=color,
            alpha=0.85,
            label=f"parameter moved {'down' if side == 'low' else 'up'}",
            xerr=error_bars(
                effect, frame[f"{side}_ci_low"].to_numpy(), frame[f"{side}_ci_high"].to_numpy()
            ),
            error_kw=error_style(),
        )
        for bar, parameter in zip(bars, frame["parameter"], strict=True):
            bar.set_gid(f"{side}:{parameter}")
    labels = [
        f"{parameter_label(row.parameter, currency, names)}  ({_short(row.low_value)} / "
        f"{_short(row.base_value)} / "
        f"{_short(row.high_value)})"
        for row in frame.itertuples(index=False)
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color=NEUTRAL_COLORS["text"], lw=1)
    if money_metric:
        ax.xaxis.set_major_formatter(money_formatter(currency))
    unit = f" ({currency})" if money_metric else ""
    ax.set_xlabel(f"change in {metric_label(metric).lower()}{unit}, paired against the base")
    ax.grid(axis="x", color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_title("Sensitivity: which inputs move the result most (low / base / high)")
    return ax


def _short(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return f"{value:g}" if isinstance(value, float) else str(value)
