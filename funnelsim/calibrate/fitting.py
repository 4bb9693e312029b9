"""Estimating a funnel from clean records: arrivals, conversions, stage times, values, teams.

Open records are censored at their age on the export date: Kaplan-Meier conversion
(records closed as lost never convert; open ones may still), Aalen-Johansen win rates
(won and lost compete; open deals are neither) and censored maximum-likelihood stage
times. Every estimate carries its sample sizes and, where it is a headline number, a
95% interval (exact Poisson for rates, bootstrap over records for conversions and medians).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pandas as pd
from scipy import stats

from funnelsim.calibrate.fitdist import MIN_PARAMETRIC, DistFit, _round, fit_duration
from funnelsim.calibrate.mapping import STAGES, Mapping, MappingError
from funnelsim.calibrate.reading import Export
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

DAY = pd.Timedelta(days=1)
WEEK_DAYS = 7.0
SEASONALITY_MIN_DAYS = 730
SEASONALITY_P = 0.01
MIN_SEGMENT = 30
MIN_RECORDS = 20
MIN_DISTINCT_DAYS = 2
FEW_RECORDS = 200
FEW_CLOSED = 30
STALLED_MIN_RECORDS = 30
STALLED_MIN_SHARE = 0.05
OUTCOME_ROUNDS = 2
GOF_MIN_D = 0.05
GOF_KS_1PCT = 1.63
GOF_PROBS = (np.arange(99) + 0.5) / 99
EMPIRICAL_POINTS = 200
OWNER_CELLS = 4_000_000

T = TypeVar("T")


@dataclass
class StageFit:
    """Conversion from one stage to the next, and the time it takes (days)."""

    from_stage: str
    to_stage: str
    segment: str
    entered: int
    converted: int
    still_open: int
    never: int
    conversion: float
    ci_low: float
    ci_high: float
    median_days: float
    median_ci: tuple[float, float]
    time: DistFit | None

    @property
    def name(self) -> str:
        """E.g. 'mql -> sql'."""
        return f"{self.from_stage} -> {self.to_stage}"


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


@dataclass
class Fitted:
    """Everything estimated from one export."""

    mapping: Mapping
    export: Export
    chain: tuple[str, ...]
    weeks: float
    arrivals: pd.DataFrame
    seasonality: dict[str, list[float] | None]
    seasonality_note: str
    stages: list[StageFit]
    qualify: dict[str, StageFit]
    cycles: dict[str, CycleFit]
    deal_values: dict[str, DistFit]
    segment_shares: dict[str, float]
    segment_mix: dict[str, dict[str, float]]
    owners: int
    concurrent_per_owner: float | None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def last_stage(self) -> str:
        """The last dated stage before close (the cycle starts here)."""
        return self.chain[-1]


def fit_export(export: Export, mapping: Mapping, seed: int = 0, replicates: int = 200) -> Fitted:
    """Fit every quantity the export supports."""
    rng = np.random.default_rng(seed)
    cohort = export.cohort.reset_index(drop=True)
    chain = _chain(mapping)
    weeks = (export.export_date - export.start_date) / DAY / WEEK_DAYS
    notes: list[str] = []
    warnings = _check_size(cohort, mapping)
    arrivals = _arrivals(cohort, weeks)
    seasonality, season_note = _seasonality(cohort, export)
    stages = [
        _stage(cohort, chain, i, export.export_date, "all", rng, replicates, notes)
        for i in range(len(chain) - 1)
    ]
    qualify: dict[str, StageFit] = {}
    if (
        "sql" in chain
        and "opportunity" in chain
        and chain.index("opportunity") == chain.index("sql") + 1
    ):
        i = chain.index("sql")
        qualify = _per_segment(
            cohort,
            lambda rows, segment: _stage(
                rows, chain, i, export.export_date, segment, rng, replicates, []
            ),
        )
    cycles: dict[str, CycleFit] = {}
    if mapping.stages.close is not None:
        cycles["all"] = _cycle(cohort, chain, export.export_date, "all", rng, replicates)
        cycles.update(
            _per_segment(
                cohort,
                lambda rows, segment: _cycle(
                    rows, chain, export.export_date, segment, rng, replicates
                ),
            )
        )
    deal_values = _deal_values(export.records, notes)
    shares = cohort["segment"].value_counts(normalize=True).sort_index()
    mix = {
        str(source): rows["segment"].value_counts(normalize=True).sort_index().to_dict()
        for source, rows in cohort.groupby("source")
    }
    owners = int(cohort.loc[cohort["owner"] != "", "owner"].nunique())
    concurrent = _concurrency(cohort, chain, export) if owners else None
    return Fitted(
        mapping=mapping,
        export=export,
        chain=chain,
        weeks=float(weeks),
        arrivals=arrivals,
        seasonality=seasonality,
        seasonality_note=season_note,
        stages=stages,
        qualify=qualify,
        cycles=cycles,
        deal_values=deal_values,
        segment_shares={str(k): float(v) for k, v in shares.items()},
        segment_mix={k: {str(s): float(p) for s, p in v.items()} for k, v in mix.items()},
        owners=owners,
        concurrent_per_owner=concurrent,
        notes=notes,
        warnings=warnings,
    )


def _check_size(cohort: pd.DataFrame, mapping: Mapping) -> list[str]:
    """Refuse a tiny or single-day export; warn loudly when it is small or none has closed."""
    n = len(cohort)
    if n < MIN_RECORDS:
        raise MappingError(
            f"{mapping.created}: only {n} usable records in the window; calibration needs at "
            f"least {MIN_RECORDS} (and a few hundred for useful intervals)"
        )
    days = cohort["created"].dt.normalize()
    if days.nunique() < MIN_DISTINCT_DAYS:
        raise MappingError(
            f"{mapping.created}: every usable record was created on {days.iloc[0].date()}; "
            f"arrival rates need records created on at least {MIN_DISTINCT_DAYS} different days"
        )
    warnings = []
    if n < FEW_RECORDS:
        warnings.append(
            f"only {n} usable records in the window: every estimate is rough (see the "
            "intervals in the fit report)"
        )
    if mapping.stages.close is not None:
        closed = int(cohort["status"].isin(["won", "lost"]).sum())
        if closed == 0:
            warnings.append(
                f"no record in the window has closed ({n} open): the win rate and the cycle "
                "keep their defaults, marked in the scenario"
            )
        elif closed < FEW_CLOSED:
            warnings.append(f"only {closed} closed records: win rate and cycle are rough")
    return warnings


def _per_segment(cohort: pd.DataFrame, fit: Callable[[pd.DataFrame, str], T]) -> dict[str, T]:
    """``fit(rows, segment)`` for each segment's records (renumbered from 0), in segment order."""
    return {
        str(segment): fit(rows.reset_index(drop=True), str(segment))
        for segment, rows in cohort.groupby("segment")
    }


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


