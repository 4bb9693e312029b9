"""Where new business comes from: one bar per source or segment with its interval, and
its leads and conversion written beside it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from funnelsim.report.charts.style import (
    NEUTRAL_COLORS,
    error_bars,
    error_style,
    money_formatter,
    new_axes,
)
from funnelsim.report.formatting import number

MEASURE_AXES = {
    "booked_arr": "new ARR booked within the horizon",
    "won_deals": "deals won",
    "leads": "leads created",
    "conversion": "lead-to-customer conversion",
}
NOUNS = {"source": "source", "segment": "segment"}


def origins(
    table: pd.DataFrame,
    by: str,
    currency: str,
    measure: str = "booked_arr",
    ax: Axes | None = None,
) -> Axes:
    """Bars of ``measure`` (mean with its interval) per source or segment, labelled by the
    display names, largest on top; each bar notes its leads and conversion.

    ``table`` is ``Results.by_source()`` or ``Results.by_segment()`` (long: ``by``, label,
    measure, unit, mean, ci_low, ci_high).
    """
    if measure not in MEASURE_AXES:
        raise ValueError(f"measure: expected one of {sorted(MEASURE_AXES)}, not {measure!r}")
    wide = table.pivot_table(index=[by, "label"], columns="measure", values="mean", sort=False)
    rows = table[table["measure"] == measure].set_index(by)
    order = rows["mean"].sort_values(kind="stable").index
    ax = new_axes(ax, (8.0, 1.2 + 0.45 * len(order)))
    means = rows.loc[order, "mean"].to_numpy(dtype=float)
    bars = ax.barh(
        np.arange(len(order)),
        means,
        height=0.6,
        color=NEUTRAL_COLORS["realised"],
        xerr=error_bars(
            means, rows.loc[order, "ci_low"].to_numpy(), rows.loc[order, "ci_high"].to_numpy()
        ),
        error_kw=error_style(),
    )
    labels = [str(rows.at[key, "label"]) for key in order]
    ax.set_yticks(np.arange(len(order)), labels, fontsize=8.5)
    highs = np.fmax(means, rows.loc[order, "ci_high"].to_numpy(dtype=float))
    for bar, key, end in zip(bars, order, highs, strict=True):
        bar.set_gid(f"{by}:{key}")
        figures = wide.xs(key, level=by).iloc[0]
        ax.annotate(
            f"{number(figures['leads'], 'leads', currency)} leads · "
            f"{number(figures['conversion'], 'share', currency)} convert",
            (max(end, 0.0), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7.5,
            color=NEUTRAL_COLORS["muted"],
        )
    top = float(np.nanmax(highs)) if len(highs) and np.isfinite(highs).any() else 1.0
    ax.set_xlim(0, max(top, 1e-9) * 1.6)  # room for the notes beside the longest bar
    unit = str(rows["unit"].iloc[0]) if len(rows) else ""
    if unit == currency:
        ax.xaxis.set_major_formatter(money_formatter(currency))
        ax.set_xlabel(f"{MEASURE_AXES[measure]} ({currency}), mean per run")
    elif unit == "share":
        ax.xaxis.set_major_formatter(lambda value, _pos: f"{100 * value:.1f}%")
        ax.set_xlabel(f"{MEASURE_AXES[measure]} (%), mean per run")
    else:
        ax.set_xlabel(f"{MEASURE_AXES[measure]} ({unit}), mean per run")
    ax.grid(axis="x", color=NEUTRAL_COLORS["grid"])
    ax.set_title(f"Where new business comes from: by {NOUNS.get(by, by)}", fontsize=10)
    return ax
