"""Several options against one base, ranked by net value: the decision table.

Every option runs on the base's replication seeds (common random numbers), so lead k of
replication r meets the same draws under the base and under each option. An option's
gain is its paired difference from the base, and two options are compared with each
other by their paired difference in the same replications, which is far tighter than
comparing two intervals. The ranking is *resolved* when every option (and "no change")
differs from the next one down by an interval that excludes zero; ``until_resolved`` adds
replications in batches, up to a cap, until it is.

Testing after every batch and stopping at the first "resolved" would find a difference
between two identical options far more often than 5% of the time (optional stopping).
So ``until_resolved`` spends the error rate over the looks it may take (Bonferroni):
with K planned looks (the cap over the batch size, rounded up) each look tests the gaps
at level ``1 - (1 - confidence) / K``, and the chance of calling identical options
"resolved" at any look stays at most ``1 - confidence``. One look (no
``until_resolved``) tests at ``confidence`` itself.

Net value is gross profit (horizon revenue x gross margin) minus total cost, as
everywhere. Payback is read off the monthly cash flow: the first month from which the
option's cumulative extra cash margin (gross margin x cash collected net of fees, minus
cash spent, paired against the base and averaged over replications) stays at or above
zero.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelsim.analysis.views import monthly_cash_margin, views
from funnelsim.experiment.compare import Comparison
from funnelsim.experiment.defaults import DEFAULT_MAX_REPLICATIONS, DEFAULT_REPLICATIONS
from funnelsim.experiment.executors import DaskScheduler, execute
from funnelsim.experiment.replications import Replication, replication_seeds, run_replication
from funnelsim.experiment.stats import CONFIDENCE, t_interval
from funnelsim.scenario.models import Scenario

if TYPE_CHECKING:
    from matplotlib.axes import Axes

NO_CHANGE = "no change (baseline)"
GAINS = (
    ("extra_cost", "total_cost"),
    ("revenue_gain", "horizon_revenue"),
    ("net_value", "net_value"),
)


@dataclass
class OptionReplication(Replication):
    """A replication with what the decision report draws, its ledger dropped.

    ``views`` are the small tables of :func:`funnelsim.analysis.views.views`;
    ``cash_margin`` is the monthly cash margin that gives payback.
    """

    views: dict[str, Any] = field(default_factory=dict)
    cash_margin: np.ndarray | None = None


def run_option_replication(scenario: Scenario, index: int, seed: int) -> OptionReplication:
    """Simulate one replication, keep its views and cash margin, not its ledger."""
    rep = run_replication(scenario, index, seed, keep_ledger=True)
    ledger = rep.ledger
    assert ledger is not None
    kept = {f.name: getattr(rep, f.name) for f in dataclasses.fields(Replication)}
    return OptionReplication(
        **{**kept, "ledger": None},
        views=views(ledger, scenario),
        cash_margin=monthly_cash_margin(ledger, scenario),
    )


@dataclass
class Decision:
    """A base and several options, paired replication by replication; ranked by net value."""

    baseline: Scenario
    options: dict[str, Scenario]
    seed: int
    baseline_runs: list[Replication]
    option_runs: dict[str, list[Replication]]
    confidence: float = CONFIDENCE
    looks: int = 1  # planned looks of a sequential (until_resolved) run: see gap_interval

    @property
    def gap_confidence(self) -> float:
        """The level each neighbour gap is tested at (Bonferroni over the planned looks)."""
        return look_confidence(self.confidence, self.looks)

    @property
    def replications(self) -> int:
        """Replications per scenario."""
        return len(self.baseline_runs)

    def comparison(self, name: str) -> Comparison:
        """One option's paired comparison against the base."""
        return Comparison(
            self.baseline,
            self.options[name],
            self.seed,
            self.baseline_runs,
            self.option_runs[name],
            self.confidence,
        )

    @property
    def comparisons(self) -> dict[str, Comparison]:
        """Every option's paired comparison against the base, by option name."""
        return {name: self.comparison(name) for name in self.options}

    def gains(self, metric: str) -> pd.DataFrame:
        """Per replication (rows) and option (columns, "no change" first): option - base."""
        base = _values(self.baseline_runs, metric)
        columns = {NO_CHANGE: base - base}
        for name, runs in self.option_runs.items():
            columns[name] = _values(runs, metric) - base
        return pd.DataFrame(columns)

    def ranking(self) -> list[str]:
        """Options and "no change", best mean net value first (ties keep the given order)."""
        means = self.gains("net_value").mean()
        return sorted(means.index, key=lambda name: -means[name])

    def summary(self) -> pd.DataFrame:
        """The decision table, best first: one row per option and one for no change.

        Columns rank, option, extra_cost, revenue_gain, net_value (each paired against the
        base, with ``_ci_low``/``_ci_high``), payback_months (NaN: not within the
        horizon), cash_margin_at_horizon (the cumulative extra cash margin at the horizon,
        with ``_ci_low``/``_ci_high``: a payback whose interval spans zero is not
        resolved), next_option (the option ranked below), gap (net value over it, with
        ``gap_ci_low``/``gap_ci_high``, at :attr:`gap_confidence`), resolved (the gap's
        interval excludes zero), verdict, replications and gap_confidence.
        """
        order = self.ranking()
        gains = {column: self.gains(metric) for column, metric in GAINS}
        rows = []
        for rank, name in enumerate(order, start=1):
            row: dict[str, Any] = {"rank": rank, "option": name}
            for column, _ in GAINS:
                mean, low, high = t_interval(gains[column][name].to_numpy(), self.confidence)
                row.update({column: mean, f"{column}_ci_low": low, f"{column}_ci_high": high})
            row["payback_months"] = self.payback(name) if name != NO_CHANGE else np.nan
            mean, low, high = self.cash_margin_at_horizon(name)
            row.update(
                {
                    "cash_margin_at_horizon": mean,
                    "cash_margin_at_horizon_ci_low": low,
                    "cash_margin_at_horizon_ci_high": high,
                }
            )
            below = order[rank] if rank < len(order) else None
            row.update(self._gap(name, below, gains["net_value"]))
            row["replications"] = self.replications
            row["gap_confidence"] = self.gap_confidence
            rows.append(row)
        return pd.DataFrame(rows)

    @property
    def resolved(self) -> bool:
        """Whether every option differs from the next ranked one beyond its interval."""
        return bool(self.summary()["resolved"].all())

    def payback(self, name: str) -> float:
        """Months until the option's cumulative extra cash margin stays >= 0 (0: never
        below zero; NaN: still below at the horizon), on the mean over replications, over
        the months both scenarios simulate."""
        base = _cash_margins(self.baseline_runs)
        option = _cash_margins(self.option_runs[name])
        if base is None or option is None:
            return np.nan
        months = min(base.shape[1], option.shape[1])  # an option may change the horizon
        cumulative = np.cumsum((option[:, :months] - base[:, :months]).mean(axis=0))
        below = np.flatnonzero(cumulative < 0)
        if len(below) == 0:
            return 0.0
        if below[-1] == len(cumulative) - 1:
            return np.nan
        return float(below[-1] + 2)  # months are 1-based: the month after the last deficit

    def cash_margin_at_horizon(self, name: str) -> tuple[float, float, float]:
        """The option's cumulative extra cash margin over the horizon (mean and interval
        over replications): what its payback rests on (NaN without cash margins)."""
        if name == NO_CHANGE:
            return 0.0, 0.0, 0.0
        base = _cash_margins(self.baseline_runs)
        option = _cash_margins(self.option_runs[name])
        if base is None or option is None:
            return np.nan, np.nan, np.nan
        months = min(base.shape[1], option.shape[1])
        totals = (option[:, :months] - base[:, :months]).sum(axis=1)
        return t_interval(totals, self.confidence)

    def warnings(self) -> list[str]:
        """Saturated teams in the base and in each option, one line each, labelled."""
        lines: list[str] = []
        for name, comparison in self.comparisons.items():
            for line in comparison.warnings():
                if line.startswith("baseline: "):
                    if line not in lines:
                        lines.append(line)
                else:
                    lines.append(f"{name}: {line.removeprefix('variant: ')}")
        return lines

    def extended(self, more: Decision) -> Decision:
        """This decision with ``more`` replications (of the same scenarios) appended."""
        return dataclasses.replace(
            self,
            baseline_runs=[*self.baseline_runs, *more.baseline_runs],
            option_runs={
                name: [*runs, *more.option_runs[name]] for name, runs in self.option_runs.items()
            },
        )

    def extended_to(
        self,
        replications: int,
        workers: int = 1,
        scheduler: str | DaskScheduler | None = None,
        on_done: Callable[[int, Replication], None] | None = None,
    ) -> Decision:
        """This decision run on to ``replications``: only the missing replications are
        simulated, and the result equals a comparison run at that count from the start."""
        if replications <= self.replications:
            return self
        more = _run_batch(
            self.baseline,
            self.options,
            self.seed,
            self.replications,
            replications,
            workers,
            scheduler,
            on_done,
            self.confidence,
        )
        return self.extended(more)

    def plot(self, ax: Axes | None = None) -> Axes:
        """Net value of each option against the base, with its interval, best on top."""
        from funnelsim.report.charts import decision

        return decision(self.summary(), self.baseline.currency, ax=ax)

    def _gap(self, name: str, below: str | None, net: pd.DataFrame) -> dict[str, Any]:
        if below is None:
            return {
                "next_option": "",
                "gap": np.nan,
                "gap_ci_low": np.nan,
                "gap_ci_high": np.nan,
                "resolved": True,
                "verdict": "last",
            }
        difference = (net[name] - net[below]).to_numpy()
        mean, low, high, resolved = gap_interval(difference, self.confidence, self.looks)
        if np.all(difference == 0):
            verdict = f"identical to {below} in every replication"
        elif resolved:
            verdict = f"ahead of {below}"
        else:
            verdict = f"not resolved from {below}"
        return {
            "next_option": below,
            "gap": mean,
            "gap_ci_low": low,
            "gap_ci_high": high,
            "resolved": resolved,
            "verdict": verdict,
        }


