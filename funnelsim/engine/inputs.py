"""The queued part's inputs and rules, drawn in bulk from the MQLs' fates."""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from funnelsim.engine.fates import Fate
from funnelsim.engine.ledger import STATIC_REASONS
from funnelsim.engine.marketing import HOURS_PER_DAY, canonical_order, per_segment_value
from funnelsim.engine.stages import walk_stages
from funnelsim.scenario.models import Curve, Scenario

# A waiting curve per source code (None: waiting there costs nothing).
Curves = tuple[Callable[[float], float] | None, ...]


# Inputs the queued part reads only for a few items (deals that can close, re-routed
# leads) and that are zero elsewhere: the joined inputs hold them as :class:`Sparse`
# where that at least halves them (a read costs a binary search, so inputs read for
# every opportunity or unfit lead stay dense).
SPARSE_INPUTS = (
    "fallback_delay",
    "fallback_work",
    "approval",
    "deal_desk_work",
    "fallthrough_u",
    "invoice_delay",
    "onboarding",
)


class Sparse(Sequence[float]):
    """A float column that is zero at most items: the items where it is not (sorted) and
    their values; reading any item gives exactly the dense column's value."""

    def __init__(self, positions: array, values: array, length: int) -> None:
        self.positions = positions
        self.values = values
        self.length = length

    @classmethod
    def of(cls, dense: np.ndarray) -> Sparse:
        """The sparse form of ``dense`` (a -0.0 is kept as such)."""
        dense = np.asarray(dense, dtype=float)
        keep = np.flatnonzero((dense != 0) | np.signbit(dense))
        return cls(array("q", keep.tobytes()), array("d", dense[keep].tobytes()), len(dense))

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, item):  # type: ignore[override]
        if not isinstance(item, int):
            return self.dense()[item]
        if item < 0:
            item += self.length
        positions = self.positions
        at = bisect_left(positions, item)
        if at < len(positions) and positions[at] == item:
            return self.values[at]
        if not 0 <= item < self.length:
            raise IndexError("Sparse index out of range")
        return 0.0

    @property
    def halves(self) -> bool:
        """Whether this form takes at most half the bytes of the dense column."""
        return 2 * 16 * len(self.positions) <= 8 * self.length

    def dense(self) -> np.ndarray:
        """The full column as float64."""
        out = np.zeros(self.length)
        if self.positions:
            out[np.frombuffer(self.positions, dtype=np.int64)] = np.frombuffer(self.values)
        return out


def dense(values: Sequence[float]) -> np.ndarray:
    """Any float input column (compact array or :class:`Sparse`) as a float64 array."""
    if isinstance(values, Sparse):
        return values.dense()
    return np.asarray(values, dtype=float)


@dataclass
class FlowInputs:
    """Per-item inputs for the queued part: compact ``array.array`` columns (fast scalar
    access without a Python object per item; flags are 0/1 bytes; the joined inputs hold
    ``SPARSE_INPUTS`` as :class:`Sparse` where that halves them)."""

    lead: np.ndarray
    segment: Sequence[int]
    source: Sequence[int]
    mql_time: Sequence[float]
    pickup_time: np.ndarray
    sdr_work: Sequence[float]
    fallback_delay: Sequence[float]
    fallback_work: Sequence[float]
    is_fit: Sequence[int]
    reach_threshold: Sequence[float]
    stale_time: Sequence[float]
    accept_fit: Sequence[int]
    accept_unfit_u: Sequence[float]
    discovery: Sequence[float]
    opportunity: Sequence[int]
    opportunity_threshold: Sequence[float]
    cycle: Sequence[float]
    slip: Sequence[float]
    win: Sequence[int]
    lost_reason: Sequence[int]
    approval: Sequence[float]
    deal_desk_work: Sequence[float]
    fallthrough_u: Sequence[float]
    invoice_delay: Sequence[float]
    onboarding: Sequence[float]
    # Items already in sales at the start (the book's open opportunities).
    enter_sales: Sequence[int] = ()
    # Hours from the start of sales to the close the CRM plans (None: the cycle), and to
    # each stage's entry (items x stages, NaN: never entered); read after the run.
    planned: Sequence[float] | None = None
    stage_offsets: np.ndarray | None = None


