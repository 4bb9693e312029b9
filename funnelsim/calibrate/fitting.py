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

from funnelsim.calibrate.cycles import CycleFit, _cycle, cycle_data
from funnelsim.calibrate.fitdist import MIN_PARAMETRIC, DistFit, fit_duration
from funnelsim.calibrate.mapping import POOLED, STAGES, Mapping, MappingError
from funnelsim.calibrate.reading import Export
from funnelsim.calibrate.salesfit import SalesStages, fit_sales_stages, no_stages_note
from funnelsim.calibrate.survival import Tally, estimate, incidence, outcome_quantiles
from funnelsim.calibrate.window import (
    RecordingWindow,
    _chain,
    _stage_date,
    recording_window,
    truncate,
)

__all__ = [
    "CycleFit",
    "Fitted",
    "RecordingWindow",
    "StageFit",
    "_chain",
    "_stage",
    "cycle_data",
    "fit_export",
    "gate_step",
    "recording_window",
    "truncate",
]

DAY = pd.Timedelta(days=1)
WEEK_DAYS = 7.0
SEASONALITY_MIN_DAYS = 730
SEASONALITY_P = 0.01
MIN_SEGMENT = 30
MIN_RECORDS = 20
MIN_DISTINCT_DAYS = 2
FEW_RECORDS = 200
FEW_CLOSED = 30
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
    owners: dict[str, int]
    concurrent_per_owner: float | None
    window: RecordingWindow
    source_rates: dict[str, float] = field(default_factory=dict)
    sales: SalesStages | None = None
    sales_note: str = ""
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def last_stage(self) -> str:
        """The last dated stage before close (the cycle starts here)."""
        return self.chain[-1]


def fit_export(export: Export, mapping: Mapping, seed: int = 0, replicates: int = 200) -> Fitted:
    """Fit every quantity the export supports.

    Arrivals use every record in the window; conversions, times and win rates use the
    records created inside the recording window of the outcomes (all of them, unless the
    outcome dates start or stop well inside the export), censored at its end.
    """
    rng = np.random.default_rng(seed)
    cohort = export.cohort.reset_index(drop=True)
    chain = _chain(mapping)
    weeks = (export.export_date - export.start_date) / DAY / WEEK_DAYS
    notes: list[str] = []
    warnings = _check_size(cohort, mapping)
    arrivals = _arrivals(cohort, weeks)
    seasonality, season_note = _seasonality(cohort, export)
    window = recording_window(cohort, chain, mapping, export.start_date, export.export_date)
    warnings += window.notes
    observed = window.cohort(cohort)
    end = window.end
    stages = [
        _stage(observed, chain, i, end, POOLED, rng, replicates, notes)
        for i in range(len(chain) - 1)
    ]
    qualify: dict[str, StageFit] = {}
    if "opportunity" in chain[1:]:
        i = chain.index("opportunity") - 1
        qualify = _per_group(
            observed,
            "segment",
            lambda rows, segment: _stage(rows, chain, i, end, segment, rng, replicates, []),
        )
    cycles: dict[str, CycleFit] = {}
    if mapping.stages.close is not None:
        cycles[POOLED] = _cycle(observed, chain, end, POOLED, rng, replicates)
        cycles.update(
            _per_group(
                observed,
                "segment",
                lambda rows, segment: _cycle(rows, chain, end, segment, rng, replicates),
            )
        )
    source_rates = _source_rates(observed, chain, mapping, end, rng)
    sales = fit_sales_stages(observed, chain, end, mapping)
    deal_values = _deal_values(export.records, notes)
    shares = cohort["segment"].value_counts(normalize=True).sort_index()
    mix = {
        str(source): rows["segment"].value_counts(normalize=True).sort_index().to_dict()
        for source, rows in cohort.groupby("source")
    }
    owners = {
        team: int(cohort.loc[cohort[f"owner_{team}"] != "", f"owner_{team}"].nunique())
        for team in mapping.owner_columns()
    }
    concurrent = _concurrency(cohort, chain, export) if owners.get("ae") else None
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
        owners={team: n for team, n in owners.items() if n},
        concurrent_per_owner=concurrent,
        window=window,
        source_rates=source_rates,
        sales=sales,
        sales_note=no_stages_note(mapping) if sales is None else "",
        notes=notes,
        warnings=warnings,
    )


