"""The explorer's levers, generated from the scenario, and the ``--set`` overrides they make.

A lever is one control (a number, a choice or a switch) whose starting value is the base
scenario's. Its value becomes ``{dotted path: value}`` overrides, the same ones
``funnelsim compare BASE --set path=value`` applies; the scenario model validates them. A
lever left at the base's value makes no override, so an untouched page is the base.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from funnelsim.scenario.models import Scenario

Kind = Literal["number", "select", "switch"]
ROUTINGS = ("round_robin", "least_loaded", "by_segment", "pooled")
NO_TEAM = "(none)"
# Quote-to-cash automation (CPQ, contract automation, billing): the deal desk's values in
# scenarios/automated_q2c.yaml, and its cost per year there.
Q2C_AUTOMATED: dict[str, Any] = {
    "seam2.nonstandard_share": 0.12,
    "seam2.approval_delay_days": {"dist": "lognormal", "median": 1, "p90": 4},
    "seam2.contract_error_prob": 0.02,
    "seam2.invoice_delay_days": {"dist": "lognormal", "median": 2, "p90": 6},
}
Q2C_WORK_TIME = {"dist": "gamma", "mean": 1.5, "sd": 1}
Q2C_COST_PER_YEAR = 75_000.0
# p90 over median of the response delay when the base's is not a lognormal.
RESPONSE_SPREAD = 7.5


@dataclass(frozen=True)
class Lever:
    """One control: its key, label, group, kind, the base's value and (for a choice) options."""

    key: str
    label: str
    group: str
    kind: Kind
    value: Any
    options: Mapping[str, str] = field(default_factory=dict)
    step: float | None = None
    help: str = ""


def levers_for(scenario: Scenario) -> list[Lever]:
    """Every lever of this scenario: its own teams and sources appear by name."""
    seam1 = scenario.seam1
    teams = {name: team.label or name for name, team in scenario.teams.items()}
    levers = [
        Lever(
            "seam1.sla_hours",
            "SLA hours (empty: none)",
            "Speed to lead",
            "number",
            seam1.sla_hours,
            step=0.5,
            help="a lead not started within this time goes to the fallback team",
        ),
        Lever(
            "seam1.sla_clock",
            "SLA clock",
            "Speed to lead",
            "select",
            seam1.sla_clock,
            {"business": "business hours", "wall": "wall clock"},
        ),
        Lever(
            "seam1.fallback_team",
            "Fallback team",
            "Speed to lead",
            "select",
            seam1.fallback_team or NO_TEAM,
            {NO_TEAM: "none", **teams},
        ),
        Lever(
            "response_delay.median",
            "Response delay, median hours",
            "Speed to lead",
            "number",
            response_median(scenario),
            step=0.5,
            help="wall-clock hours before the team sees a lead (lognormal; p90 scales)",
        ),
        Lever(
            "seam1.routing",
            "Lead routing",
            "Speed to lead",
            "select",
            seam1.routing,
            {r: r.replace("_", " ") for r in ROUTINGS},
        ),
    ]
    for name, team in scenario.teams.items():
        shown = team.label or name
        levers.append(
            Lever(
                f"teams.{name}.headcount",
                f"{shown}: headcount",
                "Teams",
                "number",
                team.headcount,
                step=1,
            )
        )
        levers.append(
            Lever(
                f"teams.{name}.cost_per_year",
                f"{shown}: cost per head per year ({scenario.currency})",
                "Teams",
                "number",
                team.cost_per_year,
                step=5000,
            )
        )
    levers.append(
        Lever(
            "marketing.scoring.mql_threshold",
            "MQL threshold (0-1)",
            "Marketing",
            "number",
            scenario.marketing.scoring.mql_threshold,
            step=0.01,
        )
    )
    for name, source in scenario.sources.items():
        weekly = getattr(source, "leads_per_week", None)
        if weekly is not None:
            levers.append(
                Lever(
                    f"sources.{name}.leads_per_week",
                    f"{source.label or name}: leads per week",
                    "Marketing",
                    "number",
                    weekly,
                    step=1,
                )
            )
    levers += [
        Lever(
            "q2c.automated",
            "Automated quote-to-cash (CPQ, billing)",
            "Quote-to-cash",
            "switch",
            False,
            help="the deal desk's values of scenarios/automated_q2c.yaml",
        ),
        Lever(
            "q2c.cost",
            f"Automation cost per year ({scenario.currency})",
            "Quote-to-cash",
            "number",
            Q2C_COST_PER_YEAR,
            step=5000,
        ),
        Lever(
            "costs.extra_tools",
            f"Other new tools per year ({scenario.currency})",
            "Quote-to-cash",
            "number",
            0.0,
            step=5000,
            help="e.g. lead-routing or SLA software; added to costs.tools_per_year",
        ),
        Lever(
            "seam3.context_transfer_prob",
            "Handoff context reaches CS (0-1)",
            "Retention",
            "number",
            scenario.seam3.context_transfer_prob,
            step=0.05,
        ),
        Lever(
            "seam4.trigger_days_before_end",
            "Renewal outreach, days before term end",
            "Retention",
            "number",
            scenario.seam4.trigger_days_before_end,
            step=15,
        ),
    ]
    return levers


