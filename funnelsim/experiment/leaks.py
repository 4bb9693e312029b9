"""What fixing each seam would be worth: counterfactual beside attributed leakage.

For each seam the same replications run again with that seam perfect (no delay and no
handoff loss there, all else equal), and once more with all four perfect together. The
paired difference against the baseline is the counterfactual value of a fix; the
attributed leakage comes from the baseline's own lost leads. Fixes interact (a customer
won at seam 1 can then churn at seam 3), so single fixes do not add up: the table gives
all four together, the sum of the single fixes and their difference (the interaction).
Where a fix floods a downstream team, the team whose quarterly occupancy in the fixed
run exceeds ``SATURATED`` is named.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from funnelsim.analysis.capacity import SATURATED, downstream_teams
from funnelsim.experiment.defaults import DEFAULT_REPLICATIONS
from funnelsim.experiment.executors import DaskScheduler, execute
from funnelsim.experiment.replications import Replication, replication_jobs, run_replication
from funnelsim.experiment.stats import CONFIDENCE, paired_difference, t_interval
from funnelsim.scenario.models import Scenario

SEAM_NAMES = {
    1: "marketing → sales",
    2: "sales → finance (quote-to-cash)",
    3: "finance → customer success",
    4: "renewal",
}
SEAMS = (1, 2, 3, 4)
# Rows besides the single seams: kind -> label.
COMBINED_ROWS = {
    "all": "all four seams fixed together",
    "sum": "sum of the single-seam fixes",
    "interaction": "interaction (all together − sum of singles)",
}
COUNTERFACTUALS = (
    ("horizon_revenue", "counterfactual_horizon_revenue"),
    ("arr_at_horizon", "counterfactual_arr_at_horizon"),
    ("won_deals", "counterfactual_won_deals"),
)
ATTRIBUTED = ("leads_lost", "arr_lost", "horizon_revenue_lost")


def leaks(
    scenario: Scenario,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    on_done: Callable[[int, Replication], None] | None = None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per seam, ranked by the counterfactual horizon revenue of fixing it, then
    the combined rows (``kind`` all, sum, interaction; ``seam`` 0, ``rank`` 0).

    Columns kind, rank, seam, seam_name, attributed_* and counterfactual_* (each with
    ``_ci_low``/``_ci_high``), saturated_team (the first downstream team, in the order work
    reaches them, whose mean peak quarterly occupancy in the fixed run exceeds
    ``SATURATED``; "" if none), saturated_occupancy (that peak), saturated_teams (every
    such team with its peak, e.g. "ae (99%), csm (95%)") and replications.
    """
    fixes = [(seam,) for seam in SEAMS] + [SEAMS]
    jobs = replication_jobs(scenario, replications, seed, keep_ledgers=False)
    for seams in fixes:
        jobs += replication_jobs(scenario, replications, seed, seams, keep_ledgers=False)
    runs = execute(run_replication, jobs, workers=workers, scheduler=scheduler, on_done=on_done)
    baseline = runs[:replications]
    fixed = {
        seams: runs[(i + 1) * replications : (i + 2) * replications]
        for i, seams in enumerate(fixes)
    }
    gains = {
        seams: {metric: _gains(baseline, fixed[seams], metric) for metric, _ in COUNTERFACTUALS}
        for seams in fixes
    }
    rows = []
    for seam in SEAMS:
        row = _row("seam", seam, SEAM_NAMES[seam], replications)
        for measure in ATTRIBUTED:
            values = np.array([_seam_leakage(rep, (seam,), measure) for rep in baseline])
            _put(row, f"attributed_{measure}", t_interval(values, confidence))
        for metric, name in COUNTERFACTUALS:
            before = np.array([_metric(rep, metric) for rep in baseline])
            after = np.array([_metric(rep, metric) for rep in fixed[(seam,)]])
            _put(row, name, paired_difference(before, after, confidence))
        _saturation(row, scenario, (seam,), fixed[(seam,)])
        rows.append(row)
    table = pd.DataFrame(rows).sort_values(
        "counterfactual_horizon_revenue", ascending=False, kind="stable"
    )
    table.insert(1, "rank", np.arange(1, len(table) + 1))
    combined = []
    for kind, label in COMBINED_ROWS.items():
        row = _row(kind, 0, label, replications)
        row["rank"] = 0
        for measure in ATTRIBUTED:
            values = np.array([_seam_leakage(rep, SEAMS, measure) for rep in baseline])
            interval = t_interval(values, confidence) if kind == "all" else (np.nan,) * 3
            _put(row, f"attributed_{measure}", interval)
        for metric, name in COUNTERFACTUALS:
            together = gains[SEAMS][metric]
            singles = np.sum([gains[(seam,)][metric] for seam in SEAMS], axis=0)
            values = {"all": together, "sum": singles, "interaction": together - singles}[kind]
            _put(row, name, t_interval(values, confidence))
        if kind == "all":
            _saturation(row, scenario, SEAMS, fixed[SEAMS])
        combined.append(row)
    table = pd.concat([table, pd.DataFrame(combined)], ignore_index=True)
    return table[_columns(table)]


