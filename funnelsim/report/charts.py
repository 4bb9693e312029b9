"""Charts (matplotlib): each takes tidy data and an optional ``ax=`` and returns the Axes.

Colours are consistent across every chart: a seam always has its ``SEAM_COLORS`` colour,
whether it is a waterfall step, a flow band, a team serving it or a seam fix. Bars that
carry a figure from the data get a ``gid`` (e.g. ``"loss:1:went_cold"``) so tests and
callers can find them. Nothing here selects a backend; the report draws on plain
``Figure`` objects (Agg), interactive callers get pyplot figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, PathPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.ticker import FuncFormatter, PercentFormatter

from funnelsim.experiment.stats import CONFIDENCE, t_interval
from funnelsim.report.formatting import money, number

# One colour per seam (Okabe-Ito, colour-blind safe), used by every chart.
SEAM_COLORS: dict[int, str] = {
    1: "#D55E00",  # marketing -> sales: vermillion
    2: "#0072B2",  # sales -> finance: blue
    3: "#009E73",  # finance -> customer success: green
    4: "#CC79A7",  # renewal: reddish purple
}
NEUTRAL_COLORS: dict[str, str] = {
    "potential": "#9AA5B1",
    "realised": "#1F3A4D",
    "trunk": "#1F3A4D",
    "sales": "#56606B",
    "fallback": "#E69F00",
    "baseline": "#9AA5B1",
    "variant": "#1F3A4D",
    "grid": "#E5E8EC",
    "text": "#1F2933",
    "muted": "#6B7785",
    "positive": "#1B7F5B",
    "negative": "#B23A2B",
}
OUTCOME_COLORS: dict[str, str] = {
    "active customer": NEUTRAL_COLORS["realised"],
    "churned": "#8C6D52",
    "closed lost": "#7B8794",
    "not a fit": "#CBD2D9",
    "in flight": "#9FB3C8",
    **{f"lost at seam {seam}": color for seam, color in SEAM_COLORS.items()},
}
TEAM_FALLBACK_COLORS: tuple[str, ...] = ("#E69F00", "#56B4E9", "#F0E442", "#7f7f7f")
STAGE_LABELS: dict[str, str] = {
    "leads": "Leads",
    "mql": "MQL",
    "sql": "SQL",
    "opportunity": "Opportunity",
    "won": "Won",
    "active_customer": "Active customer",
}


def seam_color(seam: int) -> str:
    """The colour of a seam (grey for anything else)."""
    return SEAM_COLORS.get(int(seam), NEUTRAL_COLORS["potential"])


def style_axes(ax: Axes) -> Axes:
    """Quiet axes: no top/right spines, light grid behind the data."""
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(NEUTRAL_COLORS["muted"])
    ax.tick_params(colors=NEUTRAL_COLORS["text"], labelsize=9)
    ax.set_axisbelow(True)
    ax.title.set_color(NEUTRAL_COLORS["text"])
    return ax


def money_formatter(currency: str) -> FuncFormatter:
    """Axis ticks as short money ('$1.2M')."""
    return FuncFormatter(lambda value, _pos: money(value, currency))


def _axes(ax: Axes | None, size: tuple[float, float] = (8.0, 4.5)) -> Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return style_axes(ax)


def _has_interval(low: float, high: float) -> bool:
    return low is not None and high is not None and np.isfinite(low) and np.isfinite(high)


def _yerr(means: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray | None:
    """Asymmetric error bars from intervals; None when no interval exists."""
    lows, highs = np.asarray(lows, float), np.asarray(highs, float)
    if not np.isfinite(lows).any():
        return None
    below = np.where(np.isfinite(lows), means - lows, 0.0)
    above = np.where(np.isfinite(highs), highs - means, 0.0)
    return np.vstack([np.maximum(below, 0.0), np.maximum(above, 0.0)])


def funnel(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """The funnel: one bar per stage (mean leads, interval whiskers) with conversion rates.

    ``table`` has columns stage, label, mean, ci_low, ci_high and rate (see
    :func:`funnelsim.report.data.funnel_table`).
    """
    ax = _axes(ax)
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
        if _has_interval(row.ci_low, row.ci_high):
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

    ax = _axes(ax, (9.0, 4.8))
    steps = waterfall_steps(leakage_summary, realised)
    x = np.arange(len(steps))
    colors, labels = [], []
    for row in steps.itertuples(index=False):
        if row.kind == "loss":
            colors.append(seam_color(row.seam))
            labels.append(f"S{row.seam} {REASON_LABELS.get(row.reason, row.reason)}")
        else:
            colors.append(NEUTRAL_COLORS[row.kind])
            labels.append("Potential" if row.kind == "potential" else "Realised")
    heights = (steps["top"] - steps["bottom"]).to_numpy(dtype=float)
    bars = ax.bar(x, heights, bottom=steps["bottom"], color=colors, width=0.7)
    for bar, row in zip(bars, steps.itertuples(index=False), strict=True):
        bar.set_gid(f"{row.kind}:{row.seam}:{row.reason}" if row.kind == "loss" else row.kind)
    # Whiskers: each loss's interval around its bar's top, realised around its height.
    for i, row in enumerate(steps.itertuples(index=False)):
        if not _has_interval(row.ci_low, row.ci_high):
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


def flow(table: pd.DataFrame, ax: Axes | None = None) -> Axes:
    """Sankey-style flow: leads along the funnel's stages, peeling off to their outcomes.

    ``table`` has columns stage, outcome, leads (see :func:`funnelsim.report.data.flow_table`):
    leads by the last stage they reached and how they ended. The trunk at each stage is the
    number of leads reaching it; each band leaving it ends at its outcome on the right.
    """
    from funnelsim.analysis.funnel import STAGES

    ax = _axes(ax, (10.0, 5.5))
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


def first_response(
    hours: pd.DataFrame | Sequence[float] | np.ndarray,
    sla_hours: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Speed to lead: the ECDF of hours from MQL to first response, with the SLA line.

    ``hours`` is a ``hours`` column (e.g. :func:`funnelsim.report.data.response_hours`) or
    an array, pooled over replications. The x axis is logarithmic (a minute to weeks).
    """
    ax = _axes(ax)
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
) -> Axes:
    """Weekly team occupancy (share of slots busy) or mean queue length over time.

    ``levels`` is ``Results.team_levels`` (team, week, occupancy, queue_length, and a
    replication column): a line per team, the mean over replications, with its interval
    band when there are two or more.
    """
    if measure not in {"occupancy", "queue_length"}:
        raise ValueError(f"measure: expected 'occupancy' or 'queue_length', got {measure!r}")
    ax = _axes(ax)
    frame = levels if "replication" in levels else levels.assign(replication=0)
    names = list(dict.fromkeys(frame["team"]))
    colors = dict(colors or {})
    spare = iter(TEAM_FALLBACK_COLORS + tuple(SEAM_COLORS.values()))
    for team in names:
        mine = frame[frame["team"] == team]
        table = _mean_by(mine, "week", measure, confidence)
        color = colors.get(team) or next(spare, "#7f7f7f")
        (line,) = ax.plot(table["week"], table["mean"], color=color, lw=1.6, label=team)
        line.set_gid(f"team:{team}")
        if np.isfinite(table["ci_low"]).any():
            ceiling = 1.0 if measure == "occupancy" else np.inf
            ax.fill_between(
                table["week"],
                table["ci_low"].clip(0.0, ceiling),
                table["ci_high"].clip(0.0, ceiling),
                color=color,
                alpha=0.1,
                lw=0,
            )
    ax.set_xlabel("week since start")
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
        ax.legend(fontsize=8, frameon=False, ncols=min(len(names), 5), loc="upper left")
    return ax


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
) -> Axes:
    """Pipeline over time: open pipeline at each quarter's start and value won in it.

    ``table`` is ``analysis.revenue.pipeline`` output (with a replication column for
    several runs, see :func:`funnelsim.report.data.pipeline_table`): bars are the means
    over replications with interval whiskers.
    """
    ax = _axes(ax)
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
            yerr=_yerr(means, data["ci_low"].to_numpy(), data["ci_high"].to_numpy()),
            error_kw={"ecolor": NEUTRAL_COLORS["text"], "elinewidth": 0.8, "capsize": 2},
        )
        for bar, quarter in zip(bars, data["quarter"], strict=True):
            bar.set_gid(f"{name}:{int(quarter)}")
    ax.set_xticks(x, [f"Q{int(q)}" for q in x])
    ax.set_xlabel("quarter since start")
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_ylabel(f"deal value ({currency})")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_title("Pipeline: open opportunities at each quarter's start and value won")
    return ax


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
    ax = _axes(ax)
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
        if _has_interval(lo, hi):
            ax.plot([lo, hi], [yi, yi], color=color, lw=2, solid_capstyle="round")
        (point,) = ax.plot([d], [yi], "o", color=color, ms=7)
        point.set_gid(f"difference:{metric}")
        text = number(d, unit, currency)
        if _has_interval(lo, hi):
            text += f"  [{number(lo, unit, currency)}, {number(hi, unit, currency)}]"
        ax.annotate(
            text, (d, yi), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8
        )
    ax.axvline(0, color=NEUTRAL_COLORS["muted"], lw=1)
    ax.set_yticks(y, [m.replace("_", " ") for m in table["metric"]])
    ax.set_ylim(-0.7, len(table) - 0.3)
    if unit == currency:
        ax.xaxis.set_major_formatter(money_formatter(currency))
    ax.set_xlabel(f"paired difference, variant − baseline ({unit})")
    ax.grid(axis="x", color=NEUTRAL_COLORS["grid"])
    ax.set_title("What the change is worth: paired differences with intervals")
    return ax


