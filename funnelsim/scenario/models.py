"""The scenario: an immutable, validated description of one company's revenue engine.

Times are hours unless a key says days; money is in the scenario's currency; arrival rates
are per week. Every section is optional and has a sensible default, so a scenario file
states only what differs from a typical company.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from funnelsim.scenario.base import (
    DEFAULT_SEGMENTS,
    WEEKDAYS,
    Count,
    Label,
    Probability,
    Routing,
    _Spec,
)
from funnelsim.scenario.book import Book, BookCustomers, BookLeads, BookOpportunities, check_book
from funnelsim.scenario.currency import Currency
from funnelsim.scenario.curves import Curve, check_curve_sources
from funnelsim.scenario.distributions import Lognormal
from funnelsim.scenario.market import (
    ALWAYS_OPEN,
    AnySource,
    Calendar,
    Marketing,
    Nurture,
    OutboundSource,
    Product,
    Scoring,
    Segment,
    Source,
)
from funnelsim.scenario.seams import (
    Acceptance,
    Contraction,
    Costs,
    CrmHygiene,
    Decay,
    EarlyChurn,
    Expansion,
    Sales,
    Seam1,
    Seam2,
    Seam3,
    Seam4,
    Slip,
    Upsell,
)
from funnelsim.scenario.stages import SalesStage, Stall, check_stages
from funnelsim.scenario.teams_spec import (
    Attrition,
    Comp,
    PlanStep,
    Team,
    _default_teams,
    check_shift,
)

__all__ = [
    "ALWAYS_OPEN",
    "DEFAULT_SEGMENTS",
    "WEEKDAYS",
    "Acceptance",
    "AnySource",
    "Attrition",
    "Book",
    "BookCustomers",
    "BookLeads",
    "BookOpportunities",
    "Calendar",
    "Comp",
    "Contraction",
    "Costs",
    "CrmHygiene",
    "Curve",
    "Decay",
    "EarlyChurn",
    "Expansion",
    "Marketing",
    "Nurture",
    "OutboundSource",
    "PlanStep",
    "Probability",
    "Product",
    "Routing",
    "Sales",
    "SalesStage",
    "Scenario",
    "Scoring",
    "Seam1",
    "Seam2",
    "Seam3",
    "Seam4",
    "Segment",
    "Slip",
    "Source",
    "Stall",
    "Team",
    "Upsell",
]


# Every date a run touches (horizon plus the engine's margin) must fit pandas' timestamps.
FIRST_START = dt.date(1900, 1, 1)
LAST_START = dt.date(2200, 12, 31)


def _plausible_start(value: dt.date) -> dt.date:
    if not FIRST_START <= value <= LAST_START:
        raise ValueError(f"expected a date from {FIRST_START} to {LAST_START} (got {value})")
    return value


StartDate = Annotated[dt.date, AfterValidator(_plausible_start)]


# Sections whose entries missing from a file keep their defaults (the others replace them).
FILLS_GAPS = frozenset({"teams"})


class Scenario(_Spec):
    """A whole company: the spec the engine turns, with a seed, into a ledger."""

    name: str = "unnamed"
    description: str = ""
    label: Label | None = Field(default=None, description="display title in reports")
    client: Label | None = Field(default=None, description="client or company in the title")
    start_date: StartDate = dt.date(2027, 1, 4)
    horizon_days: Count = Field(default=730, gt=0, le=3650)
    currency: Currency = "USD"
    calendar: Calendar = Calendar()
    segments: dict[str, Segment] = Field(
        default_factory=lambda: {
            "smb": Segment(share=0.6, deal_value=Lognormal(median=12_000, p90=30_000)),
            "mid_market": Segment(share=0.3, deal_value=Lognormal(median=40_000, p90=110_000)),
            "enterprise": Segment(share=0.1, deal_value=Lognormal(median=150_000, p90=400_000)),
        }
    )
    sources: dict[str, AnySource] = Field(
        default_factory=lambda: {"inbound": Source(leads_per_week=100, cost_per_lead=80)}
    )
    marketing: Marketing = Marketing()
    teams: dict[str, Team] = Field(default_factory=_default_teams)
    seam1: Seam1 = Seam1()
    sales: Sales = Sales()
    seam2: Seam2 = Seam2()
    seam3: Seam3 = Seam3()
    seam4: Seam4 = Seam4()
    costs: Costs = Costs()
    products: dict[str, Product] | None = None
    book: Book | None = Field(
        default=None,
        description="the starting book: customers, open opportunities and queued leads",
    )

    @model_validator(mode="before")
    @classmethod
    def _default_teams_fill_gaps(cls, data: object) -> object:
        """A scenario that names only some teams keeps the default for the others."""
        if isinstance(data, dict) and isinstance(data.get("teams"), dict):
            defaults = {k: v.model_dump(by_alias=True) for k, v in _default_teams().items()}
            data = {**data, "teams": {**defaults, **data["teams"]}}
        return data

    def __repr__(self) -> str:
        """Short: name, dates and sizes (``funnelsim validate --show`` prints every field)."""
        return (
            f"Scenario(name={self.name!r}, start_date={self.start_date.isoformat()!r}, "
            f"horizon_days={self.horizon_days}, sources={len(self.sources)}, "
            f"teams={len(self.teams)})"
        )

    __str__ = __repr__

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        _check_shares("segments", {k: s.share for k, s in self.segments.items()})
        segment_names = set(self.segments)
        for name, source in self.sources.items():
            if source.segment_mix is not None:
                _check_names(f"sources.{name}.segment_mix", source.segment_mix, segment_names)
                _check_shares(f"sources.{name}.segment_mix", source.segment_mix)
        if self.products is not None:
            _check_products(self.products, segment_names)
        for field in ("qualify_prob", "cycle_days", "win_rate"):
            _check_covers(f"sales.{field}", getattr(self.sales, field), segment_names)
        if self.sales.lost_cycle_days is not None:
            _check_covers("sales.lost_cycle_days", self.sales.lost_cycle_days, segment_names)
        for path, team in (
            ("seam1.team", self.seam1.team),
            ("seam1.fallback_team", self.seam1.fallback_team),
            ("sales.team", self.sales.team),
            ("seam2.team", self.seam2.team),
            ("seam3.team", self.seam3.team),
        ):
            if team is not None and team not in self.teams:
                raise ValueError(f"{path}: team '{team}' is not defined under teams")
        check_curve_sources("seam1.decay", self.seam1.decay, set(self.sources))
        check_curve_sources("sales.followup_decay", self.sales.followup_decay, set(self.sources))
        if self.seam1.fallback_team is not None and self.seam1.sla_hours is None:
            raise ValueError("seam1.fallback_team: needs seam1.sla_hours to say when to re-route")
        for path, team_name in (("seam1", self.seam1.team), ("seam2", self.seam2.team)):
            if self.teams[team_name].work_time is None:
                raise ValueError(f"teams.{team_name}.work_time: required by {path}")
        if self.seam1.fallback_team and self.teams[self.seam1.fallback_team].work_time is None:
            raise ValueError(f"teams.{self.seam1.fallback_team}.work_time: required as fallback")
        for path, routing, team_name in (
            ("seam1.routing", self.seam1.routing, self.seam1.team),
            ("sales.routing", self.sales.routing, self.sales.team),
        ):
            if routing == "by_segment":
                team = self.teams[team_name]
                if team.segments is None:
                    raise ValueError(
                        f"teams.{team_name}.segments: required by {path}=by_segment "
                        "(heads per segment)"
                    )
                _check_names(f"teams.{team_name}.segments", team.segments, segment_names)
                if sum(team.segments.values()) != team.headcount:
                    raise ValueError(
                        f"teams.{team_name}.segments: heads per segment must add up to "
                        f"headcount ({team.headcount})"
                    )
        self._check_staffing()
        if self.sales.stages is not None:
            check_stages(self.sales.stages, segment_names)
        _check_names("seam4.upsell.rate_per_year", self.seam4.upsell.rate_per_year, segment_names)
        if self.book is not None:
            check_book(
                self.book,
                segment_names,
                set(self.sources),
                None if self.products is None else set(self.products),
                self.stage_names,
                self.start_date,
                self.seam4.term_months,
            )
        if sum(self.sales.lost_reasons.values()) <= 0:
            raise ValueError("sales.lost_reasons: weights must add up to more than 0")
        return self

    def _check_staffing(self) -> None:
        """Plan dates inside the horizon; staffing changes only where routing allows them."""
        end = self.start_date + dt.timedelta(days=self.horizon_days)
        by_segment = {
            team
            for routing, team in (
                (self.seam1.routing, self.seam1.team),
                (self.sales.routing, self.sales.team),
            )
            if routing == "by_segment"
        }
        seam1_teams = {self.seam1.team, self.seam1.fallback_team}
        for name, team in self.teams.items():
            check_shift(name, team, self.team_calendar(name))
            for step in team.plan:
                if not self.start_date <= step.date < end:
                    raise ValueError(
                        f"teams.{name}.plan: date {step.date} is outside the horizon "
                        f"({self.start_date} to {end - dt.timedelta(days=1)})"
                    )
            if team.staffed and name in by_segment:
                raise ValueError(
                    f"teams.{name}: plan, ramp, attrition and vacations need routing other "
                    "than by_segment"
                )
            if team.comp is not None and team.comp.handoff_bonus > 0 and name not in seam1_teams:
                raise ValueError(
                    f"teams.{name}.comp.handoff_bonus: only the seam 1 team or its fallback "
                    "hands leads off"
                )

    @property
    def stage_names(self) -> tuple[str, ...]:
        """The sales stages an opportunity walks, in order (one, ``open``, without a list)."""
        if self.sales.stages is None:
            return ("open",)
        return tuple(self.sales.stages)

    @property
    def horizon_hours(self) -> float:
        return self.horizon_days * 24.0

    def team_calendar(self, team: str) -> Calendar:
        """The calendar a team works by: its own, else the scenario's."""
        return self.teams[team].calendar or self.calendar


def _check_shares(path: str, shares: dict[str, float]) -> None:
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"{path}: shares must add up to 1 (they add up to {total:.4g})")


def _check_names(path: str, mapping: dict[str, object], allowed: set[str]) -> None:
    unknown = sorted(set(mapping) - allowed)
    if unknown:
        raise ValueError(f"{path}: unknown segment '{unknown[0]}' (segments: {sorted(allowed)})")


def _check_covers(path: str, mapping: dict[str, object], required: set[str]) -> None:
    missing = sorted(required - set(mapping))
    if missing:
        raise ValueError(f"{path}: missing a value for segment '{missing[0]}'")
    _check_names(path, mapping, required)


def _check_products(products: dict[str, Product], segments: set[str]) -> None:
    """Products' shares add up to 1 within every segment; mixes name known segments."""
    if not products:
        raise ValueError("products: name at least one product, or leave the key out")
    for name, product in products.items():
        if product.mix is not None:
            _check_names(f"products.{name}.mix", product.mix, segments)
    for segment in sorted(segments):
        total = sum(p.share_in(segment) for p in products.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"products: shares must add up to 1 in segment '{segment}' "
                f"(they add up to {total:.4g})"
            )
