"""The Python API: what a notebook or script calls. The CLI is a thin layer over this.

Every function first estimates the work it is asked for (``experiment.sizes``, from
``funnelsim.budget``) and refuses a run above the size limits with ``TooLargeError``
(one line: the estimate and the limit) unless ``allow_large=True``; hard limits hold
even then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

from funnelsim.budget import TooLargeError
from funnelsim.experiment import arguments, sizes
from funnelsim.experiment.compare import Comparison
from funnelsim.experiment.compare import compare as _compare
from funnelsim.experiment.defaults import DEFAULT_REPLICATIONS
from funnelsim.experiment.executors import DaskScheduler
from funnelsim.experiment.leaks import leaks as _leaks
from funnelsim.experiment.options import (
    DEFAULT_MAX_REPLICATIONS,
    Decision,
    compare_options,
    option_names,
)
from funnelsim.experiment.plans import Hire, PlanComparison, compare_plan
from funnelsim.experiment.replications import Replication, run_replications
from funnelsim.experiment.sensitivity import sensitivity as _sensitivity
from funnelsim.experiment.stats import CONFIDENCE
from funnelsim.experiment.sweep import sweep as _sweep
from funnelsim.experiment.tables import SeamFixes, SensitivityTable, SweepTable
from funnelsim.report.labels import DisplayNames
from funnelsim.results import Results
from funnelsim.scenario.loading import load_scenario
from funnelsim.scenario.models import Scenario

Scheduler = str | DaskScheduler | None


def run(
    scenario: Scenario | str | Path,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: Scheduler = None,
    keep_ledgers: bool = True,
    perfect_seams: Iterable[int] = (),
    on_done: Callable[[Replication], None] | None = None,
    allow_large: bool = False,
    output_tables: bool = False,
) -> Results:
    """Run ``replications`` independent replications of a scenario (or a scenario file).

    ``output_tables``: the replications also make what ``write_results`` writes (cash
    flow, calendar months, their share of the forecasts, their Parquet tables) where they
    run, so a pool shares that work; with it a results folder needs no kept ledgers.
    """
    arguments.scenario("scenario", scenario, files=True)
    arguments.execution(replications, seed, workers, paired=False)
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    sizes.run_size(scenario, replications, keep_ledgers or output_tables, allow_large)
    reps = run_replications(
        scenario,
        replications,
        seed,
        workers=workers,
        scheduler=scheduler,
        perfect_seams=perfect_seams,
        keep_ledgers=keep_ledgers,
        on_done=on_done,
        output_tables=output_tables,
    )
    return Results(scenario=scenario, seed=seed, replications=reps)


Options = Sequence[Scenario] | Mapping[str, Scenario]


@overload
def compare(
    baseline: Scenario,
    variant: Scenario,
    replications: int = ...,
    seed: int = ...,
    workers: int = ...,
    scheduler: Scheduler = ...,
    on_done: Callable[[int, Replication], None] | None = ...,
    allow_large: bool = ...,
    until_resolved: bool = ...,
    max_replications: int = ...,
) -> Comparison: ...


@overload
def compare(
    baseline: Scenario,
    variant: Options,
    replications: int = ...,
    seed: int = ...,
    workers: int = ...,
    scheduler: Scheduler = ...,
    on_done: Callable[[int, Replication], None] | None = ...,
    allow_large: bool = ...,
    until_resolved: bool = ...,
    max_replications: int = ...,
) -> Decision: ...


def compare(
    baseline: Scenario,
    variant: Scenario | Options,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: Scheduler = None,
    on_done: Callable[[int, Replication], None] | None = None,
    allow_large: bool = False,
    until_resolved: bool = False,
    max_replications: int = DEFAULT_MAX_REPLICATIONS,
) -> Comparison | Decision:
    """Pair a variant (or several options) with the baseline on the same replication seeds.

    One scenario gives a :class:`Comparison`. A list of scenarios (named by their label or
    name) or a mapping of names to scenarios gives a :class:`Decision`: every option paired
    against the base and ranked by net value (``.summary()`` is the decision table); with
    ``until_resolved`` replications are added in batches of ``replications``, up to
    ``max_replications``, until the ranking is resolved.
    """
    arguments.scenario("baseline", baseline)
    arguments.options(variant)
    arguments.execution(replications, seed, workers, paired=True)
    if isinstance(variant, Scenario):
        if until_resolved:
            raise ValueError("until_resolved: pass the options as a list, e.g. [variant]")
        sizes.compare_size(baseline, variant, replications, allow_large)
        return _compare(
            baseline,
            variant,
            replications,
            seed,
            workers=workers,
            scheduler=scheduler,
            on_done=on_done,
        )
    options = (
        dict(variant) if isinstance(variant, Mapping) else option_names(baseline, list(variant))
    )
    most = max(replications, max_replications) if until_resolved else replications
    sizes.options_size(baseline, list(options.values()), most, allow_large)
    return compare_options(
        baseline,
        options,
        replications,
        seed,
        workers=workers,
        scheduler=scheduler,
        on_done=on_done,
        until_resolved=until_resolved,
        max_replications=max_replications,
    )


def plan(
    scenario: Scenario,
    hires: Iterable[Hire],
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: Scheduler = None,
    on_done: Callable[[int, Replication], None] | None = None,
    allow_large: bool = False,
) -> PlanComparison:
    """The paired comparison of the scenario with the hires against the scenario."""
    arguments.scenario("scenario", scenario)
    hires = arguments.hires(hires)
    arguments.execution(replications, seed, workers, paired=True)
    sizes.plan_size(scenario, hires, replications, allow_large)
    return compare_plan(
        scenario, hires, replications, seed, workers=workers, scheduler=scheduler, on_done=on_done
    )


def leaks(
    scenario: Scenario,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: Scheduler = None,
    on_done: Callable[[int, Replication], None] | None = None,
    confidence: float = CONFIDENCE,
    allow_large: bool = False,
) -> SeamFixes:
    """One row per seam, ranked by the counterfactual horizon revenue of fixing it.

    A DataFrame with ``.summary()`` and ``.plot()`` (see ``experiment.tables``).
    """
    arguments.scenario("scenario", scenario)
    arguments.execution(replications, seed, workers, paired=False)
    arguments.between("confidence", confidence, 0, 1)
    sizes.leaks_size(scenario, replications, allow_large)
    table = _leaks(
        scenario,
        replications,
        seed,
        workers=workers,
        scheduler=scheduler,
        on_done=on_done,
        confidence=confidence,
    )
    return SeamFixes(table, currency=scenario.currency, confidence=confidence)


def sweep(
    base: Scenario,
    grid: Mapping[str, list[Any]],
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: Scheduler = None,
    out_dir: Path | None = None,
    on_done: Callable[[int, Any], None] | None = None,
    confidence: float = CONFIDENCE,
    allow_large: bool = False,
    on_warning: Callable[[str], None] | None = None,
) -> SweepTable:
    """One row per grid point: metrics with CIs, gain over the base, and the best point.

    ``on_warning`` gets one line per saved point that is damaged and run again. A
    DataFrame with ``.summary()`` and ``.plot(parameter, by=...)`` (``experiment.tables``).
    """
    arguments.scenario("base", base)
    arguments.grid(grid)
    arguments.execution(replications, seed, workers, paired=False)
    arguments.between("confidence", confidence, 0, 1)
    sizes.sweep_size(base, grid, replications, allow_large)
    table = _sweep(
        base,
        grid,
        replications,
        seed,
        workers=workers,
        scheduler=scheduler,
        out_dir=out_dir,
        on_done=on_done,
        confidence=confidence,
        on_warning=on_warning,
    )
    return SweepTable(
        table,
        currency=base.currency,
        confidence=confidence,
        parameters=tuple(grid),
        names=DisplayNames.of(base),
    )


def sensitivity(
    scenario: Scenario,
    parameters: Iterable[str] | None = None,
    step: float = 0.2,
    metric: str = "horizon_revenue",
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: Scheduler = None,
    on_done: Callable[[int, Any], None] | None = None,
    confidence: float = CONFIDENCE,
    allow_large: bool = False,
) -> SensitivityTable:
    """Effect on ``metric`` of moving each parameter down and up by ``step`` (relative).

    A DataFrame with ``.summary()`` and ``.plot()`` (a tornado; see ``experiment.tables``).
    """
    arguments.scenario("scenario", scenario)
    arguments.execution(replications, seed, workers, paired=False)
    arguments.between("step", step, 0.01, 0.9, inclusive=True)
    arguments.between("confidence", confidence, 0, 1)
    parameters = list(parameters) if parameters is not None else None
    sizes.sensitivity_size(scenario, parameters, replications, allow_large)
    table = _sensitivity(
        scenario,
        parameters,
        step=step,
        metric=metric,
        replications=replications,
        seed=seed,
        workers=workers,
        scheduler=scheduler,
        on_done=on_done,
        confidence=confidence,
    )
    return SensitivityTable(
        table, currency=scenario.currency, confidence=confidence, names=DisplayNames.of(scenario)
    )


__all__ = [
    "Comparison",
    "DaskScheduler",
    "Decision",
    "SeamFixes",
    "SensitivityTable",
    "SweepTable",
    "TooLargeError",
    "compare",
    "leaks",
    "plan",
    "run",
    "sensitivity",
    "sweep",
]
