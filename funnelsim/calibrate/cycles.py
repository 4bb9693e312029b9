"""The sales cycle from the last dated stage to close: win rate, stalled deals, and the
won and lost cycle times fitted jointly with the open deals censored."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from funnelsim.calibrate.fitdist import DistFit, _round, fit_duration
from funnelsim.calibrate.survival import (
    MAX_GROUPS,
    Tally,
    bootstrap,
    cif_quantiles,
    conversion,
    estimate,
    km_conversion,
    quantiles,
    share_won,
    tally,
)
from funnelsim.calibrate.window import DAY, _stage_date

STALLED_MIN_RECORDS = 30
STALLED_MIN_SHARE = 0.05
OUTCOME_ROUNDS = 2
GOF_MIN_D = 0.05
GOF_KS_1PCT = 1.63
GOF_PROBS = (np.arange(99) + 0.5) / 99
EMPIRICAL_POINTS = 200


@dataclass
class CycleFit:
    """Time from the last dated stage to close (won or lost), and the win rate, per segment."""

    segment: str
    won: int
    lost: int
    still_open: int
    win_rate: float
    win_ci: tuple[float, float]
    median_days: float
    median_ci: tuple[float, float]
    time: DistFit | None
    stalled: float = 0.0
    stalled_ci: tuple[float, float] = (0.0, 0.0)
    won_time: DistFit | None = None
    lost_time: DistFit | None = None
    won_median_days: float = float("nan")
    lost_median_days: float = float("nan")
    durations: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    causes: np.ndarray = field(repr=False, default_factory=lambda: np.empty(0))
    won_only: bool = False

    @property
    def won_share(self) -> float:
        """Share of the records entering the cycle that are ever won."""
        return (1.0 - self.stalled) * self.win_rate


def cycle_data(
    frame: pd.DataFrame, chain: tuple[str, ...], export_date: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Days from the last dated stage to close (or to the export date) and the outcome code.

    The code is 1 won, 2 lost, 0 still open (censored at its age). A record lost without
    a close date (e.g. disqualified before the last stage's deal) is lost at an unknown
    time: duration ``inf``.
    """
    start = _stage_date(frame, chain, chain[-1])
    rows = frame[start.notna()]
    start = start[start.notna()]
    status = rows["status"].to_numpy()
    closed = status != "open"
    end = rows["close"].where(closed, export_date)
    durations = ((end - start) / DAY).to_numpy(dtype=float, copy=True)
    durations[np.isnan(durations)] = np.inf
    causes = np.where(status == "won", 1, np.where(status == "lost", 2, 0))
    return durations, causes


def _cycle(
    frame: pd.DataFrame,
    chain: tuple[str, ...],
    export_date: pd.Timestamp,
    segment: str,
    rng: np.random.Generator,
    replicates: int,
    times: bool = True,
) -> CycleFit:
    """Time to close (won or lost), open deals censored, and the competing-risks win rate.

    When many deals stay open far longer than any deal ever took to close, the
    Kaplan-Meier curve levels off: that share is reported as stalled (never closing), and
    the cycle is fitted for the deals that do close (a cure model). When the export shows
    no loss at all (no lost status, or none in these records), the win rate is the share
    ever won (Kaplan-Meier plateau, open records censored) and the others never close.
    """
    durations, causes = cycle_data(frame, chain, export_date)
    event = causes > 0
    won_only = (causes == 1).any() and not (causes == 2).any()
    if won_only:
        return _won_only_cycle(durations, causes, segment, rng, replicates, times)
    win, win_ci = estimate(share_won, durations, causes, rng, replicates)
    stalled, stalled_ci = 0.0, (0.0, 0.0)
    finite = event & np.isfinite(durations)
    if finite.any():
        last = durations[finite].max()
        beyond = int((~event & (durations > last)).sum())
        share = 1.0 - km_conversion(durations, event)
        if beyond >= STALLED_MIN_RECORDS and share > STALLED_MIN_SHARE:
            stalled = share
            ends = tally(durations, event.astype(int), outcomes=1, max_groups=MAX_GROUPS)
            low, high = bootstrap(conversion, ends, rng, replicates)
            stalled_ci = (1.0 - high, 1.0 - low)
    cure = stalled > 0
    median, med_ci = _median_days(durations, event, cure, rng, replicates)
    time_fit = won_time = lost_time = None
    if times and finite.any():
        time_fit = fit_duration(durations[finite], durations[~event], cure=1.0 - stalled)
        won_time, lost_time = _outcome_fits(durations, causes, stalled, win)
    return CycleFit(
        segment=segment,
        won=int((causes == 1).sum()),
        lost=int((causes == 2).sum()),
        still_open=int((causes == 0).sum()),
        win_rate=win,
        win_ci=win_ci,
        median_days=median,
        median_ci=med_ci,
        time=time_fit,
        stalled=stalled,
        stalled_ci=stalled_ci,
        won_time=won_time,
        lost_time=lost_time,
        won_median_days=_cif_median(durations, causes, 1),
        lost_median_days=_cif_median(durations, causes, 2),
        durations=durations,
        causes=causes,
    )