def _chain(mapping: Mapping) -> tuple[str, ...]:
    """The dated stages in funnel order, starting at the entry stage."""
    entry = STAGES.index(mapping.created_stage)
    dated = [s for s in STAGES[entry + 1 :] if getattr(mapping.stages, s) is not None]
    return (mapping.created_stage, *dated)


def _stage_date(frame: pd.DataFrame, chain: tuple[str, ...], stage: str) -> pd.Series:
    return frame["created"] if stage == chain[0] else frame[stage]


def _arrivals(cohort: pd.DataFrame, weeks: float) -> pd.DataFrame:
    """Records per week by source, with exact Poisson 95% intervals."""
    rows = []
    for source, count in cohort["source"].value_counts().sort_index().items():
        low = stats.chi2.ppf(0.025, 2 * count) / 2 if count else 0.0
        high = stats.chi2.ppf(0.975, 2 * count + 2) / 2
        rows.append((str(source), int(count), weeks, count / weeks, low / weeks, high / weeks))
    return pd.DataFrame(
        rows, columns=["source", "records", "weeks", "per_week", "ci_low", "ci_high"]
    )


def _seasonality(cohort: pd.DataFrame, export: Export) -> tuple[dict[str, list[float] | None], str]:
    """Monthly multipliers per source when two years of history show them (Poisson LR test)."""
    span = (export.export_date - export.start_date) / DAY
    sources = sorted(cohort["source"].unique())
    if span < SEASONALITY_MIN_DAYS:
        note = (
            f"not estimated: {span:.0f} days of history; monthly seasonality needs "
            f"{SEASONALITY_MIN_DAYS} (two of each calendar month) to tell it from trend"
        )
        return dict.fromkeys(sources), note
    days = pd.date_range(export.start_date.normalize(), export.export_date, freq="D")
    exposure = np.bincount(days.month - 1, minlength=12).astype(float)
    out: dict[str, list[float] | None] = {}
    verdicts = []
    for source in sources:
        months = cohort.loc[cohort["source"] == source, "created"].dt.month.to_numpy() - 1
        counts = np.bincount(months, minlength=12).astype(float)
        expected = counts.sum() * exposure / exposure.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            g = 2 * np.nansum(np.where(counts > 0, counts * np.log(counts / expected), 0.0))
        p = float(stats.chi2.sf(g, 11))
        if p < SEASONALITY_P:
            multipliers = (counts / exposure) / (counts.sum() / exposure.sum())
            out[source] = [round(float(m), 3) for m in multipliers]
            verdicts.append(f"{source}: seasonal (LR test p={p:.2g})")
        else:
            out[source] = None
            verdicts.append(f"{source}: flat (LR test p={p:.2g})")
    return out, "; ".join(verdicts)


