"""The scenario spec: pydantic models, distributions, YAML loading and overrides."""

from funnelsim.scenario.loading import (
    ScenarioError,
    apply_overrides,
    dump_scenario,
    load_scenario,
    scenario_from_dict,
)
from funnelsim.scenario.models import Calendar, Scenario, Team

__all__ = [
    "Calendar",
    "Scenario",
    "ScenarioError",
    "Team",
    "apply_overrides",
    "dump_scenario",
    "load_scenario",
    "scenario_from_dict",
]
