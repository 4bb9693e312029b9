"""One replication: ``(scenario, seed) -> Ledger``.

The run has three phases. Marketing (arrivals, scoring, nurture, data decay) is drawn in
bulk with numpy, block by block in one pass that also builds the queued part's inputs
(``lead_pass``). The queued part (seam 1 to onboarding) runs in SimPy. Customers' terms
(seam 3 early churn, seam 4 renewals) run in bulk again. Every lead's random numbers come
from its own row of the fate matrix, so decisions are coupled across scenarios. Memory
stays near the compact ledger's own size: columns are made as their phase fills them,
held sparse once final (most late-funnel cells are empty), and what a phase leaves
behind is freed, and in a large run handed back to the OS, before the next one.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable

import numpy as np
import simpy

from funnelsim.engine.book import append_book, book_times, draw_book
from funnelsim.engine.customer_phase import CUSTOMER_COLUMNS, run_customers
from funnelsim.engine.fates import draw_all_arrivals
from funnelsim.engine.flow import Flow
from funnelsim.engine.heap import release_free_memory, tune_allocator
from funnelsim.engine.inputs import flow_rules
from funnelsim.engine.lead_pass import run_lead_pass
from funnelsim.engine.ledger import (
    COLUMN_NAMES,
    STATIC_REASONS,
    LazyColumns,
    Ledger,
    compact,
    ledger_columns,
    ledger_dtypes,
)
from funnelsim.engine.results_tables import (
    capacity_table,
    collect_flow,
    settle_outcomes,
    stint_table,
    team_levels,
    team_meta,
)
from funnelsim.engine.team_setup import build_teams
from funnelsim.scenario.models import Scenario

SEAMS = (1, 2, 3, 4)
# A full garbage collection after the run frees its reference cycles (SimPy events, the
# flow and its teams) before the customer phase. It costs ~40 ms whatever the run's size
# (a third of a baseline run), so only runs with at least this many leads pay it.
FULL_COLLECTION_LEADS = 200_000
# Runs with at least this many leads hand the heap's free pages back to the OS after each
# phase (:mod:`funnelsim.engine.heap`); smaller runs free too little to be worth it.
TRIM_LEADS = 200_000
# Runs with at least this many leads hold far events out of SimPy's heap (``FarEvents``):
# below it the heap stays small anyway, and the daily ticks and the longer scheduling
# path cost more than they save (~3% of a baseline run's event loop; even at 100k leads).
FAR_EVENTS_LEADS = 100_000
# Columns written after the lead pass (by the queued part and the customer phase): every
# other column is final once the pass is done and held sparse where that halves it.
WRITTEN_AFTER_PASS = frozenset(
    {
        *Flow.RESULT_FIELDS,
        "opp_time",
        "expected_close",
        "opportunity",
        "won",
        "sla_breached",
        "rerouted",
        "sdr_head",
        "outcome",
        "seam",
        "loss_reason",
        *CUSTOMER_COLUMNS,
    }
)
# Columns the lead pass fills, stored (rounded once) when it is done: nothing after it
# reads them at full precision.
PASS_STORED = ("created", "mql_time", "fit", "segment", "score", "product")


def simulate(scenario: Scenario, seed: int, perfect_seams: Iterable[int] = ()) -> Ledger:
    """Simulate one replication of ``scenario`` with ``seed`` and return its ledger.

    ``perfect_seams`` names seams (1-4) to run as if perfect (no delay, no handoff loss),
    the counterfactual behind "what would fixing this seam be worth".
    """
    perfect = frozenset(int(s) for s in perfect_seams)
    unknown = perfect - set(SEAMS)
    if unknown:
        raise ValueError(f"perfect_seams: unknown seam {sorted(unknown)[0]} (expected 1-4)")
    tune_allocator()
    horizon = scenario.horizon_hours
    arrivals = draw_all_arrivals(scenario, seed)
    attempts = arrivals.attempts
    n = len(arrivals.times)
    names = tuple(scenario.sources)
    segment_names = tuple(scenario.segments)
    lost_reason_names = tuple(scenario.sales.lost_reasons)
    reason_names = STATIC_REASONS + lost_reason_names
    dtypes = ledger_dtypes(
        max(len(names), len(segment_names), len(reason_names), len(scenario.products or ()))
    )
    # Columns are made as their phase fills them; times the engine reads back stay float64
    # until their last exact use, then each is rounded once to its stored dtype.
    columns = LazyColumns(n, dtypes)
    columns["created"] = arrivals.times
    columns["source"] = arrivals.source.astype(dtypes["source"])
    columns["account"] = arrivals.account.astype(dtypes["account"])
    del arrivals

    book = draw_book(scenario, seed, columns["source"])
    opp_age = opp_stage = book_term_start = None
    if book is not None:
        columns = append_book(columns, book)
        opp_age, opp_stage, book_term_start = book_times(n, book)
    lead_pass = run_lead_pass(scenario, seed, columns, perfect, n, opp_age, opp_stage)
    compact(columns, PASS_STORED, dtypes)
    columns.freeze([name for name in columns if name not in WRITTEN_AFTER_PASS])
    large = n >= TRIM_LEADS
    if large:
        release_free_memory()
    items, inputs, closing, fates, churn_u, stage_offsets = (
        lead_pass.items,
        lead_pass.inputs,
        lead_pass.closing,
        lead_pass.fates,
        lead_pass.churn_u,
        lead_pass.stage_offsets,
    )
    del lead_pass
    if book is not None and churn_u is not None and book.churn_u is not None:
        churn_u = np.concatenate([churn_u, book.churn_u])
    env = simpy.Environment()
    counter = [0]
    teams = build_teams(env, scenario, counter, seed, far_events=n >= FAR_EVENTS_LEADS)
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
    stages, item_times = collect_flow(flow, items, columns, stage_offsets, opp_age, opp_stage)
    del stage_offsets
    # The queued part's columns are final: held sparse from here where that halves them.
    columns.freeze(name for name in COLUMN_NAMES if name not in CUSTOMER_COLUMNS)
    # The teams' tables are made before the customer phase, their level logs dropped and,
    # in a large run, the run's objects (reference cycles) collected.
    levels = team_levels(teams, scenario)
    capacity = capacity_table(teams, horizon)
    stints = stint_table(teams)
    team_info = team_meta(teams, horizon)
    for team in teams.values():
        team.release_logs()
    del flow, teams, env
    if n >= FULL_COLLECTION_LEADS:
        gc.collect()
    if large:
        release_free_memory()
    item_times = {name: times[closing] for name, times in item_times.items()}
    terms = run_customers(
        scenario,
        seed,
        items[closing],
        fates,
        columns,
        perfect,
        churn_u,
        book_term_start,
        item_times,
    )
    del fates, item_times
    settle_outcomes(columns)
    columns = ledger_columns(columns, dtypes)
    if large:
        release_free_memory()
    return Ledger(
        columns=columns,
        terms=terms,
        team_levels=levels,
        capacity_rows=capacity,
        stint_rows=stints,
        source_names=tuple(scenario.sources),
        segment_names=segment_names,
        reason_names=reason_names,
        product_names=tuple(scenario.products or ()),
        outbound_attempts=attempts,
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
            **team_info,
        },
    )
