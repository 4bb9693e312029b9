"""check-fit: simulate the calibrated scenario, see it through the same export lens, compare.

Each replication's ledger is cut at the export date and estimated exactly as the data
were (same censoring, same estimators), so observed and simulated figures are comparable.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from scipy import stats

from funnelsim.calibrate.export import ledger_records
from funnelsim.calibrate.fitting import _chain, cycle_data
from funnelsim.calibrate.mapping import PLURAL, Mapping
from funnelsim.calibrate.reading import Export
from funnelsim.calibrate.survival import km_conversion, win_share
from funnelsim.engine import simulate
from funnelsim.experiment.replications import replication_seeds
from funnelsim.scenario.models import Scenario

DAY = pd.Timedelta(days=1)
KS_P = 0.05
KS_CLOSE = 0.1


OUTCOMES = {"won": 1, "lost": 2}


def measures(
    records: pd.DataFrame, mapping: Mapping, export_date: pd.Timestamp, weeks: float
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Entry rate, conversions, win rate, won revenue by quarter; cycle days by outcome."""
    chain = _chain(mapping)
    out: dict[str, float] = {f"{PLURAL[chain[0]]} per week": len(records) / weeks}
    for a, b in itertools.pairwise(chain):
        start = records["created"] if a == chain[0] else records[a]
        has = start.notna()
        reached = records.loc[has, b].notna() | (records.loc[has, "status"] == "won")
        end = records.loc[has, b].fillna(export_date)
        dur = ((end - start[has]) / DAY).to_numpy(dtype=float)
        never = (~reached & (records.loc[has, "status"] == "lost")).to_numpy()
        dur[never] = np.inf
        out[f"conversion {a} -> {b}"] = km_conversion(dur, reached.to_numpy())
    cycles = {name: np.empty(0) for name in OUTCOMES}
    if mapping.stages.close is not None:
        durations, causes = cycle_data(records, chain, export_date)
        out["win rate"] = win_share(durations, causes)
        cycles = {name: durations[causes == code] for name, code in OUTCOMES.items()}
    won = records[(records["status"] == "won") & records["close"].notna()]
    revenue = won.groupby(won["close"].dt.to_period("Q"))["amount"].sum()
    for quarter, value in revenue.items():
        out[f"won revenue {quarter}"] = float(value)
    return out, cycles


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


def _prediction_interval(sim: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Where one more replication (the data, if the model is right) falls with ``level``.

    Normal prediction interval, mean +- t sd sqrt(1 + 1/n): with ten replications the range
    of the replications themselves would hold a new one only 9 times in 11.
    """
    n = len(sim)
    half = stats.t.ppf(0.5 + level / 2, n - 1) * np.std(sim, ddof=1) * np.sqrt(1 + 1 / n)
    return float(np.mean(sim) - half), float(np.mean(sim) + half)


def check_fit(
    scenario: Scenario, export: Export, mapping: Mapping, reps: int = 10, seed: int = 0
) -> pd.DataFrame:
    """Verdict per quantity: observed inside the simulated 95% prediction interval; KS for
    won and lost cycle days."""
    weeks = (export.export_date - export.start_date) / DAY / 7.0
    observed, observed_cycles = measures(export.cohort, mapping, export.export_date, weeks)
    export_hours = (export.export_date - pd.Timestamp(scenario.start_date)) / pd.Timedelta(hours=1)
    sims: list[dict[str, float]] = []
    sim_cycles: dict[str, list[np.ndarray]] = {name: [] for name in OUTCOMES}
    for rep_seed in replication_seeds(seed, reps):
        leads = simulate(scenario, rep_seed).leads
        records = ledger_records(leads, scenario.start_date, export_hours, mapping.created_stage)
        values, cycles = measures(records, mapping, export.export_date, weeks)
        sims.append(values)
        for name, durations in cycles.items():
            sim_cycles[name].append(durations)
    table = pd.DataFrame(sims)
    rows = []
    for name, value in observed.items():
        sim = table[name].dropna().to_numpy() if name in table else np.zeros(reps)
        if len(sim) < reps:
            sim = np.concatenate([sim, np.zeros(reps - len(sim))])
        low, high = _prediction_interval(sim)
        inside = bool(low <= value <= high)
        rows.append(
            (
                name,
                value,
                float(np.mean(sim)),
                low,
                high,
                np.nan,
                np.nan,
                "ok" if inside else "outside",
            )
        )
    for name, observed_days in observed_cycles.items():
        pooled = np.concatenate(sim_cycles[name])
        if len(observed_days) and len(pooled):
            ks = stats.ks_2samp(observed_days, pooled)
            verdict = (
                "ok" if ks.pvalue >= KS_P else ("close" if ks.statistic < KS_CLOSE else "differs")
            )
            rows.append(
                (
                    f"cycle days ({name}) KS",
                    float(np.median(observed_days)),
                    float(np.median(pooled)),
                    np.nan,
                    np.nan,
                    float(ks.statistic),
                    float(ks.pvalue),
                    verdict,
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "quantity",
            "observed",
            "simulated_mean",
            "sim_low",
            "sim_high",
            "ks_d",
            "ks_p",
            "verdict",
        ],
    )