def single_seams(table: pd.DataFrame) -> pd.DataFrame:
    """The single-seam rows of a :func:`leaks` table (tables without ``kind`` as they are)."""
    if "kind" not in table.columns:
        return table
    return table[table["kind"] == "seam"]


def combined_row(table: pd.DataFrame, kind: str) -> pd.Series | None:
    """The ``all``, ``sum`` or ``interaction`` row of a :func:`leaks` table, if present."""
    if "kind" not in table.columns:
        return None
    rows = table[table["kind"] == kind]
    return rows.iloc[0] if len(rows) else None


def _row(kind: str, seam: int, name: str, replications: int) -> dict[str, object]:
    return {
        "kind": kind,
        "seam": seam,
        "seam_name": name,
        "saturated_team": "",
        "saturated_occupancy": np.nan,
        "saturated_teams": "",
        "replications": replications,
    }


def _columns(table: pd.DataFrame) -> list[str]:
    """Column order: identity, attributed, counterfactual, saturation, replications."""
    head = ["kind", "rank", "seam", "seam_name"]
    tail = ["saturated_team", "saturated_occupancy", "saturated_teams", "replications"]
    return head + [c for c in table.columns if c not in head + tail] + tail


def _saturation(
    row: dict[str, object], scenario: Scenario, seams: tuple[int, ...], runs: list[Replication]
) -> None:
    """Name the downstream teams whose mean peak quarterly occupancy exceeds ``SATURATED``."""
    teams = downstream_teams(scenario, seams)
    loads = [
        rep.team_load.set_index("team")["peak_occupancy"]
        for rep in runs
        if rep.team_load is not None
    ]
    if not teams or not loads:
        return
    peaks = pd.concat(loads, axis=1).mean(axis=1).reindex(list(teams)).dropna()
    saturated = peaks[peaks > SATURATED]
    if len(saturated):
        row["saturated_team"] = str(saturated.index[0])
        row["saturated_occupancy"] = float(saturated.iloc[0])
        row["saturated_teams"] = ", ".join(f"{t} ({p:.0%})" for t, p in saturated.items())


def _gains(baseline: list[Replication], fixed: list[Replication], metric: str) -> np.ndarray:
    """Per replication, the fixed run's metric minus the baseline's (paired)."""
    before = np.array([_metric(rep, metric) for rep in baseline])
    after = np.array([_metric(rep, metric) for rep in fixed])
    return after - before


def _put(row: dict[str, object], name: str, interval: tuple[float, float, float]) -> None:
    row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = interval


def _seam_leakage(rep: Replication, seams: tuple[int, ...], measure: str) -> float:
    frame = rep.leakage
    return float(frame.loc[frame["seam"].isin(seams), measure].sum())


def _metric(rep: Replication, metric: str) -> float:
    frame = rep.headline
    return float(frame.loc[frame["metric"] == metric, "value"].iloc[0])
