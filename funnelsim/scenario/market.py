"""Scenario sections of the market: calendar, segments, sources, products, marketing."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from funnelsim.scenario.base import (
    MAX_ACCOUNTS,
    MAX_ATTEMPTS,
    MAX_WEEKLY_RATE,
    WEEKDAYS,
    Count,
    Label,
    NonNegative,
    Number,
    Probability,
    _Spec,
)
from funnelsim.scenario.distributions import Beta, Distribution, Fixed, Lognormal


class Calendar(_Spec):
    """When a team works: weekdays, daily hours [start, end) and holidays."""

    weekdays: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    )
    hours: tuple[Number, Number] = (9.0, 17.0)
    holidays: tuple[dt.date, ...] = ()

    @model_validator(mode="after")
    def _valid_hours(self) -> Calendar:
        start, end = self.hours
        if not (0 <= start < end <= 24):
            raise ValueError("hours must be [start, end] with 0 <= start < end <= 24")
        if not self.weekdays:
            raise ValueError("weekdays must name at least one day")
        return self

    @property
    def always_open(self) -> bool:
        return len(set(self.weekdays)) == 7 and self.hours == (0.0, 24.0) and not self.holidays


ALWAYS_OPEN = Calendar(weekdays=WEEKDAYS, hours=(0.0, 24.0))


class Segment(_Spec):
    """A customer segment: its share of inbound leads and its deal value (ARR)."""

    share: Probability = Field(ge=0, le=1)
    deal_value: Distribution
    label: Label | None = Field(default=None, description="display name in reports")


class Source(_Spec):
    """A lead source: Poisson arrivals, optional monthly seasonality, fit and cost."""

    leads_per_week: Number = Field(ge=0, le=MAX_WEEKLY_RATE)
    cost_per_lead: NonNegative = 0.0
    label: Label | None = Field(default=None, description="display name in reports")
    fit: Distribution = Beta(a=2, b=5)
    seasonality: tuple[NonNegative, ...] | None = Field(
        default=None, description="12 monthly multipliers of the weekly rate, Jan..Dec"
    )
    segment_mix: dict[str, Probability] | None = None
    business_hours_share: Probability | None = Field(
        default=None,
        ge=0,
        le=1,
        description="share of leads arriving while the scenario calendar is open "
        "(None: around the clock)",
    )

    @model_validator(mode="after")
    def _twelve_months(self) -> Source:
        if self.seasonality is not None:
            if len(self.seasonality) != 12:
                raise ValueError("seasonality must list 12 monthly multipliers (Jan..Dec)")
            peak = self.leads_per_week * max(self.seasonality)
            if peak > MAX_WEEKLY_RATE:
                raise ValueError(
                    f"seasonality: the peak month's rate ({peak:g} leads a week) is beyond "
                    f"the limit of {MAX_WEEKLY_RATE:,}"
                )
        return self


class OutboundSource(_Spec):
    """An outbound motion: connect attempts on a finite market of accounts.

    Attempts run at ``attempts_per_week`` during the scenario calendar's open hours. An
    attempt connects with ``connect_prob``; a connected account becomes a lead with
    ``accept_prob`` (and leaves the market) or says no. An account not connected is tried
    again after ``retry_days`` until ``max_attempts``; an account that said no, or ran out
    of attempts, rests ``cooling_off_days`` before it can be tried again (attempts reset).
    """

    kind: Literal["outbound"]
    accounts: Count = Field(
        ge=0, le=MAX_ACCOUNTS, description="size of the market (distinct accounts)"
    )
    attempts_per_week: Number = Field(ge=0, le=MAX_WEEKLY_RATE)
    connect_prob: Probability = Field(ge=0, le=1)
    accept_prob: Probability = Field(default=1.0, ge=0, le=1)
    retry_days: Distribution = Fixed(value=3)
    max_attempts: Count = Field(default=6, ge=1, le=MAX_ATTEMPTS)
    cooling_off_days: NonNegative = 90
    cost_per_attempt: NonNegative = 0.0
    cost_per_lead: NonNegative = 0.0
    fit: Distribution = Beta(a=2, b=5)
    segment_mix: dict[str, Probability] | None = None
    label: Label | None = Field(default=None, description="display name in reports")


def _source_kind(value: Any) -> str:
    """Union tag of a source: ``kind=outbound`` when it says so, else ``kind=inbound``."""
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return "kind=outbound" if kind == "outbound" else "kind=inbound"


AnySource = Annotated[
    Annotated[Source, Tag("kind=inbound")] | Annotated[OutboundSource, Tag("kind=outbound")],
    Discriminator(_source_kind),
]


class Product(_Spec):
    """A product: its share of leads (overall or per segment), deal value, ramp and churn.

    ``ramp_months`` are the shares of steady-state monthly recurring revenue in the first
    months after go-live (the contract start); later months bill in full.
    ``monthly_churn`` is a hazard per month on top of term renewals (see docs).
    """

    share: Probability | None = Field(default=None, ge=0, le=1)
    mix: dict[str, Probability] | None = Field(
        default=None, description="share of each segment's leads (overrides share)"
    )
    deal_value: Distribution | None = None
    ramp_months: tuple[Number, ...] = ()
    monthly_churn: Probability = Field(default=0.0, ge=0, lt=1)

    @model_validator(mode="after")
    def _valid(self) -> Product:
        if self.share is None and self.mix is None:
            raise ValueError("a product needs share or mix")
        if any(not 0 <= f <= 1 for f in self.ramp_months):
            raise ValueError("ramp_months: factors must lie in [0, 1]")
        return self

    def share_in(self, segment: str) -> float:
        """This product's share of a segment's leads."""
        if self.mix is not None:
            return float(self.mix.get(segment, 0.0))
        return float(self.share or 0.0)


class Scoring(_Spec):
    """Lead scoring: a noisy reading of true fit; MQL when it passes the threshold."""

    mql_threshold: Probability = Field(default=0.45, ge=0, le=1)
    noise_sd: NonNegative = 0.15


class Nurture(_Spec):
    """Below-threshold leads go to nurture and may re-surface as MQLs later."""

    resurface_prob: Probability = Field(default=0.10, ge=0, le=1)
    resurface_after_days: Distribution = Field(
        default_factory=lambda: Lognormal(median=45, p90=120)
    )


class Marketing(_Spec):
    scoring: Scoring = Scoring()
    nurture: Nurture = Nurture()
    data_decay_per_year: Number = Field(default=0.25, ge=0, lt=1)
