"""Calendar charts: monthly results as fan charts, quarters labelled as calendar quarters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from funnelsim.analysis.timeseries import FLOW_COLUMNS
from funnelsim.report.charts.style import NEUTRAL_COLORS, money_formatter, new_axes

# Metric -> legend label for the fan chart's default metrics.
TIMESERIES_LABELS: dict[str, str] = {
    "arr_end": "ARR at month end",
    "revenue": "revenue in the month",
    "new_bookings": "new bookings",
    "pipeline": "open pipeline",
    "cumulative_cash": "cumulative cash",
}
FULL_MONTH_DAYS = 28
FAN_COLORS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#56B4E9")


def timeseries(
    bands: pd.DataFrame,
    metrics: Sequence[str] = ("arr_end",),
    currency: str = "USD",
    labels: Mapping[str, str] | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Fan chart of monthly metrics: the mean, the 95% interval of the mean and the
    10th-90th percentile band across replications, at each month's start date.

    ``bands`` is :func:`funnelsim.analysis.timeseries.timeseries_bands` output. The x axis
    is labelled with calendar quarters (2027-Q1). A flow (revenue, bookings, ...) leaves
    out a month the start date or horizon cuts to under four weeks, which would read as a
    dip.
    """
    ax = new_axes(ax, (9.0, 4.0))
    names = {**TIMESERIES_LABELS, **(labels or {})}
    for index, metric in enumerate(metrics):
        rows = bands[bands["metric"] == metric]
        if rows.empty:
            raise ValueError(f"metrics: no monthly series named {metric!r}")
        if metric in FLOW_COLUMNS and "days" in rows:
            rows = rows[rows["days"] >= FULL_MONTH_DAYS]
        x = pd.to_datetime(rows["start"]).to_numpy()
        color = FAN_COLORS[index % len(FAN_COLORS)]
        ax.fill_between(x, rows["p10"], rows["p90"], color=color, alpha=0.15, linewidth=0)
        ax.fill_between(x, rows["ci_low"], rows["ci_high"], color=color, alpha=0.3, linewidth=0)
        (line,) = ax.plot(x, rows["mean"], color=color, label=names.get(metric, metric))
        line.set_gid(f"timeseries:{metric}")
    quarter_axis(ax)
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.grid(axis="y", color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=8, frameon=False, loc="upper left")
    ax.set_title("By month: mean, its 95% interval and the 10th-90th percentile band")
    return ax


def forecast(table: pd.DataFrame, currency: str = "USD", ax: Axes | None = None) -> Axes:
    """Each calendar quarter's forecasts against the actuals, means over replications.

    ``table`` is :func:`funnelsim.analysis.forecast.forecasts` output. The Monte Carlo
    P10-P90 band and P50 forecast every deal won in the quarter (filled dots); the
    stage-weighted forecasts (scenario and fitted weights) forecast what the pipeline open
    at the quarter's start won in it (hollow dots).
    """
    ax = new_axes(ax, (9.0, 4.0))
    columns = [
        "mc_p10",
        "mc_p50",
        "mc_p90",
        "stage_weighted",
        "stage_weighted_fitted",
        "actual_open",
        "actual",
    ]
    means = table.groupby("quarter", sort=False)[columns].mean()
    x = np.arange(len(means))
    ax.bar(
        x,
        means["mc_p90"] - means["mc_p10"],
        bottom=means["mc_p10"],
        width=0.5,
        color=NEUTRAL_COLORS["potential"],
        alpha=0.5,
        label="Monte Carlo P10-P90",
        gid="forecast:band",
    )
    marks = (
        ("mc_p50", "_", "#0072B2", "Monte Carlo P50", {"s": 300}),
        ("actual", "o", NEUTRAL_COLORS["text"], "actual: all deals won", {}),
        ("stage_weighted", "v", "#D55E00", "stage-weighted (CRM weights)", {}),
        ("stage_weighted_fitted", "^", "#E69F00", "stage-weighted (fitted weights)", {}),
        ("actual_open", "o", NEUTRAL_COLORS["text"], "actual: won from the open pipeline", {}),
    )
    for column, marker, color, label, extra in marks:
        if column == "actual_open":
            extra = {"facecolors": "none", "edgecolors": color}
        else:
            extra = {"color": color, **extra}
        ax.scatter(
            x,
            means[column],
            marker=marker,
            label=label,
            zorder=3,
            gid=f"forecast:{column}",
            **extra,
        )
    ax.set_xticks(x, list(means.index))
    ax.yaxis.set_major_formatter(money_formatter(currency))
    ax.set_ylabel(f"deal value won ({currency})")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color=NEUTRAL_COLORS["grid"])
    ax.legend(fontsize=7, frameon=False, loc="lower left", ncols=2)
    ax.set_title("Forecasts made at each quarter's start against what was won")
    return ax


def quarter_axis(ax: Axes) -> None:
    """Ticks at calendar quarter starts, labelled 2027-Q1."""
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.xaxis.set_major_formatter(FuncFormatter(_quarter_label))


def _quarter_label(value: float, _pos: int | None = None) -> str:
    day = mdates.num2date(value)
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
