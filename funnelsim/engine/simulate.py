"""One replication: ``(scenario, seed) -> Ledger``.

The run has three phases. Marketing (arrivals, scoring, nurture, data decay) is drawn in
bulk with numpy. The queued part (seam 1 to onboarding) runs in SimPy. Customers' terms
(seam 3 early churn, seam 4 renewals) run in bulk again. Every lead's random numbers come
from its own row of the fate matrix, so decisions are coupled across scenarios.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable

import numpy as np
import pandas as pd
import simpy
from scipy import special

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.customers import max_terms, run_terms
from funnelsim.engine.fates import (
    PAYMENT_STREAM,
    PRODUCT_STREAM,
    Fate,
    draw_all_arrivals,
    draw_fates,
    draw_rows,
    draw_term_fates,
)
from funnelsim.engine.flow import Flow, FlowInputs, FlowRules
from funnelsim.engine.ledger import (
    IN_FLIGHT,
    LOST_AT_SEAM,
    NOT_A_FIT,
    REASON_CODE,
    STATIC_REASONS,
    UNDECIDED,
    Ledger,
    empty_columns,
)
from funnelsim.engine.staffing import (
    StaffedTeam,
    build_roster,
    capacity_rows,
    employed_hours,
    stint_rows,
)
from funnelsim.engine.teams import HOURS_PER_WEEK, Team
from funnelsim.scenario.models import Scenario

HOURS_PER_DAY = 24.0
HOURS_PER_MONTH = 8760.0 / 12
CALENDAR_MARGIN_HOURS = 3 * 8760.0
SEAMS = (1, 2, 3, 4)
# The fate columns marketing needs for every lead; the rest are drawn for MQLs only.
MARKETING_FATES = (
    Fate.SEGMENT,
    Fate.FIT,
    Fate.SCORE_NOISE,
    Fate.QUALIFY,
    Fate.RESURFACE,
    Fate.RESURFACE_DELAY,
    Fate.DEAL_VALUE,
)


def simulate(scenario: Scenario, seed: int, perfect_seams: Iterable[int] = ()) -> Ledger:
    """Simulate one replication of ``scenario`` with ``seed`` and return its ledger.

    ``perfect_seams`` names seams (1-4) to run as if perfect (no delay, no handoff loss),
    the counterfactual behind "what would fixing this seam be worth".
    """
    perfect = frozenset(int(s) for s in perfect_seams)
    unknown = perfect - set(SEAMS)
    if unknown:
        raise ValueError(f"perfect_seams: unknown seam {sorted(unknown)[0]} (expected 1-4)")
    horizon = scenario.horizon_hours
    arrivals = draw_all_arrivals(scenario, seed)
    created, source = arrivals.times, arrivals.source
    n = len(created)
    names = tuple(scenario.sources)
    columns = empty_columns(n)
    columns["created"] = created
    columns["source"] = source.astype(np.int32)
    columns["account"] = arrivals.account.astype(np.int32)
    segment_names = tuple(scenario.segments)
    lost_reason_names = tuple(scenario.sales.lost_reasons)
    reason_names = STATIC_REASONS + lost_reason_names

    marketing_fates = draw_fates(seed, source, names, columns=MARKETING_FATES)
    _marketing(scenario, marketing_fates, columns, perfect)
    churn_u = _products(scenario, seed, marketing_fates[Fate.DEAL_VALUE], columns)
    del marketing_fates
    items = np.flatnonzero(columns["mql_time"] < horizon)
    fates = draw_fates(seed, source, names, rows=items)
    env = simpy.Environment()
    counter = [0]
    teams = _build_teams(env, scenario, counter, seed)
    flow = Flow(
        env,
        _flow_inputs(scenario, fates, columns, items, perfect),
        _flow_rules(scenario, perfect),
        teams,
        {
            "sdr": scenario.seam1.team,
            "fallback": scenario.seam1.fallback_team,
            "ae": scenario.sales.team,
            "deal_desk": scenario.seam2.team,
            "csm": scenario.seam3.team,
        },
        counter,
    )
    flow.run()
    _collect_flow(flow, items, fates, columns)
    terms = _customers(scenario, seed, items, fates, columns, perfect, churn_u)
    del fates
    _settle_outcomes(columns)
    return Ledger(
        columns=columns,
        terms=terms,
        team_levels=_team_levels(teams, scenario),
        capacity_rows=[
            row for name, team in teams.items() for row in capacity_rows(name, team, horizon)
        ],
        stint_rows=[
            row
            for name, team in teams.items()
            if isinstance(team, StaffedTeam)
            for row in stint_rows(name, team.stints)
        ],
        source_names=tuple(scenario.sources),
        segment_names=segment_names,
        reason_names=reason_names,
        product_names=tuple(scenario.products or ()),
        outbound_attempts=arrivals.attempts,
        meta={
            "seed": int(seed),
            "scenario": scenario.name,
            "horizon_hours": horizon,
            "start_date": scenario.start_date.isoformat(),
            "currency": scenario.currency,
            "perfect_seams": sorted(perfect),
            "simpy_events": counter[0],
            "queued_leads": len(items),
            "team_busy_hours": {name: team.busy_hours() for name, team in teams.items()},
            "team_slots": {name: team.slots for name, team in teams.items()},
            "team_employed_hours": {
                name: employed_hours(team.stints, horizon)
                if isinstance(team, StaffedTeam)
                else team.headcount * horizon
                for name, team in teams.items()
            },
            "team_slot_hours": {
                name: team.slot_hours() if isinstance(team, StaffedTeam) else team.slots * horizon
                for name, team in teams.items()
            },
            "team_requeued": {
                name: team.requeued for name, team in teams.items() if isinstance(team, StaffedTeam)
            },
            "team_work_hours": {name: team.work_hours() for name, team in teams.items()},
            "team_open_hours": {
                name: team.calendar.working_hours_until(horizon) for name, team in teams.items()
            },
        },
    )


def _marketing(
    scenario: Scenario,
    fates: dict[Fate, np.ndarray],
    columns: dict[str, np.ndarray],
    perfect: frozenset[int],
) -> None:
    """Segments, fit, scoring, nurture and the deal value of every lead, in bulk."""
    source = columns["source"]
    created = columns["created"]
    segment = _segments(scenario, source, fates[Fate.SEGMENT])
    columns["segment"] = segment
    fit = np.empty(len(source))
    for index, spec in enumerate(scenario.sources.values()):
        mask = source == index
        fit[mask] = np.clip(spec.fit.ppf(fates[Fate.FIT][mask]), 0.0, 1.0)
    scoring = scenario.marketing.scoring
    score = fit + scoring.noise_sd * special.ndtri(fates[Fate.SCORE_NOISE])
    is_fit = fates[Fate.QUALIFY] < fit
    mql = score >= scoring.mql_threshold
    if 1 in perfect:
        mql |= is_fit
    nurture = scenario.marketing.nurture
    resurfaced = ~mql & (fates[Fate.RESURFACE] < nurture.resurface_prob)
    resurface_time = (
        created + nurture.resurface_after_days.ppf(fates[Fate.RESURFACE_DELAY]) * HOURS_PER_DAY
    )
    columns["mql_time"] = np.where(mql, created, np.where(resurfaced, resurface_time, np.nan))
    columns.update(fit=fit, score=score, is_fit=is_fit, nurtured=~mql)
    columns["mql"] = columns["mql_time"] < scenario.horizon_hours
    columns["resurfaced"] = resurfaced
    columns["deal_value"] = _by_segment(
        scenario, segment, fates[Fate.DEAL_VALUE], lambda s: s.deal_value
    )
    never_mql = ~mql & ~resurfaced
    columns["outcome"][never_mql & ~is_fit] = NOT_A_FIT
    scored_out = never_mql & is_fit
    columns["outcome"][scored_out] = LOST_AT_SEAM
    columns["seam"][scored_out] = 1
    columns["loss_reason"][scored_out] = REASON_CODE["scored_out"]
    columns["loss_time"][never_mql] = created[never_mql]


def _products(
    scenario: Scenario, seed: int, deal_u: np.ndarray, columns: dict[str, np.ndarray]
) -> np.ndarray | None:
    """Each lead's product and, where the product sets one, its deal value; churn uniforms.

    Products draw from their own stream (keyed by source and rank like the fates), so a
    scenario without products meets exactly the draws it met before products existed.
    A product's deal value is drawn at the lead's own deal-value uniform.
    """
    if scenario.products is None:
        return None
    source = columns["source"]
    u = draw_rows(seed, PRODUCT_STREAM, source, tuple(scenario.sources), 2, None, [0, 1])
    products = list(scenario.products.values())
    shares = np.array([[p.share_in(seg) for p in products] for seg in scenario.segments])
    cumulative = np.cumsum(shares, axis=1)
    cumulative /= cumulative[:, -1:]
    segment = columns["segment"]
    product = np.empty(len(source), dtype=np.int32)
    for code in range(len(scenario.segments)):
        mask = segment == code
        product[mask] = np.searchsorted(cumulative[code], u[0][mask], side="right")
    product = np.minimum(product, len(products) - 1)
    columns["product"] = product
    for code, spec in enumerate(products):
        mask = product == code
        if spec.deal_value is not None and mask.any():
            columns["deal_value"][mask] = spec.deal_value.ppf(deal_u[mask])
    return u[1]


def _segments(scenario: Scenario, source: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Each lead's segment code, from its source's segment mix or the global shares."""
    names = list(scenario.segments)
    default = np.cumsum([scenario.segments[s].share for s in names])
    segment = np.empty(len(source), dtype=np.int32)
    for index, spec in enumerate(scenario.sources.values()):
        mask = source == index
        if spec.segment_mix is None:
            cumulative = default
        else:
            cumulative = np.cumsum([spec.segment_mix.get(s, 0.0) for s in names])
        codes = np.searchsorted(cumulative / cumulative[-1], u[mask], side="right")
        segment[mask] = np.minimum(codes, len(names) - 1)
    return segment


