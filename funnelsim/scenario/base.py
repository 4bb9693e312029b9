"""Shared pieces of the scenario spec: the strict frozen base model and common types.

Numbers in a scenario are finite (``allow_inf_nan=False``), never booleans (YAML's
``true`` is not a count), and no larger in magnitude than ``MAX_NUMBER``, so whatever the
engine adds up stays finite. Sizes have hard sanity caps far above any real company.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SEGMENTS = ("smb", "mid_market", "enterprise")
Routing = Literal["round_robin", "least_loaded", "by_segment", "pooled"]

MAX_NUMBER = 1e15
MAX_HEADCOUNT = 10_000
MAX_CAPACITY_PER_HEAD = 10_000
MAX_ACCOUNTS = 10_000_000
MAX_WEEKLY_RATE = 1_000_000
MAX_ATTEMPTS = 1_000


def _not_bool(value: object) -> object:
    """YAML's true/false are not numbers: refuse them before pydantic coerces them to 1/0."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, not {str(value).lower()}")
    return value


def _bounded(value: float) -> float:
    if abs(value) > MAX_NUMBER:
        raise ValueError(f"{value:g} is beyond the limit of ±{MAX_NUMBER:g}")
    return value


Number = Annotated[float, BeforeValidator(_not_bool), AfterValidator(_bounded)]
"""A finite real number (ints accepted), at most ``MAX_NUMBER`` in magnitude."""

Count = Annotated[int, BeforeValidator(_not_bool), AfterValidator(_bounded)]
"""A whole number, not a boolean."""

NonNegative = Annotated[Number, Field(ge=0)]
"""A share, weight, amount or duration: finite and >= 0."""

Probability = Annotated[Number, Field(ge=0, le=1)]
"""A probability or share in [0, 1], wherever it sits (fields, mapping values)."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


LABEL_LENGTH = 120
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _one_line(value: str) -> str:
    """A display label is one short line: reports, charts and sheets print it as is."""
    if len(value) > LABEL_LENGTH or _CONTROL.search(value):
        raise ValueError(
            f"expected one line of text of at most {LABEL_LENGTH} characters "
            "(no line breaks or control characters)"
        )
    return value


Label = Annotated[str, AfterValidator(_one_line)]
"""A display name for a person to read (``label:``); the key stays the name in paths."""