def compare_options(
    baseline: Scenario,
    options: Mapping[str, Scenario],
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    on_done: Callable[[int, Replication], None] | None = None,
    until_resolved: bool = False,
    max_replications: int = DEFAULT_MAX_REPLICATIONS,
    confidence: float = CONFIDENCE,
) -> Decision:
    """Run the base and every option on the same seeds; with ``until_resolved`` add batches
    of ``replications`` until the ranking is resolved or ``max_replications`` is reached."""
    if not options:
        raise ValueError("options: give at least one option to compare with the base")
    if replications < 1:
        raise ValueError("replications: expected at least 1")
    cap = max(max_replications, replications)

    def batch(start: int, stop: int) -> Decision:
        return _run_batch(
            baseline, options, seed, start, stop, workers, scheduler, on_done, confidence
        )

    looks = planned_looks(replications, cap) if until_resolved else 1
    decision = dataclasses.replace(batch(0, replications), looks=looks)
    while until_resolved and decision.replications < cap and not decision.resolved:
        start = decision.replications
        decision = decision.extended(batch(start, min(start + replications, cap)))
    return decision


def planned_looks(batch: int, cap: int) -> int:
    """How many times a sequential run may test: after each batch of ``batch`` up to ``cap``."""
    return max(1, math.ceil(max(cap, batch) / batch))


