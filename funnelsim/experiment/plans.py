"""Hiring plans: a scenario with hires added, compared with the paired comparison.

``--hire ae=+2@2027-04-01`` adds a plan step (``teams.ae.plan: [{date, change}]``) to the
scenario; the plan is then compared against the scenario as it was, on common random
numbers, so the difference in won deals, revenue and net value (gross profit − cost, the
hires' pay included) is measured with a paired interval.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from funnelsim.experiment.compare import Comparison, compare
from funnelsim.experiment.defaults import DEFAULT_REPLICATIONS
from funnelsim.experiment.executors import DaskScheduler
from funnelsim.experiment.replications import Replication
from funnelsim.experiment.variants import scenario_data
from funnelsim.scenario.errors import closest
from funnelsim.scenario.loading import ScenarioError, scenario_from_dict
from funnelsim.scenario.models import Scenario

HIRE_PATTERN = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=\s*([+-]\d+|\d+)\s*@\s*(\S+)\s*$")


@dataclass(frozen=True)
class Hire:
    """A headcount change of one team on one date."""

    team: str
    change: int
    date: dt.date


@dataclass
class PlanComparison:
    """A hiring plan against its baseline: the paired comparison and the planned headcount."""

    comparison: Comparison
    hires: tuple[Hire, ...]

    def headcount(self) -> pd.DataFrame:
        """Planned headcount by date for the teams the plan changes, baseline and plan."""
        teams = list(dict.fromkeys(h.team for h in self.hires))
        base = planned_headcount(self.comparison.baseline, teams)
        plan = planned_headcount(self.comparison.variant, teams)
        table = plan.merge(
            base, on=["team", "date"], how="outer", suffixes=("_plan", "_baseline")
        ).sort_values(["team", "date"])
        table[["headcount_baseline", "headcount_plan"]] = (
            table.groupby("team")[["headcount_baseline", "headcount_plan"]].ffill().astype(int)
        )
        return table[["team", "date", "headcount_baseline", "headcount_plan"]].reset_index(
            drop=True
        )


def parse_hire(text: str) -> Hire:
    """``TEAM=+N@YYYY-MM-DD`` (or ``-N`` to cut) into a Hire; ScenarioError if malformed."""
    match = HIRE_PATTERN.match(text)
    if not match:
        raise ScenarioError(
            f"--hire: expected TEAM=+N@YYYY-MM-DD (e.g. ae=+2@2027-04-01), got '{text}'"
        )
    team, change, date = match.groups()
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        raise ScenarioError(f"--hire: '{date}' in '{text}' is not a date (YYYY-MM-DD)") from None
    if int(change) == 0:
        raise ScenarioError(f"--hire: change in '{text}' must not be 0")
    return Hire(team, int(change), day)


def with_hires(scenario: Scenario, hires: Iterable[Hire]) -> Scenario:
    """The scenario with each hire added to its team's plan, validated."""
    data = scenario_data(scenario)
    end = scenario.start_date + dt.timedelta(days=scenario.horizon_days)
    for hire in hires:
        if hire.team not in scenario.teams:
            match = closest(hire.team, scenario.teams)
            hint = f"; did you mean '{match}'?" if match else ""
            raise ScenarioError(
                f"--hire: unknown team '{hire.team}'{hint} (teams: {', '.join(scenario.teams)})"
            )
        if not scenario.start_date <= hire.date < end:
            raise ScenarioError(
                f"--hire: date {hire.date} for team '{hire.team}' is outside the horizon "
                f"({scenario.start_date} to {end - dt.timedelta(days=1)})"
            )
        team = data["teams"][hire.team]
        team["plan"] = [
            *team.get("plan", []),
            {"date": hire.date.isoformat(), "change": hire.change},
        ]
    return scenario_from_dict(data, source="--hire")


def planned_headcount(scenario: Scenario, teams: Iterable[str] | None = None) -> pd.DataFrame:
    """Headcount by the plan alone (before attrition and vacations): team, date, headcount."""
    rows = []
    for name in teams if teams is not None else scenario.teams:
        spec = scenario.teams[name]
        heads = spec.headcount
        rows.append((name, scenario.start_date, heads))
        for step in sorted(spec.plan, key=lambda s: s.date):
            heads += step.change
            rows.append((name, step.date, heads))
    table = pd.DataFrame(rows, columns=["team", "date", "headcount"])
    return table.drop_duplicates(["team", "date"], keep="last").reset_index(drop=True)


def compare_plan(
    scenario: Scenario,
    hires: Iterable[Hire],
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    on_done: Callable[[int, Replication], None] | None = None,
) -> PlanComparison:
    """The paired comparison of the scenario with the hires against the scenario."""
    hires = tuple(hires)
    if not hires:
        raise ScenarioError("--hire: give at least one hire (TEAM=+N@YYYY-MM-DD)")
    variant = with_hires(scenario, hires)
    variant = variant.model_copy(update={"name": f"{scenario.name} + hires"})
    result = compare(
        scenario,
        variant,
        replications=replications,
        seed=seed,
        workers=workers,
        scheduler=scheduler,
        on_done=on_done,
    )
    return PlanComparison(result, hires)
