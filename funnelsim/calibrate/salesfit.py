"""Sales stages fitted from the deals' stage dates: per stage the chance of moving on and
the time spent in it, per segment where there is enough data, and the CRM stage weights.

Each deal in the sales cycle enters its first stage at the cycle's start (or that stage's
own date) and each later stage on its date. It leaves a stage when it enters the next
dated one (moved on; stages it skipped are left out, undated), or at its close when none
follows: won (moved on), lost (lost there; at an unknown time without a close date), or
still open at the recording window's end (censored at its age). As in
:func:`funnelsim.analysis.stages.stage_conversion`, the chance of moving on is moved on /
(moved on + lost) with a Wilson interval, and the median days in a stage is Kaplan-Meier
with the open deals censored (Brookmeyer-Crowley interval); the time in a stage is fitted
with the censored maximum likelihood of :func:`~funnelsim.calibrate.fitdist.fit_duration`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from funnelsim.analysis.stages import km_median, wilson
from funnelsim.calibrate.fitdist import DistFit, fit_duration
from funnelsim.calibrate.mapping import POOLED, Mapping
from funnelsim.calibrate.stagedates import SALES
from funnelsim.calibrate.window import _stage_date

MOVED, LOST, OPEN = "moved on", "lost", "open"


@dataclass
class SalesStageFit:
    """One sales stage in one segment (or pooled): deals in it, outcomes, chance, time."""

    stage: str
    segment: str
    entered: int
    moved_on: int
    lost: int
    still_open: int
    conversion: float
    ci: tuple[float, float]
    median_days: float
    median_ci: tuple[float, float]
    time: DistFit | None

    @property
    def exits(self) -> int:
        """Deals that left the stage (moved on or lost)."""
        return self.moved_on + self.lost


@dataclass
class SalesStages:
    """The fitted sales stages: pooled and per segment, in walking order, and the chance of
    eventually winning from each stage (the CRM's stage weights)."""

    names: tuple[str, ...]
    pooled: list[SalesStageFit]
    by_segment: dict[str, list[SalesStageFit]] = field(default_factory=dict)

    @property
    def weights(self) -> list[float]:
        """Pooled chance of winning from each stage: the product of the chances from it on."""
        chances = np.array([s.conversion for s in self.pooled], dtype=float)
        return [float(np.prod(chances[i:])) for i in range(len(chances))]


def stage_walks(
    frame: pd.DataFrame, chain: tuple[str, ...], end: pd.Timestamp, names: list[str]
) -> pd.DataFrame:
    """One row per deal and stage entered: record, stage index, days in it, outcome."""
    start = _stage_date(frame, chain, chain[-1]).to_numpy(dtype="datetime64[ns]")
    dates = np.stack(
        [frame[SALES + name].to_numpy(dtype="datetime64[ns]") for name in names], axis=1
    )
    dates[:, 0] = np.where(np.isnat(dates[:, 0]), start, dates[:, 0])
    status = frame["status"].to_numpy()
    close = frame["close"].to_numpy(dtype="datetime64[ns]")
    following = np.full(len(frame), np.datetime64("NaT"), "datetime64[ns]")
    parts = []
    for k in range(len(names) - 1, -1, -1):
        entered = dates[:, k]
        here = np.flatnonzero(~np.isnat(entered))
        nxt = following[here]
        moved = ~np.isnat(nxt) | (status[here] == "won")
        left = np.where(~np.isnat(nxt), nxt, close[here])
        outcome = np.where(moved, MOVED, np.where(status[here] == "lost", LOST, OPEN))
        left = np.where(outcome == OPEN, np.datetime64(end), left)
        parts.append(
            pd.DataFrame(
                {
                    "record": here,
                    "stage": k,
                    "days": (left - entered[here]) / np.timedelta64(1, "D"),
                    "outcome": outcome,
                }
            )
        )
        following = np.where(np.isnat(entered), following, entered)
    return pd.concat(parts[::-1], ignore_index=True)


def fit_sales_stages(
    observed: pd.DataFrame,
    chain: tuple[str, ...],
    end: pd.Timestamp,
    mapping: Mapping,
    confidence: float = 0.95,
) -> SalesStages | None:
    """The sales stages fitted on the window's records, or None when none are mapped;
    intervals at ``confidence``."""
    if not mapping.sales_stages:
        return None
    names = list(mapping.sales_stages)
    walks = stage_walks(observed, chain, end, names)
    segment = observed["segment"].to_numpy()[walks["record"].to_numpy()]
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    pooled = _fits(walks, names, POOLED, z)
    by_segment = {
        str(name): _fits(walks[segment == name], names, str(name), z)
        for name in sorted(set(segment))
    }
    return SalesStages(tuple(names), pooled, by_segment)


def _fits(walks: pd.DataFrame, names: list[str], segment: str, z: float) -> list[SalesStageFit]:
    return [_fit(walks[walks["stage"] == k], name, segment, z) for k, name in enumerate(names)]


def _fit(rows: pd.DataFrame, name: str, segment: str, z: float) -> SalesStageFit:
    outcome = rows["outcome"].to_numpy()
    days = np.maximum(rows["days"].to_numpy(dtype=float), 0.0)
    moved, lost = int((outcome == MOVED).sum()), int((outcome == LOST).sum())
    low, high = wilson(moved, moved + lost, z)
    timed = np.isfinite(days)
    exited = (outcome != OPEN)[timed]
    median, median_low, median_high = km_median(days[timed], exited, z)
    events, ages = days[timed][exited], days[timed][~exited]
    time = fit_duration(events, ages) if len(events) else None
    return SalesStageFit(
        stage=name,
        segment=segment,
        entered=len(rows),
        moved_on=moved,
        lost=lost,
        still_open=int((outcome == OPEN).sum()),
        conversion=moved / (moved + lost) if moved + lost else float("nan"),
        ci=(low, high),
        median_days=median,
        median_ci=(median_low, median_high),
        time=time,
    )


def no_stages_note(mapping: Mapping) -> str:
    """Why the sales cycle stays one stage, for the fit report."""
    return (
        "not fitted: the mapping names no sales-stage dates (sales_stages, stage_history), "
        "so the export shows only when a deal's sales cycle started and when it closed; "
        "the sales cycle stays one stage (win rate and cycle days from start to close)"
    )