def _effect_color(low: float, high: float) -> str:
    """Green when the interval is above zero, red below, grey when it spans zero."""
    if _has_interval(low, high) and low > 0:
        return NEUTRAL_COLORS["positive"]
    if _has_interval(low, high) and high < 0:
        return NEUTRAL_COLORS["negative"]
    return NEUTRAL_COLORS["muted"]


def seam_fixes(leaks: pd.DataFrame, currency: str, ax: Axes | None = None) -> Axes:
    """What fixing each seam is worth: counterfactual horizon revenue gained, with intervals.

    ``leaks`` is ``fs.leaks`` output; a diamond marks each seam's attributed loss.
    """
    from funnelsim.report.data import SEAM_NAMES

    ax = _axes(ax)
    table = leaks.sort_values("seam")
    y = np.arange(len(table))[::-1]
    gain = table["counterfactual_horizon_revenue"].to_numpy(dtype=float)
    bars = ax.barh(
        y,
        gain,
        color=[seam_color(s) for s in table["seam"]],
        height=0.6,
        xerr=_yerr(
            gain,
            table["counterfactual_horizon_revenue_ci_low"].to_numpy(),
            table["counterfactual_horizon_revenue_ci_high"].to_numpy(),
        ),
        error_kw={"ecolor": NEUTRAL_COLORS["text"], "elinewidth": 1, "capsize": 3},
    )
    for bar, seam in zip(bars, table["seam"], strict=True):
        bar.set_gid(f"fix:{int(seam)}")
    attributed = table["attributed_horizon_revenue_lost"].to_numpy(dtype=float)
    ax.plot(attributed, y, "D", color="white", mec=NEUTRAL_COLORS["text"], ms=6, zorder=4)
    ax.set_yticks(y, [f"Seam {s}: {SEAM_NAMES.get(int(s), '')}" for s in table["seam"]])
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
                label="attributed: value of leads lost there",
            ),
        ],
        fontsize=8,
        frameon=False,
        loc="lower right",
    )
    ax.set_title("What fixing each seam is worth (paired, with intervals)")
    return ax


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
    ax = _axes(ax)
    grid = table[~table["is_base"]]
    base = table[table["is_base"]]
    groups = [(None, grid)] if by is None else list(grid.groupby(by, sort=True))
    palette = [NEUTRAL_COLORS["realised"], *SEAM_COLORS.values(), *TEAM_FALLBACK_COLORS]
    for i, (value, group) in enumerate(groups):
        group = group.sort_values(parameter)
        x = group[parameter].to_numpy(dtype=float)
        color = palette[i % len(palette)]
        label = None if by is None else f"{by} = {value}"
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
    ax.set_xlabel(parameter)
    unit = f" ({currency})" if money_metric else ""
    ax.set_ylabel(metric.replace("_", " ") + unit)
    ax.grid(color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(f"Sweep: {metric.replace('_', ' ')} against {parameter} (★ best)")
    return ax


def tornado(table: pd.DataFrame, currency: str, ax: Axes | None = None) -> Axes:
    """Tornado: each parameter's effect moved down (left colour) and up, widest swing on top.

    ``table`` is ``fs.sensitivity`` output (parameter, low/high value, effect and interval).
    """
    ax = _axes(ax, (8.0, max(3.0, 0.45 * len(table) + 1.5)))
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
            xerr=_yerr(
                effect, frame[f"{side}_ci_low"].to_numpy(), frame[f"{side}_ci_high"].to_numpy()
            ),
            error_kw={"ecolor": NEUTRAL_COLORS["text"], "elinewidth": 0.8, "capsize": 2},
        )
        for bar, parameter in zip(bars, frame["parameter"], strict=True):
            bar.set_gid(f"{side}:{parameter}")
    labels = [
        f"{row.parameter}  ({_short(row.low_value)} / {_short(row.base_value)} / "
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


__all__ = [
    "NEUTRAL_COLORS",
    "OUTCOME_COLORS",
    "SEAM_COLORS",
    "first_response",
    "flow",
    "forest",
    "funnel",
    "pipeline",
    "seam_fixes",
    "style_axes",
    "sweep",
    "teams",
    "tornado",
    "waterfall",
    "waterfall_steps",
]
