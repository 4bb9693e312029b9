"""Reading scenarios: safe YAML, ``--set`` overrides, and one-line validation errors."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from funnelsim.scenario.models import Scenario


class ScenarioError(ValueError):
    """A scenario that cannot be used: the message is one line naming the field."""


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML scalar (never evaluated as code)."""
    if "=" not in text:
        raise ScenarioError(f"--set {text!r}: expected path.to.field=value")
    path, _, raw = text.partition("=")
    keys = [k.strip() for k in path.split(".")]
    if not path.strip() or any(not k for k in keys):
        raise ScenarioError(f"--set {text!r}: expected path.to.field=value")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ScenarioError(
            f"--set {path}: value {raw!r} is not a YAML scalar ({problem})"
        ) from None
    return keys, value


def apply_overrides(data: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with each ``a.b.c=value`` override applied."""
    result = _deep_copy(data)
    for text in overrides:
        keys, value = parse_override(text)
        node: Any = result
        for depth, key in enumerate(keys[:-1]):
            child = node.get(key) if isinstance(node, dict) else None
            if child is None:
                child = {}
                node[key] = child
            elif not isinstance(child, dict):
                where = ".".join(keys[: depth + 1])
                raise ScenarioError(f"--set {'.'.join(keys)}: {where} is a value, not a section")
            node = child
        if isinstance(node, dict):
            node[_existing_key(node, keys[-1])] = value
    return result


def scenario_from_dict(
    data: Mapping[str, Any], overrides: Iterable[str] = (), source: str = "scenario"
) -> Scenario:
    """Validate a raw mapping (plus overrides) into a Scenario, or raise ScenarioError."""
    if not isinstance(data, Mapping):
        raise ScenarioError(f"{source}: expected a mapping of scenario fields at the top level")
    merged = apply_overrides(data, overrides)
    try:
        return Scenario.model_validate(merged)
    except ValidationError as exc:
        raise ScenarioError(f"{source}: {describe_validation_error(exc)}") from None


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load a scenario YAML file safely, apply ``--set`` style overrides, validate.

    A file may start from another with ``extends: other.yaml`` (relative to itself) and
    state only what differs; sections are merged key by key.
    """
    path = Path(path)
    data = _read_with_extends(path, seen=())
    return scenario_from_dict(data, overrides, source=str(path))


def _read_with_extends(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    data = _read_yaml(path)
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ScenarioError(f"{path}: extends: expected the path of another scenario file")
    parent_path = (path.parent / parent).resolve()
    if parent_path in seen:
        raise ScenarioError(f"{path}: extends: {parent} extends itself in a loop")
    base = _read_with_extends(parent_path, (*seen, path.resolve()))
    return _deep_merge(base, data)


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ScenarioError(f"{path}: no such scenario file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ScenarioError(f"{path}: invalid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping of scenario fields at the top level")
    return data


def _deep_merge(base: Mapping[str, Any], child: Mapping[str, Any]) -> dict[str, Any]:
    merged = _deep_copy(base)
    for key, value in child.items():
        # A distribution, or a curve table or preset, replaces its parent's whole.
        if (
            isinstance(value, Mapping)
            and isinstance(merged.get(key), Mapping)
            and not {"dist", "points", "preset"} & set(value)
        ):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = _deep_copy(value)
    return merged


def dump_scenario(scenario: Scenario) -> str:
    """The scenario as resolved (every default filled in) as YAML text."""
    data = scenario.model_dump(mode="json", by_alias=True)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def describe_validation_error(exc: ValidationError) -> str:
    """One line: the first error's field path, what was expected, and a did-you-mean."""
    error = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = [str(part) for part in error["loc"] if not _is_union_tag(part)]
    path = ".".join(loc) or "(top level)"
    kind = error["type"]
    if kind == "extra_forbidden":
        suggestion = _suggest(loc)
        hint = f"; did you mean '{suggestion}'?" if suggestion else ""
        return f"{path}: unknown field{hint}"
    if kind == "missing":
        return f"{path}: required field is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "union_tag_invalid":
        return f"{path}: unknown distribution; expected one of {error['ctx']['expected_tags']}"
    if kind == "union_tag_not_found":
        return f"{path}: a distribution needs 'dist' (e.g. dist: lognormal)"
    if path == "(top level)" or message.startswith(tuple(f"{k}." for k in _top_fields())):
        return message
    return (
        f"{path}: {message} (got {error.get('input')!r})"
        if _show_input(kind)
        else (f"{path}: {message}")
    )


def _show_input(kind: str) -> bool:
    return kind.endswith(("_type", "_parsing", "greater_than", "less_than")) or kind in {
        "greater_than_equal",
        "less_than_equal",
        "literal_error",
        "too_short",
        "too_long",
    }


def _top_fields() -> list[str]:
    return list(Scenario.model_fields)


def _is_union_tag(part: object) -> bool:
    tags = {"fixed", "exponential", "lognormal", "gamma", "weibull", "triangular", "beta"}
    if isinstance(part, str) and part.startswith(("kind=", "shape=")):
        return True  # a source's kind (inbound / outbound), a curve's shape
    return isinstance(part, str) and (part in tags | {"uniform", "empirical"})


def _suggest(loc: list[str]) -> str | None:
    """The closest known field name to the misspelt last key of ``loc``."""
    model: type[BaseModel] | None = Scenario
    skip_key = False
    for part in loc[:-1]:
        if skip_key:
            skip_key = False
            continue
        field = model.model_fields.get(part) if model is not None else None
        if field is None:
            return None
        model = _model_of(field.annotation)
        skip_key = getattr(field.annotation, "__origin__", None) is dict
    if model is None or skip_key:
        return None
    names = [f.alias or n for n, f in model.model_fields.items()]
    match = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
    return match[0] if match else None


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``Team``, ``dict[str, Team]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _existing_key(node: dict[Any, Any], key: str) -> Any:
    """The key as the mapping already holds it ('90' or 90), else an int for digits."""
    if key in node:
        return key
    return int(key) if key.isdigit() else key


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
