"""Sales stages: the stages an opportunity walks, in the order listed, per segment.

``sales.stages`` maps each stage's name to its spec, in walking order (so a stage can
be changed by name: ``--set sales.stages.proposal.advance.smb=0.5``). Each stage has, by
segment (or one value for every segment), the chance of moving on
(from the last stage: of winning), the time spent in it (any distribution, days), an
optional stall (a chance of sitting in it longer, and for how long) and the probability
a CRM shows for a deal in it (``weight``, for the stage-weighted forecast). A deal's fate
is revealed stage by stage: a lost deal leaves at the end of the stage where it was
lost, so a late-stage deal really is likelier to win. Without ``sales.stages`` the sales
cycle is one stage (``win_rate``, ``cycle_days``, ``lost_cycle_days``, ``slip``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from funnelsim.scenario.base import Probability, _Spec
from funnelsim.scenario.distributions import Distribution, Lognormal

# The key under which one value stands for every segment.
EVERY_SEGMENT = "*"


class Stall(_Spec):
    """A deal that stalls sits in its stage ``extra_days`` longer (its close date slips)."""

    prob: Probability = Field(default=0.0, ge=0, le=1)
    extra_days: Distribution = Field(default_factory=lambda: Lognormal(median=14, p90=45))


class SalesStage(_Spec):
    """One sales stage: chance of moving on, time in it, stalls and the CRM's weight."""

    advance: dict[str, Probability] = Field(
        description="chance of moving on from this stage (from the last: of winning), "
        "by segment or one value"
    )
    days: dict[str, Distribution] = Field(
        description="days spent in this stage, by segment or one distribution"
    )
    stall: Stall = Stall()
    weight: Probability | None = Field(
        default=None,
        ge=0,
        le=1,
        description="the win probability a CRM shows for a deal in this stage; null: the "
        "chance implied by the stages from here on (a calibrated CRM)",
    )

    @model_validator(mode="before")
    @classmethod
    def _one_value_for_every_segment(cls, data: Any) -> Any:
        """A bare number or distribution stands for every segment."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "advance" in data and not isinstance(data["advance"], dict):
            data["advance"] = {EVERY_SEGMENT: data["advance"]}
        days = data.get("days")
        if days is not None and (not isinstance(days, dict) or "dist" in days):
            data["days"] = {EVERY_SEGMENT: days}
        return data

    def advance_for(self, segment: str) -> float:
        """The chance of moving on for a segment."""
        return float(self.advance.get(segment, self.advance.get(EVERY_SEGMENT, 0.0)))

    def days_for(self, segment: str) -> Distribution:
        """The time-in-stage distribution of a segment."""
        return self.days.get(segment) or self.days[EVERY_SEGMENT]


def check_stages(stages: dict[str, SalesStage], segments: set[str]) -> None:
    """At least one stage; every segment has a chance and a duration at every stage."""
    if not stages:
        raise ValueError("sales.stages: name at least one stage, or leave the key out")
    for index, stage in stages.items():
        for field in ("advance", "days"):
            given = set(getattr(stage, field))
            unknown = sorted(given - segments - {EVERY_SEGMENT})
            if unknown:
                raise ValueError(
                    f"sales.stages.{index}.{field}: unknown segment '{unknown[0]}' "
                    f"(segments: {sorted(segments)})"
                )
            if EVERY_SEGMENT not in given:
                missing = sorted(segments - given)
                if missing:
                    raise ValueError(
                        f"sales.stages.{index}.{field}: missing a value for segment '{missing[0]}'"
                    )


def implied_weights(stages: dict[str, SalesStage], shares: dict[str, float]) -> list[float]:
    """Each stage's chance of ending won (the product of the chances from it on),
    averaged over segments by their shares."""
    stages = list(stages.values())
    weights = []
    for index in range(len(stages)):
        total = 0.0
        for segment, share in shares.items():
            chance = 1.0
            for stage in stages[index:]:
                chance *= stage.advance_for(segment)
            total += share * chance
        weights.append(total)
    return weights
