"""Waiting curves: the relative chance a lead or deal is still there after waiting t hours.

One spec type serves every wait between teams (first response at seam 1, an SQL waiting
for an AE). Three shapes, told apart by their keys:

- ``{half_life_hours, floor}``: an exponential fall to a floor (``half_life_hours: null``
  switches waiting off);
- ``{points: {wait_hours: chance, ...}}``: a table interpolated linearly in log time,
  flat before the first point and after the last, so it can be calibrated to observed
  conversion by response-time bucket;
- ``{preset: NAME}``: a named table from :data:`PRESETS`.

A chance is relative to an immediate answer (a table starts at 1) and never rises with
the wait, so a lead lost after some wait is lost after any longer one: the coupling that
attributes a loss to waiting alone. Any shape may add ``by_source: {source: curve}``.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Discriminator, Field, Tag, model_validator

from funnelsim.scenario.base import NonNegative, Number, Probability, _Spec

ChanceFn = Callable[[float], float]

# Named response curves (wait hours -> relative chance). What each reproduces on the
# baseline is documented in docs/waiting.md and asserted by tests/test_curves.py.
PRESETS: dict[str, dict[float, float]] = {
    # The published speed-to-lead anchors, read observationally as the studies did:
    # odds of qualifying ~21x within 5 minutes vs 5-30 minutes (MIT/InsideSales 2007) and
    # ~7x within the hour vs later (HBR 2011, Oldroyd et al.).
    "literature": {
        0.0833: 1.0,
        0.1167: 0.36,
        0.1667: 0.17,
        0.25: 0.1,
        0.5: 0.068,
        1.0: 0.048,
        4.0: 0.034,
        12.0: 0.025,
        24.0: 0.014,
        48.0: 0.008,
        96.0: 0.005,
    },
}


class _Curve(_Spec):
    """What every shape shares: per-source overrides and the chance function."""

    by_source: dict[str, Curve] | None = Field(
        default=None, description="a different curve for some sources (by source name)"
    )

    @model_validator(mode="after")
    def _flat_overrides(self) -> _Curve:
        for name, curve in (self.by_source or {}).items():
            if curve.by_source:
                raise ValueError(f"by_source.{name}: a per-source curve has no by_source")
        return self

    def chance_function(self) -> ChanceFn | None:
        """A fast scalar function wait -> relative chance; None when waiting costs nothing."""
        raise NotImplementedError

    def chances(self, wait: np.ndarray) -> np.ndarray:
        """Relative chances for an array of waits (hours), in bulk; 1 where waiting is off.

        The same formula as :meth:`chance_function` (numpy's ``log`` and ``pow`` may
        differ from the scalar ones in the last bit).
        """
        raise NotImplementedError

    def for_source(self, name: str) -> Curve:
        """The curve a lead of source ``name`` follows."""
        return (self.by_source or {}).get(name, self)  # type: ignore[return-value]


class ExponentialCurve(_Curve):
    """``floor + (1 - floor) * 0.5 ** (wait / half_life_hours)``; no waiting cost if null."""

    half_life_hours: Number | None = Field(default=10.0, gt=0)
    floor: Probability = Field(default=0.1, ge=0, le=1)

    def chance_function(self) -> ChanceFn | None:
        half_life = self.half_life_hours
        if half_life is None:
            return None
        floor = self.floor

        def chance(wait: float) -> float:
            if wait <= 0:
                return 1.0
            return floor + (1.0 - floor) * 0.5 ** (wait / half_life)

        return chance

    def chances(self, wait: np.ndarray) -> np.ndarray:
        wait = np.asarray(wait, dtype=float)
        if self.half_life_hours is None:
            return np.ones(wait.shape)
        floor = self.floor
        with np.errstate(over="ignore", invalid="ignore"):
            decayed = floor + (1.0 - floor) * 0.5 ** (wait / self.half_life_hours)
        return np.where(wait <= 0, 1.0, decayed)


SHAPE_KEYS = ("half_life_hours", "floor", "points", "preset")


class _TableCurve(_Curve):
    """A curve given by (wait hours, chance) points, interpolated linearly in log time."""

    @model_validator(mode="before")
    @classmethod
    def _one_shape(cls, data: Any) -> Any:
        if (
            isinstance(data, dict)
            and sum(key in data for key in ("points", "preset"))
            + any(key in data for key in ("half_life_hours", "floor"))
            > 1
        ):
            keys = ", ".join(key for key in SHAPE_KEYS if key in data)
            raise ValueError(
                f"a curve has one shape: points, preset, or half_life_hours/floor (got {keys}); "
                "to change shape set the whole curve, e.g. --set seam1.decay={preset: literature}"
            )
        return data

    def table(self) -> dict[float, float]:
        raise NotImplementedError

    def chance_function(self) -> ChanceFn | None:
        return table_function(self.table())

    def chances(self, wait: np.ndarray) -> np.ndarray:
        return table_chances(self.table(), wait)


class PointsCurve(_TableCurve):
    """A table of ``{wait_hours: relative_chance}`` points, e.g. fitted to CRM data."""

    points: dict[NonNegative, float]

    @model_validator(mode="after")
    def _valid_table(self) -> PointsCurve:
        check_table(self.points)
        return self

    def table(self) -> dict[float, float]:
        return dict(self.points)


class PresetCurve(_TableCurve):
    """A named table from ``PRESETS`` (see docs/waiting.md for what each reproduces)."""

    preset: Literal["literature"]

    def table(self) -> dict[float, float]:
        return PRESETS[self.preset]


def _curve_shape(value: Any) -> str:
    """Union tag of a curve: by its keys (``points``, ``preset``, else the exponential)."""
    if isinstance(value, PointsCurve) or (isinstance(value, dict) and "points" in value):
        return "shape=points"
    if isinstance(value, PresetCurve) or (isinstance(value, dict) and "preset" in value):
        return "shape=preset"
    return "shape=exponential"


Curve = Annotated[
    Annotated[ExponentialCurve, Tag("shape=exponential")]
    | Annotated[PointsCurve, Tag("shape=points")]
    | Annotated[PresetCurve, Tag("shape=preset")],
    Discriminator(_curve_shape),
]

for _model in (ExponentialCurve, PointsCurve, PresetCurve):
    _model.model_rebuild()


def check_table(points: dict[float, float]) -> None:
    """A usable table: waits > 0, chances in [0, 1], 1 at the first point, never rising."""
    if not points:
        raise ValueError("points: give at least one {wait_hours: chance} point")
    waits = sorted(points)
    if waits[0] <= 0:
        raise ValueError("points: waits must be > 0 hours (the curve is flat before the first)")
    chances = [points[w] for w in waits]
    for wait, chance in zip(waits, chances, strict=True):
        if not 0.0 <= chance <= 1.0:
            raise ValueError(f"points: chances must be in [0, 1] (got {chance:g} at {wait:g} h)")
    if chances[0] != 1.0:
        raise ValueError(
            "points: the chance at the shortest wait must be 1 (chances are relative to an "
            f"immediate answer; got {chances[0]})"
        )
    for i in range(1, len(waits)):
        if chances[i] > chances[i - 1]:
            raise ValueError(
                f"points: the chance may not rise with the wait ({waits[i - 1]:g} h: "
                f"{chances[i - 1]:g}, {waits[i]:g} h: {chances[i]:g})"
            )


def table_function(points: dict[float, float]) -> ChanceFn:
    """wait -> chance, linear in log(wait) between points, flat outside them."""
    waits = sorted(points)
    logs = [math.log(w) for w in waits]
    chances = [float(points[w]) for w in waits]
    first_wait, last_wait = waits[0], waits[-1]
    first, last = chances[0], chances[-1]
    log = math.log

    def chance(wait: float) -> float:
        if wait <= first_wait:
            return first
        if wait >= last_wait:
            return last
        x = log(wait)
        i = bisect_right(logs, x)
        x0, x1 = logs[i - 1], logs[i]
        y0, y1 = chances[i - 1], chances[i]
        return y0 + (y1 - y0) * (x - x0) / (x1 - x0)

    return chance


def table_chances(points: dict[float, float], wait: np.ndarray) -> np.ndarray:
    """:func:`table_function` over an array of waits, with the same formula."""
    waits = sorted(points)
    logs = np.array([math.log(w) for w in waits])
    chances = np.array([float(points[w]) for w in waits])
    wait = np.asarray(wait, dtype=float)
    flat = wait.ravel()
    out = np.where(flat <= waits[0], chances[0], chances[-1])
    inside = np.flatnonzero((flat > waits[0]) & (flat < waits[-1]))
    x = np.log(flat[inside])
    i = np.searchsorted(logs, x, side="right")
    x0, x1, y0, y1 = logs[i - 1], logs[i], chances[i - 1], chances[i]
    out[inside] = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return out.reshape(wait.shape)


def check_curve_sources(path: str, curve: _Curve | None, sources: set[str]) -> None:
    """``by_source`` names only sources the scenario has."""
    if curve is None:
        return
    unknown = sorted(set(curve.by_source or {}) - sources)
    if unknown:
        raise ValueError(
            f"{path}.by_source: unknown source '{unknown[0]}' (sources: {sorted(sources)})"
        )
