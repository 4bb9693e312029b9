"""Paired comparison of two scenarios on common random numbers.

Both scenarios run with the same replication seeds, so lead k of replication r meets the
same fate draws in each; the difference is measured per replication and its interval is
far narrower than that of two independent runs. A change is judged by its net value
(gross profit - cost): horizon revenue x the scenario's gross margin, minus total cost
(see :func:`funnelsim.experiment.replications.net_value_rows`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from funnelsim.analysis.saturation import saturation, saturation_warnings
from funnelsim.experiment.defaults import DEFAULT_REPLICATIONS
from funnelsim.experiment.executors import DaskScheduler, execute
from funnelsim.experiment.replications import Replication, replication_jobs, run_replication
from funnelsim.experiment.stats import (
    CONFIDENCE,
    narrowing,
    paired_difference,
    t_interval,
    unpaired_difference,
)
from funnelsim.scenario.models import Scenario

if TYPE_CHECKING:
    from matplotlib.axes import Axes

KEY_METRICS = (
    "booked_arr",
    "arr_at_horizon",
    "horizon_revenue",
    "won_deals",
    "active_customers",
    "seam1_leads_lost",
    "seam2_leads_lost",
    "seam3_leads_lost",
    "seam4_leads_lost",
    "cac",
    "gross_profit",
    "total_cost",
    "net_value",
)


@dataclass
class Comparison:
    """Baseline and variant replications, paired by replication index."""

    baseline: Scenario
    variant: Scenario
    seed: int
    baseline_runs: list[Replication]
    variant_runs: list[Replication]
    confidence: float = CONFIDENCE

    def __repr__(self) -> str:
        return (
            f"Comparison(baseline={self.baseline.name!r}, variant={self.variant.name!r}, "
            f"replications={len(self.baseline_runs)}, seed={self.seed})"
        )

    def per_replication(self) -> pd.DataFrame:
        """One row per replication and metric: baseline, variant and their difference."""
        currency = self.baseline.currency
        frames = []
        for a, b in zip(self.baseline_runs, self.variant_runs, strict=True):
            left = a.metrics(currency).set_index("metric")
            right = b.metrics(currency).set_index("metric")
            frame = pd.DataFrame(
                {
                    "replication": a.index,
                    "metric": left.index,
                    "unit": left["unit"].to_numpy(),
                    "baseline": left["value"].to_numpy(dtype=float),
                    "variant": right["value"].reindex(left.index).to_numpy(dtype=float),
                }
            )
            frames.append(frame)
        table = pd.concat(frames, ignore_index=True)
        table["difference"] = table["variant"] - table["baseline"]
        return table

    def summary(self, metrics: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Per metric: means, the paired difference with its CI, and the unpaired CI."""
        table = self.per_replication()
        order = list(metrics) if metrics else list(dict.fromkeys(table["metric"]))
        rows = []
        for metric in order:
            group = table[table["metric"] == metric]
            if group.empty:
                continue
            a, b = group["baseline"].to_numpy(), group["variant"].to_numpy()
            diff, low, high = paired_difference(a, b, self.confidence)
            _, u_low, u_high = unpaired_difference(a, b, self.confidence)
            rows.append(
                {
                    "metric": metric,
                    "unit": group["unit"].iloc[0],
                    "baseline": t_interval(a, self.confidence)[0],
                    "variant": t_interval(b, self.confidence)[0],
                    "difference": diff,
                    "ci_low": low,
                    "ci_high": high,
                    "unpaired_ci_low": u_low,
                    "unpaired_ci_high": u_high,
                    "narrowing": narrowing(a, b, (low, high), (u_low, u_high)),
                    "replications": len(group),
                }
            )
        return pd.DataFrame(rows)

    def warnings(self) -> list[str]:
        """Saturated teams in the baseline and in the variant, one line each, labelled."""
        lines = []
        for label, scenario, runs in (
            ("baseline", self.baseline, self.baseline_runs),
            ("variant", self.variant, self.variant_runs),
        ):
            loads = [rep.load for rep in runs if rep.load is not None]
            if loads:
                table = saturation(pd.concat(loads, ignore_index=True))
                lines.extend(f"{label}: {line}" for line in saturation_warnings(table, scenario))
        return lines

    def plot(self, metrics: tuple[str, ...] | None = None, ax: Axes | None = None) -> Axes:
        """Forest plot of the paired differences (money metrics by default), with CIs."""
        from funnelsim.report.charts import forest

        return forest(self.summary(), self.baseline.currency, metrics=metrics, ax=ax)


def compare(
    baseline: Scenario,
    variant: Scenario,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    on_done: Callable[[int, Replication], None] | None = None,
) -> Comparison:
    """Run both scenarios on the same replication seeds and pair them."""
    jobs = replication_jobs(baseline, replications, seed, keep_ledgers=False)
    jobs += replication_jobs(variant, replications, seed, keep_ledgers=False)
    runs = execute(run_replication, jobs, workers=workers, scheduler=scheduler, on_done=on_done)
    return Comparison(baseline, variant, seed, runs[:replications], runs[replications:])