@dataclass(frozen=True)
class FlowRules:
    """Scalar rules the queued part applies."""

    horizon: float
    reach: Curves
    followup: Curves
    p_accept_unfit: float
    sla_hours: float | None
    sla_business: bool
    same_team_fallback: bool
    fallthrough_rate: float
    skip_deal_desk: bool
    perfect_seam1: bool = False


def flow_inputs(
    scenario: Scenario,
    fates: dict[Fate, np.ndarray],
    columns: dict[str, np.ndarray],
    items: np.ndarray,
    perfect: frozenset[int],
    opp_age: np.ndarray | None = None,
    opp_stage: np.ndarray | None = None,
    stage_u: np.ndarray | None = None,
) -> FlowInputs:
    """Everything the queued part needs for its items, drawn in bulk (``fates`` at items).

    ``opp_age`` (hours, per ledger row; NaN elsewhere) marks the book's open
    opportunities: they skip seam 1 and discovery and join an AE at the start for the
    rest of their cycle, drawn given the time they have already spent in their stage
    (``opp_stage``, per ledger row). ``stage_u`` (items x 4 per stage) are the items'
    stage uniforms when the scenario lists sales stages.
    """
    u = fates
    seg = columns["segment"][items]
    age = np.full(len(items), np.nan) if opp_age is None else opp_age[items]
    in_sales = np.isfinite(age)
    seam1, sales, seam2 = scenario.seam1, scenario.sales, scenario.seam2
    mql_time = columns["mql_time"][items]
    fit = columns["fit"][items]
    is_fit = columns["is_fit"][items]
    p1 = 1 in perfect
    response = np.zeros(len(items)) if p1 else seam1.response_delay.ppf(u[Fate.RESPONSE_DELAY])
    decay_per_year = scenario.marketing.data_decay_per_year
    if p1 or decay_per_year < 1e-12:
        stale_time = np.full(len(items), np.inf)
    else:
        mean_years = -1.0 / np.log1p(-decay_per_year)
        with np.errstate(over="ignore"):
            wait = -mean_years * 8760.0 * np.log1p(-u[Fate.STALE])
        stale_time = columns["created"][items] + wait
    fallback_team = seam1.fallback_team
    # A re-routed lead meets the fallback team's own notice delay, at its own uniform.
    # Without a fallback team no lead is re-routed: the delays are never read.
    fallback_delay = (
        (seam1.fallback_response_delay or seam1.response_delay).ppf(u[Fate.FALLBACK_DELAY])
        if fallback_team
        else np.zeros(len(items))
    )
    fallback_work = (
        scenario.teams[fallback_team].work_time.ppf(u[Fate.FALLBACK_WORK])
        if fallback_team
        else np.zeros(len(items))
    )
    # A lead's coupled uniform u reaches sales when u < fit * decay; comparing u / fit
    # with decay keeps one number per lead.
    with np.errstate(divide="ignore", invalid="ignore"):
        reach_threshold = np.where(fit > 0, u[Fate.QUALIFY] / fit, np.inf)
    qualify = per_segment_value(scenario, sales.qualify_prob, seg)
    win_rate = per_segment_value(scenario, sales.win_rate, seg)
    opportunity = (is_fit & (u[Fate.OPPORTUNITY] < qualify)) | in_sales
    # The same coupling after an SQL waits for an AE: u < qualify * followup(wait).
    with np.errstate(divide="ignore", invalid="ignore"):
        opportunity_threshold = np.where(qualify > 0, u[Fate.OPPORTUNITY] / qualify, np.inf)
    opportunity_threshold[in_sales] = -np.inf
    planned = None
    if sales.stages is None:
        win = u[Fate.WIN] < win_rate
        # Durations are drawn only for the items that can reach their stage; others keep 0.
        cycle = np.zeros(len(items))
        for code, name in enumerate(scenario.segments):
            mask = opportunity & (seg == code)
            cycle[mask] = sales.cycle_days[name].ppf(u[Fate.CYCLE][mask])
            if sales.lost_cycle_days is not None:
                # Lost deals take their own cycle, at the same uniform (won deals unchanged).
                lost = mask & ~win
                cycle[lost] = sales.lost_cycle_days[name].ppf(u[Fate.CYCLE][lost])
            _remaining_cycle(scenario, name, cycle, mask & in_sales, win, u[Fate.CYCLE], age)
        slipped = u[Fate.SLIP] < sales.slip.prob
        slip = _where_drawn(slipped & opportunity, sales.slip.extra_days.ppf, u[Fate.SLIP_DAYS])
        offsets = np.where(opportunity, 0.0, np.nan)[:, None]
    else:
        start = np.zeros(len(items), dtype=np.int64)
        if opp_stage is not None:
            start = np.where(in_sales, opp_stage[items], 0)
        walk = walk_stages(scenario, seg, opportunity, stage_u, start, age)
        win, cycle, slip, offsets = walk.win, walk.cycle, walk.stall, walk.offsets
        slipped = slip > 0
        planned = _floats(walk.planned * HOURS_PER_DAY)
    closing = opportunity & win
    reasons = list(sales.lost_reasons)
    order = canonical_order(reasons)
    weights = np.array([sales.lost_reasons[reasons[i]] for i in order], dtype=float)
    lost_reason = (
        len(STATIC_REASONS)
        + order[
            np.minimum(
                np.searchsorted(np.cumsum(weights) / weights.sum(), u[Fate.LOST_REASON], "right"),
                len(weights) - 1,
            )
        ]
    )
    p2 = 2 in perfect
    nonstandard = u[Fate.NONSTANDARD] < seam2.nonstandard_share
    approval = _where_drawn(nonstandard & closing, seam2.approval_delay_days.ppf, u[Fate.APPROVAL])
    invoice = _where_drawn(closing, seam2.invoice_delay_days.ppf, u[Fate.INVOICE_DELAY])
    if p2:
        approval = np.zeros(len(items))
        invoice = np.zeros(len(items))
    deal_desk = scenario.teams[seam2.team].work_time
    onboarding = _where_drawn(closing, scenario.seam3.onboarding_days.ppf, u[Fate.ONBOARDING])

    discovery = sales.discovery_days.ppf(u[Fate.DISCOVERY]) * HOURS_PER_DAY
    discovery[in_sales] = 0.0
    cycle *= HOURS_PER_DAY
    # A deal slipped (stalled past its planned close): opportunities only.
    columns["slipped"][items] = slipped & opportunity
    columns["stale_stage"][items] = u[Fate.STALE_STAGE] < sales.crm_hygiene.stale_stage_share
    columns["nonstandard"][items] = nonstandard
    return FlowInputs(
        lead=items,
        segment=_ints(seg),
        source=_ints(columns["source"][items]),
        mql_time=_floats(mql_time),
        pickup_time=np.where(in_sales, np.inf, mql_time + response),
        sdr_work=_floats(scenario.teams[seam1.team].work_time.ppf(u[Fate.SDR_WORK])),
        fallback_delay=_floats(fallback_delay),
        fallback_work=_floats(fallback_work),
        is_fit=_flags(is_fit),
        reach_threshold=_floats(reach_threshold),
        stale_time=_floats(stale_time),
        accept_fit=_flags(p1 | (u[Fate.ACCEPT] < seam1.acceptance.p_accept_fit)),
        accept_unfit_u=_floats(u[Fate.ACCEPT]),
        discovery=_floats(discovery),
        opportunity=_flags(opportunity),
        opportunity_threshold=_floats(opportunity_threshold),
        cycle=_floats(cycle),
        slip=_floats(slip * HOURS_PER_DAY),
        win=_flags(win),
        lost_reason=_ints(lost_reason),
        approval=_floats(approval * HOURS_PER_DAY),
        deal_desk_work=_floats(_where_drawn(closing, deal_desk.ppf, u[Fate.DEAL_DESK_WORK])),
        fallthrough_u=_floats(np.where(closing, u[Fate.FALLTHROUGH], 0.0)),  # read if closing
        invoice_delay=_floats(invoice * HOURS_PER_DAY),
        onboarding=_floats(onboarding * HOURS_PER_DAY),
        enter_sales=np.flatnonzero(in_sales).tolist(),
        planned=planned,
        stage_offsets=offsets * HOURS_PER_DAY,
    )