def look_confidence(confidence: float, looks: int) -> float:
    """The per-look level that keeps the chance of any false "resolved" over ``looks``
    looks at most ``1 - confidence`` (Bonferroni)."""
    return 1.0 - (1.0 - confidence) / max(1, looks)


def gap_interval(
    difference: np.ndarray, confidence: float = CONFIDENCE, looks: int = 1
) -> tuple[float, float, float, bool]:
    """The paired gap between two options (mean and interval at the per-look level) and
    whether it is resolved: the interval excludes zero. The one decision rule of the
    decision table and of ``until_resolved``'s stopping."""
    mean, low, high = t_interval(difference, look_confidence(confidence, looks))
    resolved = bool(np.isfinite(low) and np.isfinite(high) and (low > 0 or high < 0))
    return mean, low, high, resolved


def option_names(baseline: Scenario, options: list[Scenario]) -> dict[str, Scenario]:
    """Options named by their own label (not one inherited from the base), else their
    scenario name; repeated names get a number."""
    named: dict[str, Scenario] = {}
    for option in options:
        own = option.label if option.label and option.label != baseline.label else None
        name = own or option.name
        number = 2
        while name in named or name == NO_CHANGE:
            name, number = f"{own or option.name} ({number})", number + 1
        named[name] = option
    return named


def _run_batch(
    baseline: Scenario,
    options: Mapping[str, Scenario],
    seed: int,
    start: int,
    stop: int,
    workers: int,
    scheduler: str | DaskScheduler | None,
    on_done: Callable[[int, Replication], None] | None,
    confidence: float,
) -> Decision:
    """Replications start..stop-1 of the base and every option (seeds as for any count)."""
    seeds = replication_seeds(seed, stop)[start:stop]
    arms = [baseline, *options.values()]
    jobs = [
        (scenario, index, s)
        for scenario in arms
        for index, s in zip(range(start, stop), seeds, strict=True)
    ]
    runs = execute(
        run_option_replication, jobs, workers=workers, scheduler=scheduler, on_done=on_done
    )
    n = stop - start
    return Decision(
        baseline,
        dict(options),
        seed,
        runs[:n],
        {name: runs[(i + 1) * n : (i + 2) * n] for i, name in enumerate(options)},
        confidence,
    )


def _values(runs: list[Replication], metric: str) -> np.ndarray:
    """A headline metric's value in each replication."""
    return np.array([float(run.headline.set_index("metric").at[metric, "value"]) for run in runs])


def _cash_margins(runs: list[Replication]) -> np.ndarray | None:
    """Replications x months of cash margin (None when a run did not keep it)."""
    margins = [getattr(run, "cash_margin", None) for run in runs]
    if any(m is None for m in margins):
        return None
    return np.vstack(margins)
