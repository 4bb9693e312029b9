"""A straightforward SimPy model of the same funnel: the yardstick for ``bench.py``.

One SimPy process per lead, a ``simpy.Resource`` per head (its slots) where the team
routes to heads (round robin; least loaded: the head with the fewest items, found by a
scan of the heads' loads) or one per team where it pools them, every random number drawn
one at a time from a numpy Generator as the lead goes.
It walks the same stages as funnelsim (arrival, scoring and nurture, SDR response, queue
and work with decay and acceptance, AE discovery, cycle and win, deal desk with approval,
fall-through and invoice, CSM onboarding, early churn and renewals until the horizon)
with the scenario's own numbers, but none of funnelsim's machinery: no fate matrix, no
bulk phases, no coupling. Where the scenario uses them it also walks the sales stages
(a timeout per stage, stalls, the chance of moving on), loses an SQL that waited for an
AE by the follow-up curve, upsells during a term and runs the starting book's customers
from time 0, so both engines do the same work.

It also produces what funnelsim's ledger holds, the plain way:

- arrivals: each source a non-homogeneous Poisson process (monthly seasonality, the
  business-hours share concentrated in the calendar's open hours, as funnelsim's
  arrivals): one unit exponential per lead, mapped through the cumulative hourly
  intensity (a ``bisect`` in a table of the horizon's hours);
- a record per lead (a dict of its times, flags and values, filled in as the lead goes,
  written to the ledger's columns when the lead's outcome is known or at the horizon)
  and a row per sales-stage entry and per contract term, made into tables at the end;
- each team's busy slots and queue length counted and logged at every request, start
  and release, integrated into weekly occupancy and mean queue length at the end.

Left out, because the benchmark's scenarios make them negligible or absent: the starting
book's open opportunities and queued leads (75 records at every scale), SLA re-routing,
staffing changes, shifts, outbound and products (not in the baseline); by-segment routing
routes round robin over all heads.
"""

from __future__ import annotations

import math
from array import array
from bisect import bisect_right
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.scenario.models import Scenario

HOURS_PER_DAY = 24.0
HOURS_PER_WEEK = 168.0
HOURS_PER_YEAR = 8760.0
NAN = math.nan
# The ledger's columns (a lead's record lacks those it never reached: NaN).
FIELDS = (
    "source", "segment", "created", "fit", "score", "is_fit", "resurfaced", "mql_time",
    "first_response", "sql_time", "ae_start", "opp_time", "slipped", "stale_stage",
    "won_time", "nonstandard", "contract_done", "contract_error", "deal_value",
    "invoice_time", "context_transferred", "onboard_start", "onboarded_time", "terms",
    "from_book", "end_time",
)  # fmt: skip
OUTCOMES = (
    "in_flight", "scored_out", "not_a_fit", "stale_contact", "went_cold", "rejected",
    "disqualified", "closed_lost", "fell_through", "early_churn", "churned",
)  # fmt: skip
MISSING = (NAN,) * len(FIELDS)
OUTCOME_CODE = {name: code for code, name in enumerate(OUTCOMES)}


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


def hourly_intensity(scenario: Scenario, source: Any) -> list[float]:
    """A source's relative arrival intensity per hour of the horizon (mean about 1):
    its month's seasonality times the business-hours weight of the hour."""
    hours = math.ceil(scenario.horizon_hours)
    calendar = WorkCalendar(scenario.calendar, scenario.start_date, hours + 24.0)
    edges = np.arange(hours + 1, dtype=float)
    open_share = np.diff(calendar.working_hours_array(edges))
    start = np.datetime64(scenario.start_date, "h")
    month = (start + edges[:-1].astype("timedelta64[h]")).astype("datetime64[M]")
    season = np.ones(12) if source.seasonality is None else np.asarray(source.seasonality)
    weight = np.ones(hours)
    share, mean_open = source.business_hours_share, float(open_share.mean())
    if share is not None and 0.0 < mean_open < 1.0:
        inside, outside = share / mean_open, (1.0 - share) / (1.0 - mean_open)
        weight = inside * open_share + outside * (1.0 - open_share)
    return (season[month.astype(np.int64) % 12] * weight).tolist()


