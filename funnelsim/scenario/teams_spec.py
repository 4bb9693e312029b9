"""Scenario sections of the teams: headcount, plans, attrition, ramp, comp and cost."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, model_validator

from funnelsim.scenario.base import (
    MAX_CAPACITY_PER_HEAD,
    MAX_HEADCOUNT,
    Count,
    Label,
    NonNegative,
    Number,
    _Spec,
)
from funnelsim.scenario.distributions import Distribution, Fixed, Gamma, Lognormal
from funnelsim.scenario.market import Calendar

MIN_SHIFT_HOURS = 1.0
"""The shortest paid week of a head: shorter shifts stagger into absurdly many start times."""


class PlanStep(_Spec):
    """A change of a team's headcount on a date: ``+2`` hires two people, ``-1`` lets one go."""

    date: dt.date
    change: Count = Field(ge=-MAX_HEADCOUNT, le=MAX_HEADCOUNT)

    @model_validator(mode="after")
    def _nonzero(self) -> PlanStep:
        if self.change == 0:
            raise ValueError("change must be a non-zero number of heads (e.g. +2 or -1)")
        return self


class Attrition(_Spec):
    """People leave after a tenure drawn in months; replaced after a hiring delay if asked."""

    tenure_months: Distribution
    replace: bool = True
    hiring_delay_days: Distribution = Fixed(value=60)


class Comp(_Spec):
    """Compensation per head: base salary, commission on booked ARR, SDR handoff bonus.

    ``base_per_year``, when given, replaces the team's ``cost_per_year`` as the yearly
    cost of one employed head; commission and handoff bonuses come on top.
    """

    base_per_year: NonNegative | None = None
    commission_rate: Number = Field(default=0.0, ge=0, le=1)
    commission_months: Count = Field(default=1, ge=1, le=60)
    handoff_bonus: NonNegative = 0.0


class Team(_Spec):
    """A team: heads, concurrent items per head, work time per item, calendar and cost.

    ``work_time`` is in working hours (it advances only while the head is on duty). Teams
    whose holding time is set by the stage (the AE's sales cycle, the CSM's onboarding)
    leave it unset. Capacity is paid hours: each head works ``shift_hours_per_week`` (plus
    any paid overtime) inside the team calendar; a calendar open longer than that is
    covered by staggering the heads' shifts, not by longer days.
    """

    headcount: Count = Field(ge=0, le=MAX_HEADCOUNT)
    capacity_per_head: Count = Field(default=1, ge=1, le=MAX_CAPACITY_PER_HEAD)
    work_time: Distribution | None = None
    cost_per_year: NonNegative = 0.0
    calendar: Calendar | None = None
    segments: dict[str, Annotated[Count, Field(ge=0)]] | None = Field(
        default=None, description="heads per segment, for routing: by_segment"
    )
    plan: tuple[PlanStep, ...] = Field(
        default=(), description="headcount changes over time: [{date, change: +2}, ...]"
    )
    ramp: tuple[Number, ...] | None = Field(
        default=None,
        description="a new hire's productivity per month of tenure, e.g. [0.35, 0.65, 1]",
    )
    attrition: Attrition | None = None
    vacation_days_per_year: Number = Field(default=0.0, ge=0, le=120)
    comp: Comp | None = None
    shift_hours_per_week: Number = Field(
        default=40.0,
        ge=MIN_SHIFT_HOURS,
        le=168,
        description="paid hours one head works a week inside the team calendar",
    )
    overtime_hours_per_week: Number = Field(
        default=0.0, ge=0, le=168, description="paid overtime hours per head a week"
    )
    overtime_cost_multiplier: Number = Field(
        default=1.5, ge=0, description="overtime pay per hour over the shift's hourly cost"
    )
    label: Label | None = Field(default=None, description="display name in reports")

    @model_validator(mode="after")
    def _valid_plan(self) -> Team:
        if self.ramp is not None and (not self.ramp or any(not 0 < p <= 1 for p in self.ramp)):
            raise ValueError("ramp: productivity per month must be in (0, 1]")
        heads = self.headcount
        for step in sorted(self.plan, key=lambda s: s.date):
            heads += step.change
            if heads < 0:
                raise ValueError(f"plan: headcount would fall below 0 on {step.date}")
            if heads > MAX_HEADCOUNT:
                raise ValueError(
                    f"plan: headcount would reach {heads:,} on {step.date}, beyond the "
                    f"limit of {MAX_HEADCOUNT:,}"
                )
        return self

    @property
    def staffed(self) -> bool:
        """True when headcount changes over the run (plan, ramp, attrition or vacations)."""
        return bool(
            self.plan or self.ramp or self.attrition is not None or self.vacation_days_per_year > 0
        )

    @property
    def yearly_cost_per_head(self) -> float:
        """The yearly cost of one employed head: the comp base if given, else cost_per_year."""
        if self.comp is not None and self.comp.base_per_year is not None:
            return self.comp.base_per_year
        return self.cost_per_year

    @property
    def paid_hours_per_week(self) -> float:
        """Hours one head is on duty a week at most: the shift plus paid overtime."""
        return self.shift_hours_per_week + self.overtime_hours_per_week

    @property
    def yearly_overtime_cost_per_head(self) -> float:
        """Overtime pay a year per employed head: the yearly cost buys the shift's hours,
        overtime hours cost that hourly rate times ``overtime_cost_multiplier``."""
        share = self.overtime_hours_per_week / self.shift_hours_per_week
        return self.yearly_cost_per_head * share * self.overtime_cost_multiplier


def check_shift(name: str, team: Team, calendar: Calendar) -> None:
    """Refuse paid overtime that the team calendar leaves no open hours for."""
    if team.overtime_hours_per_week <= 0:
        return
    open_hours = weekly_open_hours(calendar)
    if team.paid_hours_per_week > open_hours:
        raise ValueError(
            f"teams.{name}.overtime_hours_per_week: a {team.shift_hours_per_week:g} h shift "
            f"plus {team.overtime_hours_per_week:g} h overtime exceed the {open_hours:g} h a "
            "week the team calendar is open; widen the calendar or lower the overtime"
        )


def weekly_open_hours(calendar: Calendar) -> float:
    """Hours a week the calendar is open, holidays aside."""
    start, end = calendar.hours
    return len(set(calendar.weekdays)) * (end - start)


def _default_teams() -> dict[str, Team]:
    return {
        "sdr": Team(
            headcount=4,
            capacity_per_head=1,
            work_time=Lognormal(median=0.5, p90=1.5),
            cost_per_year=85_000,
        ),
        "ae": Team(headcount=8, capacity_per_head=30, cost_per_year=160_000),
        "deal_desk": Team(
            headcount=1, capacity_per_head=1, work_time=Gamma(mean=3, sd=2), cost_per_year=110_000
        ),
        "csm": Team(headcount=3, capacity_per_head=15, cost_per_year=120_000),
    }