def _won_only_cycle(
    durations: np.ndarray,
    causes: np.ndarray,
    segment: str,
    rng: np.random.Generator,
    replicates: int,
    times: bool,
) -> CycleFit:
    """Win rate and time to win when no record is ever seen lost: Kaplan-Meier on wins."""
    won = causes == 1
    win, win_ci = estimate(conversion, durations, won.astype(int), rng, replicates, 1)
    median, med_ci = _median_days(durations, won, True, rng, replicates)
    won_time = None
    if times:
        won_time = fit_duration(durations[won], durations[~won], cure=max(win, 1e-6))
        won_time = _checked(won_time, durations, causes, 1)
    return CycleFit(
        segment=segment,
        won=int(won.sum()),
        lost=0,
        still_open=int((~won).sum()),
        win_rate=win,
        win_ci=win_ci,
        median_days=median,
        median_ci=med_ci,
        time=won_time,
        won_time=won_time,
        won_median_days=median,
        durations=durations,
        causes=causes,
        won_only=True,
    )


def _outcome_fits(
    durations: np.ndarray, causes: np.ndarray, stalled: float, win: float
) -> tuple[DistFit | None, DistFit | None]:
    """Time to close of won and of lost deals, fitted jointly with the open ones censored.

    A deal open at age c may still win (chance p S_won(c)), still lose (q S_lost(c)) or
    have stalled (s), with p = (1 - s) win, q = (1 - s) (1 - win). Its likelihood
    s + p S_won(c) + q S_lost(c) does not split, so the two fits alternate: each sees an
    open deal as one that will still end its way with chance p S(c) / (s + p S(c) + other),
    where ``other`` comes from the current fit of the other outcome.
    """
    finite = np.isfinite(durations)
    won, lost = durations[(causes == 1) & finite], durations[(causes == 2) & finite]
    ages = durations[causes == 0]
    if not len(won) or not len(lost) or not 0.0 < win < 1.0:
        return None, None
    p, q = (1.0 - stalled) * win, (1.0 - stalled) * (1.0 - win)
    won_fit = fit_duration(won, ages, cure=p)
    lost_fit = fit_duration(lost, ages, cure=q)
    for _ in range(OUTCOME_ROUNDS):
        still_won = p * won_fit.sf(ages)
        lost_fit = fit_duration(lost, ages, cure=q / (stalled + q + still_won))
        still_lost = q * lost_fit.sf(ages)
        won_fit = fit_duration(won, ages, cure=p / (stalled + p + still_lost))
    return _checked(won_fit, durations, causes, 1), _checked(lost_fit, durations, causes, 2)


def _checked(fit: DistFit, durations: np.ndarray, causes: np.ndarray, which: int) -> DistFit:
    """The parametric fit, or Aalen-Johansen quantiles when no family follows the data.

    The fit is kept when its largest CDF distance from the censoring-aware observed
    quantiles stays under max(0.05, 1.63 / sqrt(n)) (KS at 1%); otherwise (e.g. bimodal
    closes) the outcome's cycle is written as an empirical distribution of those quantiles.
    """
    if fit.frozen is None:
        return fit
    observed = cif_quantiles(durations, causes, which, GOF_PROBS)
    ok = np.isfinite(observed)
    distance = float(np.max(np.abs(fit.frozen.cdf(observed[ok]) - GOF_PROBS[ok])))
    if distance <= max(GOF_MIN_D, GOF_KS_1PCT / np.sqrt(fit.n_events)):
        return fit
    grid = (np.arange(EMPIRICAL_POINTS) + 0.5) / EMPIRICAL_POINTS
    values = np.maximum(cif_quantiles(durations, causes, which, grid), 0.5)
    values = values[np.isfinite(values)]
    spec = {"dist": "empirical", "samples": [_round(v) for v in values]}
    note = f"no family fits (CDF distance {distance:.3f}): Aalen-Johansen quantiles"
    return DistFit(
        "empirical",
        spec,
        fit.n_events,
        fit.n_censored,
        fit.aic,
        None,
        values,
        fit.censored,
        fit.cure,
        note,
    )


def _median_days(
    durations: np.ndarray,
    event: np.ndarray,
    cure: bool,
    rng: np.random.Generator,
    replicates: int,
) -> tuple[float, tuple[float, float]]:
    """Kaplan-Meier median time to the event and its bootstrap 95% interval."""

    def median(t: Tally) -> np.ndarray:
        return quantiles(t, np.array([0.5]), cure=cure)[..., 0]

    return estimate(median, durations, event.astype(int), rng, replicates, outcomes=1)


def _cif_median(durations: np.ndarray, causes: np.ndarray, which: int) -> float:
    """Aalen-Johansen median time to outcome ``which``."""
    return float(cif_quantiles(durations, causes, which, np.array([0.5]))[0])
