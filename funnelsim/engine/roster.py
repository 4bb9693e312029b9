"""The roster of a staffed team, drawn before the run: seats, stints, tenures, absences."""

from __future__ import annotations

import datetime as dt
import math
import zlib
from dataclasses import dataclass, field

import numpy as np

from funnelsim.engine.fates import stream
from funnelsim.scenario.models import Team as TeamSpec

HOURS_PER_DAY = 24.0
HOURS_PER_MONTH = 730.0
HOURS_PER_YEAR = 8760.0
ABSENCE_HOURS = 7 * HOURS_PER_DAY
WORKDAYS_PER_WEEK = 5.0
STAFF_STREAM = 101
VACATION_STREAM = 102
INF = math.inf


@dataclass
class Stint:
    """One person's time in one seat: start, end (inf: stays), drawn tenure, absences."""

    seat: int
    start: float
    end: float
    ramped: bool
    tenure_months: float = math.nan
    absences: list[tuple[float, float]] = field(default_factory=list)


def seat_key(team: str, seat: int) -> int:
    """A stable stream key for one seat of one team."""
    return zlib.crc32(f"{team}:{seat}".encode())


def seat_windows(spec: TeamSpec, start_date: dt.date) -> list[tuple[float, float]]:
    """Each seat's (open, close) hours from the headcount and the plan; cuts close the newest."""
    seats: list[list[float]] = [[0.0, INF] for _ in range(spec.headcount)]
    open_seats = list(range(spec.headcount))
    for step in sorted(spec.plan, key=lambda s: s.date):
        at = (step.date - start_date).days * HOURS_PER_DAY
        if step.change > 0:
            for _ in range(step.change):
                seats.append([at, INF])
                open_seats.append(len(seats) - 1)
        else:
            for _ in range(-step.change):
                seats[open_seats.pop()][1] = at
    return [(begin, end) for begin, end in seats]


def build_roster(
    spec: TeamSpec, name: str, start_date: dt.date, horizon: float, seed: int
) -> list[Stint]:
    """Every stint of every seat within the horizon, drawn from the seat's own streams.

    The roster (who is employed when, and when they are away) does not depend on the
    leads. Draws come from streams keyed by the team and the seat: seat i keeps its draws
    whatever other seats or plan steps do, which keeps hiring plans paired across
    scenarios. A seat's occupants follow one another (a leaver is replaced after a hiring
    delay).
    """
    stints: list[Stint] = []
    attrition = spec.attrition
    for seat, (begin, close) in enumerate(seat_windows(spec, start_date)):
        gen = stream(seed, STAFF_STREAM, seat_key(name, seat))
        vacation = stream(seed, VACATION_STREAM, seat_key(name, seat))
        at = begin
        first = True
        while at < min(close, horizon):
            tenure = math.nan
            end = close
            if attrition is not None:
                tenure = float(attrition.tenure_months.ppf(np.array([gen.random()]))[0])
                end = min(close, at + tenure * HOURS_PER_MONTH)
            stint = Stint(seat, at, end, ramped=first and at <= 0.0, tenure_months=tenure)
            stint.absences = _absences(spec.vacation_days_per_year, stint, horizon, vacation)
            stints.append(stint)
            first = False
            if attrition is None or not attrition.replace or end >= min(close, horizon):
                break
            delay = float(attrition.hiring_delay_days.ppf(np.array([gen.random()]))[0])
            at = end + delay * HOURS_PER_DAY
    return stints


def _absences(
    days_per_year: float, stint: Stint, horizon: float, gen: np.random.Generator
) -> list[tuple[float, float]]:
    """Random absence weeks in a stint: days_per_year / 5 weeks a year, placed uniformly."""
    if days_per_year <= 0:
        return []
    begin, end = stint.start, min(stint.end, horizon)
    span = end - begin
    if span <= ABSENCE_HOURS:
        return []
    expected = days_per_year / WORKDAYS_PER_WEEK * span / HOURS_PER_YEAR
    count = int(expected) + int(gen.random() < expected - int(expected))
    starts = np.sort(begin + gen.random(count) * (span - ABSENCE_HOURS))
    merged: list[tuple[float, float]] = []
    for start in starts.tolist():
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], start + ABSENCE_HOURS)
        else:
            merged.append((start, start + ABSENCE_HOURS))
    return [(a, min(b, end)) for a, b in merged]


def stint_rows(name: str, stints: list[Stint]) -> list[tuple[str, int, float, float, float, float]]:
    """One row per stint: team, seat, start and end hours, drawn tenure, absence hours."""
    return [
        (name, s.seat, s.start, s.end, s.tenure_months, sum(b - a for a, b in s.absences))
        for s in stints
    ]


def employed_hours(stints: list[Stint], horizon: float) -> float:
    """Person-hours employed within the horizon."""
    return float(sum(max(0.0, min(s.end, horizon) - s.start) for s in stints))


def presence_spans(stint: Stint, horizon: float) -> list[tuple[float, float]]:
    """The stretches of a stint, up to the horizon, when its person is not on leave."""
    spans = []
    at, end = stint.start, min(stint.end, horizon)
    for begin, back in stint.absences:
        spans.append((at, min(begin, end)))
        at = max(at, back)
    spans.append((at, end))
    return [(a, b) for a, b in spans if b > a]
