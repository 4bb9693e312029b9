"""check-fit: simulate the calibrated scenario, see it through the same export lens, compare.

The lens is the export's: records created at its first stage within the checked period
(the export's own window, or ``--period``), outcomes seen up to its export date, the same
recording window, losses visible only if the export records them, dates at the export's
resolution, and the same estimators (censoring included). Measures the export cannot
inform (revenue without amounts, win rate without close dates) are skipped with the
reason, and a measure with no value on either side is skipped, never given a verdict.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from funnelsim.calibrate.export import ledger_records
from funnelsim.calibrate.fitting import (
    RecordingWindow,
    _chain,
    _stage,
    cycle_data,
    recording_window,
)
from funnelsim.calibrate.mapping import PLURAL, POOLED, Mapping, MappingError
from funnelsim.calibrate.reading import Export
from funnelsim.calibrate.survival import incidence, tally, win_share
from funnelsim.engine import simulate
from funnelsim.experiment.replications import replication_seeds
from funnelsim.experiment.variants import with_overrides
from funnelsim.scenario.models import Scenario

DAY = pd.Timedelta(days=1)
HOUR = pd.Timedelta(hours=1)
KS_P = 0.05
KS_CLOSE = 0.1
MAX_HORIZON_DAYS = 3650
OUTCOMES = {"won": 1, "lost": 2}
COLUMNS = [
    "quantity",
    "observed",
    "simulated_mean",
    "sim_low",
    "sim_high",
    "ks_d",
    "ks_p",
    "verdict",
    "note",
]


@dataclass(frozen=True)
class Lens:
    """How the export sees records: its first stage, the period checked, the export date,
    the outcomes' recording window, whether losses and amounts are recorded."""

    mapping: Mapping
    chain: tuple[str, ...]
    start: pd.Timestamp
    end: pd.Timestamp
    export_date: pd.Timestamp
    window: RecordingWindow
    losses: bool
    daily: bool

    @property
    def weeks(self) -> float:
        """Length of the checked period in weeks."""
        return (self.end - self.start) / DAY / 7.0

    def view(self, records: pd.DataFrame) -> pd.DataFrame:
        """``records`` as the export would show them: created in the period, losses hidden
        when the export records none, dates at day resolution when it has no times."""
        out = records[(records["created"] >= self.start) & (records["created"] < self.end)]
        out = out.copy()
        if not self.losses:
            lost = out["status"] == "lost"
            out.loc[lost, "status"] = "open"
            out.loc[lost, "close"] = pd.NaT
        if self.daily:
            for column in ("created", "mql", "sql", "opportunity", "close"):
                out[column] = out[column].dt.floor("D")
        return out.reset_index(drop=True)


def lens_for(export: Export, mapping: Mapping, period: tuple | None = None) -> Lens:
    """The lens of ``export``: its own window, or ``period`` (from, to) inside it."""
    start, end = export.start_date, export.export_date
    if period is not None:
        start = max(start, pd.Timestamp(period[0]))
        end = min(end, pd.Timestamp(period[1]) + DAY)
        if end <= start:
            raise MappingError(
                f"--period: {period[0]}..{period[1]} holds no day of the export's window "
                f"({export.start_date.date()} to {export.last_day.date()})"
            )
    chain = _chain(mapping)
    window = recording_window(export.cohort, chain, mapping, export.start_date, export.export_date)
    daily = not any("%H" in fmt or "%I" in fmt for fmt in mapping.date_formats)
    return Lens(
        mapping, chain, start, end, export.export_date, window, mapping.records_losses, daily
    )


