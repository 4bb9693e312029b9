"""Charts (matplotlib): each takes tidy data and an optional ``ax=`` and returns the Axes."""

# Colours are consistent across every chart: a seam always has its ``SEAM_COLORS`` colour,
# whether it is a waterfall step, a flow band, a team serving it or a seam fix. Bars that
# carry a figure from the data get a ``gid`` (e.g. ``"loss:1:went_cold"``) so tests and
# callers can find them. Nothing here selects a backend; the report draws on plain
# ``Figure`` objects (Agg), interactive callers get pyplot figures.

from funnelsim.report.charts.calendar import forecast, timeseries
from funnelsim.report.charts.experiments import (
    decision,
    forest,
    forest_groups,
    forest_panels,
    sweep,
    tornado,
)
from funnelsim.report.charts.funnel import flow, funnel
from funnelsim.report.charts.leakage import seam_fixes, waterfall, waterfall_steps
from funnelsim.report.charts.operations import first_response, pipeline, teams
from funnelsim.report.charts.origins import origins
from funnelsim.report.charts.style import (
    NEUTRAL_COLORS,
    OUTCOME_COLORS,
    SEAM_COLORS,
    STAGE_LABELS,
    TEAM_FALLBACK_COLORS,
    money_formatter,
    seam_color,
    style_axes,
)

__all__ = [
    "NEUTRAL_COLORS",
    "OUTCOME_COLORS",
    "SEAM_COLORS",
    "STAGE_LABELS",
    "TEAM_FALLBACK_COLORS",
    "decision",
    "first_response",
    "flow",
    "forecast",
    "forest",
    "forest_groups",
    "forest_panels",
    "funnel",
    "money_formatter",
    "origins",
    "pipeline",
    "seam_color",
    "seam_fixes",
    "style_axes",
    "sweep",
    "teams",
    "timeseries",
    "tornado",
    "waterfall",
    "waterfall_steps",
]
