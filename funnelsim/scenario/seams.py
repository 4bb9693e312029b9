"""Scenario sections of the seams and sales: seam 1, sales, seams 2 to 4, and costs."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from funnelsim.scenario.base import Count, NonNegative, Number, Probability, Routing, _Spec
from funnelsim.scenario.curves import Curve, ExponentialCurve, PointsCurve
from funnelsim.scenario.distributions import Distribution, Fixed, Gamma, Lognormal
from funnelsim.scenario.stages import SalesStage

# A sales process of more stages than this is not a sales process.
MAX_STAGES = 50

# Speed-to-lead decay: the exponential shape, the one older scenarios name.
Decay = ExponentialCurve

# An SQL waiting for an AE: no loss for the first five days (nights, weekends and holiday
# weekends are normal), then a qualified buyer nobody follows up drifts away. An assumption
# documented in scenarios/baseline.yaml.
FOLLOWUP_POINTS: dict[float, float] = {120: 1.0, 240: 0.85, 504: 0.6, 1008: 0.4, 2160: 0.25}


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
    sla_hours: Number | None = Field(default=None, gt=0)
    sla_clock: Literal["business", "wall"] = Field(
        default="business",
        description="business: SLA hours count only while the seam 1 team's calendar is "
        "open; wall: every hour counts",
    )
    fallback_team: str | None = None
    fallback_response_delay: Distribution | None = Field(
        default=None,
        description="the fallback team's own notice delay after a re-route (hours); "
        "null: the same distribution as response_delay",
    )
    decay: Curve = Field(default_factory=ExponentialCurve)
    acceptance: Acceptance = Acceptance()

    @model_validator(mode="after")
    def _same_team_keeps_its_notice(self) -> Seam1:
        if self.fallback_team == self.team and self.fallback_response_delay is not None:
            raise ValueError(
                "fallback_response_delay: does not apply when fallback_team is seam1.team "
                "(the team notices a lead by its response_delay, re-routed or not)"
            )
        return self


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
    lost_reasons: dict[str, NonNegative] = Field(
        default_factory=lambda: {"no_decision": 0.4, "competitor": 0.35, "price": 0.25}
    )
    slip: Slip = Slip()
    crm_hygiene: CrmHygiene = CrmHygiene()
    followup_decay: Curve | None = Field(
        default_factory=lambda: PointsCurve(points=FOLLOWUP_POINTS),
        description="relative chance an SQL still becomes an opportunity after waiting t "
        "wall-clock hours for an AE; null: waiting for an AE costs nothing",
    )
    stages: dict[str, SalesStage] | None = Field(
        default=None,
        max_length=MAX_STAGES,
        description="the sales stages an opportunity walks, by name in walking order (they "
        "replace win_rate, cycle_days, lost_cycle_days and slip); null: one stage",
    )
    close_date_push_days: Number = Field(
        default=30,
        gt=0,
        description="days a rep pushes an overdue CRM close date by, each time it passes",
    )


class Seam2(_Spec):
    """Sales to finance (quote-to-cash): deal desk, approvals, fall-through, errors, invoice."""

    team: str = "deal_desk"
    nonstandard_share: Probability = Field(default=0.35, ge=0, le=1)
    approval_delay_days: Distribution = Field(default_factory=lambda: Lognormal(median=4, p90=14))
    fallthrough_per_week_waiting: NonNegative = 0.04
    contract_error_prob: Probability = Field(default=0.08, ge=0, le=1)
    contract_error_value_loss: Probability = Field(default=0.12, ge=0, le=1)
    invoice_delay_days: Distribution = Field(default_factory=lambda: Lognormal(median=9, p90=21))


class EarlyChurn(_Spec):
    with_context: Probability = Field(default=0.04, ge=0, le=1)
    without_context: Probability = Field(default=0.12, ge=0, le=1)
    target_onboarding_days: NonNegative = 30
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


class Upsell(_Spec):
    """Expansion during a term: CSM upsells at a yearly rate per segment, co-termed.

    Each term of a customer may see one upsell, at the first arrival of a Poisson process
    of the segment's rate (chance ``1 - exp(-rate x term years)``); its ARR, the term's
    ARR times ``uplift``, is invoiced pro rata for the rest of the term.
    """

    rate_per_year: dict[str, NonNegative] = Field(
        default_factory=dict,
        description="upsells per customer-year by segment; a segment left out gets none",
    )
    uplift: Distribution = Field(default_factory=lambda: Lognormal(median=0.15, p90=0.5))

    def rate(self, segment: str) -> float:
        """The yearly upsell rate of a segment (0 when not named)."""
        return float(self.rate_per_year.get(segment, 0.0))


class Seam4(_Spec):
    """Renewal: trigger lead time, renewal curve over lead time, expansion, contraction,
    and upsells during a term."""

    term_months: Count = Field(default=12, ge=1, le=60)
    trigger_days_before_end: NonNegative = 30
    renew_prob: dict[Annotated[Count, Field(ge=0)], Probability] = Field(
        default_factory=lambda: {30: 0.82, 90: 0.92},
        description="renewal probability by outreach lead time in days, interpolated",
    )
    expansion: Expansion = Expansion()
    contraction: Contraction = Contraction()
    upsell: Upsell = Upsell()

    @model_validator(mode="after")
    def _curve(self) -> Seam4:
        if not self.renew_prob:
            raise ValueError("renew_prob needs at least one {days: probability} point")
        return self


class Costs(_Spec):
    """Costs beyond people: tools, and the gross margin used for CAC payback."""

    tools_per_year: NonNegative = 0.0
    gross_margin: Probability = Field(default=0.78, ge=0, le=1)
    collection_days: Distribution = Field(
        default_factory=lambda: Fixed(value=30),
        description="days from invoice to cash collected (net 30 by default)",
    )
    payment_fee_rate: Probability = Field(
        default=0.0, ge=0, le=1, description="payment processing fee, share of cash collected"
    )