def measures(records: pd.DataFrame, lens: Lens) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Entry rate, conversions, win rate, conversion to won (overall and by source), won
    revenue by quarter; days to close by outcome."""
    mapping, chain = lens.mapping, lens.chain
    out: dict[str, float] = {f"{PLURAL[chain[0]]} per week": len(records) / lens.weeks}
    cohort = lens.window.cohort(records)
    as_of = lens.window.end
    rng = np.random.default_rng(0)
    for i, (a, b) in enumerate(itertools.pairwise(chain)):
        stage = _stage(cohort, chain, i, as_of, POOLED, rng, 0, [], times=False)
        out[f"conversion {a} -> {b}"] = stage.conversion
    cycles = {name: np.empty(0) for name in OUTCOMES}
    if mapping.stages.close is not None:
        durations, causes = cycle_data(cohort, chain, as_of)
        if lens.losses:
            out["win rate"] = win_share(durations, causes)
        out[f"conversion {chain[0]} -> won"] = _won_conversion(cohort, as_of)
        if mapping.source is not None:
            for source, rows in cohort.groupby("source"):
                name = f"conversion {chain[0]} -> won ({source})"
                out[name] = _won_conversion(rows, as_of)
        finite = np.isfinite(durations)
        cycles = {name: durations[(causes == code) & finite] for name, code in OUTCOMES.items()}
        if mapping.amount is not None:
            out.update(_revenue(records, lens))
    return out, cycles


def _won_conversion(records: pd.DataFrame, as_of: pd.Timestamp) -> float:
    """Share of records ever won from their first stage: Aalen-Johansen, losses competing
    (at their close date, or never when it is unknown), open records censored."""
    if not len(records):
        return float("nan")
    status = records["status"]
    end = records["close"].where(status != "open", as_of)
    days = ((end - records["created"]) / DAY).to_numpy(dtype=float, copy=True)
    days[np.isnan(days)] = np.inf
    causes = np.where(status == "won", 1, np.where(status == "lost", 2, 0))
    return float(incidence(tally(np.maximum(days, 0.0), causes)))


def _revenue(records: pd.DataFrame, lens: Lens) -> dict[str, float]:
    """Won amounts by the quarter of the win, for every quarter the period touches."""
    won = records[(records["status"] == "won") & records["close"].notna()]
    won = won[(won["close"] >= lens.window.start) & (won["close"] < lens.window.end)]
    totals = won.groupby(won["close"].dt.to_period("Q"))["amount"].sum()
    first = max(lens.start, lens.window.start)
    quarters = pd.period_range(first, lens.window.end - DAY, freq="Q")
    return {f"won revenue {q}": float(totals.get(q, 0.0)) for q in quarters}


def mismatches(scenario: Scenario, export: Export) -> list[str]:
    """Warnings when the export's segments or sources are not the scenario's: their records
    are then compared with simulated records of other names (or none)."""
    out = []
    for column, names in (("segment", scenario.segments), ("source", scenario.sources)):
        missing = sorted(set(export.cohort[column]) - set(names))
        if missing:
            out.append(
                f"the export's {column}s {missing} are not in the scenario "
                f"({sorted(names)}): per-{column} figures cannot match; was the scenario "
                "calibrated from another export?"
            )
    return out


def skipped(mapping: Mapping) -> list[tuple[str, str]]:
    """Measures this export cannot inform, with the reason."""
    out = []
    if mapping.stages.close is None:
        out.append(("win rate", "no close date mapped"))
    elif not mapping.records_losses:
        out.append(("win rate", "the export records no losses; see the conversion to won"))
        out.append(("cycle days (lost) KS", "the export records no losses"))
    if mapping.amount is None:
        out.append(("won revenue", "no amount column mapped"))
    return out


def _prediction_interval(sim: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Where one more replication (the data, if the model is right) falls with ``level``.

    Normal prediction interval, mean +- t sd sqrt(1 + 1/n): with ten replications the range
    of the replications themselves would hold a new one only 9 times in 11.
    """
    n = len(sim)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * np.std(sim, ddof=1) * np.sqrt(1 + 1 / n)
    return float(np.mean(sim) - half), float(np.mean(sim) + half)


def _scenario_to(scenario: Scenario, lens: Lens) -> Scenario:
    """The scenario run until the export date (its horizon extended if shorter)."""
    start = pd.Timestamp(scenario.start_date)
    if lens.start < start:
        raise MappingError(
            f"--period: the checked period starts on {lens.start.date()}, before the "
            f"scenario's start_date {start.date()}; check a later period"
        )
    days = int(np.ceil((lens.export_date - start) / DAY))
    if days > MAX_HORIZON_DAYS:
        raise MappingError(
            f"--period: the export date {(lens.export_date - DAY).date()} is more than "
            f"{MAX_HORIZON_DAYS} days after the scenario's start_date {start.date()}"
        )
    if days <= scenario.horizon_days:
        return scenario
    return with_overrides(scenario, {"horizon_days": days})


