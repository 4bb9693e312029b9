"""What fixing each seam would be worth: counterfactual beside attributed leakage.

For each seam the same replications run again with that seam perfect (no delay and no
handoff loss there, all else equal). The paired difference against the baseline is the
counterfactual value of fixing it; the attributed leakage comes from the baseline's own
lost leads. Both come with confidence intervals.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

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


def leaks(
    scenario: Scenario,
    replications: int = 10,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    on_done: Callable[[int, Replication], None] | None = None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """One row per seam, ranked by the counterfactual horizon revenue of fixing it."""
    jobs = replication_jobs(scenario, replications, seed, keep_ledgers=False)
    for seam in SEAMS:
        jobs += replication_jobs(scenario, replications, seed, (seam,), keep_ledgers=False)
    runs = execute(run_replication, jobs, workers=workers, scheduler=scheduler, on_done=on_done)
    baseline = runs[:replications]
    rows = []
    for position, seam in enumerate(SEAMS, start=1):
        fixed = runs[position * replications : (position + 1) * replications]
        row: dict[str, object] = {"seam": seam, "seam_name": SEAM_NAMES[seam]}
        for measure in ("leads_lost", "arr_lost", "horizon_revenue_lost"):
            values = np.array([_seam_leakage(rep, seam, measure) for rep in baseline])
            _put(row, f"attributed_{measure}", t_interval(values, confidence))
        for metric, name in (
            ("horizon_revenue", "counterfactual_horizon_revenue"),
            ("arr_at_horizon", "counterfactual_arr_at_horizon"),
            ("won_deals", "counterfactual_won_deals"),
        ):
            before = np.array([_metric(rep, metric) for rep in baseline])
            after = np.array([_metric(rep, metric) for rep in fixed])
            _put(row, name, paired_difference(before, after, confidence))
        row["replications"] = replications
        rows.append(row)
    table = pd.DataFrame(rows).sort_values(
        "counterfactual_horizon_revenue", ascending=False, kind="stable"
    )
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


def _put(row: dict[str, object], name: str, interval: tuple[float, float, float]) -> None:
    row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"] = interval


def _seam_leakage(rep: Replication, seam: int, measure: str) -> float:
    frame = rep.leakage
    return float(frame.loc[frame["seam"] == seam, measure].sum())


def _metric(rep: Replication, metric: str) -> float:
    frame = rep.headline
    return float(frame.loc[frame["metric"] == metric, "value"].iloc[0])