def _source_rates(
    observed: pd.DataFrame,
    chain: tuple[str, ...],
    mapping: Mapping,
    end: pd.Timestamp,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Per source, the conversion of the export step that holds the engine's opportunity
    gate (from a stage before the opportunity to the opportunity or to won), when that
    step starts after the lead stage: the engine can then give each source its own rate."""
    step = gate_step(chain, mapping)
    if step is None or observed["source"].nunique() < 2:
        return {}
    out = {}
    for source, rows in observed.groupby("source"):
        rows = rows.reset_index(drop=True)
        if len(rows) < MIN_SEGMENT:
            continue
        if step == len(chain) - 1:
            cycle = _cycle(rows, chain, end, str(source), rng, 0, times=False)
            out[str(source)] = cycle.won_share
        else:
            stage = _stage(rows, chain, step, end, str(source), rng, 0, [], times=False)
            out[str(source)] = stage.conversion
    return out


def gate_step(chain: tuple[str, ...], mapping: Mapping) -> int | None:
    """Index in ``chain`` of the export step spanning the engine's opportunity gate, or None
    when the gate is before the export's first stage or no dated step spans it.

    The step starts at ``chain[i]`` (before the opportunity) and ends at ``chain[i + 1]``,
    or at close when ``chain[i]`` is the last dated stage and close is mapped.
    """
    if chain[0] in ("lead", "opportunity"):
        return None
    ends = [*chain[1:], *(["close"] if mapping.stages.close is not None else [])]
    for i, stage in enumerate(chain):
        if i >= len(ends):
            break
        later = ends[i]
        if STAGES.index(stage) < STAGES.index("opportunity") and (
            later == "close" or STAGES.index(later) >= STAGES.index("opportunity")
        ):
            return i
    return None


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


def _per_group(
    cohort: pd.DataFrame, column: str, fit: Callable[[pd.DataFrame, str], T]
) -> dict[str, T]:
    """``fit(rows, name)`` for each group's records (renumbered from 0), in name order."""
    return {
        str(name): fit(rows.reset_index(drop=True), str(name))
        for name, rows in cohort.groupby(column)
    }


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
    times: bool = True,
) -> StageFit:
    """Conversion from chain[i] to chain[i+1] with its time distribution.

    Reaching the next stage competes with being lost (at the close date when the export
    has one, else at an unknown time: never); open records are censored at their age. The
    conversion is the Aalen-Johansen cumulative incidence: a lost record leaves the risk
    set when it is lost, so young cohorts (losses seen, conversions not yet) bias nothing.
    """
    start = _stage_date(frame, chain, chain[i])
    later = [frame[s] for s in chain[i + 1 :]]
    won = frame["status"] == "won"
    later.append(frame["close"].where(won))
    reached_at = pd.concat(later, axis=1).bfill(axis=1).iloc[:, 0]
    reached = reached_at.notna() | won
    has_start = start.notna()
    if not has_start.all() and segment == POOLED:
        notes.append(
            f"{chain[i]} -> {chain[i + 1]}: {int((~has_start).sum())} records have no "
            f"{chain[i]} date (skipped or not yet there) and are left out of this step"
        )
    timed = has_start & ~(reached & reached_at.isna())
    sub_start, sub_reached, sub_at = start[timed], reached[timed], reached_at[timed]
    status = frame.loc[timed, "status"].to_numpy()
    event = sub_reached.to_numpy()
    lost = (status == "lost") & ~event
    age = ((export_date - sub_start) / DAY).to_numpy(dtype=float)
    loss = ((frame.loc[timed, "close"] - sub_start) / DAY).to_numpy(dtype=float)
    loss = np.where(np.isnan(loss), np.inf, np.maximum(loss, 0.0))
    reach = ((sub_at - sub_start) / DAY).to_numpy(dtype=float)
    dur = np.where(event, reach, np.where(lost, loss, age))
    causes = np.where(event, 1, np.where(lost, 2, 0))
    converted, (low, high) = estimate(incidence, dur, causes, rng, replicates)

    def median_of(t: Tally) -> np.ndarray:
        return outcome_quantiles(t, 1, np.array([0.5]))[..., 0]

    median, med_ci = estimate(median_of, dur, causes, rng, replicates)
    open_mask = causes == 0
    time_fit = None
    instant = float(np.mean(dur[event] <= 0)) if event.any() else 1.0
    if not times:
        pass
    elif event.sum() > 0 and instant < 0.5:
        time_fit = fit_duration(dur[event], dur[open_mask], cure=max(converted, 1e-6))
    elif event.any() and segment == POOLED:
        notes.append(f"{chain[i]} -> {chain[i + 1]}: {instant:.0%} convert at once; no time fit")
    return StageFit(
        from_stage=chain[i],
        to_stage=chain[i + 1],
        segment=segment,
        entered=len(dur),
        converted=int(event.sum()),
        still_open=int(open_mask.sum()),
        never=int(lost.sum()),
        conversion=converted,
        ci_low=low,
        ci_high=high,
        median_days=median,
        median_ci=med_ci,
        time=time_fit,
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
    out[POOLED] = fit_duration(won["amount"].to_numpy(), floor=1e-6)
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
    rows = cohort[start.notna() & (cohort["owner_ae"] != "")]
    if rows.empty:
        return None
    grid = pd.date_range(export.start_date, export.export_date, freq="7D").to_numpy()
    begin = start[rows.index].to_numpy(dtype="datetime64[ns]")
    end = rows["close"].fillna(export.export_date).to_numpy(dtype="datetime64[ns]")
    first = np.searchsorted(grid, begin, side="left")
    stop = np.searchsorted(grid, end, side="left")
    owners, names = pd.factorize(rows["owner_ae"])
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
