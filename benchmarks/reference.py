"""A straightforward SimPy model of the same funnel: the yardstick for ``bench.py``.

One SimPy process per lead, a ``simpy.Resource`` per team (heads x slots, one pooled
queue), every random number drawn one at a time from a numpy Generator as the lead goes.
It walks the same stages as funnelsim (arrival, scoring and nurture, SDR response, queue
and work with decay and acceptance, AE discovery, cycle and win, deal desk with approval,
fall-through and invoice, CSM onboarding, early churn and renewals until the horizon)
with the scenario's own numbers, but none of funnelsim's machinery: no fate matrix, no
bulk phases, no coupling. Where the scenario uses them it also walks the sales stages
(a timeout per stage, stalls, the chance of moving on), loses an SQL that waited for an
AE by the follow-up curve, upsells during a term and runs the starting book's customers
from time 0, so both engines do the same work. Arrivals are plain Poisson at each
source's weekly rate (no seasonality or office-hours profile), so it sees about the same
number of leads.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.scenario.models import Scenario

HOURS_PER_DAY = 24.0
HOURS_PER_WEEK = 168.0
HOURS_PER_YEAR = 8760.0


def draw(dist: Any, rng: np.random.Generator) -> float:
    """One draw from a scenario distribution, with the Generator's own sampler."""
    kind = dist.dist
    if kind == "fixed":
        return dist.value
    if kind == "exponential":
        return rng.exponential(dist.mean_)
    if kind == "lognormal":
        return rng.lognormal(dist.mu, dist.sigma)
    if kind == "gamma":
        return rng.gamma(dist.shape, dist.scale)
    if kind == "beta":
        return rng.beta(dist.a, dist.b)
    if kind == "uniform":
        return rng.uniform(dist.low, dist.high)
    if kind == "weibull":
        return dist.scale * rng.weibull(dist.shape)
    if kind == "triangular":
        return rng.triangular(dist.low, dist.mode, dist.high)
    return float(dist.ppf(np.array([rng.random()]))[0])


