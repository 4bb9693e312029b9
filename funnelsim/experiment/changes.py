"""What an option changes against its base, and so which part of the funnel it acts on.

The scenarios are compared field by field (every default filled in); display fields
(name, description, labels) are left out. A change acts on seam 1 (speed to lead and the
load of the teams answering leads), on sales (the AE team's load), on seam 2
(quote-to-cash) or on seams 3-4 (retention), read from the section it sits in and, for a
team, from the stage that team serves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from funnelsim.experiment.variants import scenario_data
from funnelsim.scenario.models import Scenario

NAMED_SECTIONS = ("teams", "sources", "segments", "products")
DISPLAY_FIELDS = frozenset({"name", "description", "label", "client"})
SPEED_TO_LEAD = "speed_to_lead"
TEAM_LOAD = "team_load"
QUOTE_TO_CASH = "quote_to_cash"
RETENTION = "retention"
# Sections read as acting on one part of the funnel.
SECTION_VIEWS: dict[str, tuple[str, ...]] = {
    "seam1": (SPEED_TO_LEAD, TEAM_LOAD),
    "sources": (SPEED_TO_LEAD, TEAM_LOAD),
    "marketing": (SPEED_TO_LEAD, TEAM_LOAD),
    "calendar": (SPEED_TO_LEAD, TEAM_LOAD),
    "sales": (TEAM_LOAD,),
    "seam2": (QUOTE_TO_CASH,),
    "seam3": (RETENTION,),
    "seam4": (RETENTION,),
    "products": (RETENTION,),
}
VIEW_ORDER = (SPEED_TO_LEAD, TEAM_LOAD, QUOTE_TO_CASH, RETENTION)


@dataclass(frozen=True)
class Change:
    """One field that differs: its dotted path and both values (None: absent)."""

    path: str
    before: Any
    after: Any


@dataclass
class ActsOn:
    """The views an option's changes call for, and the teams whose load to show."""

    views: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)


def changes(baseline: Scenario, option: Scenario) -> list[Change]:
    """Every field that differs between the two scenarios, in the scenario's order.

    A team, source, segment or product only one of them has is one change ("added" or
    "removed"), not a line per field.
    """
    base_data, option_data = scenario_data(baseline), scenario_data(option)
    whole: list[Change] = []
    for section in NAMED_SECTIONS:
        ours, theirs = base_data.get(section) or {}, option_data.get(section) or {}
        whole += [Change(f"{section}.{name}", None, "added") for name in theirs if name not in ours]
        whole += [
            Change(f"{section}.{name}", "present", None) for name in ours if name not in theirs
        ]
    inside = tuple(f"{change.path}." for change in whole)
    before, after = _flatten(base_data), _flatten(option_data)
    paths = list(dict.fromkeys([*before, *after]))
    fields = [
        Change(path, before.get(path), after.get(path))
        for path in paths
        if before.get(path) != after.get(path)
        and not _display(path)
        and not path.startswith(inside or ("\0",))
    ]
    return fields + whole


def acts_on(baseline: Scenario, option: Scenario) -> ActsOn:
    """The views (speed to lead, team load, quote-to-cash, retention) the changes act on."""
    found = ActsOn()
    roles = _team_roles(baseline) | _team_roles(option)
    lead_teams = [
        team
        for team in (baseline.seam1.team, option.seam1.fallback_team, baseline.seam1.fallback_team)
        if team
    ]
    for change in changes(baseline, option):
        section, _, rest = change.path.partition(".")
        if section == "teams":
            team = rest.partition(".")[0]
            views = SECTION_VIEWS.get(roles.get(team, ""), ())
            _add(found, (*views, TEAM_LOAD), [team])
        else:
            views = SECTION_VIEWS.get(section, ())
            teams = lead_teams if SPEED_TO_LEAD in views else []
            if section == "sales":
                teams = [baseline.sales.team]
            _add(found, views, teams)
    found.views = [view for view in VIEW_ORDER if view in found.views]
    return found


def _add(found: ActsOn, views: tuple[str, ...], teams: list[str]) -> None:
    for view in views:
        if view not in found.views:
            found.views.append(view)
    if TEAM_LOAD in views:
        found.teams.extend(team for team in teams if team not in found.teams)


def _team_roles(scenario: Scenario) -> dict[str, str]:
    """The section whose stage each team serves."""
    roles = {
        scenario.seam3.team: "seam3",
        scenario.seam2.team: "seam2",
        scenario.sales.team: "sales",
        scenario.seam1.team: "seam1",
    }
    if scenario.seam1.fallback_team:
        roles[scenario.seam1.fallback_team] = "seam1"
    return roles


def _display(path: str) -> bool:
    parts = path.split(".")
    return parts[0] in DISPLAY_FIELDS or parts[-1] == "label"


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings as {dotted path: value}; lists, scalars and distributions are values."""
    if not isinstance(data, dict) or not data or "dist" in data:
        return {prefix: data} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat
