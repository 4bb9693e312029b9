"""The Python API's arguments checked before anything runs: a wrong type or value raises
``TypeError``/``ValueError`` starting with the argument's name and what was expected, as the
command line's options do (``--reps``, ``--seed``, ``--workers``, ``--step``)."""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence, Sized
from numbers import Integral, Real
from typing import Any

from funnelsim.scenario.models import Scenario

# A paired comparison (compare, plan) needs two replications for an interval, as on the
# command line; a sweep or a sensitivity run may warm up on one.
LEAST_REPLICATIONS = 1
LEAST_PAIRED_REPLICATIONS = 2


def whole(name: str, value: Any, least: int) -> int:
    """``value`` as an int of at least ``least``; a bool, float or text is refused."""
    expected = f"{name}: expected a whole number >= {least} (got {value!r})"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(expected)
    if value < least:
        raise ValueError(expected)
    return int(value)


def execution(replications: Any, seed: Any, workers: Any, paired: bool) -> None:
    """The replication count, root seed and worker count every API call takes."""
    least = LEAST_PAIRED_REPLICATIONS if paired else LEAST_REPLICATIONS
    whole("replications", replications, least)
    whole("seed", seed, 0)
    whole("workers", workers, 1)


def between(name: str, value: Any, low: float, high: float, inclusive: bool = False) -> float:
    """A finite number between ``low`` and ``high`` (the bounds themselves if ``inclusive``)."""
    number = not isinstance(value, bool) and isinstance(value, Real) and math.isfinite(value)
    if not number or not (low <= value <= high if inclusive else low < value < high):
        bounds = f"from {low} to {high}" if inclusive else f"strictly between {low} and {high}"
        raise ValueError(f"{name}: expected a number {bounds} (got {value!r})")
    return float(value)


def scenario(name: str, value: Any, files: bool = False) -> None:
    """A ``Scenario`` (or, where ``files``, a scenario file's path or bundled name)."""
    if isinstance(value, Scenario) or (files and isinstance(value, str | os.PathLike)):
        return
    what = "a Scenario or a scenario file's path" if files else "a Scenario"
    raise TypeError(
        f"{name}: expected {what} (got {type(value).__name__}); "
        "funnelsim.load_scenario reads a file"
    )


def options(value: Any) -> None:
    """``compare``'s variant: one Scenario, a list of them or a mapping of names to them."""
    if isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items = list(value)
    else:
        items = [value]
    for item in items:
        if not isinstance(item, Scenario):
            raise TypeError(
                "variant: expected a Scenario, a list of Scenarios or a mapping of names to "
                f"Scenarios (got {type(item).__name__}); funnelsim.load_scenario reads a file"
            )


def hires(values: Any) -> tuple[Any, ...]:
    """``plan``'s hires as a tuple of at least one ``Hire`` (``plans.parse_hire`` reads text)."""
    from funnelsim.experiment.plans import Hire

    example = "e.g. [parse_hire('ae=+2@2027-04-01')]"
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise TypeError(f"hires: expected a list of Hire objects, {example} (got {values!r})")
    found = tuple(values)
    if not found:
        raise ValueError(f"hires: expected at least one Hire, {example}")
    for hire in found:
        if not isinstance(hire, Hire):
            raise TypeError(f"hires: expected Hire objects, {example} (got {type(hire).__name__})")
    return found


def grid(value: Any) -> None:
    """``sweep``'s grid: a non-empty mapping of dotted paths to non-empty lists of values."""
    if not isinstance(value, Mapping):
        raise TypeError(
            "grid: expected a mapping of dotted paths to lists of values, e.g. "
            f"{{'teams.sdr.headcount': [3, 4]}} (got {type(value).__name__})"
        )
    if not value:
        raise ValueError("grid: expected at least one parameter with its values")
    for path, values in value.items():
        if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
            raise TypeError(
                f"grid[{path!r}]: expected a list of values (got {type(values).__name__})"
            )
        if isinstance(values, Sized) and len(values) == 0:
            raise ValueError(f"grid[{path!r}]: expected at least one value")
