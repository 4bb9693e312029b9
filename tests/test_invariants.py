"""One lead, one story: every lead ends in exactly one outcome and the counts add up.

Checked on a default scenario and, with hypothesis, on random valid scenarios: small and
empty teams, every routing rule (by_segment with a valid head mapping), SLAs with and
without a fallback team, short and long horizons, perfect seams.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import funnelsim as fs
from funnelsim.analysis.funnel import STAGES, stage_masks
from funnelsim.engine.ledger import (
    ACTIVE,
    CHURNED,
    CLOSED_LOST,
    IN_FLIGHT,
    LOST_AT_SEAM,
    OUTCOMES,
    SEAM_REASONS,
    Ledger,
)
from funnelsim.scenario import scenario_from_dict

SEGMENTS = ("smb", "mid_market", "enterprise")
ROUTINGS = ("round_robin", "least_loaded", "by_segment", "pooled")
# Pairs of (earlier, later) times that a lead's story must respect whenever both happened.
ORDERED_TIMES = (
    ("created", "mql_time"),
    ("mql_time", "first_response"),
    ("first_response", "sql_time"),
    ("sql_time", "ae_start"),
    ("ae_start", "opp_time"),
    ("opp_time", "expected_close"),
    ("ae_start", "close_time"),
    ("close_time", "won_time"),
    ("won_time", "contract_done"),
    ("contract_done", "invoice_time"),
    ("invoice_time", "onboard_start"),
    ("onboard_start", "onboarded_time"),
    ("invoice_time", "churn_time"),
)


def check_ledger(ledger: Ledger) -> None:
    """Assert every bookkeeping invariant of one ledger."""
    c = ledger.columns
    horizon = float(ledger.meta["horizon_hours"])
    outcome, seam, reason = c["outcome"], c["seam"], c["loss_reason"]
    n = ledger.n_leads
    assert all(len(values) == n for values in c.values())

    # Exactly one outcome per lead, from the known list.
    assert np.all((outcome >= 0) & (outcome < len(OUTCOMES))), "undecided or unknown outcome"
    counts = np.bincount(outcome, minlength=len(OUTCOMES))
    assert counts.sum() == n

    # Lost at a seam: a seam 1-4 and one of that seam's reasons; everyone else: seam 0.
    lost = outcome == LOST_AT_SEAM
    assert np.all(seam[~lost] == 0)
    assert np.all((seam[lost] >= 1) & (seam[lost] <= 4))
    reason_names = np.asarray(ledger.reason_names, dtype=object)
    for number, reasons in SEAM_REASONS.items():
        at = lost & (seam == number)
        assert set(reason_names[reason[at]]) <= set(reasons), f"seam {number}"
    assert np.all(reason[lost] > 0)
    assert np.all(np.isfinite(c["loss_time"][lost | (outcome == CLOSED_LOST)]))
    assert np.all(c["loss_time"][np.isfinite(c["loss_time"])] <= horizon)
    assert np.all(np.isfinite(c["churn_time"][outcome == CHURNED]))

    # Times: a story runs forward, and nothing happens after the horizon.
    for earlier, later in ORDERED_TIMES:
        both = np.isfinite(c[earlier]) & np.isfinite(c[later])
        assert np.all(c[earlier][both] <= c[later][both]), f"{earlier} after {later}"
    assert np.all(c["created"] < horizon)
    for name in ("first_response", "sql_time", "won_time", "invoice_time", "churn_time"):
        assert np.all(c[name][np.isfinite(c[name])] <= horizon), name

    # The funnel's stages are nested, so their counts fall monotonically.
    masks = stage_masks(ledger)
    for upper, lower in pairwise(STAGES):
        assert not np.any(masks[lower] & ~masks[upper]), f"{lower} outside {upper}"
    assert np.all(c["won"] <= c["opportunity"])

    # Every win is accounted for: customers (invoiced), deals that fell through at seam 2,
    # and wins still in flight at the horizon.
    won = c["won"]
    customer = np.isfinite(c["invoice_time"])
    later_seam = lost & (seam >= 3)
    fell_through = lost & (seam == 2) & (reason_names[reason] == "fell_through")
    assert np.array_equal(customer, (outcome == ACTIVE) | (outcome == CHURNED) | later_seam)
    assert np.all(won[customer]) and np.all(won[fell_through])
    assert won.sum() == customer.sum() + fell_through.sum() + (won & (outcome == IN_FLIGHT)).sum()
    assert not np.any(won & ~(customer | fell_through | (outcome == IN_FLIGHT)))

    # Money: nothing negative, nothing booked for a deal that was never won.
    for name in ("deal_value", "booked_arr", "arr_at_horizon", "invoiced_revenue"):
        assert np.all(c[name] >= 0), name
    assert np.all(c["horizon_revenue"] >= 0)
    assert np.all(c["booked_arr"][~won] == 0)
    assert np.all(c["booked_arr"] <= c["deal_value"] + 1e-9)
    assert np.all(c["arr_at_horizon"][~customer | (outcome != ACTIVE)] == 0)
    assert np.all(c["horizon_revenue"][~customer] == 0)

    # Terms: each belongs to a customer, starts at invoice, runs back to back, pays >= 0.
    terms = ledger.terms
    assert np.all(terms["arr"] >= 0)
    assert np.all(terms["next_arr"].dropna() >= 0)
    lead_ids = terms["lead_id"].to_numpy()
    assert np.all(customer[lead_ids]), "a term belongs to a lead that is not a customer"
    per_lead = np.bincount(lead_ids, minlength=n)
    assert np.array_equal(per_lead, c["terms"])
    assert np.all(c["terms"][customer] >= 1)
    first = terms[terms["term"] == 1]
    np.testing.assert_array_equal(
        first["start"].to_numpy(), c["invoice_time"][first["lead_id"].to_numpy()]
    )
    ordered = terms.sort_values(["lead_id", "term"])
    same_lead = ordered["lead_id"].to_numpy()[1:] == ordered["lead_id"].to_numpy()[:-1]
    np.testing.assert_allclose(
        ordered["start"].to_numpy()[1:][same_lead], ordered["end"].to_numpy()[:-1][same_lead]
    )
    assert np.all(terms["start"] < horizon)

    # Team levels are time averages of bounded levels.
    levels = ledger.team_levels
    assert np.all(levels["queue_length"] >= -1e-9)
    assert np.all((levels["occupancy"] >= -1e-9) & (levels["occupancy"] <= 1 + 1e-9))


def test_default_scenario_invariants() -> None:
    scenario = scenario_from_dict({"horizon_days": 730})
    for seed in range(2):
        check_ledger(fs.simulate(scenario, seed))


def test_invariants_where_every_outcome_occurs() -> None:
    """A busy company with a slow deal desk: every outcome and every later-seam loss occurs."""
    scenario = scenario_from_dict(
        {
            "horizon_days": 730,
            "sources": {
                "inbound": {"leads_per_week": 250, "fit": {"dist": "beta", "a": 4, "b": 3}}
            },
            "seam1": {"decay": {"half_life_hours": 48}},
            "sales": {"win_rate": {"smb": 0.5, "mid_market": 0.5, "enterprise": 0.5}},
            "seam2": {"fallthrough_per_week_waiting": 0.5},
            "seam4": {"term_months": 3},
        }
    )
    ledger = fs.simulate(scenario, 0)
    c = ledger.columns
    assert np.all(np.bincount(c["outcome"], minlength=len(OUTCOMES)) > 0)
    lost = c["outcome"] == LOST_AT_SEAM
    assert all(np.any(lost & (c["seam"] == number)) for number in SEAM_REASONS)
    assert np.any(c["won"] & (c["outcome"] == IN_FLIGHT))
    check_ledger(ledger)


def test_perfect_seams_invariants() -> None:
    scenario = scenario_from_dict({"horizon_days": 400})
    check_ledger(fs.simulate(scenario, 0, perfect_seams=[1, 2, 3, 4]))


# Strategies for random valid scenarios.

probability = st.floats(0.0, 1.0)
# Pass-through probabilities lean high so that enough leads reach the later seams, while
# the extremes 0 and 1 stay possible.
likely = st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.3, 1.0), st.floats(0.3, 1.0))
delay_hours = st.one_of(
    st.floats(0.0, 24.0),
    st.builds(
        lambda median, spread: {"dist": "lognormal", "median": median, "p90": median * spread},
        st.floats(0.1, 8.0),
        st.floats(1.1, 6.0),
    ),
    st.builds(lambda mean: {"dist": "exponential", "mean": mean}, st.floats(0.05, 8.0)),
)
work_time = st.one_of(
    st.builds(lambda mean: {"dist": "exponential", "mean": mean}, st.floats(0.05, 4.0)),
    st.builds(
        lambda median: {"dist": "lognormal", "median": median, "p90": 3 * median},
        st.floats(0.05, 2.0),
    ),
    st.floats(0.05, 2.0),
)
cycle_days = st.builds(
    lambda median, spread: {"dist": "lognormal", "median": median, "p90": median * spread},
    st.floats(1.0, 60.0),
    st.floats(1.2, 4.0),
)


@st.composite
def team_with_segments(draw: st.DrawFn, routing: str, max_heads: int) -> dict[str, Any]:
    """A team spec; with by_segment routing, heads per segment adding up to the headcount."""
    if routing == "by_segment":
        heads = [draw(st.integers(0, max_heads)) for _ in SEGMENTS]
        if sum(heads) == 0:
            heads[0] = 1
        return {"headcount": sum(heads), "segments": dict(zip(SEGMENTS, heads, strict=True))}
    return {"headcount": draw(st.integers(1, max_heads))}


def _empty(team: dict[str, Any]) -> None:
    """Make a team headless (a corner case: work routed to nobody, or waiting forever)."""
    team["headcount"] = 0
    if "segments" in team:
        team["segments"] = dict.fromkeys(team["segments"], 0)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    """A random valid scenario as a raw dict, including awkward corners."""
    sdr_routing = draw(st.sampled_from(ROUTINGS))
    ae_routing = draw(st.sampled_from(ROUTINGS))
    sdr = draw(team_with_segments(sdr_routing, 3))
    sdr["capacity_per_head"] = draw(st.integers(1, 4))
    sdr["work_time"] = draw(work_time)
    ae = draw(team_with_segments(ae_routing, 4))
    ae["capacity_per_head"] = draw(st.integers(1, 30))
    teams: dict[str, Any] = {
        "sdr": sdr,
        "ae": ae,
        "deal_desk": {"headcount": draw(st.integers(1, 2)), "work_time": draw(work_time)},
        "csm": {"headcount": draw(st.integers(1, 3)), "capacity_per_head": 10},
    }
    seam1: dict[str, Any] = {
        "routing": sdr_routing,
        "response_delay": draw(delay_hours),
        "decay": {
            "half_life_hours": draw(st.one_of(st.none(), st.floats(2.0, 72.0))),
            "floor": draw(probability),
        },
        "acceptance": {"p_accept_fit": draw(likely), "p_accept_unfit": draw(probability)},
    }
    sla = draw(st.sampled_from(["none", "sla", "sla_with_fallback"]))
    if sla != "none":
        seam1["sla_hours"] = draw(st.floats(0.25, 48.0))
    if sla == "sla_with_fallback":
        teams["backup"] = {"headcount": draw(st.integers(1, 2)), "work_time": draw(work_time)}
        seam1["fallback_team"] = "backup"
        seam1["fallback_response_delay"] = draw(delay_hours)
    if draw(st.booleans()):
        teams["sdr"]["calendar"] = {
            "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "hours": [0, 24],
        }
    empty = draw(st.sampled_from([None, None, None, None, *teams]))
    if empty is not None:
        _empty(teams[empty])
    per_segment = st.fixed_dictionaries({s: likely for s in SEGMENTS})
    return {
        "horizon_days": draw(st.integers(60, 400)),
        "sources": {
            "inbound": {
                "leads_per_week": draw(st.one_of(st.floats(5.0, 80.0), st.just(0.0))),
                "fit": {"dist": "beta", "a": draw(st.floats(0.5, 5)), "b": draw(st.floats(0.5, 5))},
            },
            "referral": {"leads_per_week": draw(st.floats(0.0, 10.0))},
        },
        "marketing": {
            "scoring": {
                "mql_threshold": draw(st.floats(0.0, 0.6)),
                "noise_sd": draw(st.floats(0, 0.5)),
            },
            "nurture": {"resurface_prob": draw(probability)},
            "data_decay_per_year": draw(st.floats(0.0, 0.4)),
        },
        "teams": teams,
        "seam1": seam1,
        "sales": {
            "routing": ae_routing,
            "qualify_prob": draw(per_segment),
            "win_rate": draw(per_segment),
            "cycle_days": {s: draw(cycle_days) for s in SEGMENTS},
            "slip": {"prob": draw(probability)},
        },
        "seam2": {
            "nonstandard_share": draw(probability),
            "fallthrough_per_week_waiting": draw(st.floats(0.0, 0.5)),
            "approval_delay_days": draw(st.floats(0.0, 20.0)),
            "contract_error_prob": draw(probability),
            "contract_error_value_loss": draw(probability),
            "invoice_delay_days": draw(st.floats(0.0, 30.0)),
        },
        "seam3": {
            "context_transfer_prob": draw(probability),
            "onboarding_days": draw(st.floats(0.0, 90.0)),
        },
        "seam4": {
            "term_months": draw(st.integers(1, 12)),
            "trigger_days_before_end": draw(st.floats(0.0, 120.0)),
            "expansion": {"prob": draw(st.floats(0.0, 0.5))},
            "contraction": {"prob": draw(st.floats(0.0, 0.5))},
        },
    }


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=scenarios(),
    seed=st.integers(0, 2**31 - 1),
    perfect=st.sets(st.integers(1, 4), max_size=2),
)
def test_random_scenarios_invariants(spec: dict[str, Any], seed: int, perfect: set[int]) -> None:
    check_ledger(fs.simulate(scenario_from_dict(spec), seed, perfect_seams=perfect))
