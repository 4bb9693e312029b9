"""Leakage charts: the waterfall from potential to realised revenue, and seam fixes' value."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from funnelsim.report.charts.style import (
    NEUTRAL_COLORS,
    error_bars,
    error_style,
    has_interval,
    money_formatter,
    new_axes,
    seam_color,
)
from funnelsim.report.formatting import money
from funnelsim.report.labels import ASSUMPTION_REASONS


def waterfall_steps(
    leakage_summary: pd.DataFrame, realised: tuple[float, float, float]
) -> pd.DataFrame:
    """The waterfall's bars: potential, one loss per seam and reason, realised revenue.

    Columns kind (potential, loss, realised), seam, reason, value, ci_low, ci_high, bottom,
    top. Potential = realised horizon revenue + the attributed horizon revenue lost; loss
    rows (horizon_revenue_lost, non-zero means only) run down from it to realised.
    """
    lost = leakage_summary[leakage_summary["measure"] == "horizon_revenue_lost"]
    lost = lost[lost["mean"].astype(float) > 0].sort_values(["seam", "mean"], ascending=[1, 0])
    real, real_low, real_high = (float(v) for v in realised)
    total_lost = float(lost["mean"].sum())
    potential = real + total_lost
    rows = [("potential", 0, "", potential, np.nan, np.nan, 0.0, potential)]
    level = potential
    for row in lost.itertuples(index=False):
        value = float(row.mean)
        rows.append(
            (
                "loss",
                int(row.seam),
                str(row.reason),
                value,
                row.ci_low,
                row.ci_high,
                level - value,
                level,
            )
        )
        level -= value
    rows.append(("realised", 0, "", real, real_low, real_high, 0.0, real))
    return pd.DataFrame(
        rows, columns=["kind", "seam", "reason", "value", "ci_low", "ci_high", "bottom", "top"]
    )


def waterfall(
    leakage_summary: pd.DataFrame,
    realised: tuple[float, float, float],
    currency: str,
    ax: Axes | None = None,
) -> Axes:
    """Leakage waterfall: potential horizon revenue down to realised, a bar per seam and reason.

    ``leakage_summary`` is ``Results.leakage_summary()`` (attributed leakage);
    ``realised`` the horizon revenue's (mean, ci_low, ci_high).
    """
    from funnelsim.report.data import REASON_LABELS

    ax = new_axes(ax, (9.0, 4.8))
    steps = waterfall_steps(leakage_summary, realised)
    x = np.arange(len(steps))
    colors, labels = [], []
    for row in steps.itertuples(index=False):
        if row.kind == "loss":
            colors.append(seam_color(row.seam))
            assumed = " (assumption)" if row.reason in ASSUMPTION_REASONS else ""
            labels.append(f"S{row.seam} {REASON_LABELS.get(row.reason, row.reason)}{assumed}")
        else:
            colors.append(NEUTRAL_COLORS[row.kind])
            labels.append("Potential" if row.kind == "potential" else "Realised")
    heights = (steps["top"] - steps["bottom"]).to_numpy(dtype=float)
    bars = ax.bar(x, heights, bottom=steps["bottom"], color=colors, width=0.7)
    for bar, row in zip(bars, steps.itertuples(index=False), strict=True):
        bar.set_gid(f"{row.kind}:{row.seam}:{row.reason}" if row.kind == "loss" else row.kind)
        if row.kind == "loss" and row.reason in ASSUMPTION_REASONS:
            # Assumption-driven: hatched and pale, apart from the hand-off losses.
            bar.set_hatch("///")
            bar.set_alpha(0.55)
            bar.set_edgecolor("white")
    # Whiskers: each loss's interval around its bar's top, realised around its height.
    for i, row in enumerate(steps.itertuples(index=False)):
        if not has_interval(row.ci_low, row.ci_high):
            continue
        if row.kind == "loss":
            low, high = row.top - row.ci_high, row.top - row.ci_low
        else:
            low, high = row.ci_low, row.ci_high
        ax.plot([i, i], [low, high], color=NEUTRAL_COLORS["text"], lw=1)
    for i in range(len(steps) - 1):
        level = steps["bottom"].iloc[i] if i > 0 else steps["top"].iloc[0]
        ax.plot([i + 0.35, i + 0.65], [level, level], color=NEUTRAL_COLORS["muted"], lw=0.8)
    for i, row in enumerate(steps.itertuples(index=False)):
        sign = "−" if row.kind == "loss" else ""
        ax.annotate(
            sign + money(row.value, currency),
            (i, row.top),
            xytext=(0, 3),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=8,
            color=NEUTRAL_COLORS["text"],
        )
    ax.set_xticks(x, labels, rotation=35, ha="right", fontsize=8.5)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_ylabel(f"revenue within the horizon ({currency})")
    ax.grid(axis="y", color=NEUTRAL_COLORS["grid"])
    ax.set_ylim(0, max(float(steps["top"].max()), 1.0) * 1.12)
    ax.set_title("Where revenue leaks: potential → realised revenue (attributed leakage)")
    seams = sorted({int(s) for s in steps.loc[steps["kind"] == "loss", "seam"]})
    if seams:
        from funnelsim.report.data import SEAM_NAMES

        handles = [Patch(color=seam_color(s), label=f"Seam {s}: {SEAM_NAMES[s]}") for s in seams]
        ax.legend(handles=handles, fontsize=8, frameon=False, loc="upper right")
    return ax


def seam_fixes(leaks: pd.DataFrame, currency: str, ax: Axes | None = None) -> Axes:
    """What fixing each seam is worth: counterfactual horizon revenue gained, with intervals.

    ``leaks`` is ``fs.leaks`` output; a diamond marks each seam's attributed loss. With the
    "all four together" row present, a last neutral bar shows it: fixes interact, so it is
    not the sum of the bars above.
    """
    from funnelsim.experiment.leaks import combined_row, single_seams
    from funnelsim.report.data import SEAM_NAMES

    ax = new_axes(ax)
    table = single_seams(leaks).sort_values("seam")
    together = combined_row(leaks, "all")
    labels = [f"Seam {s}: {SEAM_NAMES.get(int(s), '')}" for s in table["seam"]]
    colors = [seam_color(s) for s in table["seam"]]
    if together is not None:
        table = pd.concat([table, together.to_frame().T], ignore_index=True)
        labels.append("All four together")
        colors.append(NEUTRAL_COLORS["potential"])
    y = np.arange(len(table))[::-1]
    gain = table["counterfactual_horizon_revenue"].to_numpy(dtype=float)
    bars = ax.barh(
        y,
        gain,
        color=colors,
        height=0.6,
        xerr=error_bars(
            gain,
            table["counterfactual_horizon_revenue_ci_low"].to_numpy(dtype=float),
            table["counterfactual_horizon_revenue_ci_high"].to_numpy(dtype=float),
        ),
        error_kw=error_style(width=1, cap=3),
    )
    for bar, seam in zip(bars, table["seam"], strict=True):
        bar.set_gid(f"fix:{int(seam)}" if int(seam) else "fix:all")
    attributed = table["attributed_horizon_revenue_lost"].to_numpy(dtype=float)
    ax.plot(attributed, y, "D", color="white", mec=NEUTRAL_COLORS["text"], ms=6, zorder=4)
    ax.set_yticks(y, labels)
    ax.axvline(0, color=NEUTRAL_COLORS["muted"], lw=1)
    ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.set_xlabel(f"horizon revenue gained by fixing the seam ({currency})")
    ax.grid(axis="x", color=NEUTRAL_COLORS["grid"])
    ax.legend(
        handles=[
            Patch(color=NEUTRAL_COLORS["muted"], label="counterfactual: seam made perfect"),
            Line2D(
                [],
                [],
                marker="D",
                ls="",
                color="white",
                mec=NEUTRAL_COLORS["text"],
                label="attributed (capacity-aware): value of leads lost there",
            ),
        ],
        fontsize=8,
        frameon=False,
        loc="lower right",
    )
    ax.set_title("What fixing each seam is worth (paired, with intervals)")
    return ax
