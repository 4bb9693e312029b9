"""Scenario errors as one line: the field path, what was expected, the value, a did-you-mean."""

from __future__ import annotations

import difflib
from typing import Any

from pydantic import BaseModel, ValidationError

from funnelsim.scenario.models import Scenario


class ScenarioError(ValueError):
    """A scenario that cannot be used: the message is one line naming the field."""


def describe_validation_error(exc: ValidationError) -> str:
    """One line: the first error's field path, what was expected, and a did-you-mean."""
    error = _first_error(exc)
    loc = _field_path(error)
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


def error_field(exc: ValidationError) -> list[str]:
    """The field path (keys) of the error ``describe_validation_error`` describes."""
    return _field_path(_first_error(exc))


def _first_error(exc: ValidationError) -> Any:
    """The error to report: an unknown field first (the likeliest typo), else the first."""
    return sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]


def _field_path(error: Any) -> list[str]:
    return [str(part) for part in error["loc"] if not _is_union_tag(part)]


def closest(name: str, candidates: Any) -> str | None:
    """The candidate most like ``name`` (a likely typo), if any is close enough."""
    match = difflib.get_close_matches(name, [str(c) for c in candidates], n=1, cutoff=0.75)
    return match[0] if match else None


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``Team``, ``dict[str, Team]``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_of(arg)
        if found is not None:
            return found
    return None


def _show_input(kind: str) -> bool:
    return kind.endswith(("_type", "_parsing", "greater_than", "less_than")) or kind in {
        "greater_than_equal",
        "less_than_equal",
        "literal_error",
        "too_short",
        "too_long",
        "finite_number",
    }


def _top_fields() -> list[str]:
    return list(Scenario.model_fields)


def _is_union_tag(part: object) -> bool:
    tags = {"fixed", "exponential", "lognormal", "gamma", "weibull", "triangular", "beta"}
    if isinstance(part, str) and part.startswith(("kind=", "shape=")):
        return True  # a source's kind (inbound / outbound)
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
        model = model_of(field.annotation)
        skip_key = getattr(field.annotation, "__origin__", None) is dict
    if model is None or skip_key:
        return None
    names = [f.alias or n for n, f in model.model_fields.items()]
    match = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
    return match[0] if match else None