def _remaining_cycle(
    scenario: Scenario,
    segment: str,
    cycle: np.ndarray,
    mask: np.ndarray,
    win: np.ndarray,
    u: np.ndarray,
    age: np.ndarray,
) -> None:
    """Days left for opportunities already ``age`` hours into their cycle (their own
    uniform read against the cycle given that it lasts longer than the age)."""
    if not mask.any():
        return
    sales = scenario.sales
    for won, cycles in ((True, sales.cycle_days), (False, sales.lost_cycle_days)):
        rows = mask & (win if won else ~win)
        dist = (cycles or sales.cycle_days)[segment]
        elapsed = age[rows] / HOURS_PER_DAY
        cycle[rows] = dist.ppf_above(u[rows], elapsed) - elapsed


def _where_drawn(mask: np.ndarray, ppf, u: np.ndarray) -> np.ndarray:
    """``ppf(u)`` where ``mask`` holds and 0 elsewhere, computing only the masked cells."""
    out = np.zeros(len(u))
    if mask.any():
        out[mask] = ppf(u[mask])
    return out


def _floats(values: np.ndarray) -> array:
    """A compact array of Python floats (8 bytes each, fast scalar access)."""
    return array("d", np.ascontiguousarray(values, dtype=float).tobytes())


def _ints(values: np.ndarray) -> array:
    """A compact array of small Python ints (4 bytes each)."""
    return array("i", np.ascontiguousarray(values, dtype=np.int32).tobytes())


