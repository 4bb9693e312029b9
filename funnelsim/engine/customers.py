"""Customers after invoicing: contract terms, early churn (seam 3), renewals (seam 4).

No queue is involved, so terms run in bulk over all customers, one term at a time, until
the horizon. Each term is one row of the terms table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funnelsim.engine.fates import TermFate
from funnelsim.engine.ledger import ACTIVE, CHURNED, LOST_AT_SEAM, REASON_CODE, floor32
from funnelsim.scenario.distributions import Distribution
from funnelsim.scenario.models import Scenario

HOURS_PER_YEAR = 8760.0
HOURS_PER_MONTH = HOURS_PER_YEAR / 12


@dataclass
class CustomerOutcome:
    """Per-customer results of the term loop, aligned with the customers passed in."""

    outcome: np.ndarray
    seam: np.ndarray
    reason: np.ndarray
    churn_time: np.ndarray
    arr_at_horizon: np.ndarray
    invoiced_revenue: np.ndarray
    horizon_revenue: np.ndarray
    n_terms: np.ndarray
    terms: pd.DataFrame


def renewal_curve(scenario: Scenario) -> tuple[float, float]:
    """Renewal probability at the scenario's trigger lead time, and at the best lead time."""
    points = sorted(scenario.seam4.renew_prob.items())
    days = np.array([d for d, _ in points], dtype=float)
    probs = np.array([p for _, p in points], dtype=float)
    at_trigger = float(np.interp(scenario.seam4.trigger_days_before_end, days, probs))
    return at_trigger, float(probs.max())


def max_terms(scenario: Scenario) -> int:
    """How many terms a customer can start within the horizon."""
    return int(np.ceil(scenario.horizon_days / (scenario.seam4.term_months * 365.0 / 12))) + 1


