"""Analysis: pure functions from ledgers to tidy pandas DataFrames."""

from funnelsim.analysis.funnel import conversion, outcomes, stage_counts
from funnelsim.analysis.leakage import (
    attributed_leakage,
    close_and_stay_probability,
    leakage_by_seam,
)

__all__ = [
    "attributed_leakage",
    "close_and_stay_probability",
    "conversion",
    "leakage_by_seam",
    "outcomes",
    "stage_counts",
]