class ReferenceFunnel:
    """The funnel as one SimPy process per lead; ``run`` returns counts and events."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.s = scenario
        self.rng = np.random.default_rng(seed)
        self.env = simpy.Environment()
        self.horizon = scenario.horizon_hours
        span = self.horizon + 3 * HOURS_PER_YEAR
        self.calendar = {
            name: WorkCalendar(scenario.team_calendar(name), scenario.start_date, span)
            for name in scenario.teams
        }
        self.resource = {
            name: simpy.Resource(self.env, capacity=max(1, t.headcount * t.capacity_per_head))
            for name, t in scenario.teams.items()
        }
        self.segments = list(scenario.segments)
        self.outcomes: Counter[str] = Counter()
        decay, followup = scenario.seam1.decay, scenario.sales.followup_decay
        self.reach = (decay and decay.chance_function()) or (lambda _wait: 1.0)
        self.followup = (followup and followup.chance_function()) or (lambda _wait: 1.0)
        self.n_leads = 0
        p_renew = sorted(scenario.seam4.renew_prob.items())
        self.p_renew = float(
            np.interp(scenario.seam4.trigger_days_before_end, *zip(*p_renew, strict=True))
        )

    def run(self) -> dict[str, Any]:
        """Simulate to the horizon; leads, SimPy events and outcome counts."""
        for spec in self.s.sources.values():
            self.env.process(self._source(spec))
        self._book_customers()
        self.env.run(until=self.horizon)
        events = next(self.env._eid)  # SimPy numbers every event it schedules
        in_flight = self.n_leads - sum(self.outcomes.values())
        return {
            "n_leads": self.n_leads,
            "simpy_events": events,
            "outcomes": dict(self.outcomes, in_flight=in_flight),
        }

    def _source(self, spec: Any):
        rng, env = self.rng, self.env
        if spec.leads_per_week <= 0:
            return
        mean_gap = HOURS_PER_WEEK / spec.leads_per_week
        while True:
            yield env.timeout(rng.exponential(mean_gap))
            if env.now >= self.horizon:
                return
            self.n_leads += 1
            env.process(self._lead(spec))

    def _book_customers(self) -> None:
        """The starting book's customers: each one's term loop from time 0."""
        book = self.s.book
        if book is None:
            return
        term_hours = self.s.seam4.term_months * HOURS_PER_YEAR / 12
        for group in book.customers:
            name = group.segment
            for _ in range(group.count):
                self.n_leads += 1
                arr = float(self.s.segments[name].deal_value.ppf(np.array([self.rng.random()]))[0])
                end = self.rng.random() * term_hours
                self.env.process(self._terms(name, arr, end, term_hours, p_churn=None))

    def _segment(self, spec: Any) -> int:
        shares = spec.segment_mix or {k: v.share for k, v in self.s.segments.items()}
        weights = [shares.get(name, 0.0) for name in self.segments]
        u = self.rng.random() * sum(weights)
        for code, weight in enumerate(weights):
            u -= weight
            if u < 0:
                return code
        return len(weights) - 1

    def _work(self, team: str, work: float):
        """Wait for the team's calendar to open, then work ``work`` working hours."""
        env, calendar = self.env, self.calendar[team]
        opening = calendar.next_open(env.now)
        if opening > env.now:
            yield env.timeout(opening - env.now)
        start = env.now
        yield env.timeout(calendar.add_working_hours(start, work) - start)
        return start

    def _lead(self, spec: Any):
        s, rng, env = self.s, self.rng, self.env
        segment = self._segment(spec)
        name = self.segments[segment]
        fit = min(1.0, max(0.0, draw(spec.fit, rng)))
        score = fit + s.marketing.scoring.noise_sd * rng.standard_normal()
        is_fit = rng.random() < fit
        created = env.now
        stale_at = math.inf
        decay_rate = s.marketing.data_decay_per_year
        if decay_rate > 1e-12:
            stale_at = created + rng.exponential(-HOURS_PER_YEAR / math.log1p(-decay_rate))
        if score < s.marketing.scoring.mql_threshold:
            if rng.random() >= s.marketing.nurture.resurface_prob:
                self.outcomes["scored_out" if is_fit else "not_a_fit"] += 1
                return
            yield env.timeout(draw(s.marketing.nurture.resurface_after_days, rng) * HOURS_PER_DAY)
        mql_time = env.now

        # Seam 1: response delay, the SDR queue, work, decay and acceptance.
        yield env.timeout(draw(s.seam1.response_delay, rng))
        sdr = s.seam1.team
        with self.resource[sdr].request() as request:
            yield request
            first_response = yield from self._work(sdr, draw(s.teams[sdr].work_time, rng))
        wait = first_response - mql_time
        reach = self.reach(wait) if wait > 0 else 1.0
        if not is_fit:
            if rng.random() >= s.seam1.acceptance.p_accept_unfit * reach:
                self.outcomes["not_a_fit"] += 1
                return
        elif first_response > stale_at:
            self.outcomes["stale_contact"] += 1
            return
        elif rng.random() >= reach:
            self.outcomes["went_cold"] += 1
            return
        elif rng.random() >= s.seam1.acceptance.p_accept_fit:
            self.outcomes["rejected"] += 1
            return

        # Sales: discovery, opportunity (lost if it waited too long for an AE), then the
        # stages one by one, or the one-stage cycle (with slip) and win.
        sales = s.sales
        sql_time = env.now
        with self.resource[sales.team].request() as request:
            yield request
            followup = self.followup(env.now - sql_time)
            yield env.timeout(draw(sales.discovery_days, rng) * HOURS_PER_DAY)
            if not (is_fit and rng.random() < sales.qualify_prob[name] * followup):
                self.outcomes["disqualified"] += 1
                return
            if sales.stages is None:
                cycle = draw(sales.cycle_days[name], rng)
                if rng.random() < sales.slip.prob:
                    cycle += draw(sales.slip.extra_days, rng)
                yield env.timeout(cycle * HOURS_PER_DAY)
                if rng.random() >= sales.win_rate[name]:
                    self.outcomes["closed_lost"] += 1
                    return
            else:
                for stage in sales.stages.values():
                    days = draw(stage.days_for(name), rng)
                    if rng.random() < stage.stall.prob:
                        days += draw(stage.stall.extra_days, rng)
                    yield env.timeout(days * HOURS_PER_DAY)
                    if rng.random() >= stage.advance_for(name):
                        self.outcomes["closed_lost"] += 1
                        return
        won_at = env.now

        # Seam 2: deal desk, approval, fall-through while waiting, invoice.
        seam2 = s.seam2
        desk = seam2.team
        with self.resource[desk].request() as request:
            yield request
            yield from self._work(desk, draw(s.teams[desk].work_time, rng))
        if rng.random() < seam2.nonstandard_share:
            yield env.timeout(draw(seam2.approval_delay_days, rng) * HOURS_PER_DAY)
        waited_weeks = (env.now - won_at) / HOURS_PER_WEEK
        if rng.random() < 1 - math.exp(-seam2.fallthrough_per_week_waiting * waited_weeks):
            self.outcomes["fell_through"] += 1
            return
        arr = s.segments[name].deal_value.ppf(np.array([rng.random()]))[0]
        if rng.random() < seam2.contract_error_prob:
            arr *= 1 - seam2.contract_error_value_loss
        yield env.timeout(draw(seam2.invoice_delay_days, rng) * HOURS_PER_DAY)
        invoiced_at = env.now

        # Seam 3: onboarding by a CSM, then early churn at the first term's end.
        seam3 = s.seam3
        context = rng.random() < seam3.context_transfer_prob
        with self.resource[seam3.team].request() as request:
            yield request
            yield env.timeout(draw(seam3.onboarding_days, rng) * HOURS_PER_DAY)
        onboard_days = (env.now - invoiced_at) / HOURS_PER_DAY
        rule = seam3.early_churn_prob
        p_churn = rule.with_context if context else rule.without_context
        late_weeks = max(0.0, onboard_days - rule.target_onboarding_days) / 7
        p_churn = min(1.0, p_churn + rule.per_extra_week * late_weeks)

        # Seam 4: terms until churn or the horizon.
        term_hours = s.seam4.term_months * HOURS_PER_YEAR / 12
        yield from self._terms(name, arr, invoiced_at + term_hours, term_hours, p_churn)

    def _terms(self, name: str, arr: float, term_end: float, term_hours: float, p_churn):
        """Terms until churn or the horizon: an upsell during each, renewal at its end."""
        env, rng, seam4 = self.env, self.rng, self.s.seam4
        upsell_rate = seam4.upsell.rate(name) / HOURS_PER_YEAR
        while True:
            if upsell_rate > 0:
                upsell_at = env.now + rng.exponential(1 / upsell_rate)
                if upsell_at < term_end:
                    yield env.timeout(upsell_at - env.now)
                    arr *= 1 + draw(seam4.upsell.uplift, rng)
            yield env.timeout(max(0.0, term_end - env.now))
            if p_churn is not None and rng.random() < p_churn:
                self.outcomes["early_churn"] += 1
                return
            p_churn = None
            if rng.random() >= self.p_renew:
                self.outcomes["churned"] += 1
                return
            change = rng.random()
            if change < seam4.expansion.prob:
                arr *= 1 + draw(seam4.expansion.uplift, rng)
            elif change < seam4.expansion.prob + seam4.contraction.prob:
                arr *= 1 - seam4.contraction.cut
            term_end += term_hours


def run_reference(scenario: Scenario, seed: int) -> dict[str, Any]:
    """One replication of the reference model."""
    return ReferenceFunnel(scenario, seed).run()
