"""Scenario variants from dotted-path overrides: grids for sweeps, nudges for sensitivity."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from funnelsim.scenario.loading import ScenarioError, scenario_from_dict
from funnelsim.scenario.models import Scenario


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """The scenario as a plain mapping (every default filled in), ready for overrides."""
    return scenario.model_dump(mode="json", by_alias=True)


def with_overrides(scenario: Scenario, overrides: Mapping[str, Any]) -> Scenario:
    """A copy of ``scenario`` with each dotted path set to its value, validated."""
    texts = [
        f"{path}={yaml.safe_dump(value, default_flow_style=True).strip()}"
        for path, value in overrides.items()
    ]
    texts = [text.removesuffix("\n...") for text in texts]
    return scenario_from_dict(scenario_data(scenario), texts, source="variant")


def parse_grid(specs: Iterable[str]) -> dict[str, list[Any]]:
    """``["a.b=1,2,4", "c=x,y"]`` -> ``{"a.b": [1, 2, 4], "c": ["x", "y"]}`` (YAML scalars)."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        path, sep, values = spec.partition("=")
        path = path.strip()
        if not sep or not path or not values.strip():
            raise ScenarioError(f"--grid {spec!r}: expected path.to.field=v1,v2,...")
        try:
            grid[path] = [yaml.safe_load(v) for v in values.split(",")]
        except yaml.YAMLError:
            raise ScenarioError(f"--grid {path}: values must be YAML scalars") from None
    return grid


def grid_points(grid: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values, as override mappings, in a stable order."""
    paths = list(grid)
    return [dict(zip(paths, combo, strict=True)) for combo in itertools.product(*grid.values())]


def get_path(data: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a scenario mapping."""
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, Mapping):
            raise ScenarioError(f"{path}: {key} is not inside a section")
        if key not in node and key.isdigit() and int(key) in node:
            key = int(key)
        if key not in node:
            raise ScenarioError(f"{path}: no such field in the scenario")
        node = node[key]
    return node


def numeric_paths(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted paths of every numeric leaf (not booleans) of a scenario mapping."""
    paths = []
    for key, value in data.items():
        if "." in str(key):
            continue  # a curve's wait in hours (120.0): a dotted path cannot name it
        path = f"{prefix}{key}"
        if isinstance(value, Mapping):
            paths += numeric_paths(value, f"{path}.")
        elif isinstance(value, int | float) and not isinstance(value, bool):
            paths.append(path)
    return paths
