"""The scenario: an immutable, validated description of one company's revenue engine.

Times are hours unless a key says days; money is in the scenario's currency; arrival rates
are per week. Every section is optional and has a sensible default, so a scenario file
states only what differs from a typical company.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from funnelsim.scenario.distributions import Beta, Distribution, Fixed, Gamma, Lognormal

Probability = float
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_SEGMENTS = ("smb", "mid_market", "enterprise")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Calendar(_Spec):
    """When a team works: weekdays, daily hours [start, end) and holidays."""

    weekdays: tuple[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], ...] = (
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
    )
    hours: tuple[float, float] = (9.0, 17.0)
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


class Source(_Spec):
    """A lead source: Poisson arrivals, optional monthly seasonality, fit and cost."""

    leads_per_week: float = Field(ge=0)
    cost_per_lead: float = Field(default=0.0, ge=0)
    fit: Distribution = Beta(a=2, b=5)
    seasonality: tuple[float, ...] | None = Field(
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
            if min(self.seasonality) < 0:
                raise ValueError("seasonality multipliers must be >= 0")
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
    accounts: int = Field(ge=0, description="size of the market (distinct accounts)")
    attempts_per_week: float = Field(ge=0)
    connect_prob: Probability = Field(ge=0, le=1)
    accept_prob: Probability = Field(default=1.0, ge=0, le=1)
    retry_days: Distribution = Fixed(value=3)
    max_attempts: int = Field(default=6, ge=1)
    cooling_off_days: float = Field(default=90, ge=0)
    cost_per_attempt: float = Field(default=0.0, ge=0)
    cost_per_lead: float = Field(default=0.0, ge=0)
    fit: Distribution = Beta(a=2, b=5)
    segment_mix: dict[str, Probability] | None = None


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
    ramp_months: tuple[float, ...] = ()
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
    noise_sd: float = Field(default=0.15, ge=0)


class Nurture(_Spec):
    """Below-threshold leads go to nurture and may re-surface as MQLs later."""

    resurface_prob: Probability = Field(default=0.10, ge=0, le=1)
    resurface_after_days: Distribution = Field(
        default_factory=lambda: Lognormal(median=45, p90=120)
    )


class Marketing(_Spec):
    scoring: Scoring = Scoring()
    nurture: Nurture = Nurture()
    data_decay_per_year: float = Field(default=0.25, ge=0, lt=1)


class PlanStep(_Spec):
    """A change of a team's headcount on a date: ``+2`` hires two people, ``-1`` lets one go."""

    date: dt.date
    change: int

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

    base_per_year: float | None = Field(default=None, ge=0)
    commission_rate: float = Field(default=0.0, ge=0, le=1)
    commission_months: int = Field(default=1, ge=1, le=60)
    handoff_bonus: float = Field(default=0.0, ge=0)


class Team(_Spec):
    """A team: heads, concurrent items per head, work time per item, calendar and cost.

    ``work_time`` is in working hours (it advances only while the calendar is open). Teams
    whose holding time is set by the stage (the AE's sales cycle, the CSM's onboarding)
    leave it unset.
    """

    headcount: int = Field(ge=0)
    capacity_per_head: int = Field(default=1, ge=1)
    work_time: Distribution | None = None
    cost_per_year: float = Field(default=0.0, ge=0)
    calendar: Calendar | None = None
    segments: dict[str, int] | None = Field(
        default=None, description="heads per segment, for routing: by_segment"
    )
    plan: tuple[PlanStep, ...] = Field(
        default=(), description="headcount changes over time: [{date, change: +2}, ...]"
    )
    ramp: tuple[float, ...] | None = Field(
        default=None,
        description="a new hire's productivity per month of tenure, e.g. [0.35, 0.65, 1]",
    )
    attrition: Attrition | None = None
    vacation_days_per_year: float = Field(default=0.0, ge=0, le=120)
    comp: Comp | None = None

    @model_validator(mode="after")
    def _valid_plan(self) -> Team:
        if self.ramp is not None and (not self.ramp or any(not 0 < p <= 1 for p in self.ramp)):
            raise ValueError("ramp: productivity per month must be in (0, 1]")
        heads = self.headcount
        for step in sorted(self.plan, key=lambda s: s.date):
            heads += step.change
            if heads < 0:
                raise ValueError(f"plan: headcount would fall below 0 on {step.date}")
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


Routing = Literal["round_robin", "least_loaded", "by_segment", "pooled"]


class Decay(_Spec):
    """Speed-to-lead decay: share still reachable after waiting t wall-clock hours."""

    half_life_hours: float | None = Field(default=10.0, gt=0)
    floor: Probability = Field(default=0.1, ge=0, le=1)


class Acceptance(_Spec):
    p_accept_fit: Probability = Field(default=0.85, ge=0, le=1)
    p_accept_unfit: Probability = Field(default=0.3, ge=0, le=1)
    volume_incentive: Probability = Field(
        default=0.0,
        ge=0,
        le=1,
        description="when the seam 1 team earns a handoff bonus, p_accept_unfit rises by this "
        "share of the way to 1",
    )


class Seam1(_Spec):
    """Marketing to sales: routing, first response, SLA with fallback, decay, acceptance."""

    team: str = "sdr"
    routing: Routing = "round_robin"
    response_delay: Distribution = Field(default_factory=lambda: Lognormal(median=6, p90=48))
    sla_hours: float | None = Field(default=None, gt=0)
    fallback_team: str | None = None
    fallback_response_delay: Distribution = Fixed(value=0.25)
    decay: Decay = Decay()
    acceptance: Acceptance = Acceptance()


def _per_segment(smb: float, mid: float, ent: float) -> dict[str, float]:
    return {"smb": smb, "mid_market": mid, "enterprise": ent}