def _by_segment(scenario: Scenario, segment: np.ndarray, u: np.ndarray, pick) -> np.ndarray:
    """Draw a per-segment distribution at uniforms ``u`` (one value per lead)."""
    out = np.zeros(len(segment))
    for code, spec in enumerate(scenario.segments.values()):
        mask = segment == code
        if mask.any():
            out[mask] = pick(spec).ppf(u[mask])
    return out


def _per_segment_value(scenario: Scenario, mapping: dict, segment: np.ndarray) -> np.ndarray:
    table = np.array([mapping[name] for name in scenario.segments], dtype=float)
    return table[segment]


def _flow_inputs(
    scenario: Scenario,
    fates: dict[Fate, np.ndarray],
    columns: dict[str, np.ndarray],
    items: np.ndarray,
    perfect: frozenset[int],
) -> FlowInputs:
    """Everything the queued part needs for its items, drawn in bulk (``fates`` at items)."""
    u = fates
    seg = columns["segment"][items]
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
    fallback_work = (
        scenario.teams[fallback_team].work_time.ppf(u[Fate.FALLBACK_WORK])
        if fallback_team
        else np.zeros(len(items))
    )
    # A lead's coupled uniform u reaches sales when u < fit * decay; comparing u / fit
    # with decay keeps one number per lead.
    with np.errstate(divide="ignore", invalid="ignore"):
        reach_threshold = np.where(fit > 0, u[Fate.QUALIFY] / fit, np.inf)
    qualify = _per_segment_value(scenario, sales.qualify_prob, seg)
    win_rate = _per_segment_value(scenario, sales.win_rate, seg)
    opportunity = is_fit & (u[Fate.OPPORTUNITY] < qualify)
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
    slipped = u[Fate.SLIP] < sales.slip.prob
    slip = _where_drawn(slipped & opportunity, sales.slip.extra_days.ppf, u[Fate.SLIP_DAYS])
    closing = opportunity & win
    weights = np.array(list(sales.lost_reasons.values()), dtype=float)
    lost_reason = len(STATIC_REASONS) + np.minimum(
        np.searchsorted(np.cumsum(weights) / weights.sum(), u[Fate.LOST_REASON], "right"),
        len(weights) - 1,
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
    cycle *= HOURS_PER_DAY
    columns["slipped"][items] = slipped & is_fit
    columns["stale_stage"][items] = u[Fate.STALE_STAGE] < sales.crm_hygiene.stale_stage_share
    columns["nonstandard"][items] = nonstandard
    return FlowInputs(
        lead=items,
        segment=seg.tolist(),
        mql_time=_floats(mql_time),
        pickup_time=mql_time + response,
        sdr_work=_floats(scenario.teams[seam1.team].work_time.ppf(u[Fate.SDR_WORK])),
        fallback_delay=_floats(seam1.fallback_response_delay.ppf(u[Fate.FALLBACK_DELAY])),
        fallback_work=_floats(fallback_work),
        is_fit=is_fit.tolist(),
        reach_threshold=_floats(reach_threshold),
        stale_time=_floats(stale_time),
        accept_fit=(p1 | (u[Fate.ACCEPT] < seam1.acceptance.p_accept_fit)).tolist(),
        accept_unfit_u=_floats(u[Fate.ACCEPT]),
        discovery=_floats(discovery),
        opportunity=opportunity.tolist(),
        cycle=_floats(cycle),
        slip=_floats(slip * HOURS_PER_DAY),
        win=win.tolist(),
        lost_reason=lost_reason.tolist(),
        approval=_floats(approval * HOURS_PER_DAY),
        deal_desk_work=_floats(_where_drawn(closing, deal_desk.ppf, u[Fate.DEAL_DESK_WORK])),
        fallthrough_u=_floats(u[Fate.FALLTHROUGH]),
        invoice_delay=_floats(invoice * HOURS_PER_DAY),
        onboarding=_floats(onboarding * HOURS_PER_DAY),
    )


def _where_drawn(mask: np.ndarray, ppf, u: np.ndarray) -> np.ndarray:
    """``ppf(u)`` where ``mask`` holds and 0 elsewhere, computing only the masked cells."""
    out = np.zeros(len(u))
    if mask.any():
        out[mask] = ppf(u[mask])
    return out


def _floats(values: np.ndarray) -> array:
    """A compact array of Python floats (8 bytes each, fast scalar access)."""
    return array("d", np.ascontiguousarray(values, dtype=float).tobytes())


def _flow_rules(scenario: Scenario, perfect: frozenset[int]) -> FlowRules:
    seam1, seam2 = scenario.seam1, scenario.seam2
    return FlowRules(
        horizon=scenario.horizon_hours,
        half_life=None if 1 in perfect else seam1.decay.half_life_hours,
        decay_floor=seam1.decay.floor,
        p_accept_unfit=_p_accept_unfit(scenario),
        sla_hours=None if 1 in perfect else seam1.sla_hours,
        fallthrough_rate=0.0 if 2 in perfect else seam2.fallthrough_per_week_waiting,
        skip_deal_desk=2 in perfect,
        perfect_seam1=1 in perfect,
    )


def _p_accept_unfit(scenario: Scenario) -> float:
    """SDRs paid per accepted lead accept unfit leads more readily (``volume_incentive``)."""
    acceptance = scenario.seam1.acceptance
    comp = scenario.teams[scenario.seam1.team].comp
    if comp is None or comp.handoff_bonus <= 0:
        return acceptance.p_accept_unfit
    p = acceptance.p_accept_unfit
    return p + acceptance.volume_incentive * (1.0 - p)


def _build_teams(
    env: simpy.Environment, scenario: Scenario, counter: list[int], seed: int = 0
) -> dict[str, Team]:
    """One SimPy team per scenario team, routed by the rule of the stage that uses it.

    A team whose headcount changes over the run (plan, ramp, attrition, vacations) is a
    ``StaffedTeam`` following its roster, drawn from streams keyed by ``seed``.
    """
    routing = {
        scenario.seam3.team: "pooled",
        scenario.seam2.team: "pooled",
        scenario.sales.team: scenario.sales.routing,
    }
    if scenario.seam1.fallback_team:
        routing.setdefault(scenario.seam1.fallback_team, "pooled")
    routing[scenario.seam1.team] = scenario.seam1.routing
    segment_code = {name: code for code, name in enumerate(scenario.segments)}
    span = scenario.horizon_hours + CALENDAR_MARGIN_HOURS
    calendars: dict[object, WorkCalendar] = {}
    n_weeks = int(np.ceil(scenario.horizon_hours / HOURS_PER_WEEK))
    teams = {}
    for name, spec in scenario.teams.items():
        calendar_spec = scenario.team_calendar(name)
        if calendar_spec not in calendars:
            calendars[calendar_spec] = WorkCalendar(calendar_spec, scenario.start_date, span)
        head_segments = None
        if spec.segments is not None:
            head_segments = [
                segment_code[seg] for seg, count in spec.segments.items() for _ in range(count)
            ]
        if spec.staffed:
            teams[name] = StaffedTeam(
                env,
                name,
                spec.capacity_per_head,
                calendars[calendar_spec],
                routing.get(name, "pooled"),
                n_weeks,
                counter,
                scenario.horizon_hours,
                build_roster(spec, name, scenario.start_date, scenario.horizon_hours, seed),
                spec.ramp,
                spec.work_time is not None,
            )
            continue
        teams[name] = Team(
            env,
            name,
            spec.headcount,
            spec.capacity_per_head,
            calendars[calendar_spec],
            routing.get(name, "pooled"),
            head_segments,
            n_weeks,
            counter,
            scenario.horizon_hours,
        )
    return teams


def _collect_flow(
    flow: Flow, items: np.ndarray, fates: dict[Fate, np.ndarray], columns: dict[str, np.ndarray]
) -> None:
    """Scatter the queued part's per-item results into the ledger columns."""
    for name, values in flow.results.items():
        columns[name][items] = values
    columns["sla_breached"][items] = flow.sla_breached
    columns["rerouted"][items] = flow.rerouted
    columns["sdr_head"][items] = flow.head
    columns["outcome"][items] = flow.outcome
    columns["seam"][items] = flow.seam
    columns["loss_reason"][items] = flow.reason
    # An AE's hold is a pure delay after the start, so the sales milestones follow in bulk
    # from the start time (the same additions, in the same order, as the hold's end).
    x = flow.x
    opp_time = np.asarray(columns["ae_start"][items]) + np.asarray(x.discovery)
    opp_time[~np.asarray(x.opportunity, dtype=bool)] = np.nan
    columns["opp_time"][items] = opp_time
    columns["expected_close"][items] = opp_time + np.asarray(x.cycle)
    horizon = flow.rules.horizon
    for name in ("first_response", "ae_start", "opp_time", "onboard_start"):
        values = columns[name]
        values[values > horizon] = np.nan
    columns["expected_close"][np.isnan(columns["opp_time"])] = np.nan
    columns["opportunity"] = ~np.isnan(columns["opp_time"])
    columns["won"] = ~np.isnan(columns["won_time"])


def _customers(
    scenario: Scenario,
    seed: int,
    items: np.ndarray,
    fates: dict[Fate, np.ndarray],
    columns: dict[str, np.ndarray],
    perfect: frozenset[int],
    churn_u: np.ndarray | None = None,
) -> pd.DataFrame:
    """Contract errors, context transfer, then the term loop for every invoiced customer."""
    seam2, seam3 = scenario.seam2, scenario.seam3
    won = ~np.isnan(columns["contract_done"]) & (columns["outcome"] == UNDECIDED)
    # Every won deal and every customer is an item of the queued part; others never draw.
    n = len(won)
    error = np.zeros(n, dtype=bool)
    error[items] = fates[Fate.CONTRACT_ERROR] < seam2.contract_error_prob
    error &= won
    if 2 in perfect:
        error[:] = False
    columns["contract_error"] = error
    booked = columns["deal_value"] * np.where(error, 1.0 - seam2.contract_error_value_loss, 1.0)
    fell_through = (columns["outcome"] == LOST_AT_SEAM) & (columns["seam"] == 2)
    columns["booked_arr"] = np.where(columns["won"] & ~fell_through, booked, 0.0)
    context = np.zeros(n, dtype=bool)
    context[items] = fates[Fate.CONTEXT] < seam3.context_transfer_prob
    columns["context_transferred"] = context & ~np.isnan(columns["invoice_time"])
    customers = np.flatnonzero(~np.isnan(columns["invoice_time"]))
    at_item = np.searchsorted(items, customers)
    term_u = draw_term_fates(
        seed, columns["source"], tuple(scenario.sources), max_terms(scenario), rows=customers
    )
    result = run_terms(
        scenario,
        customers,
        columns["invoice_time"][customers],
        booked[customers],
        context[customers] | (3 in perfect),
        columns["onboarded_time"][customers],
        fates[Fate.EARLY_CHURN][at_item],
        term_u,
        perfect,
        *_cash_and_products(scenario, seed, columns, customers, churn_u),
    )
    columns["outcome"][customers] = result.outcome
    columns["seam"][customers] = result.seam
    columns["loss_reason"][customers] = result.reason
    columns["churn_time"][customers] = result.churn_time
    columns["arr_at_horizon"][customers] = result.arr_at_horizon
    columns["invoiced_revenue"][customers] = result.invoiced_revenue
    columns["horizon_revenue"][customers] = result.horizon_revenue
    columns["terms"][customers] = result.n_terms
    lost = customers[result.outcome == LOST_AT_SEAM]
    columns["loss_time"][lost] = result.churn_time[result.outcome == LOST_AT_SEAM]
    return result.terms


def _cash_and_products(
    scenario: Scenario,
    seed: int,
    columns: dict[str, np.ndarray],
    customers: np.ndarray,
    churn_u: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Hours to collect each term's invoice; with products, each customer's ramp and churn.

    Collection delays come from their own stream (keyed by source and rank), one uniform
    per term. A product's monthly churn p strikes at the end of month M after go-live,
    with P(M > m) = (1 - p)^m, drawn at the lead's own product-churn uniform.
    """
    n_terms = max_terms(scenario)
    pay_u = draw_rows(
        seed,
        PAYMENT_STREAM,
        columns["source"],
        tuple(scenario.sources),
        n_terms,
        customers,
        list(range(n_terms)),
    ).T
    pay_hours = scenario.costs.collection_days.ppf(pay_u.ravel()).reshape(pay_u.shape) * 24.0
    if scenario.products is None or churn_u is None:
        return pay_hours, None, None
    products = list(scenario.products.values())
    product = columns["product"][customers]
    ramp = None
    width = max(len(p.ramp_months) for p in products)
    if width:
        table = np.ones((len(products), width))
        for code, spec in enumerate(products):
            table[code, : len(spec.ramp_months)] = spec.ramp_months
        ramp = table[product]
    churn_at = None
    monthly = np.array([p.monthly_churn for p in products])[product]
    if monthly.any():
        with np.errstate(divide="ignore", invalid="ignore"):
            months = np.ceil(np.log(churn_u[customers]) / np.log1p(-monthly))
        months = np.where(monthly > 0, np.maximum(months, 1.0), np.inf)
        churn_at = columns["invoice_time"][customers] + months * HOURS_PER_MONTH
    return pay_hours, ramp, churn_at


def _settle_outcomes(columns: dict[str, np.ndarray]) -> None:
    """Leads still undecided at the horizon are in flight."""
    columns["outcome"][columns["outcome"] == UNDECIDED] = IN_FLIGHT


def _team_levels(teams: dict[str, Team], scenario: Scenario) -> pd.DataFrame:
    """Weekly occupancy (busy slots / slots) and mean queue length for each team."""
    frames = []
    for name, team in teams.items():
        busy = team.busy_area()
        weeks = np.arange(len(busy))
        width = np.minimum(HOURS_PER_WEEK, scenario.horizon_hours - weeks * HOURS_PER_WEEK)
        slots = max(team.slots, 1)
        frames.append(
            pd.DataFrame(
                {
                    "team": name,
                    "week": weeks,
                    "occupancy": busy / (width * slots),
                    "queue_length": team.queue_area() / width,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)
