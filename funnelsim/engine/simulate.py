"""One replication: ``(scenario, seed) -> Ledger``.

The run has three phases. Marketing (arrivals, scoring, nurture, data decay) is drawn in
bulk with numpy. The queued part (seam 1 to onboarding) runs in SimPy. Customers' terms
(seam 3 early churn, seam 4 renewals) run in bulk again. Every lead's random numbers come
from its own row of the fate matrix, so decisions are coupled across scenarios.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import simpy

from funnelsim.engine.book import OPPORTUNITY, BookRows, append_book, draw_book
from funnelsim.engine.customer_phase import CUSTOMER_FATES, draw_source, run_customers
from funnelsim.engine.fates import (
    STAGE_STREAM,
    Fate,
    draw_all_arrivals,
    draw_fates,
    draw_rows,
)
from funnelsim.engine.flow import Flow
from funnelsim.engine.inputs import flow_inputs, flow_rules
from funnelsim.engine.ledger import STATIC_REASONS, Ledger, empty_columns
from funnelsim.engine.marketing import MARKETING_FATES, draw_products, run_marketing
from funnelsim.engine.results_tables import (
    capacity_table,
    collect_flow,
    settle_outcomes,
    stint_table,
    team_levels,
    team_meta,
)
from funnelsim.engine.stages import UNIFORMS_PER_STAGE
from funnelsim.engine.team_setup import build_teams
from funnelsim.scenario.models import Scenario

SEAMS = (1, 2, 3, 4)
# The fates the queued part and the customer phase read: the marketing phase's own
# (segment, fit, scoring, nurture, deal value) are not kept for the items.
ITEM_FATES = tuple(
    fate
    for fate in Fate
    if fate
    not in (
        Fate.SEGMENT,
        Fate.FIT,
        Fate.SCORE_NOISE,
        Fate.DEAL_VALUE,
        Fate.RESURFACE,
        Fate.RESURFACE_DELAY,
    )
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
    run_marketing(scenario, marketing_fates, columns, perfect)
    churn_u = draw_products(scenario, seed, marketing_fates[Fate.DEAL_VALUE], columns)
    del marketing_fates
    book = draw_book(scenario, seed, source)
    opp_age = opp_stage = book_term_start = None
    if book is not None:
        columns = append_book(columns, book)
        if churn_u is not None and book.churn_u is not None:
            churn_u = np.concatenate([churn_u, book.churn_u])
        opp_age, opp_stage, book_term_start = _book_times(n, book)
    in_sales = np.zeros(len(columns["created"]), dtype=bool)
    if opp_age is not None:
        in_sales = np.isfinite(opp_age)
    items = np.flatnonzero((columns["mql_time"] < horizon) | in_sales)
    fates = draw_fates(seed, draw_source(columns), names, rows=items, columns=ITEM_FATES)
    stage_u = None
    if scenario.sales.stages is not None:
        stage_u = _stage_uniforms(scenario, seed, draw_source(columns), items, fates)
    env = simpy.Environment()
    counter = [0]
    teams = build_teams(env, scenario, counter, seed)
    inputs = flow_inputs(scenario, fates, columns, items, perfect, opp_age, opp_stage, stage_u)
    del stage_u
    # Only the customer phase's fates outlive the inputs: copied out, the item x fate
    # matrix behind the others is freed before the run.
    fates = {fate: fates[fate].copy() for fate in CUSTOMER_FATES}
    flow = Flow(
        env,
        inputs,
        flow_rules(scenario, perfect),
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
    del inputs
    flow.run()
    stages = collect_flow(flow, items, fates, columns, opp_age, opp_stage)
    flow.release()
    terms = run_customers(scenario, seed, items, fates, columns, perfect, churn_u, book_term_start)
    del fates
    settle_outcomes(columns)
    return Ledger(
        columns=columns,
        terms=terms,
        team_levels=team_levels(teams, scenario),
        capacity_rows=capacity_table(teams, horizon),
        stint_rows=stint_table(teams),
        source_names=tuple(scenario.sources),
        segment_names=segment_names,
        reason_names=reason_names,
        product_names=tuple(scenario.products or ()),
        outbound_attempts=arrivals.attempts,
        stage_names=scenario.stage_names,
        stages=stages,
        meta={
            "seed": int(seed),
            "scenario": scenario.name,
            "horizon_hours": horizon,
            "start_date": scenario.start_date.isoformat(),
            "currency": scenario.currency,
            "perfect_seams": sorted(perfect),
            "simpy_events": counter[0],
            "queued_leads": len(items),
            "new_leads": n,
            "book_records": 0 if book is None else book.size,
            **team_meta(teams, horizon),
        },
    )


def _book_times(n_new: int, book: BookRows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per ledger row: a book opportunity's hours in its stage and the stage, a book
    customer's term start."""
    opp_age = np.full(n_new + book.size, np.nan)
    opp_stage = np.zeros(n_new + book.size, dtype=np.int64)
    term_start = np.full(n_new + book.size, np.nan)
    opps = book.kind == OPPORTUNITY
    opp_age[n_new:][opps] = book.age[opps]
    opp_stage[n_new:][opps] = book.stage[opps]
    term_start[n_new:] = book.term_start
    return opp_age, opp_stage, term_start


def _stage_uniforms(
    scenario: Scenario,
    seed: int,
    source: np.ndarray,
    items: np.ndarray,
    fates: dict[Fate, np.ndarray],
) -> np.ndarray:
    """The items' stage uniforms (items x 4 per stage): the first stage reads the lead's
    win, cycle and slip fates, so one stage meets exactly the draws the one-stage sales
    cycle meets; later stages read their own stream."""
    first = np.column_stack(
        [fates[Fate.WIN], fates[Fate.CYCLE], fates[Fate.SLIP], fates[Fate.SLIP_DAYS]]
    )
    width = UNIFORMS_PER_STAGE * (len(scenario.sales.stages or {}) - 1)
    if width == 0:
        return first
    names = tuple(scenario.sources)
    later = draw_rows(seed, STAGE_STREAM, source, names, width, items, list(range(width))).T
    return np.hstack([first, later])