def response_median(scenario: Scenario) -> float | None:
    """The median of the base's response delay (None when it has no median)."""
    delay = scenario.seam1.response_delay
    median = getattr(delay, "median", None)
    if median is None and hasattr(delay, "ppf"):
        median = float(delay.ppf(0.5))
    return None if median is None else float(median)


def base_values(levers: list[Lever]) -> dict[str, Any]:
    """Every lever's starting value, by key."""
    return {lever.key: lever.value for lever in levers}


def overrides(scenario: Scenario, levers: list[Lever], values: Mapping[str, Any]) -> dict[str, Any]:
    """The ``{dotted path: value}`` overrides that the values make (only what changed)."""
    start = base_values(levers)
    values = {k: _whole(v, start[k]) for k, v in values.items() if k in start}
    changed = {k: v for k, v in values.items() if _differs(v, start[k])}
    result: dict[str, Any] = {}
    for key, value in changed.items():
        if key == "seam1.fallback_team":
            result[key] = None if value == NO_TEAM else value
        elif key == "response_delay.median":
            result["seam1.response_delay"] = response_delay(scenario, value)
        elif key.startswith(("seam", "teams.", "marketing.", "sources.")):
            result[key] = value
    automated = bool(values.get("q2c.automated", False))
    if automated:
        result.update(Q2C_AUTOMATED)
        result[f"teams.{scenario.seam2.team}.work_time"] = Q2C_WORK_TIME
    extra = (_number(values.get("q2c.cost"), Q2C_COST_PER_YEAR) if automated else 0.0) + _number(
        values.get("costs.extra_tools"), 0.0
    )
    if extra:
        result["costs.tools_per_year"] = scenario.costs.tools_per_year + extra
    return result


def response_delay(scenario: Scenario, median: Any) -> dict[str, Any] | Any:
    """The response delay with a new median: a lognormal keeping the base's p90/median."""
    if not isinstance(median, int | float) or isinstance(median, bool):
        return median  # the model names what is wrong with it
    delay = scenario.seam1.response_delay
    base_median, p90 = getattr(delay, "median", None), getattr(delay, "p90", None)
    spread = p90 / base_median if base_median and p90 else RESPONSE_SPREAD
    return {"dist": "lognormal", "median": median, "p90": median * spread}


def set_options(changes: Mapping[str, Any]) -> list[str]:
    """The overrides as ``--set`` texts (``path=value``, the value as JSON, which is YAML)."""
    return [f"{path}={json.dumps(value)}" for path, value in changes.items()]


def lever_of(path: str) -> str:
    """The lever an override path comes from (the key a field's error is shown next to)."""
    if path == "seam1.response_delay" or path.startswith("seam1.response_delay."):
        return "response_delay.median"
    if path.startswith("seam2.") or path.endswith(".work_time"):
        return "q2c.automated"
    if path.startswith("costs."):
        return "costs.extra_tools"
    return path


def _whole(value: Any, start: Any) -> Any:
    """A whole float where the base holds an int (a headcount typed as 5.0) as that int."""
    if isinstance(start, int) and not isinstance(start, bool) and isinstance(value, float):
        return int(value) if value.is_integer() else value
    return value


def _differs(value: Any, start: Any) -> bool:
    if isinstance(value, float) and isinstance(start, int | float) and not isinstance(start, bool):
        return value != float(start)
    return value != start


def _number(value: Any, default: float) -> float:
    if value is None:
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return default
