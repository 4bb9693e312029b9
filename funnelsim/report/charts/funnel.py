"""Funnel charts: leads reaching each stage, and the Sankey-style flow to their outcomes."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from funnelsim.report.charts.style import (
    NEUTRAL_COLORS,
    OUTCOME_COLORS,
    STAGE_LABELS,
    has_interval,
    new_axes,
)


def funnel(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The funnel: one bar per stage (mean leads, interval whiskers) with conversion rates.

    ``table`` has columns stage, label, mean, ci_low, ci_high and rate (see
    :func:`funnelsim.report.data.funnel_table`).
    """
    ax = new_axes(ax)
    means = table["mean"].to_numpy(dtype=float)
    y = np.arange(len(table))[::-1]
    top = float(np.nanmax(means)) if len(means) and np.nanmax(means) > 0 else 1.0
    bars = ax.barh(
        y, means, left=(top - means) / 2, height=0.72, color=NEUTRAL_COLORS["trunk"], alpha=0.9
    )
    for bar, stage in zip(bars, table["stage"], strict=True):
        bar.set_gid(f"stage:{stage}")
    for i, row in enumerate(table.itertuples(index=False)):
        text = f"{row.mean:,.0f}"
        if has_interval(row.ci_low, row.ci_high):
            text += f"  [{row.ci_low:,.0f} – {row.ci_high:,.0f}]"
        wide = row.mean >= 0.3 * top
        ax.text(
            top / 2 if wide else top / 2 + max(row.mean, 0.0) / 2 + 0.015 * top,
            y[i],
            text,
            ha="center" if wide else "left",
            va="center",
            fontsize=9,
            color="white" if wide else NEUTRAL_COLORS["text"],
        )
        if i > 0:
            rate = "–" if not np.isfinite(row.rate) else f"{100 * row.rate:.1f}%"
            ax.text(
                top * 1.02,
                y[i] + 0.5,
                f"↓ {rate}",
                ha="left",
                va="center",
                fontsize=9,
                color=NEUTRAL_COLORS["muted"],
            )
    ax.set_yticks(y, table["label"])
    ax.set_xlim(0, top * 1.16)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    ax.set_title("Funnel: leads reaching each stage (mean per run); ↓ stage-to-stage conversion")
    return ax