class Slip(_Spec):
    """Deals that slip past their expected close date, and by how much."""

    prob: Probability = Field(default=0.25, ge=0, le=1)
    extra_days: Distribution = Field(default_factory=lambda: Lognormal(median=20, p90=60))


class CrmHygiene(_Spec):
    """CRM data quality: the share of opportunities whose recorded stage is stale."""

    stale_stage_share: Probability = Field(default=0.3, ge=0, le=1)


class Sales(_Spec):
    """Sales: AE discovery, opportunity conversion, cycle, win rate, loss reasons."""

    team: str = "ae"
    routing: Routing = "least_loaded"
    discovery_days: Distribution = Fixed(value=3)
    qualify_prob: dict[str, Probability] = Field(
        default_factory=lambda: _per_segment(0.5, 0.45, 0.4)
    )
    cycle_days: dict[str, Distribution] = Field(
        default_factory=lambda: {
            "smb": Lognormal(median=20, p90=45),
            "mid_market": Lognormal(median=55, p90=120),
            "enterprise": Lognormal(median=120, p90=240),
        }
    )
    win_rate: dict[str, Probability] = Field(default_factory=lambda: _per_segment(0.28, 0.22, 0.15))
    lost_cycle_days: dict[str, Distribution] | None = Field(
        default=None,
        description="days to close for lost deals by segment; absent: lost deals use cycle_days",
    )
    lost_reasons: dict[str, float] = Field(
        default_factory=lambda: {"no_decision": 0.4, "competitor": 0.35, "price": 0.25}
    )
    slip: Slip = Slip()
    crm_hygiene: CrmHygiene = CrmHygiene()


class Seam2(_Spec):
    """Sales to finance (quote-to-cash): deal desk, approvals, fall-through, errors, invoice."""

    team: str = "deal_desk"
    nonstandard_share: Probability = Field(default=0.35, ge=0, le=1)
    approval_delay_days: Distribution = Field(default_factory=lambda: Lognormal(median=4, p90=14))
    fallthrough_per_week_waiting: float = Field(default=0.04, ge=0)
    contract_error_prob: Probability = Field(default=0.08, ge=0, le=1)
    contract_error_value_loss: Probability = Field(default=0.12, ge=0, le=1)
    invoice_delay_days: Distribution = Field(default_factory=lambda: Lognormal(median=9, p90=21))


class EarlyChurn(_Spec):
    with_context: Probability = Field(default=0.04, ge=0, le=1)
    without_context: Probability = Field(default=0.12, ge=0, le=1)
    target_onboarding_days: float = Field(default=30, ge=0)
    per_extra_week: Probability = Field(
        default=0.005, ge=0, le=1, description="added churn risk per week onboarding runs late"
    )

    @model_validator(mode="after")
    def _context_helps(self) -> EarlyChurn:
        if self.without_context < self.with_context:
            raise ValueError("without_context must be >= with_context")
        return self


class Seam3(_Spec):
    """Finance to customer success: context transfer, CSM onboarding, early churn."""

    team: str = "csm"
    context_transfer_prob: Probability = Field(default=0.5, ge=0, le=1)
    onboarding_days: Distribution = Field(default_factory=lambda: Gamma(mean=45, sd=20))
    early_churn_prob: EarlyChurn = EarlyChurn()


class Expansion(_Spec):
    prob: Probability = Field(default=0.25, ge=0, le=1)
    uplift: Distribution = Field(default_factory=lambda: Lognormal(median=0.2, p90=0.6))


class Contraction(_Spec):
    prob: Probability = Field(default=0.05, ge=0, le=1)
    cut: Probability = Field(default=0.2, ge=0, le=1)


class Seam4(_Spec):
    """Renewal: trigger lead time, renewal curve over lead time, expansion, contraction."""

    term_months: int = Field(default=12, ge=1, le=60)
    trigger_days_before_end: float = Field(default=30, ge=0)
    renew_prob: dict[int, Probability] = Field(
        default_factory=lambda: {30: 0.82, 90: 0.92},
        description="renewal probability by outreach lead time in days, interpolated",
    )
    expansion: Expansion = Expansion()
    contraction: Contraction = Contraction()

    @model_validator(mode="after")
    def _curve(self) -> Seam4:
        if not self.renew_prob:
            raise ValueError("renew_prob needs at least one {days: probability} point")
        if any(not 0 <= p <= 1 for p in self.renew_prob.values()):
            raise ValueError("renew_prob values must be probabilities in [0, 1]")
        return self


class Costs(_Spec):
    """Costs beyond people: tools, and the gross margin used for CAC payback."""

    tools_per_year: float = Field(default=0.0, ge=0)
    gross_margin: Probability = Field(default=0.78, ge=0, le=1)
    collection_days: Distribution = Field(
        default_factory=lambda: Fixed(value=30),
        description="days from invoice to cash collected (net 30 by default)",
    )
    payment_fee_rate: Probability = Field(
        default=0.0, ge=0, le=1, description="payment processing fee, share of cash collected"
    )


class Scenario(_Spec):
    """A whole company: the spec the engine turns, with a seed, into a ledger."""

    name: str = "unnamed"
    description: str = ""
    start_date: dt.date = dt.date(2027, 1, 4)
    horizon_days: int = Field(default=730, gt=0, le=3650)
    currency: str = "USD"
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

    @model_validator(mode="before")
    @classmethod
    def _default_teams_fill_gaps(cls, data: object) -> object:
        """A scenario that names only some teams keeps the default for the others."""
        if isinstance(data, dict) and isinstance(data.get("teams"), dict):
            defaults = {k: v.model_dump(by_alias=True) for k, v in _default_teams().items()}
            data = {**data, "teams": {**defaults, **data["teams"]}}
        return data

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