def _flags(values: np.ndarray) -> array:
    """A compact array of 0/1 flags (a byte each)."""
    return array("b", np.ascontiguousarray(values, dtype=np.int8).tobytes())


def flow_rules(scenario: Scenario, perfect: frozenset[int]) -> FlowRules:
    """The scalar rules of the queued part; a perfect seam 1 has no waiting costs or SLA."""
    seam1, seam2 = scenario.seam1, scenario.seam2
    p1 = 1 in perfect
    return FlowRules(
        horizon=scenario.horizon_hours,
        reach=_curves(scenario, None if p1 else seam1.decay),
        followup=_curves(scenario, None if p1 else scenario.sales.followup_decay),
        p_accept_unfit=_p_accept_unfit(scenario),
        sla_hours=None if p1 else seam1.sla_hours,
        sla_business=seam1.sla_clock == "business",
        same_team_fallback=seam1.fallback_team == seam1.team,
        fallthrough_rate=0.0 if 2 in perfect else seam2.fallthrough_per_week_waiting,
        skip_deal_desk=2 in perfect,
        perfect_seam1=1 in perfect,
    )


def _curves(scenario: Scenario, curve: Curve | None) -> Curves:
    """The chance function of each source (by source code), or None where waits are free."""
    if curve is None:
        return tuple(None for _ in scenario.sources)
    return tuple(curve.for_source(name).chance_function() for name in scenario.sources)


def _p_accept_unfit(scenario: Scenario) -> float:
    """SDRs paid per accepted lead accept unfit leads more readily (``volume_incentive``)."""
    acceptance = scenario.seam1.acceptance
    comp = scenario.teams[scenario.seam1.team].comp
    if comp is None or comp.handoff_bonus <= 0:
        return acceptance.p_accept_unfit
    p = acceptance.p_accept_unfit
    return p + acceptance.volume_incentive * (1.0 - p)