def flow(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Sankey-style flow: leads along the funnel's stages, peeling off to their outcomes.

    ``table`` has columns stage, outcome, leads (see :func:`funnelsim.report.data.flow_table`):
    leads by the last stage they reached and how they ended. The trunk at each stage is the
    number of leads reaching it; each band leaving it ends at its outcome on the right.
    """
    from funnelsim.analysis.funnel import STAGES

    ax = new_axes(ax, (10.0, 5.5))
    stages = [s for s in STAGES]
    per_stage = table.groupby("stage", sort=False)["leads"].sum()
    exits = np.array([float(per_stage.get(s, 0.0)) for s in stages])
    reach = np.cumsum(exits[::-1])[::-1]  # leads reaching each stage
    total = float(reach[0]) if len(reach) and reach[0] > 0 else 1.0
    outcome_order = _outcome_order(table)
    node_w = 0.16
    x_out = len(stages) + 0.6
    gap = 0.025 * total
    # Outcome nodes stacked top-down on the right, sized by leads.
    sizes = table.groupby("outcome", sort=False)["leads"].sum()
    node_top: dict[str, float] = {}
    cursor = 0.0
    for outcome in outcome_order:
        node_top[outcome] = cursor
        cursor -= float(sizes.get(outcome, 0.0)) + gap
    filled = dict.fromkeys(outcome_order, 0.0)
    # Bands: for each stage, the leads ending there, split by outcome; drawn behind the trunk.
    for i, stage in enumerate(stages):
        mine = table[table["stage"] == stage]
        y_source = -(reach[i + 1] if i + 1 < len(reach) else 0.0)
        order = sorted(mine.itertuples(index=False), key=lambda r: outcome_order.index(r.outcome))
        for row in order:
            leads = float(row.leads)
            if leads <= 0:
                continue
            top_target = node_top[row.outcome] - filled[row.outcome]
            filled[row.outcome] += leads
            _band(
                ax,
                x0=i + node_w / 2,
                x_turn=len(stages) - 1 + node_w / 2,
                x1=x_out - node_w / 2,
                y0=y_source,
                y1=top_target,
                height=leads,
                color=OUTCOME_COLORS.get(row.outcome, NEUTRAL_COLORS["potential"]),
                gid=f"band:{stage}:{row.outcome}",
            )
            y_source -= leads
    for i, stage in enumerate(stages):
        ax.add_patch(
            Rectangle(
                (i - node_w / 2, -reach[i]),
                node_w,
                reach[i],
                color=NEUTRAL_COLORS["trunk"],
                gid=f"stage:{stage}",
                zorder=3,
            )
        )
        if i + 1 < len(stages):
            ax.add_patch(
                Rectangle(
                    (i + node_w / 2, -reach[i + 1]),
                    1 - node_w,
                    reach[i + 1],
                    color=NEUTRAL_COLORS["trunk"],
                    alpha=0.35,
                    lw=0,
                    zorder=2,
                )
            )
        ax.text(
            i,
            0.02 * total,
            f"{STAGE_LABELS.get(stage, stage)}\n{reach[i]:,.0f}",
            ha="center",
            va="bottom",
            fontsize=8.5,
            color=NEUTRAL_COLORS["text"],
        )
    label_y = _spread([node_top[o] - float(sizes.get(o, 0.0)) / 2 for o in outcome_order], total)
    for outcome, y_label in zip(outcome_order, label_y, strict=True):
        size = float(sizes.get(outcome, 0.0))
        color = OUTCOME_COLORS.get(outcome, NEUTRAL_COLORS["potential"])
        ax.add_patch(
            Rectangle(
                (x_out - node_w / 2, node_top[outcome] - size),
                node_w,
                max(size, 0.0),
                color=color,
                gid=f"outcome:{outcome}",
                zorder=3,
            )
        )
        centre = node_top[outcome] - size / 2
        ax.plot(
            [x_out + node_w / 2, x_out + 0.2, x_out + 0.3],
            [centre, centre, y_label],
            color=NEUTRAL_COLORS["muted"],
            lw=0.5,
        )
        ax.text(
            x_out + 0.33,
            y_label,
            f"{outcome}  {size:,.0f} ({100 * size / total:.1f}%)",
            va="center",
            fontsize=8.5,
            color=NEUTRAL_COLORS["text"],
        )
    ax.set_xlim(-0.5, x_out + 2.5)
    ax.set_ylim(min(cursor, -total, label_y[-1] if label_y else 0.0) - 2 * gap, 0.16 * total)
    ax.axis("off")
    ax.set_title("How leads flow: every lead's last stage and how it ended (mean per run)")
    return ax


def _spread(centres: list[float], total: float) -> list[float]:
    """Label positions top-down at least 4.5% of ``total`` apart, near their nodes."""
    step = 0.045 * total
    placed: list[float] = []
    for centre in centres:
        placed.append(min(centre, placed[-1] - step) if placed else centre)
    return placed


def _outcome_order(table: pd.DataFrame) -> list[str]:
    """Outcomes top-down so bands cross as little as possible: late exits first."""
    from funnelsim.analysis.funnel import STAGES

    position = {stage: i for i, stage in enumerate(STAGES)}
    latest: dict[str, tuple[float, float]] = {}
    for row in table.itertuples(index=False):
        if row.leads <= 0:
            continue
        weight = latest.get(row.outcome, (0.0, 0.0))
        latest[row.outcome] = (
            weight[0] + position[row.stage] * row.leads,
            weight[1] + row.leads,
        )
    mean_stage = {o: w / n for o, (w, n) in latest.items() if n > 0}
    return sorted(mean_stage, key=lambda o: -mean_stage[o])


def _band(
    ax: Axes,
    x0: float,
    x_turn: float,
    x1: float,
    y0: float,
    y1: float,
    height: float,
    color: str,
    gid: str,
) -> None:
    """A band of constant height: flat from x0 to x_turn, then an S-curve to (x1, y1)."""
    mid = (x_turn + x1) / 2
    top = [
        (MplPath.MOVETO, (x0, y0)),
        (MplPath.LINETO, (x_turn, y0)),
        (MplPath.CURVE4, (mid, y0)),
        (MplPath.CURVE4, (mid, y1)),
        (MplPath.CURVE4, (x1, y1)),
        (MplPath.LINETO, (x1, y1 - height)),
        (MplPath.CURVE4, (mid, y1 - height)),
        (MplPath.CURVE4, (mid, y0 - height)),
        (MplPath.CURVE4, (x_turn, y0 - height)),
        (MplPath.LINETO, (x0, y0 - height)),
        (MplPath.CLOSEPOLY, (x0, y0)),
    ]
    codes, vertices = zip(*top, strict=True)
    ax.add_patch(
        PathPatch(MplPath(vertices, codes), facecolor=color, alpha=0.55, lw=0, gid=gid, zorder=1)
    )
