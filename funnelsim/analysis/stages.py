"""Sales stages in the ledger: the open pipeline by stage, and stages fitted back from dates.

The ledger's stage rows (``Ledger.stages``: lead_id, stage, entered, left, result) are
the dates a CRM's stage history holds. From them :func:`stage_conversion` estimates, per
stage, the chance of moving on (advanced or won, over those that left the stage) with a
Wilson interval, and the median time in the stage with a Kaplan-Meier estimate that
treats deals still in the stage at the horizon as censored (interval by the
Brookmeyer-Crowley method on Greenwood's variance). A deal of the starting book entered
its first stage before the run: its time there is left out (it is known only to exceed
its age), its exit is not.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

from funnelsim.analysis._common import HOURS_PER_DAY, horizon_hours, observed
from funnelsim.engine.ledger import Ledger
from funnelsim.experiment.stats import CONFIDENCE

CONVERSION_COLUMNS: tuple[str, ...] = (
    "stage",
    "entered",
    "moved_on",
    "lost",
    "open",
    "conversion",
    "conversion_low",
    "conversion_high",
    "median_days",
    "median_days_low",
    "median_days_high",
)


def stage_rows(ledger: Ledger) -> pd.DataFrame:
    """The ledger's stage rows; for a ledger without them, one stage from open to close."""
    if ledger.stages is not None:
        return ledger.stages
    c = ledger.columns
    lead = np.flatnonzero(c["opportunity"].astype(bool) & np.isfinite(observed(ledger, "opp_time")))
    close = observed(ledger, "close_time")[lead]
    won = c["won"].astype(bool)[lead]
    result = np.where(np.isnan(close), "open", np.where(won, "won", "lost"))
    return pd.DataFrame(
        {
            "lead_id": lead,
            "stage": np.zeros(len(lead), dtype=np.int32),
            "entered": c["opp_time"][lead],
            "left": close,
            "result": pd.Categorical(result, categories=["advanced", "lost", "won", "open"]),
        }
    )


def open_pipeline_by_stage(ledger: Ledger, times: np.ndarray) -> np.ndarray:
    """(times x stages) deal value of the opportunities open at each time, by stage."""
    rows = stage_rows(ledger)
    value = np.asarray(ledger.columns["deal_value"], dtype=float)[rows["lead_id"].to_numpy()]
    stage = rows["stage"].to_numpy(dtype=np.int64)
    entered = rows["entered"].to_numpy(dtype=float)
    left = rows["left"].to_numpy(dtype=float)
    until = np.where(np.isfinite(left), left, np.inf)
    n_stages = len(ledger.stage_names)
    out = np.zeros((len(times), n_stages))
    for i, t in enumerate(np.asarray(times, dtype=float)):
        inside = (entered <= t) & (until > t)
        out[i] = np.bincount(stage[inside], weights=value[inside], minlength=n_stages)
    return out


def stage_conversion(
    ledger: Ledger, segment: str | None = None, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Per stage: deals that entered, moved on, were lost or are still in it; the chance
    of moving on and the median days in the stage, each with its interval.

    ``segment`` restricts to one segment's deals. Columns are ``CONVERSION_COLUMNS``.
    """
    rows = stage_rows(ledger)
    if segment is not None:
        code = list(ledger.segment_names).index(segment)
        rows = rows[ledger.columns["segment"][rows["lead_id"].to_numpy()] == code]
    horizon = horizon_hours(ledger)
    z = float(special.ndtri(0.5 + confidence / 2))
    out = []
    for index, name in enumerate(ledger.stage_names):
        here = rows[rows["stage"] == index]
        result = here["result"].astype(str).to_numpy()
        moved = int(np.isin(result, ("advanced", "won")).sum())
        lost = int((result == "lost").sum())
        low, high = wilson(moved, moved + lost, z)
        entered = here["entered"].to_numpy(dtype=float)
        left = here["left"].to_numpy(dtype=float)
        fresh = entered >= 0
        exited = np.isfinite(left)
        days = (np.where(exited, left, horizon) - entered)[fresh] / HOURS_PER_DAY
        median, median_low, median_high = km_median(days, exited[fresh], z)
        out.append(
            (
                name,
                len(here),
                moved,
                lost,
                int((result == "open").sum()),
                moved / (moved + lost) if moved + lost else np.nan,
                low,
                high,
                median,
                median_low,
                median_high,
            )
        )
    return pd.DataFrame(out, columns=list(CONVERSION_COLUMNS))


def wilson(successes: int, trials: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (NaN without trials)."""
    if trials == 0:
        return np.nan, np.nan
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(centre - half), float(centre + half)


def km_median(durations: np.ndarray, events: np.ndarray, z: float) -> tuple[float, float, float]:
    """Kaplan-Meier median of right-censored durations and its Brookmeyer-Crowley interval.

    The interval runs from the first event time where ``(S(t) - 0.5)^2 <= z^2 var(S(t))``
    (Greenwood's variance) to the event time after the last such one (where the curve is
    first clearly below one half). NaN where the curve never falls to one half.
    """
    durations = np.asarray(durations, dtype=float)
    events = np.asarray(events, dtype=bool)
    times = np.unique(durations[events])
    if len(times) == 0:
        return np.nan, np.nan, np.nan
    ordered = np.sort(durations)
    at_risk = len(ordered) - np.searchsorted(ordered, times, side="left")
    event_times = np.sort(durations[events])
    deaths = np.searchsorted(event_times, times, "right") - np.searchsorted(
        event_times, times, "left"
    )
    survival = np.cumprod(1.0 - deaths / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(at_risk > deaths, deaths / (at_risk * (at_risk - deaths)), np.inf)
        variance = np.where(survival > 0, survival**2 * np.cumsum(terms), 0.0)
    below = np.flatnonzero(survival <= 0.5)
    median = float(times[below[0]]) if len(below) else np.nan
    inside = np.flatnonzero((survival - 0.5) ** 2 <= z * z * variance)
    if len(inside) == 0:
        return median, median, median
    upper = inside[-1] + 1
    high = float(times[upper]) if upper < len(times) else np.nan
    return median, float(times[inside[0]]), high
