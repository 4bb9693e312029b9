"""The Python API: what a notebook or script calls. The CLI is a thin layer over this."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from funnelsim.experiment.compare import Comparison
from funnelsim.experiment.compare import compare as _compare
from funnelsim.experiment.leaks import leaks as _leaks
from funnelsim.experiment.plans import compare_plan
from funnelsim.experiment.replications import Replication, run_replications
from funnelsim.experiment.sensitivity import sensitivity as _sensitivity
from funnelsim.experiment.sweep import sweep as _sweep
from funnelsim.results import Results
from funnelsim.scenario.loading import load_scenario
from funnelsim.scenario.models import Scenario


def run(
    scenario: Scenario | str | Path,
    replications: int = 1,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | None = None,
    keep_ledgers: bool = True,
    perfect_seams: Iterable[int] = (),
    on_done: Callable[[Replication], None] | None = None,
) -> Results:
    """Run ``replications`` independent replications of a scenario (or a scenario file)."""
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    reps = run_replications(
        scenario,
        replications,
        seed,
        workers=workers,
        scheduler=scheduler,
        perfect_seams=perfect_seams,
        keep_ledgers=keep_ledgers,
        on_done=on_done,
    )
    return Results(scenario=scenario, seed=seed, replications=reps)


compare = _compare
plan = compare_plan
leaks = _leaks
sweep = _sweep
sensitivity = _sensitivity

__all__ = ["Comparison", "compare", "leaks", "plan", "run", "sensitivity", "sweep"]
