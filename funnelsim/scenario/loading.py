"""Reading scenarios: files (size-capped, safe YAML with limits), ``extends:``, overrides.

Every problem is a ``ScenarioError`` whose message is one line naming the file and the
field (or line), which the command line turns into exit code 2.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from funnelsim.bundled import bundled_path, is_bare_name, missing_hint, resolve_scenario
from funnelsim.inputs import note_input
from funnelsim.scenario.errors import ScenarioError, describe_validation_error, error_field
from funnelsim.scenario.models import Scenario
from funnelsim.scenario.overrides import apply_overrides, parse_override
from funnelsim.scenario.safe_yaml import MAX_FILE_BYTES, dump_yaml, load_yaml

MAX_EXTENDS = 32

__all__ = [
    "MAX_EXTENDS",
    "ScenarioError",
    "apply_overrides",
    "describe_validation_error",
    "dump_scenario",
    "load_scenario",
    "parse_override",
    "scenario_from_dict",
]


def scenario_from_dict(
    data: Mapping[str, Any], overrides: Iterable[str] = (), source: str = "scenario"
) -> Scenario:
    """Validate a raw mapping (plus overrides) into a Scenario, or raise ScenarioError."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: expected a mapping of scenario fields at the top level")
    overrides = list(overrides)
    merged = apply_overrides(data, overrides)
    try:
        return Scenario.model_validate(merged)
    except ValidationError as exc:
        where = "--set" if _set_by_override(error_field(exc), overrides) else source
        raise ScenarioError(f"{where}: {describe_validation_error(exc)}") from None


def _set_by_override(field: list[str], overrides: list[str]) -> bool:
    """Whether the field at fault is one an override set (or lies inside one): the error
    then names ``--set``, not the scenario file that never held it."""
    for text in overrides:
        keys, _ = parse_override(text)
        if field[: len(keys)] == keys:
            return True
    return False


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load a scenario YAML file safely, apply ``--set`` style overrides, validate.

    A file may start from another with ``extends: other.yaml`` (relative to itself) and
    state only what differs; sections are merged key by key. Chains are at most
    ``MAX_EXTENDS`` files long. A bare name (``baseline``) that is no file on disk, as the
    path or in ``extends:``, means the bundled scenario of that name.
    """
    path = resolve_scenario(path)
    if not path.exists():
        raise ScenarioError(f"{path}: no such scenario file{missing_hint(path)}")
    data = _read_with_extends(path)
    return scenario_from_dict(data, overrides, source=str(path))


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as resolved (every default filled in) as YAML text."""
    return dump_yaml(scenario.model_dump(mode="json", by_alias=True))


def _read_with_extends(path: Path) -> dict[str, Any]:
    """The file merged over the chain of files it extends, child over parent."""
    chain: list[dict[str, Any]] = []
    visited: list[Path] = []
    current = path
    while True:
        data = _read_yaml(current)
        chain.append(data)
        parent = data.pop("extends", None)
        if parent is None:
            break
        if not isinstance(parent, str):
            raise ScenarioError(f"{current}: extends: expected the path of another scenario file")
        if len(chain) > MAX_EXTENDS:
            raise ScenarioError(
                f"{path}: extends: more than {MAX_EXTENDS} files deep (stopped at {current})"
            )
        visited.append(_resolve(current, current, parent))
        parent_path = _resolve(_parent_file(current, parent), current, parent)
        if parent_path in visited:
            raise ScenarioError(f"{current}: extends: {parent} extends itself in a loop")
        if not parent_path.is_file():
            raise ScenarioError(
                f"{current}: extends: {parent}: no such scenario file{missing_hint(parent)}"
            )
        current = parent_path
    merged = chain.pop()
    while chain:
        merged = _deep_merge(merged, chain.pop())
    return merged


def _parent_file(current: Path, parent: str) -> Path:
    """The file ``extends: parent`` names: beside ``current``, else a bundled scenario."""
    beside = current.parent / parent
    if not beside.exists() and is_bare_name(parent):
        return bundled_path(parent) or beside
    return beside


def _resolve(target: Path, current: Path, parent: str) -> Path:
    try:
        return target.resolve()
    except RuntimeError:
        raise ScenarioError(f"{current}: extends: {parent}: a symlink loop") from None
    except OSError as exc:
        raise ScenarioError(f"{current}: extends: {parent}: {exc.strerror}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file")
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read the file ({exc.strerror})") from None
    note_input(path, "a scenario file")
    if len(raw) > MAX_FILE_BYTES:
        raise ScenarioError(
            f"{path}: larger than the {MAX_FILE_BYTES // 2**20} MB limit for scenario files"
        )
    try:
        data = load_yaml(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ScenarioError(f"{path}: invalid YAML{where}: {problem}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping of scenario fields at the top level")
    return data


def _deep_merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    """``child`` over ``base``, section by section; shares (never copies or changes) values."""
    merged = dict(base)
    for key, value in child.items():
        # A distribution, or a curve table or preset, replaces its parent's whole.
        if (
            isinstance(value, Mapping)
            and isinstance(merged.get(key), Mapping)
            and not {"dist", "points", "preset"} & set(value)
        ):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
