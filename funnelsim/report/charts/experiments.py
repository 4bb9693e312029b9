"""Experiment charts: paired differences (forest), sweep response curves and tornadoes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

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
)
from funnelsim.report.formatting import number

# Metrics whose name alone would hide how they are computed.
METRIC_NAMES = {
    "net_value": "net value (gross profit − cost)",
    "net_gain": "net value gain (gross profit − cost)",
}


def forest(
    summary: pd.DataFrame,
    currency: str,
    metrics: Sequence[str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Forest plot of paired differences (variant − baseline) with their intervals.

    ``summary`` is ``Comparison.summary()`` (metric, unit, difference, ci_low, ci_high).
    All rows shown must share a unit; by default the money metrics.
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
    y = np.arange(len(table))[::-1]
    diff = table["difference"].to_numpy(dtype=float)
    low = table["ci_low"].to_numpy(dtype=float)
    high = table["ci_high"].to_numpy(dtype=float)
    colors = [_effect_color(lo, hi) for lo, hi in zip(low, high, strict=True)]
    for yi, d, lo, hi, color, metric in zip(
        y, diff, low, high, colors, table["metric"], strict=True
    ):
        if has_interval(lo, hi):
            ax.plot([lo, hi], [yi, yi], color=color, lw=2, solid_capstyle="round")
        (point,) = ax.plot([d], [yi], "o", color=color, ms=7)
        point.set_gid(f"difference:{metric}")
        text = number(d, unit, currency)
        if has_interval(lo, hi):
            text += f"  [{number(lo, unit, currency)}, {number(hi, unit, currency)}]"
        ax.annotate(
            text, (d, yi), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8
        )
    ax.axvline(0, color=NEUTRAL_COLORS["muted"], lw=1)
    ax.set_yticks(y, [METRIC_NAMES.get(m, m.replace("_", " ")) for m in table["metric"]])
    ax.set_ylim(-0.7, len(table) - 0.3)
    if unit == currency:
        ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.set_xlabel(f"paired difference, variant − baseline ({unit})")
    ax.grid(axis="x", color=NEUTRAL_COLORS["grid"])
    ax.set_title("What the change is worth: paired differences with intervals")
    return ax


def _effect_color(low: float, high: float) -> str:
    """Green when the interval is above zero, red below, grey when it spans zero."""
    if has_interval(low, high) and low > 0:
        return NEUTRAL_COLORS["positive"]
    if has_interval(low, high) and high < 0:
        return NEUTRAL_COLORS["negative"]
    return NEUTRAL_COLORS["muted"]


def sweep(
    table: pd.DataFrame,
    parameter: str,
    metric: str = "net_gain",
    currency: str = "USD",
    by: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Sweep response curve: ``metric`` (with its interval band) against a grid parameter.

    ``table`` is ``fs.sweep`` output; with ``by`` (a second grid parameter) one line per
    value of it. The best point is starred; the base scenario is a dashed line.
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
        label = None if by is None else f"{parameter_label(by, currency)} = {_short(value)}"
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
    x_label = parameter_label(parameter, currency)
    ax.set_xlabel(x_label)
    unit = f" ({currency})" if money_metric else ""
    ax.set_ylabel(METRIC_NAMES.get(metric, metric.replace("_", " ")) + unit)
    ax.grid(color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"Sweep: {metric.replace('_', ' ')} against {x_label} (★ best)")
    return ax


def tornado(table: pd.DataFrame, currency: str, ax: Axes | None = None) -> Axes:
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
        f"{parameter_label(row.parameter, currency)}  ({_short(row.low_value)} / "
        f"{_short(row.base_value)} / "
        f"{_short(row.high_value)})"
        for row in frame.itertuples(index=False)
    ]
    ax.set_yticks(y, labels, fontsize=8)
    ax.axvline(0, color=NEUTRAL_COLORS["text"], lw=1)
    if money_metric:
        ax.xaxis.set_major_formatter(money_formatter(currency))
    unit = f" ({currency})" if money_metric else ""
    ax.set_xlabel(f"change in {metric.replace('_', ' ')}{unit}, paired against the base")
    ax.grid(axis="x", color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=8, frameon=False, loc="lower right")
    ax.set_title("Sensitivity: which inputs move the result most (low / base / high)")
    return ax


def _short(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3g}"
    return f"{value:g}" if isinstance(value, float) else str(value)