def without_book(scenario: Scenario, export: Export) -> Scenario:
    """A scenario with a starting book (as ``calibrate`` writes them, starting on the export
    date) checked without it, from the export's window start at the latest: the export
    shows the flows, which the book is not part of."""
    if scenario.book is None:
        return scenario
    start = min(scenario.start_date, export.start_date.date())
    return with_overrides(scenario, {"book": None, "start_date": start})


def check_fit(
    scenario: Scenario,
    export: Export,
    mapping: Mapping,
    reps: int = 10,
    seed: int = 0,
    period: tuple | None = None,
) -> pd.DataFrame:
    """Verdict per quantity: observed inside the simulated 95% prediction interval; KS for
    won and lost cycle days; skipped (with the reason) where the export cannot tell."""
    lens = lens_for(export, mapping, period)
    run = _scenario_to(without_book(scenario, export), lens)
    export_hours = (lens.export_date - pd.Timestamp(run.start_date)) / HOUR
    outcome_dates = "opportunity" not in lens.chain
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        observed, observed_cycles = measures(lens.view(export.cohort), lens)
        sims: list[dict[str, float]] = []
        sim_cycles: dict[str, list[np.ndarray]] = {name: [] for name in OUTCOMES}
        for rep_seed in replication_seeds(seed, reps):
            leads = simulate(run, rep_seed).leads
            records = ledger_records(
                leads, run.start_date, export_hours, mapping.created_stage, outcome_dates
            )
            values, cycles = measures(lens.view(records), lens)
            sims.append(values)
            for name, durations in cycles.items():
                sim_cycles[name].append(durations)
        rows = [_verdict(name, value, pd.DataFrame(sims), reps) for name, value in observed.items()]
        for name, observed_days in observed_cycles.items():
            if name == "lost" and not lens.losses:
                continue
            rows.append(_ks_row(name, observed_days, np.concatenate(sim_cycles[name])))
    rows += [(name, *[np.nan] * 6, "skipped", why) for name, why in skipped(mapping)]
    return pd.DataFrame(rows, columns=COLUMNS)


def _skipped(name: str, value: float, why: str) -> tuple:
    """A verdict row for a quantity that cannot be checked, saying why."""
    return (name, value, np.nan, np.nan, np.nan, np.nan, np.nan, "skipped", why)


def _verdict(name: str, value: float, table: pd.DataFrame, reps: int) -> tuple:
    """One quantity: observed against the simulated prediction interval."""
    sim = table[name].to_numpy(dtype=float) if name in table else np.zeros(reps)
    sim = np.where(np.isnan(sim), 0.0, sim) if name.endswith("per week") else sim
    sim = sim[np.isfinite(sim)]
    if not np.isfinite(value):
        return _skipped(name, value, "not estimable from the export")
    if len(sim) < 2:
        return _skipped(name, value, "too few simulated values")
    low, high = _prediction_interval(sim)
    low = max(low, 0.0)
    if name.startswith(("conversion", "win rate")):
        high = min(high, 1.0)
    verdict = "ok" if low <= value <= high else "outside"
    return (name, value, float(np.mean(sim)), low, high, np.nan, np.nan, verdict, "")


def _ks_row(name: str, observed: np.ndarray, simulated: np.ndarray) -> tuple:
    """Days to close of one outcome: two-sample KS of observed against simulated."""
    quantity = f"cycle days ({name}) KS"
    if not len(observed) or not len(simulated):
        side = "export" if not len(observed) else "simulation"
        return (quantity, *[np.nan] * 6, "skipped", f"no {name} deals in the {side}")
    ks = stats.ks_2samp(observed, simulated)
    verdict = "ok" if ks.pvalue >= KS_P else ("close" if ks.statistic < KS_CLOSE else "differs")
    return (
        quantity,
        float(np.median(observed)),
        float(np.median(simulated)),
        np.nan,
        np.nan,
        float(ks.statistic),
        float(ks.pvalue),
        verdict,
        "",
    )