def run_terms(
    scenario: Scenario,
    lead: np.ndarray,
    start: np.ndarray,
    arr: np.ndarray,
    context: np.ndarray,
    onboarded_time: np.ndarray,
    early_churn_u: np.ndarray,
    term_u: np.ndarray,
    perfect_seams: frozenset[int],
    pay_hours: np.ndarray | None = None,
    ramp: np.ndarray | None = None,
    churn_at: np.ndarray | None = None,
    mature: np.ndarray | None = None,
    upsell: Upsells | None = None,
    stored: tuple[str, ...] = (),
) -> CustomerOutcome:
    """Play every customer's terms from its invoice date until churn or the horizon.

    ``mature`` marks the starting book's customers: their current term began before the
    run (``start`` <= 0), so it earns revenue only from time 0, its invoice fell before
    the run, and being past their first term they meet no early churn. ``upsell`` gives
    each customer's yearly upsell rate and uniforms: a term sees at most one upsell, at
    the first arrival of that Poisson process, co-termed and invoiced pro rata.

    ``pay_hours`` (customers x terms) is each invoice's time to be paid (0 when None).
    With products, ``ramp`` (customers x months) holds each customer's share of its
    monthly recurring revenue in its first months after go-live (the first term's start;
    later months bill in full) and ``churn_at`` the time its monthly churn strikes (inf:
    never). Monthly churn ends a customer mid-term at a month end; at a term's end the
    renewal decision applies to those still there. A term is invoiced upfront in full
    (its ramped months included) and never refunded. The terms table's ``stored`` time
    columns are held as stored (rounded down once to float32, ``floor32``).
    """
    horizon = scenario.horizon_hours
    seam3, seam4 = scenario.seam3, scenario.seam4
    term_hours = seam4.term_months * HOURS_PER_YEAR / 12
    p_renew, p_best = renewal_curve(scenario)
    if 4 in perfect_seams:
        p_renew = p_best
    n = len(lead)
    outcome = np.full(n, ACTIVE, dtype=np.int32)
    seam = np.zeros(n, dtype=np.int32)
    reason = np.zeros(n, dtype=np.int32)
    churn_time = np.full(n, np.nan)
    invoiced = np.zeros(n)
    revenue = np.zeros(n)
    n_terms = np.zeros(n, dtype=np.int32)
    current_arr = arr.astype(float).copy()
    alive = np.ones(n, dtype=bool)
    term_start = start.astype(float).copy()
    rows: list[dict[str, np.ndarray]] = []
    width = len(TermFate)
    for k in range(term_u.shape[1] // width):
        live = alive & (term_start < horizon)
        if not live.any():
            break
        idx = np.flatnonzero(live)
        end = term_start[idx] + term_hours
        # A book customer's current term started before the run: it counts from time 0.
        begin = np.maximum(term_start[idx], 0.0)
        n_terms[idx] += 1
        if ramp is None:
            term_invoice = current_arr[idx] * seam4.term_months / 12
        else:
            term_invoice = _ramped(current_arr[idx], ramp[idx], start[idx], term_start[idx], end)
        term_invoice = np.where(term_start[idx] < 0.0, 0.0, term_invoice)
        invoiced[idx] += term_invoice
        if churn_at is None:
            quits = np.zeros(len(idx), dtype=bool)
            stop = np.minimum(end, horizon)
        else:
            quits = (churn_at[idx] < horizon) & (churn_at[idx] <= end)
            stop = np.minimum(np.minimum(end, horizon), churn_at[idx])
        if ramp is None:
            revenue[idx] += current_arr[idx] * (stop - begin) / (HOURS_PER_YEAR)
        else:
            revenue[idx] += _ramped(current_arr[idx], ramp[idx], start[idx], begin, stop)
        term_arr = current_arr[idx].copy()
        up_time, up_arr, up_invoice = _upsells(upsell, idx, k, begin, stop, end, term_arr)
        if upsell is not None:
            span = np.where(np.isfinite(up_time), stop - up_time, 0.0)
            revenue[idx] += up_arr * span / HOURS_PER_YEAR
            invoiced[idx] += up_invoice
            current_arr[idx] += up_arr
        if quits.any():
            gone_now = idx[quits]
            outcome[gone_now] = CHURNED
            reason[gone_now] = REASON_CODE["churned"]
            churn_time[gone_now] = stop[quits]
            alive[gone_now] = False
        decided = (end <= horizon) & ~quits
        status = np.where(decided, "renewed", "in_force").astype(object)
        ends_idx = idx[decided]
        lost = np.zeros(len(ends_idx), dtype=bool)
        if k == 0:
            first = np.ones(len(ends_idx), dtype=bool) if mature is None else ~mature[ends_idx]
            lost[first] |= _early_churn(
                seam3,
                ends_idx[first],
                start,
                context,
                onboarded_time,
                end[decided][first],
                early_churn_u,
                perfect_seams,
                outcome,
                seam,
                reason,
            )
        u = term_u[ends_idx, k * width : (k + 1) * width]
        renews = u[:, TermFate.RENEW] < p_renew
        late = ~lost & ~renews & (u[:, TermFate.RENEW] < p_best)
        plain_churn = ~lost & ~renews & ~late
        outcome[ends_idx[late]] = LOST_AT_SEAM
        seam[ends_idx[late]] = 4
        reason[ends_idx[late]] = REASON_CODE["late_renewal"]
        outcome[ends_idx[plain_churn]] = CHURNED
        reason[ends_idx[plain_churn]] = REASON_CODE["churned"]
        gone = lost | late | plain_churn
        churn_time[ends_idx[gone]] = end[decided][gone]
        alive[ends_idx[gone]] = False
        staying = ends_idx[~gone]
        change = u[~gone, TermFate.CHANGE]
        expand = change < seam4.expansion.prob
        contract = ~expand & (change < seam4.expansion.prob + seam4.contraction.prob)
        uplift = seam4.expansion.uplift.ppf(u[~gone, TermFate.UPLIFT])
        current_arr[staying[expand]] *= 1.0 + uplift[expand]
        current_arr[staying[contract]] *= 1.0 - seam4.contraction.cut
        decided_status = np.where(gone, "churned", "renewed").astype(object)
        decided_status[~gone & _scatter(expand, ~gone)] = "expanded"
        decided_status[~gone & _scatter(contract, ~gone)] = "contracted"
        status[decided] = decided_status
        status[quits] = "churned"
        pay = 0.0 if pay_hours is None else pay_hours[idx, k]
        rows.append(
            {
                "lead_id": lead[idx],
                "term": np.full(len(idx), k + 1, dtype=np.int64),
                "start": term_start[idx],
                "end": np.where(quits, stop, end),
                "arr": term_arr,
                "status": status,
                "next_arr": np.where(decided, current_arr[idx], np.nan),
                "invoiced": term_invoice,
                "paid_time": term_start[idx] + pay,
                "upsell_time": up_time,
                "upsell_arr": up_arr,
                "upsell_invoiced": up_invoice,
                "upsell_paid_time": up_time + pay,
            }
        )
        term_start[idx] = end
    arr_at_horizon = np.where(alive, current_arr, 0.0)
    return CustomerOutcome(
        outcome,
        seam,
        reason,
        churn_time,
        arr_at_horizon,
        invoiced,
        revenue,
        n_terms,
        _terms_table(rows, stored),
    )


def _terms_table(rows: list[dict[str, np.ndarray]], stored: tuple[str, ...] = ()) -> pd.DataFrame:
    """The terms of every round as one frame (each round's columns joined first: a frame
    per round and their concatenation cost more); a churned term's next ARR is 0, the
    ``stored`` columns rounded down to float32 before the frame is made."""
    if not rows:
        terms = _empty_terms()
        for name in stored:
            terms[name] = floor32(terms[name].to_numpy())
        return terms
    columns = {name: np.concatenate([row[name] for row in rows]) for name in rows[0]}
    columns["next_arr"][columns["status"] == "churned"] = 0.0
    for name in stored:
        columns[name] = floor32(columns[name])
    return pd.DataFrame(columns)


@dataclass
class Upsells:
    """Each customer's yearly upsell rate and its upsell uniforms (two per term: time, size)."""

    rate: np.ndarray
    u: np.ndarray
    uplift: Distribution


def _upsells(
    upsell: Upsells | None,
    idx: np.ndarray,
    k: int,
    begin: np.ndarray,
    stop: np.ndarray,
    end: np.ndarray,
    arr: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Term k's upsell per live customer: time (NaN if none), ARR added, pro-rata invoice.

    The upsell comes at the first arrival of a Poisson process of the customer's rate
    from the term's (in-run) start, if before the term stops; its ARR is the term's ARR
    times the uplift, invoiced for the rest of the term.
    """
    none = np.zeros(len(idx))
    if upsell is None:
        return np.full(len(idx), np.nan), none, none
    rate = upsell.rate[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = -np.log1p(-upsell.u[idx, 2 * k]) / rate * HOURS_PER_YEAR
    at = begin + wait
    happens = at < stop
    size = np.where(happens, arr * upsell.uplift.ppf(upsell.u[idx, 2 * k + 1]), 0.0)
    invoice = size * np.where(happens, end - at, 0.0) / HOURS_PER_YEAR
    return np.where(happens, at, np.nan), size, invoice


def _early_churn(
    seam3,
    ends_idx: np.ndarray,
    start: np.ndarray,
    context: np.ndarray,
    onboarded_time: np.ndarray,
    end: np.ndarray,
    early_churn_u: np.ndarray,
    perfect_seams: frozenset[int],
    outcome: np.ndarray,
    seam: np.ndarray,
    reason: np.ndarray,
) -> np.ndarray:
    """Early churn at the first term's end; the share above the with-context base is seam 3's."""
    rule = seam3.early_churn_prob
    perfect = 3 in perfect_seams
    has_context = np.ones(len(ends_idx), dtype=bool) if perfect else context[ends_idx]
    p_context = np.where(has_context, rule.with_context, rule.without_context)
    finished = onboarded_time[ends_idx]
    taken_days = (np.where(np.isnan(finished), end, finished) - start[ends_idx]) / 24.0
    late_weeks = np.maximum(0.0, taken_days - rule.target_onboarding_days) / 7.0
    extra = 0.0 if perfect else rule.per_extra_week * late_weeks
    p_total = np.minimum(1.0, p_context + extra)
    u = early_churn_u[ends_idx]
    base = u < rule.with_context
    no_context = ~base & (u < p_context)
    slow = ~base & ~no_context & (u < p_total)
    outcome[ends_idx[base]] = CHURNED
    reason[ends_idx[base]] = REASON_CODE["churned"]
    for mask, why in ((no_context, "missing_context"), (slow, "slow_onboarding")):
        outcome[ends_idx[mask]] = LOST_AT_SEAM
        seam[ends_idx[mask]] = 3
        reason[ends_idx[mask]] = REASON_CODE[why]
    return base | no_context | slow


def ramp_area(ramp: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Months of full revenue earned in the first ``months`` months after go-live.

    ``ramp`` (rows x R) holds each row's factor for months 1..R; later months count 1.
    """
    m = np.arange(ramp.shape[1])
    within = np.clip(months[:, None] - m[None, :], 0.0, 1.0)
    return months - ((1.0 - ramp) * within).sum(axis=1)


def _ramped(
    arr: np.ndarray, ramp: np.ndarray, go_live: np.ndarray, begin: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Revenue of ARR ``arr`` from ``begin`` to ``end`` (hours) under each row's ramp."""
    a = (begin - go_live) / HOURS_PER_MONTH
    b = (end - go_live) / HOURS_PER_MONTH
    return arr / 12 * (ramp_area(ramp, b) - ramp_area(ramp, a))


def _scatter(mask: np.ndarray, where: np.ndarray) -> np.ndarray:
    out = np.zeros(len(where), dtype=bool)
    out[np.flatnonzero(where)] = mask
    return out


def _empty_terms() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "lead_id": pd.Series(dtype=np.int64),
            "term": pd.Series(dtype=np.int64),
            "start": pd.Series(dtype=float),
            "end": pd.Series(dtype=float),
            "arr": pd.Series(dtype=float),
            "status": pd.Series(dtype=object),
            "next_arr": pd.Series(dtype=float),
            "invoiced": pd.Series(dtype=float),
            "paid_time": pd.Series(dtype=float),
            "upsell_time": pd.Series(dtype=float),
            "upsell_arr": pd.Series(dtype=float),
            "upsell_invoiced": pd.Series(dtype=float),
            "upsell_paid_time": pd.Series(dtype=float),
        }
    )
