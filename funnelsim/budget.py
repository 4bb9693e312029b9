"""How big a run is, before running it: leads, MQLs, SimPy events, heads and memory.

``estimate(scenario)`` is a pure function of the scenario (a few milliseconds), and
``check_run_size`` applies it to a command's scenarios and replications: above a soft
limit it refuses with the estimate and the limit in one line (``allow_large=True``, the
CLI's ``--allow-large``, lifts soft limits); above a hard limit it always refuses.

The cost constants were measured with ``benchmarks/memory_budget.py``: each probe runs
one replication job (``run_replication``) in a fresh process and takes its peak RSS
above the RSS after imports. Slopes between two sizes of the baseline (365 days) gave 233
bytes per lead (10k -> 413k leads, the ledger holding 45 of them, 142 as read), 148 bytes
per outbound attempt (52k -> 10.5M attempts), 2,099 bytes per head (a plan adding 9,000
AEs) and, for a run that keeps its ledgers and writes them, 352 bytes per lead and
replication. The baseline queued 1.54 SimPy events per MQL. The
constants below round these up.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

from funnelsim.scenario.loading import ScenarioError
from funnelsim.scenario.models import OutboundSource, Scenario

LEAD_BYTES = 250
ATTEMPT_BYTES = 160
ACCOUNT_BYTES = 8
HEAD_BYTES = 2_200
KEPT_LEDGER_BYTES = 400
PROCESS_BYTES = 200_000_000
EVENTS_PER_MQL = 1.6

# Soft limits: lifted by --allow-large (allow_large=True).
MAX_REPLICATIONS = 10_000
MAX_LEADS = 5_000_000
MAX_MEMORY_BYTES = 4_000_000_000
MAX_HEADS = 10_000
MAX_HIRE = 1_000
MAX_TOTAL_LEADS = 1_000_000_000
# Hard limits: never lifted.
HARD_MAX_REPLICATIONS = 1_000_000
HARD_MAX_MEMORY_BYTES = 256_000_000_000

DAYS_PER_WEEK = 7.0
HOURS_PER_DAY = 24.0
DAYS_PER_MONTH = 365.0 / 12.0
QUANTILES = (np.arange(256) + 0.5) / 256
SOFT_HINT = "--allow-large (allow_large=True in Python) runs it anyway"
HARD_HINT = "beyond what --allow-large lifts"


class TooLargeError(ScenarioError):
    """A run above the size limits: one line with the estimate and the limit."""


@dataclass(frozen=True)
class Estimate:
    """Expected size of one replication of a scenario (means, not bounds)."""

    leads: float
    leads_by_source: dict[str, float]
    outbound_attempts: float
    outbound_accounts: int
    mqls: float
    simpy_events: float
    heads: int
    heads_by_team: dict[str, int]
    stints: float
    peak_bytes: float


@dataclass(frozen=True)
class Workload:
    """A command's work: its scenarios' estimates times their runs and replications."""

    estimates: tuple[Estimate, ...]
    replications: int
    runs: int
    total_leads: float
    peak_bytes: float


def estimate(scenario: Scenario) -> Estimate:
    """Leads, MQLs, SimPy events, heads and peak memory of one replication of ``scenario``.

    Inbound leads: each source's weekly rate times its seasonality over the horizon's
    days. Outbound: attempts at their weekly rate; leads at most one per account.
    MQLs: the share of a source's fit distribution whose noisy score passes the
    threshold, plus nurtured leads re-surfacing within the horizon. The starting book's
    records count as leads.
    """
    days = scenario.horizon_days
    month = _month_of_days(scenario)
    leads_by_source: dict[str, float] = {}
    mqls = attempts = 0.0
    accounts = 0
    for name, source in scenario.sources.items():
        if isinstance(source, OutboundSource):
            tried = source.attempts_per_week * days / DAYS_PER_WEEK
            leads = min(float(source.accounts), tried * source.connect_prob * source.accept_prob)
            attempts += tried
            accounts += source.accounts
        else:
            season = np.ones(12) if source.seasonality is None else np.asarray(source.seasonality)
            leads = source.leads_per_week / DAYS_PER_WEEK * float(season[month].sum())
        leads_by_source[name] = leads
        mqls += leads * _mql_share(scenario, source.fit)
    heads_by_team, stints, staffing_events = _staffing(scenario)
    leads = sum(leads_by_source.values())
    if scenario.book is not None:
        leads += scenario.book.size  # the starting book's records are ledger rows too
    events = EVENTS_PER_MQL * mqls + staffing_events + len(scenario.teams) * days
    peak = (
        PROCESS_BYTES
        + LEAD_BYTES * leads
        + ATTEMPT_BYTES * attempts
        + ACCOUNT_BYTES * accounts
        + HEAD_BYTES * stints
    )
    return Estimate(
        leads=leads,
        leads_by_source=leads_by_source,
        outbound_attempts=attempts,
        outbound_accounts=accounts,
        mqls=mqls,
        simpy_events=events,
        heads=sum(heads_by_team.values()),
        heads_by_team=heads_by_team,
        stints=stints,
        peak_bytes=peak,
    )


def workload(
    scenarios: Sequence[Scenario], replications: int, runs: int = 1, keep_ledgers: bool = False
) -> Workload:
    """The estimates of a command that runs each scenario ``runs`` x ``replications`` times.

    Peak memory is one process's: the largest replication, plus every replication's
    ledger when a run keeps them (they are held together and written at the end).
    """
    estimates = tuple(estimate(s) for s in scenarios)
    total = sum(e.leads for e in estimates) * runs * replications
    peak = max(e.peak_bytes for e in estimates)
    if keep_ledgers:
        peak += sum(e.leads for e in estimates) * replications * KEPT_LEDGER_BYTES
    return Workload(estimates, replications, runs, total, peak)


def check_run_size(
    scenarios: Sequence[Scenario],
    replications: int,
    runs: int = 1,
    keep_ledgers: bool = False,
    allow_large: bool = False,
    step_labels: Mapping[tuple[str, str, int], str] | None = None,
) -> Workload:
    """Refuse (``TooLargeError``) a command above the limits; else return its workload.

    The replication count is checked first, so an absurd ``--reps`` fails at once.
    ``step_labels`` names plan steps by (team, ISO date, change), e.g. the ``--hire``
    they came from. With ``allow_large`` only the hard limits apply.
    """
    check_replications(replications)
    soft: list[str] = []
    if _over(replications, MAX_REPLICATIONS):
        soft.append(f"{replications:,} replications (limit {MAX_REPLICATIONS:,})")
    soft += _plan_steps(scenarios, step_labels or {})
    work = workload(scenarios, replications, runs, keep_ledgers)
    biggest = max(work.estimates, key=lambda e: _sortable(e.leads))
    if _over(biggest.leads, MAX_LEADS):
        top = max(biggest.leads_by_source, key=lambda n: _sortable(biggest.leads_by_source[n]))
        soft.append(
            f"about {_count(biggest.leads)} leads per replication (limit {MAX_LEADS:,}; "
            f"most from sources.{top})"
        )
    crowded = max(work.estimates, key=lambda e: e.heads)
    if _over(crowded.heads, MAX_HEADS):
        team = max(crowded.heads_by_team, key=crowded.heads_by_team.__getitem__)
        soft.append(f"{_count(crowded.heads)} heads (limit {MAX_HEADS:,}; most in teams.{team})")
    if _over(work.total_leads, MAX_TOTAL_LEADS):
        soft.append(
            f"about {_count(work.total_leads)} leads over all runs and replications "
            f"(limit {MAX_TOTAL_LEADS:,})"
        )
    memory = f"about {_gigabytes(work.peak_bytes)} peak memory in one process"
    if _over(work.peak_bytes, HARD_MAX_MEMORY_BYTES):
        _refuse([*soft, f"{memory} (hard limit {_gigabytes(HARD_MAX_MEMORY_BYTES)})"], True)
    if _over(work.peak_bytes, MAX_MEMORY_BYTES):
        advice = "; --no-ledger keeps less" if keep_ledgers else ""
        soft.append(f"{memory} (limit {_gigabytes(MAX_MEMORY_BYTES)}{advice})")
    if soft and not allow_large:
        _refuse(soft, False)
    return work


def check_replications(replications: int) -> None:
    """Refuse a replication count above the hard limit, before any seed is spawned."""
    if _over(replications, HARD_MAX_REPLICATIONS):
        _refuse([f"{replications:,} replications (hard limit {HARD_MAX_REPLICATIONS:,})"], True)


def _refuse(problems: list[str], hard: bool) -> None:
    hint = HARD_HINT if hard else SOFT_HINT
    raise TooLargeError(f"too large: {', '.join(problems)}; {hint}")


def _over(value: float, limit: float) -> bool:
    """True above the limit, and for a value that is not a finite number."""
    return not value <= limit


def _sortable(value: float) -> float:
    return value if not math.isnan(value) else math.inf


def _count(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else str(value)


def _gigabytes(value: float) -> str:
    return f"{value / 1e9:,.1f} GB" if value < 1e10 else f"{value / 1e9:,.0f} GB"


def _month_of_days(scenario: Scenario) -> np.ndarray:
    """The calendar month (0 = January) of every day of the horizon."""
    start = np.datetime64(scenario.start_date, "D")
    days = start + np.arange(scenario.horizon_days)
    return days.astype("datetime64[M]").astype(np.int64) % 12


def _mql_share(scenario: Scenario, fit) -> float:
    """Expected share of a source's leads that become MQLs within the horizon."""
    scoring = scenario.marketing.scoring
    fits = np.clip(fit.ppf(QUANTILES), 0.0, 1.0)
    if scoring.noise_sd > 0:
        passed = float(special.ndtr((fits - scoring.mql_threshold) / scoring.noise_sd).mean())
    else:
        passed = float((fits >= scoring.mql_threshold).mean())
    nurture = scenario.marketing.nurture
    delay = nurture.resurface_after_days.ppf(QUANTILES) * HOURS_PER_DAY
    in_time = float(np.clip(1.0 - delay / scenario.horizon_hours, 0.0, 1.0).mean())
    return passed + (1.0 - passed) * nurture.resurface_prob * in_time