def weekly_levels(log: array, horizon: float) -> pd.DataFrame:
    """Weekly time-weighted mean busy slots and queue length from a team's level log
    (time, busy, queue triples)."""
    n_weeks = math.ceil(horizon / HOURS_PER_WEEK)
    if not log:
        return pd.DataFrame({"week": range(n_weeks), "busy": 0.0, "queue": 0.0})
    table = np.frombuffer(log).reshape(-1, 3)
    times = np.append(table[:, 0], horizon)
    span = np.diff(times)
    week = np.minimum((times[:-1] // HOURS_PER_WEEK).astype(np.int64), n_weeks - 1)
    busy = np.bincount(week, table[:, 1] * span, n_weeks) / HOURS_PER_WEEK
    queue = np.bincount(week, table[:, 2] * span, n_weeks) / HOURS_PER_WEEK
    return pd.DataFrame({"week": range(n_weeks), "busy": busy, "queue": queue})


class ReferenceFunnel:
    """The funnel as one SimPy process per lead; ``run`` returns counts and table sizes."""

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
        routing = {
            scenario.seam3.team: "pooled",
            scenario.seam2.team: "pooled",
            scenario.sales.team: scenario.sales.routing,
            scenario.seam1.team: scenario.seam1.routing,
        }
        self.routing = {name: routing.get(name, "pooled") for name in scenario.teams}
        self.heads: dict[str, list[simpy.Resource]] = {}
        for name, team in scenario.teams.items():
            if self.routing[name] == "pooled":
                slots = max(1, team.headcount * team.capacity_per_head)
                self.heads[name] = [simpy.Resource(self.env, capacity=slots)]
            else:
                self.heads[name] = [
                    simpy.Resource(self.env, capacity=max(1, team.capacity_per_head))
                    for _ in range(max(1, team.headcount))
                ]
        self.load = {name: [0] * len(heads) for name, heads in self.heads.items()}
        self.turn = dict.fromkeys(scenario.teams, 0)
        self.busy = dict.fromkeys(scenario.teams, 0)
        self.queued = dict.fromkeys(scenario.teams, 0)
        self.segments = list(scenario.segments)
        self.segment_weights = []
        for spec in scenario.sources.values():
            shares = spec.segment_mix or {k: v.share for k, v in scenario.segments.items()}
            self.segment_weights.append([shares.get(name, 0.0) for name in self.segments])
        self.outcomes: Counter[str] = Counter()
        self.live: dict[int, dict[str, Any]] = {}
        self.ledger = array("d")  # FIELDS per lead, row after row
        self.ledger_lead = array("q")
        self.ledger_outcome = array("b")
        self.stage_rows: list[tuple[int, str, float]] = []
        self.term_rows: list[tuple[int, int, float, float, float, str]] = []
        self.levels = {name: array("d") for name in scenario.teams}
        decay, followup = scenario.seam1.decay, scenario.sales.followup_decay
        self.reach = (decay and decay.chance_function()) or (lambda _wait: 1.0)
        self.followup = (followup and followup.chance_function()) or (lambda _wait: 1.0)
        self.n_leads = 0
        p_renew = sorted(scenario.seam4.renew_prob.items())
        self.p_renew = float(
            np.interp(scenario.seam4.trigger_days_before_end, *zip(*p_renew, strict=True))
        )

    def run(self) -> dict[str, Any]:
        """Simulate to the horizon; leads, SimPy events, outcome counts and table sizes."""
        for index, spec in enumerate(self.s.sources.values()):
            self.env.process(self._source(index, spec))
        self._book_customers()
        self.env.run(until=self.horizon)
        events = next(self.env._eid)  # SimPy numbers every event it schedules
        in_flight = self.n_leads - sum(self.outcomes.values())
        for record in list(self.live.values()):
            self._write(record, "in_flight")
        ledger = pd.DataFrame(np.frombuffer(self.ledger).reshape(-1, len(FIELDS)), columns=FIELDS)
        ledger.insert(0, "lead", np.frombuffer(self.ledger_lead, dtype=np.int64))
        ledger["outcome"] = pd.Categorical.from_codes(
            np.frombuffer(self.ledger_outcome, dtype=np.int8), categories=list(OUTCOMES)
        )
        stages = pd.DataFrame(self.stage_rows, columns=["lead", "stage", "entered"])
        terms = pd.DataFrame(
            self.term_rows, columns=["lead", "term", "start", "end", "arr", "result"]
        )
        levels = {name: weekly_levels(log, self.horizon) for name, log in self.levels.items()}
        return {
            "n_leads": self.n_leads,
            "simpy_events": events,
            "outcomes": dict(self.outcomes, in_flight=in_flight),
            "ledger_rows": len(ledger),
            "stage_rows": len(stages),
            "term_rows": len(terms),
            "team_weeks": sum(len(table) for table in levels.values()),
        }

    def _source(self, index: int, spec: Any):
        """Arrivals by inversion: each lead one unit exponential further along the source's
        cumulative intensity, placed inside the hour it falls in."""
        rng, env = self.rng, self.env
        if spec.leads_per_week <= 0:
            return
        rate = spec.leads_per_week / HOURS_PER_WEEK
        cumulative = [0.0]
        for weight in hourly_intensity(self.s, spec):
            cumulative.append(cumulative[-1] + rate * weight)
        total, reached = cumulative[-1], 0.0
        while True:
            reached += rng.exponential()
            if reached >= total:
                return
            hour = bisect_right(cumulative, reached) - 1
            low, high = cumulative[hour], cumulative[hour + 1]
            t = min(hour + (reached - low) / (high - low), self.horizon)
            yield env.timeout(t - env.now)
            self.n_leads += 1
            record = {"lead": self.n_leads, "source": index, "created": t}
            self.live[self.n_leads] = record
            env.process(self._lead(spec, record))

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
                segment = self.segments.index(name)
                record = {"lead": self.n_leads, "segment": segment, "from_book": True}
                self.live[self.n_leads] = record
                self.env.process(self._terms(record, name, arr, end, term_hours, None))

    def _segment(self, source: int) -> int:
        """A segment code drawn from the source's mix (weights worked out once per source)."""
        weights = self.segment_weights[source]
        u = self.rng.random() * sum(weights)
        for code, weight in enumerate(weights):
            u -= weight
            if u < 0:
                return code
        return len(weights) - 1

    def _route(self, team: str) -> int:
        """The head a new item joins: in turn, the least loaded, or the pool (0)."""
        rule, load = self.routing[team], self.load[team]
        if rule == "least_loaded":
            head = load.index(min(load))
        elif rule == "pooled":
            head = 0
        else:
            head = self.turn[team] % len(load)
            self.turn[team] += 1
        load[head] += 1
        return head

    def _log(self, team: str, busy: int, queued: int) -> None:
        """Count a request (queued +1), a start (queued -1, busy +1) or a release (busy -1)
        and log the team's levels."""
        self.busy[team] += busy
        self.queued[team] += queued
        self.levels[team].extend((self.env.now, self.busy[team], self.queued[team]))

    def _release(self, team: str, head: int) -> None:
        """An item left its head (its slot freed as the ``with`` block ended)."""
        self.load[team][head] -= 1
        self._log(team, -1, 0)

    def _end(self, record: dict[str, Any], outcome: str) -> None:
        """The lead's outcome: counted, and its record written to the ledger."""
        self.outcomes[outcome] += 1
        record["end_time"] = self.env.now
        self._write(record, outcome)

    def _write(self, record: dict[str, Any], outcome: str) -> None:
        """A lead's record into the ledger's columns (NaN where it never got)."""
        del self.live[record["lead"]]
        self.ledger.extend(map(record.get, FIELDS, MISSING))
        self.ledger_lead.append(record["lead"])
        self.ledger_outcome.append(OUTCOME_CODE[outcome])

    def _work(self, team: str, work: float):
        """Wait for the team's calendar to open, then work ``work`` working hours."""
        env, calendar = self.env, self.calendar[team]
        opening = calendar.next_open(env.now)
        if opening > env.now:
            yield env.timeout(opening - env.now)
        start = env.now
        yield env.timeout(calendar.add_working_hours(start, work) - start)
        return start

    def _lead(self, spec: Any, record: dict[str, Any]):
        s, rng, env = self.s, self.rng, self.env
        segment = self._segment(record["source"])
        name = self.segments[segment]
        fit = min(1.0, max(0.0, draw(spec.fit, rng)))
        score = fit + s.marketing.scoring.noise_sd * rng.standard_normal()
        is_fit = rng.random() < fit
        record.update(segment=segment, fit=fit, score=score, is_fit=is_fit)
        created = env.now
        stale_at = math.inf
        decay_rate = s.marketing.data_decay_per_year
        if decay_rate > 1e-12:
            stale_at = created + rng.exponential(-HOURS_PER_YEAR / math.log1p(-decay_rate))
        if score < s.marketing.scoring.mql_threshold:
            if rng.random() >= s.marketing.nurture.resurface_prob:
                self._end(record, "scored_out" if is_fit else "not_a_fit")
                return
            record["resurfaced"] = True
            yield env.timeout(draw(s.marketing.nurture.resurface_after_days, rng) * HOURS_PER_DAY)
        mql_time = env.now
        record["mql_time"] = mql_time

        # Seam 1: response delay, the SDR queue, work, decay and acceptance.
        yield env.timeout(draw(s.seam1.response_delay, rng))
        sdr = s.seam1.team
        head = self._route(sdr)
        with self.heads[sdr][head].request() as request:
            self._log(sdr, 0, 1)
            yield request
            self._log(sdr, 1, -1)
            first_response = yield from self._work(sdr, draw(s.teams[sdr].work_time, rng))
        self._release(sdr, head)
        record["first_response"] = first_response
        wait = first_response - mql_time
        reach = self.reach(wait) if wait > 0 else 1.0
        if not is_fit:
            if rng.random() >= s.seam1.acceptance.p_accept_unfit * reach:
                self._end(record, "not_a_fit")
                return
        elif first_response > stale_at:
            self._end(record, "stale_contact")
            return
        elif rng.random() >= reach:
            self._end(record, "went_cold")
            return
        elif rng.random() >= s.seam1.acceptance.p_accept_fit:
            self._end(record, "rejected")
            return

        # Sales: discovery, opportunity (lost if it waited too long for an AE), then the
        # stages one by one, or the one-stage cycle (with slip) and win.
        sales = s.sales
        sql_time = env.now
        record["sql_time"] = sql_time
        head = self._route(sales.team)
        with self.heads[sales.team][head].request() as request:
            self._log(sales.team, 0, 1)
            yield request
            self._log(sales.team, 1, -1)
            won = yield from self._sales(record, name, is_fit, sql_time)
        self._release(sales.team, head)
        if not won:
            return
        won_at = env.now
        record["won_time"] = won_at

        # Seam 2: deal desk, approval, fall-through while waiting, invoice.
        seam2 = s.seam2
        desk = seam2.team
        head = self._route(desk)
        with self.heads[desk][head].request() as request:
            self._log(desk, 0, 1)
            yield request
            self._log(desk, 1, -1)
            yield from self._work(desk, draw(s.teams[desk].work_time, rng))
        self._release(desk, head)
        if rng.random() < seam2.nonstandard_share:
            record["nonstandard"] = True
            yield env.timeout(draw(seam2.approval_delay_days, rng) * HOURS_PER_DAY)
        record["contract_done"] = env.now
        waited_weeks = (env.now - won_at) / HOURS_PER_WEEK
        if rng.random() < 1 - math.exp(-seam2.fallthrough_per_week_waiting * waited_weeks):
            self._end(record, "fell_through")
            return
        arr = s.segments[name].deal_value.ppf(np.array([rng.random()]))[0]
        if rng.random() < seam2.contract_error_prob:
            record["contract_error"] = True
            arr *= 1 - seam2.contract_error_value_loss
        record["deal_value"] = arr
        yield env.timeout(draw(seam2.invoice_delay_days, rng) * HOURS_PER_DAY)
        invoiced_at = env.now
        record["invoice_time"] = invoiced_at

        # Seam 3: onboarding by a CSM, then early churn at the first term's end.
        seam3 = s.seam3
        context = rng.random() < seam3.context_transfer_prob
        record["context_transferred"] = context
        head = self._route(seam3.team)
        with self.heads[seam3.team][head].request() as request:
            self._log(seam3.team, 0, 1)
            yield request
            self._log(seam3.team, 1, -1)
            record["onboard_start"] = env.now
            yield env.timeout(draw(seam3.onboarding_days, rng) * HOURS_PER_DAY)
        self._release(seam3.team, head)
        record["onboarded_time"] = env.now
        onboard_days = (env.now - invoiced_at) / HOURS_PER_DAY
        rule = seam3.early_churn_prob
        p_churn = rule.with_context if context else rule.without_context
        late_weeks = max(0.0, onboard_days - rule.target_onboarding_days) / 7
        p_churn = min(1.0, p_churn + rule.per_extra_week * late_weeks)

        # Seam 4: terms until churn or the horizon.
        term_hours = s.seam4.term_months * HOURS_PER_YEAR / 12
        yield from self._terms(record, name, arr, invoiced_at + term_hours, term_hours, p_churn)

    def _sales(self, record: dict[str, Any], name: str, is_fit: bool, sql_time: float):
        """An SQL with its AE: discovery, opportunity (lost if it waited too long for an
        AE), then the stages one by one or the one-stage cycle (with slip); won or not."""
        s, rng, env = self.s, self.rng, self.env
        sales = s.sales
        record["ae_start"] = env.now
        followup = self.followup(env.now - sql_time)
        yield env.timeout(draw(sales.discovery_days, rng) * HOURS_PER_DAY)
        if not (is_fit and rng.random() < sales.qualify_prob[name] * followup):
            self._end(record, "disqualified")
            return False
        record["opp_time"] = env.now
        if sales.stages is None:
            cycle = draw(sales.cycle_days[name], rng)
            if rng.random() < sales.slip.prob:
                record["slipped"] = True
                cycle += draw(sales.slip.extra_days, rng)
            yield env.timeout(cycle * HOURS_PER_DAY)
            if rng.random() >= sales.win_rate[name]:
                self._end(record, "closed_lost")
                return False
        else:
            for stage_name, stage in sales.stages.items():
                self.stage_rows.append((record["lead"], stage_name, env.now))
                days = draw(stage.days_for(name), rng)
                if rng.random() < stage.stall.prob:
                    record["stale_stage"] = True
                    days += draw(stage.stall.extra_days, rng)
                yield env.timeout(days * HOURS_PER_DAY)
                if rng.random() >= stage.advance_for(name):
                    self._end(record, "closed_lost")
                    return False
        return True

    def _terms(
        self,
        record: dict[str, Any],
        name: str,
        arr: float,
        term_end: float,
        term_hours: float,
        p_churn: float | None,
    ):
        """Terms until churn or the horizon: an upsell during each, renewal at its end; a
        row per term."""
        env, rng, seam4 = self.env, self.rng, self.s.seam4
        upsell_rate = seam4.upsell.rate(name) / HOURS_PER_YEAR
        lead, term = record["lead"], 0
        while True:
            if upsell_rate > 0:
                upsell_at = env.now + rng.exponential(1 / upsell_rate)
                if upsell_at < term_end:
                    yield env.timeout(upsell_at - env.now)
                    arr *= 1 + draw(seam4.upsell.uplift, rng)
            yield env.timeout(max(0.0, term_end - env.now))
            term += 1
            start = term_end - term_hours
            if p_churn is not None and rng.random() < p_churn:
                self.term_rows.append((lead, term, start, term_end, arr, "early_churn"))
                self._end(record, "early_churn")
                return
            p_churn = None
            if rng.random() >= self.p_renew:
                self.term_rows.append((lead, term, start, term_end, arr, "churned"))
                self._end(record, "churned")
                return
            self.term_rows.append((lead, term, start, term_end, arr, "renewed"))
            change = rng.random()
            if change < seam4.expansion.prob:
                arr *= 1 + draw(seam4.expansion.uplift, rng)
            elif change < seam4.expansion.prob + seam4.contraction.prob:
                arr *= 1 - seam4.contraction.cut
            term_end += term_hours
            record["terms"] = term


def run_reference(scenario: Scenario, seed: int) -> dict[str, Any]:
    """One replication of the reference model."""
    return ReferenceFunnel(scenario, seed).run()
