"""Forecast accuracy: a stage-weighted quarterly forecast against what actually closed.

At each quarter's start ``q0`` the forecaster looks at the opportunities open then
(``opp_time <= q0 < close_time``; still open at the horizon counts as open). The CRM
records each one's stage from the elapsed share of its expected cycle,
``(q0 - opp_time) / (expected_close - opp_time)``: below 0.25 discovery, below 0.5
proposal, below 0.75 negotiation, else commit. An opportunity with a stale stage record
(``stale_stage``, the CRM hygiene setting) shows one stage later than it is (commit stays
commit). The recorded close date is ``expected_close``: slips are unknown to the
forecaster. The quarter's forecast is the sum of ``weight x deal_value`` over those
expected to close in it; the actual is the deal value won in the quarter by opportunities
that were open at its start. A last, partial quarter ends at the horizon.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.analysis._common import (
    HOURS_PER_DAY,
    QUARTER_HOURS,
    horizon_hours,
    observed,
    quarter_starts,
)
from funnelsim.engine.ledger import Ledger

STAGES: tuple[str, ...] = ("discovery", "proposal", "negotiation", "commit")
# Stage probabilities as a sales team with a ~25-30% opportunity win rate sets them: late
# stages above the average, early ones below. Stale records still bump a deal a stage up.
STAGE_WEIGHTS: tuple[float, ...] = (0.1, 0.2, 0.35, 0.5)
STAGE_BOUNDS: tuple[float, ...] = (0.25, 0.5, 0.75)


def recorded_stage(elapsed_share: np.ndarray, stale: np.ndarray) -> np.ndarray:
    """Stage index (0 discovery .. 3 commit) the CRM shows, one later when the record is stale."""
    stage = np.searchsorted(np.asarray(STAGE_BOUNDS), elapsed_share, side="right")
    return np.minimum(stage + np.asarray(stale, dtype=np.int64), len(STAGES) - 1)


def forecast_accuracy(ledger: Ledger) -> pd.DataFrame:
    """Per quarter: stage-weighted forecast at its start, actual won, error, abs % error.

    Columns quarter (1-based), start_day, forecast, actual, error (forecast - actual) and
    abs_pct_error (|error| / actual; NaN when nothing was won).
    """
    c = ledger.columns
    starts = quarter_starts(ledger)
    is_opp = c["opportunity"].astype(bool)
    opp_time = np.where(is_opp, observed(ledger, "opp_time"), np.nan)
    is_opp &= np.isfinite(opp_time)
    idx = np.flatnonzero(is_opp)
    opp_time = opp_time[idx]
    expected = np.asarray(c["expected_close"], dtype=float)[idx]
    close_time = observed(ledger, "close_time")[idx]
    won = c["won"].astype(bool)[idx] & np.isfinite(close_time)
    value = np.asarray(c["deal_value"], dtype=float)[idx]
    stale = c["stale_stage"].astype(bool)[idx]
    open_until = np.where(np.isfinite(close_time), close_time, np.inf)
    cycle = expected - opp_time

    q0 = starts[:, None]
    q1 = np.minimum(q0 + QUARTER_HOURS, horizon_hours(ledger))
    open_at = (opp_time[None, :] <= q0) & (open_until[None, :] > q0)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(cycle[None, :] > 0, (q0 - opp_time[None, :]) / cycle[None, :], np.inf)
    weight = np.asarray(STAGE_WEIGHTS)[recorded_stage(share, stale[None, :])]
    expected_in = (expected[None, :] >= q0) & (expected[None, :] < q1)
    forecast = (open_at & expected_in) * weight * value[None, :]
    closed_in = (close_time[None, :] >= q0) & (close_time[None, :] < q1)
    actual = (open_at & won[None, :] & closed_in) * value[None, :]
    forecast_sum = forecast.sum(axis=1)
    actual_sum = actual.sum(axis=1)
    error = forecast_sum - actual_sum
    with np.errstate(divide="ignore", invalid="ignore"):
        abs_pct = np.where(actual_sum > 0, np.abs(error) / actual_sum, np.nan)
    return pd.DataFrame(
        {
            "quarter": np.arange(1, len(starts) + 1, dtype=np.int64),
            "start_day": starts / HOURS_PER_DAY,
            "forecast": forecast_sum,
            "actual": actual_sum,
            "error": error,
            "abs_pct_error": abs_pct,
        }
    )


def forecast_error(ledger: Ledger) -> float:
    """Mean absolute percentage error of the quarterly forecast (quarters with a win; else NaN)."""
    errors = forecast_accuracy(ledger)["abs_pct_error"].to_numpy(dtype=float)
    errors = errors[np.isfinite(errors)]
    return float(errors.mean()) if len(errors) else np.nan
