"""The size of each experiment before it runs: its scenarios, runs and replications.

One function per API call (``run``, ``compare``, ``plan``, ``leaks``, ``sweep``,
``sensitivity``) lists the scenarios the call would run and hands them to
``budget.check_run_size``, which refuses a run above the limits (``TooLargeError``)
unless ``allow_large``. The API calls them first; the CLI calls them before it starts a
progress bar, so a refusal is the only line printed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from funnelsim.budget import Workload, check_run_size
from funnelsim.experiment.leaks import SEAMS
from funnelsim.experiment.plans import Hire, with_hires
from funnelsim.experiment.sensitivity import resolve_parameters
from funnelsim.experiment.variants import grid_points, scenario_data, with_overrides
from funnelsim.scenario.models import Scenario


def run_size(
    scenario: Scenario, replications: int, keep_ledgers: bool = True, allow_large: bool = False
) -> Workload:
    """Replications of one scenario; kept ledgers count towards memory."""
    return check_run_size(
        [scenario], replications, keep_ledgers=keep_ledgers, allow_large=allow_large
    )


def compare_size(
    baseline: Scenario, variant: Scenario, replications: int, allow_large: bool = False
) -> Workload:
    """Replications of both scenarios."""
    return check_run_size([baseline, variant], replications, allow_large=allow_large)


def options_size(
    baseline: Scenario, options: list[Scenario], replications: int, allow_large: bool = False
) -> Workload:
    """Replications of the base and of every option (at most ``replications`` each)."""
    return check_run_size([baseline, *options], replications, allow_large=allow_large)


def plan_size(
    scenario: Scenario, hires: Iterable[Hire], replications: int, allow_large: bool = False
) -> Workload:
    """The scenario and the scenario with the hires; a too-large step names its --hire."""
    hires = tuple(hires)
    labels = {
        (h.team, h.date.isoformat(), h.change): f"--hire {h.team}={h.change:+d}@{h.date}"
        for h in hires
    }
    return check_run_size(
        [scenario, with_hires(scenario, hires)],
        replications,
        allow_large=allow_large,
        step_labels=labels,
    )


def leaks_size(scenario: Scenario, replications: int, allow_large: bool = False) -> Workload:
    """The scenario once as it is and once per seam made perfect."""
    return check_run_size([scenario], replications, runs=1 + len(SEAMS), allow_large=allow_large)


def sweep_size(
    base: Scenario, grid: Mapping[str, list[Any]], replications: int, allow_large: bool = False
) -> Workload:
    """The base and every grid point (points already saved count too)."""
    points = [base] + [with_overrides(base, point) for point in grid_points(grid)]
    return check_run_size(points, replications, allow_large=allow_large)


def sensitivity_size(
    scenario: Scenario,
    parameters: Iterable[str] | None,
    replications: int,
    allow_large: bool = False,
) -> Workload:
    """The base and two variants per parameter, each counted at the base's size.

    A variant differs from the base by the relative step (20% by default), so the
    estimate of the largest one is within that step of the base's.
    """
    paths = resolve_parameters(scenario_data(scenario), parameters)
    return check_run_size(
        [scenario], replications, runs=1 + 2 * len(paths), allow_large=allow_large
    )