def _staffing(scenario: Scenario) -> tuple[dict[str, int], float, float]:
    """Seats per team (every seat the plan ever opens), people over the horizon, events."""
    months = scenario.horizon_days / DAYS_PER_MONTH
    years = scenario.horizon_days / 365.0
    heads: dict[str, int] = {}
    stints = events = 0.0
    for name, team in scenario.teams.items():
        seats = team.headcount + sum(max(step.change, 0) for step in team.plan)
        heads[name] = seats
        people = float(seats)
        attrition = team.attrition
        if attrition is not None and attrition.replace:
            stay = attrition.tenure_months.mean() + attrition.hiring_delay_days.mean() / (
                DAYS_PER_MONTH
            )
            people *= 1.0 + (months / stay if stay > 0 and math.isfinite(stay) else months)
        stints += people
        if team.staffed:
            absences = team.vacation_days_per_year / 5.0 * years
            events += people * (2.0 + 2.0 * absences + len(team.ramp or ()))
    return heads, stints, events


def _plan_steps(
    scenarios: Sequence[Scenario], labels: Mapping[tuple[str, str, int], str]
) -> list[str]:
    """Plan steps (or --hire) that change more heads at once than the limit allows."""
    found: dict[str, str] = {}
    for scenario in scenarios:
        for name, team in scenario.teams.items():
            for step in team.plan:
                if not _over(abs(step.change), MAX_HIRE):
                    continue
                where = labels.get((name, step.date.isoformat(), step.change), f"teams.{name}.plan")
                found.setdefault(
                    where,
                    f"{where} changes {abs(step.change):,} heads on {step.date} in one step "
                    f"(limit {MAX_HIRE:,})",
                )
    return list(found.values())