def _stage(
    frame: pd.DataFrame,
    chain: tuple[str, ...],
    i: int,
    export_date: pd.Timestamp,
    segment: str,
    rng: np.random.Generator,
    replicates: int,
    notes: list[str],
) -> StageFit:
    """Kaplan-Meier conversion from chain[i] to chain[i+1] with its time distribution."""
    start = _stage_date(frame, chain, chain[i])
    later = [frame[s] for s in chain[i + 1 :]]
    won = frame["status"] == "won"
    later.append(frame["close"].where(won))
    reached_at = pd.concat(later, axis=1).bfill(axis=1).iloc[:, 0]
    reached = reached_at.notna() | won
    has_start = start.notna()
    if not has_start.all() and segment == "all":
        notes.append(
            f"{chain[i]} -> {chain[i + 1]}: {int((~has_start).sum())} records have no "
            f"{chain[i]} date (skipped or not yet there) and are left out of this step"
        )
    timed = has_start & ~(reached & reached_at.isna())
    sub_start, sub_reached, sub_at = start[timed], reached[timed], reached_at[timed]
    status = frame.loc[timed, "status"]
    age = (export_date - sub_start) / DAY
    dur = np.where(sub_reached, (sub_at - sub_start) / DAY, np.where(status == "open", age, np.inf))
    event = sub_reached.to_numpy()
    dur = dur.astype(float)
    converted, (low, high) = estimate(conversion, dur, event.astype(int), rng, replicates, 1)
    median, med_ci = _median_days(dur, event, True, rng, replicates)
    open_mask = ~event & np.isfinite(dur)
    time_fit = None
    instant = float(np.mean(dur[event] <= 0)) if event.any() else 1.0
    if event.sum() > 0 and instant < 0.5:
        time_fit = fit_duration(dur[event], dur[open_mask], cure=max(converted, 1e-6))
    elif event.any() and segment == "all":
        notes.append(f"{chain[i]} -> {chain[i + 1]}: {instant:.0%} convert at once; no time fit")
    return StageFit(
        from_stage=chain[i],
        to_stage=chain[i + 1],
        segment=segment,
        entered=len(dur),
        converted=int(event.sum()),
        still_open=int(open_mask.sum()),
        never=int((~event & ~np.isfinite(dur)).sum()),
        conversion=converted,
        ci_low=low,
        ci_high=high,
        median_days=median,
        median_ci=med_ci,
        time=time_fit,
    )


def cycle_data(
    frame: pd.DataFrame, chain: tuple[str, ...], export_date: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray]:
    """Days from the last dated stage to close (or to the export date) and the outcome code.

    The code is 1 won, 2 lost, 0 still open (censored at its age).
    """
    start = _stage_date(frame, chain, chain[-1])
    rows = frame[start.notna()]
    start = start[start.notna()]
    status = rows["status"].to_numpy()
    closed = status != "open"
    end = rows["close"].where(closed, export_date)
    durations = ((end - start) / DAY).to_numpy(dtype=float)
    causes = np.where(status == "won", 1, np.where(status == "lost", 2, 0))
    return durations, causes


