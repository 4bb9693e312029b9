"""Analysis: pure functions from ledgers to tidy pandas DataFrames."""

from funnelsim.analysis.arr import arr_events, trailing_retention
from funnelsim.analysis.capacity import headroom, peak_occupancy
from funnelsim.analysis.deferral import deferral
from funnelsim.analysis.forecast import forecast_accuracy, forecast_error, forecasts
from funnelsim.analysis.funnel import conversion, outcomes, stage_counts
from funnelsim.analysis.headline import headline
from funnelsim.analysis.leakage import (
    attributed_leakage,
    close_and_stay_probability,
    leakage_by_seam,
    reconciliation,
)
from funnelsim.analysis.revenue import by_source, costs, pipeline, retention, unit_economics
from funnelsim.analysis.saturation import quarterly_load, saturation, saturation_warnings
from funnelsim.analysis.stages import stage_conversion
from funnelsim.analysis.teams import utilization
from funnelsim.analysis.timeseries import timeseries, timeseries_bands
from funnelsim.analysis.timing import (
    first_response,
    quote_to_cash,
    response_buckets,
    sales_cycle,
    speed_to_lead_ratios,
    stage_times,
)

__all__ = [
    "arr_events",
    "attributed_leakage",
    "by_source",
    "close_and_stay_probability",
    "conversion",
    "costs",
    "deferral",
    "first_response",
    "forecast_accuracy",
    "forecast_error",
    "forecasts",
    "headline",
    "headroom",
    "leakage_by_seam",
    "outcomes",
    "peak_occupancy",
    "pipeline",
    "quarterly_load",
    "quote_to_cash",
    "reconciliation",
    "response_buckets",
    "retention",
    "sales_cycle",
    "saturation",
    "saturation_warnings",
    "speed_to_lead_ratios",
    "stage_conversion",
    "stage_counts",
    "stage_times",
    "timeseries",
    "timeseries_bands",
    "trailing_retention",
    "unit_economics",
    "utilization",
]
