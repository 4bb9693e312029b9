"""``--set a.b.c=value`` overrides: YAML scalars applied on top of the resolved defaults.

An override walks the scenario's model along its path. A section the data leaves to its
defaults is filled with them first, so ``teams.sdr.headcount=2`` on a file without
``teams`` changes one field of the default SDR team instead of replacing the team. Only
the mappings along the path are copied: the input (and any YAML aliases in it) is never
modified or expanded. Setting a field inside a named entry that does not exist but is
spelt like one that does (``sources.paid_serch.leads_per_week``) is refused with a
did-you-mean; a new entry can still be added, whole or field by field, under a new name.
"""

from __future__ import annotations

import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from pydantic import BaseModel

from funnelsim.scenario.errors import ScenarioError, closest
from funnelsim.scenario.models import FILLS_GAPS, Scenario
from funnelsim.scenario.safe_yaml import YamlLimitError, load_yaml


def parse_override(text: str, option: str = "--set") -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into a key path and a YAML scalar (never evaluated as code)."""
    if "=" not in text:
        raise ScenarioError(f"{option} {text!r}: expected path.to.field=value")
    path, _, raw = text.partition("=")
    keys = [k.strip() for k in path.split(".")]
    if not path.strip() or any(not k for k in keys):
        raise ScenarioError(f"{option} {text!r}: expected path.to.field=value")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except YamlLimitError as exc:
        raise ScenarioError(f"{option} {path.strip()}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ScenarioError(
            f"{option} {path.strip()}: value {raw!r} is not a YAML scalar ({problem})"
        ) from None
    return keys, value


def apply_overrides(
    data: Mapping[str, Any], overrides: Iterable[str], option: str = "--set"
) -> dict[str, Any]:
    """A copy of ``data`` with each ``a.b.c=value`` override applied over the defaults."""
    result = dict(data)
    for text in overrides:
        keys, value = parse_override(text, option)
        _set(result, keys, value, option)
    return result


@dataclass(frozen=True)
class _Place:
    """What a mapping on an override's path is: a model's section, or named entries."""

    models: tuple[type[BaseModel], ...] = ()
    entries: bool = False
    entry_type: Any = None
    defaults: Mapping[Any, Any] | None = None  # entries that exist unless replaced


def _set(root: dict[str, Any], keys: list[str], value: Any, option: str) -> None:
    node = root
    place: _Place | None = _Place(models=(Scenario,))
    for depth, key in enumerate(keys[:-1]):
        where = ".".join(keys[: depth + 1])
        stored = _existing_key(node, key)
        child = node.get(stored)
        child_place, default = _child(place, node, key, child is None)
        if child is None:
            if place is not None and place.entries and default is None:
                _refuse_near_miss(node, place, keys, depth, option)
            child = {} if default is None else default
        if not isinstance(child, dict):
            raise ScenarioError(f"{option} {'.'.join(keys)}: {where} is a value, not a section")
        child = dict(child)
        node[stored] = child
        node, place = child, _settle(child_place, child)
    node[_existing_key(node, keys[-1])] = value


def _child(
    place: _Place | None, node: Mapping[Any, Any], key: str, missing: bool
) -> tuple[_Place | None, Any]:
    """The place of ``node[key]`` and, when it is missing, its default (plain data)."""
    if place is None:
        return None, None
    if place.entries:
        default = None
        if missing and place.defaults is not None and key in place.defaults:
            default = place.defaults[key]
        return _place_of(place.entry_type), default
    model = place.models[0]
    field = _field(model, key)
    if field is None:
        return None, None
    name, info = field
    fill = info.get_default(call_default_factory=True) if not info.is_required() else None
    child_place = _place_of(info.annotation)
    if model is Scenario and name in FILLS_GAPS and child_place is not None and not missing:
        child_place = _Place(entries=True, entry_type=child_place.entry_type, defaults=_plain(fill))
    return child_place, (_plain(fill) if missing else None)


def _settle(place: _Place | None, data: Mapping[Any, Any]) -> _Place | None:
    """Pick the model a mapping is (a distribution by ``dist``, a source by ``kind``)."""
    if place is None or place.entries or len(place.models) <= 1:
        return place
    best: type[BaseModel] | None = None
    best_score = -1
    for model in place.models:
        score = _tag_score(model, data)
        if score > best_score:
            best, best_score = model, score
    return _Place(models=(best,)) if best is not None else None


def _tag_score(model: type[BaseModel], data: Mapping[Any, Any]) -> int:
    """How many of a model's literal tags the data matches; -1 when one contradicts it."""
    score = 0
    for name, info in model.model_fields.items():
        if get_origin(info.annotation) is not Literal:
            continue
        key = info.alias or name
        if key in data:
            if data[key] not in get_args(info.annotation):
                return -1
            score += 1
        elif info.is_required():
            return -1
    return score


def _refuse_near_miss(
    node: Mapping[Any, Any], place: _Place, keys: list[str], depth: int, option: str
) -> None:
    """Refuse a field set inside a new entry whose name looks like a typo of an existing one."""
    name = keys[depth]
    if name.isdigit():
        return
    known = set(node) | set(place.defaults or ())
    match = closest(name, known)
    if match is None:
        return
    parent = ".".join(keys[:depth]) or "(top level)"
    raise ScenarioError(
        f"{option} {'.'.join(keys)}: {parent} has no {name!r}; did you mean {match!r}? "
        f"(to add a new one, set it whole: {'.'.join(keys[: depth + 1])}={{...}})"
    )


def _field(model: type[BaseModel], key: str) -> tuple[str, Any] | None:
    for name, info in model.model_fields.items():
        if key in (name, info.alias):
            return name, info
    return None


def _place_of(annotation: Any) -> _Place | None:
    """A mapping's place from its annotation: named entries, one model, or a union."""
    annotation = _unwrap(annotation)
    if get_origin(annotation) is dict:
        return _Place(entries=True, entry_type=get_args(annotation)[1])
    models = tuple(_models(annotation))
    return _Place(models=models) if models else None


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated[...]`` and ``| None`` around a type."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in get_args(annotation) if a is not type(None)]
            if len(args) != 1:
                return annotation
            annotation = args[0]
        else:
            return annotation


def _models(annotation: Any) -> list[type[BaseModel]]:
    annotation = _unwrap(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if get_origin(annotation) in (Union, types.UnionType):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    return []


def _plain(value: Any) -> Any:
    """A default as the plain data a file would hold (models dumped by alias)."""
    if isinstance(value, BaseModel):
        return value.model_dump(by_alias=True)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _existing_key(node: Mapping[Any, Any], key: str) -> Any:
    """The key as the mapping already holds it ('90' or 90), else an int for digits."""
    if key in node:
        return key
    return int(key) if key.isdigit() else key