def _cycle(
    frame: pd.DataFrame,
    chain: tuple[str, ...],
    export_date: pd.Timestamp,
    segment: str,
    rng: np.random.Generator,
    replicates: int,
) -> CycleFit:
    """Time to close (won or lost), open deals censored, and the competing-risks win rate.

    When many deals stay open far longer than any deal ever took to close, the
    Kaplan-Meier curve levels off: that share is reported as stalled (never closing), and
    the cycle is fitted for the deals that do close (a cure model).
    """
    durations, causes = cycle_data(frame, chain, export_date)
    event = causes > 0
    win, win_ci = estimate(share_won, durations, causes, rng, replicates)
    stalled, stalled_ci = 0.0, (0.0, 0.0)
    if event.any():
        last = durations[event].max()
        beyond = int((~event & (durations > last)).sum())
        share = 1.0 - km_conversion(durations, event)
        if beyond >= STALLED_MIN_RECORDS and share > STALLED_MIN_SHARE:
            stalled = share
            ends = tally(durations, event.astype(int), outcomes=1, max_groups=MAX_GROUPS)
            low, high = bootstrap(conversion, ends, rng, replicates)
            stalled_ci = (1.0 - high, 1.0 - low)
    cure = stalled > 0
    median, med_ci = _median_days(durations, event, cure, rng, replicates)
    time_fit = (
        fit_duration(durations[event], durations[~event], cure=1.0 - stalled)
        if event.any()
        else None
    )
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
    won, lost, ages = durations[causes == 1], durations[causes == 2], durations[causes == 0]
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


def _deal_values(records: pd.DataFrame, notes: list[str]) -> dict[str, DistFit]:
    """Won amounts by segment (all won records, also left-truncated ones), fitted by AIC."""
    won = records[(records["status"] == "won") & (records["amount"] > 0)]
    zero = int(((records["status"] == "won") & (records["amount"] <= 0)).sum())
    if zero:
        notes.append(f"deal values: {zero} won records with an amount <= 0 are not used")
    out: dict[str, DistFit] = {}
    if won.empty:
        return out
    out["all"] = fit_duration(won["amount"].to_numpy(), floor=1e-6)
    for segment, rows in won.groupby("segment"):
        values = rows["amount"].to_numpy()
        out[str(segment)] = fit_duration(values, floor=1e-6, min_parametric=MIN_PARAMETRIC)
    return out


def _concurrency(cohort: pd.DataFrame, chain: tuple[str, ...], export: Export) -> float | None:
    """95th percentile over weeks of the largest number of open records any owner holds.

    Each record is open on the weekly grid points in [its start, its close); counts per
    owner and week come from +1/-1 steps summed along the weeks, a block of owners at a time.
    """
    start = _stage_date(cohort, chain, chain[-1])
    rows = cohort[start.notna() & (cohort["owner"] != "")]
    if rows.empty:
        return None
    grid = pd.date_range(export.start_date, export.export_date, freq="7D").to_numpy()
    begin = start[rows.index].to_numpy(dtype="datetime64[ns]")
    end = rows["close"].fillna(export.export_date).to_numpy(dtype="datetime64[ns]")
    first = np.searchsorted(grid, begin, side="left")
    stop = np.searchsorted(grid, end, side="left")
    owners, names = pd.factorize(rows["owner"])
    valid = first < stop
    owners, first, stop = owners[valid], first[valid], stop[valid]
    weeks = len(grid)
    peaks = np.zeros(weeks)
    block = max(1, OWNER_CELLS // (weeks + 1))
    for low in range(0, len(names), block):
        mine = (owners >= low) & (owners < low + block)
        steps = np.zeros((block, weeks + 1))
        np.add.at(steps, (owners[mine] - low, first[mine]), 1.0)
        np.add.at(steps, (owners[mine] - low, stop[mine]), -1.0)
        peaks = np.maximum(peaks, np.cumsum(steps, axis=1)[:, :weeks].max(axis=0))
    busy = peaks[peaks > 0]
    return float(np.quantile(busy, 0.95)) if len(busy) else None
