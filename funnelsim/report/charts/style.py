"""Chart styling shared by every chart: seam and neutral colours, quiet axes, axis formats."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from funnelsim.report.formatting import money

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


def new_axes(ax: Axes | None, size: tuple[float, float] = (8.0, 4.5)) -> Axes:
    """The given Axes styled, or styled Axes on a new pyplot figure of ``size``."""
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return style_axes(ax)


def has_interval(low: float, high: float) -> bool:
    """Whether both interval ends exist and are finite."""
    return low is not None and high is not None and np.isfinite(low) and np.isfinite(high)


def error_bars(means: np.ndarray, lows: np.ndarray, highs: np.ndarray) -> np.ndarray | None:
    """Asymmetric error bars from intervals; None when no interval exists."""
    lows, highs = np.asarray(lows, float), np.asarray(highs, float)
    if not np.isfinite(lows).any():
        return None
    below = np.where(np.isfinite(lows), means - lows, 0.0)
    above = np.where(np.isfinite(highs), highs - means, 0.0)
    return np.vstack([np.maximum(below, 0.0), np.maximum(above, 0.0)])


def error_style(width: float = 0.8, cap: float = 2) -> dict[str, object]:
    """Keyword arguments for interval whiskers on bars (``error_kw``)."""
    return {"ecolor": NEUTRAL_COLORS["text"], "elinewidth": width, "capsize": cap}
