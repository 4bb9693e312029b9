"""Scenario variants from dotted-path overrides: grids for sweeps, nudges for sensitivity."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from funnelsim.scenario.loading import ScenarioError, apply_overrides, scenario_from_dict
from funnelsim.scenario.models import Scenario
from funnelsim.scenario.safe_yaml import ScenarioDumper, YamlLimitError, load_yaml


def scenario_data(scenario: Scenario) -> dict[str, Any]:
    """The scenario as a plain mapping (every default filled in), ready for overrides."""
    return scenario.model_dump(mode="json", by_alias=True)


def with_overrides(
    scenario: Scenario, overrides: Mapping[str, Any], option: str = "--grid"
) -> Scenario:
    """A copy of ``scenario`` with each dotted path set to its value, validated.

    The values go through the same override code as ``--set`` (defaults, did-you-mean
    for a misspelt source, team, segment or product name); ``option`` names them in errors.
    """
    texts = [f"{path}={_flow_yaml(value)}" for path, value in overrides.items()]
    data = apply_overrides(scenario_data(scenario), texts, option=option)
    return scenario_from_dict(data, source="variant")


def _flow_yaml(value: Any) -> str:
    """A value as one line of YAML that the scenario loader reads back as the same value."""
    text = yaml.dump(value, Dumper=ScenarioDumper, default_flow_style=True, width=10**9)
    return text.strip().removesuffix("\n...")


def parse_grid(specs: Iterable[str]) -> dict[str, list[Any]]:
    """``["a.b=1,2,4", "c=x,y"]`` -> ``{"a.b": [1, 2, 4], "c": ["x", "y"]}`` (YAML scalars)."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        path, sep, values = spec.partition("=")
        path = path.strip()
        if not sep or not path or not values.strip():
            raise ScenarioError(f"--grid {spec!r}: expected path.to.field=v1,v2,...")
        try:
            grid[path] = [load_yaml(v) for v in values.split(",")]
        except YamlLimitError as exc:
            raise ScenarioError(f"--grid {path}: {exc.problem}") from None
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
