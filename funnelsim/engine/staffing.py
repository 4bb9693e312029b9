"""Staffing over time: hiring plans, ramp-up, attrition and vacations for a SimPy team.

The roster (who is employed when, and when they are away) does not depend on the leads,
so it is drawn before the run (``build_roster``) from streams keyed by the team and the
seat: seat i keeps its draws whatever other seats or plan steps do, which keeps hiring
plans paired across scenarios. A *seat* is a position on the team; its occupants follow
one another (a leaver is replaced after a hiring delay). Seats are the heads of the SimPy
team.

``StaffedTeam`` applies the roster inside the running simulation as SimPy events:

* a seat opens when its occupant starts, and closes when they leave or the plan cuts it;
* **work in progress when capacity drops**: the leaver's items in progress are re-queued
  at the front of the team's queue (a per-head team routes them to the remaining heads)
  with their remaining work, and their queued items join the back of another head's
  queue; nothing is lost or duplicated, and the stage's hold is not run again (the
  first start time stays recorded). With no head left, items wait for the next hire;
* **vacations** (``vacation_days_per_year``) are random absence weeks per person: an
  absent head takes no new items, its queued items move to present heads, and items in
  progress carry on;
* **ramp-up**: a new hire's productivity p is ``ramp[month of tenure]`` (1 after the
  listed months; people on the team at the start are fully ramped). Teams with a
  ``work_time`` work slower (work time / p); teams whose holding time is set by the stage
  (AEs, CSMs) get fewer usable slots (``max(1, round(p x capacity_per_head))``).
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from collections import deque
from dataclasses import dataclass, field

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.fates import stream
from funnelsim.engine.teams import Team
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
    """Every stint of every seat within the horizon, drawn from the seat's own streams."""
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


class StaffedTeam(Team):
    """A team whose heads (seats) open, close, go on leave and ramp up during the run."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        slots_per_head: int,
        calendar: WorkCalendar,
        routing: str,
        n_weeks: int,
        counter: list[int],
        horizon: float,
        stints: list[Stint],
        ramp: tuple[float, ...] | None,
        working_time: bool,
    ) -> None:
        super().__init__(
            env, name, 0, slots_per_head, calendar, routing, None, n_weeks, counter, horizon
        )
        n_seats = max((s.seat for s in stints), default=-1) + 1
        self.n_seats = n_seats
        self.stints = stints
        self.ramp = ramp
        self.working_time = working_time
        self.employed = [False] * n_seats
        self.present = [False] * n_seats
        self.stint_of = [-1] * n_seats
        self.hired = [-INF] * n_seats
        self.limit = [0] * n_seats
        self.busy_n = [0] * n_seats
        self.load = [0] * max(n_seats, 1)
        self.queues = [deque() for _ in range(1 if self.pooled else n_seats)]
        self.queued = [0] * len(self.queues)
        self.entry_of: dict[int, list] = {}
        self.where: dict[int, int] = {}
        self.jobs: dict[int, list] = {}
        self.orphans: deque = deque()
        self.requeued = 0
        self.capacity_log: list[tuple[float, int, int, float]] = []
        self._flushed = False
        self._schedule()

    # The roster as SimPy events.

    def _schedule(self) -> None:
        """Apply roster changes due at time 0 now; schedule the rest as timeouts."""
        events: list[tuple[float, int, object, tuple]] = []
        for index, stint in enumerate(self.stints):
            events.append((stint.start, len(events), self._open, (index,)))
            for begin, end in stint.absences:
                events.append((begin, len(events), self._leave_start, (index,)))
                events.append((end, len(events), self._leave_end, (index,)))
            if self.ramp is not None and not stint.ramped:
                steps = len(self.ramp) if self.ramp[-1] < 1 else len(self.ramp) - 1
                for month in range(1, steps + 1):
                    at = stint.start + month * HOURS_PER_MONTH
                    events.append((min(at, stint.end), len(events), self._ramp_step, (index,)))
            if stint.end < INF:
                events.append((stint.end, len(events), self._close, (index,)))
        events.sort(key=lambda e: (e[0], e[1]))
        for at, _, action, args in events:
            if at >= self.horizon:
                continue
            if at <= 0.0:
                action(*args)
                continue
            self._event_counter[0] += 1
            self.env.timeout(at).callbacks.append(lambda _e, a=action, x=args: a(*x))
        if not self.capacity_log or self.capacity_log[0][0] > 0.0:
            self._log()

    def productivity(self, seat: int, now: float) -> float:
        """The seat's occupant's productivity now (1 when ramped or without a ramp)."""
        ramp = self.ramp
        hired = self.hired[seat]
        if ramp is None or hired == -INF:
            return 1.0
        month = int((now - hired) // HOURS_PER_MONTH)
        return ramp[month] if 0 <= month < len(ramp) else 1.0

    def _usable(self, seat: int, now: float) -> int:
        if not self.present[seat]:
            return 0
        if self.working_time:
            return self.slots_per_head
        p = self.productivity(seat, now)
        return max(1, round(p * self.slots_per_head))

    def effective_capacity(self, now: float) -> float:
        """Slot-equivalents of the present heads: productivity x slots per head."""
        return float(
            sum(
                self.productivity(seat, now) * self.slots_per_head
                for seat in range(self.n_seats)
                if self.present[seat]
            )
        )

    def _log(self) -> None:
        now = self.env.now
        self.capacity_log.append(
            (now, sum(self.employed), sum(self.present), self.effective_capacity(now))
        )

    def _open(self, index: int) -> None:
        stint = self.stints[index]
        seat, now = stint.seat, self.env.now
        self.employed[seat] = self.present[seat] = True
        self.stint_of[seat] = index
        self.hired[seat] = -INF if stint.ramped else stint.start
        self.limit[seat] = self._usable(seat, now)
        self.headcount = sum(self.employed)
        orphans, self.orphans = self.orphans, deque()
        for entry in orphans:
            if entry[0] < 0:
                continue  # withdrawn while waiting for a hire
            self.waiting.down(now)
            del self.entry_of[entry[0]]
            self._requeue(entry, front=entry[3] is not None)
        self._log()
        self._fill_all(now)

    def _close(self, index: int) -> None:
        seat, now = self.stints[index].seat, self.env.now
        if self.stint_of[seat] != index or not self.employed[seat]:
            return
        self.employed[seat] = self.present[seat] = False
        self.limit[seat] = 0
        self.headcount = sum(self.employed)
        running = sorted(
            (job for job in self.jobs.values() if job[1] == seat), key=lambda job: job[2]
        )
        resumed = []
        for job in running:
            item, _, _, end, done, p = job
            del self.jobs[item]
            self.busy.down(now)
            self.busy_n[seat] -= 1
            self.load[seat] -= 1
            if self.working_time:
                remaining = (
                    self.calendar.working_hours_until(end) - self.calendar.working_hours_until(now)
                ) * p
            else:
                remaining = end - now
            resumed.append([item, None, done, max(remaining, 0.0)])
        self.requeued += len(resumed)
        for entry in reversed(resumed):
            self._requeue(entry, front=True)
        self._move_queued(seat, now)
        self._log()
        self._fill_all(now)

    def _leave_start(self, index: int) -> None:
        seat, now = self.stints[index].seat, self.env.now
        if self.stint_of[seat] != index or not self.employed[seat]:
            return
        self.present[seat] = False
        self.limit[seat] = 0
        self._move_queued(seat, now)
        self._log()
        self._fill_all(now)

    def _leave_end(self, index: int) -> None:
        seat, now = self.stints[index].seat, self.env.now
        if self.stint_of[seat] != index or not self.employed[seat]:
            return
        self.present[seat] = True
        self.limit[seat] = self._usable(seat, now)
        self._log()
        self._fill_all(now)

    def _ramp_step(self, index: int) -> None:
        seat, now = self.stints[index].seat, self.env.now
        if self.stint_of[seat] != index or not self.employed[seat]:
            return
        self.limit[seat] = self._usable(seat, now)
        self._log()
        self._fill_all(now)

    def _move_queued(self, seat: int, now: float) -> None:
        """Items queued at a head that left or is away go to the back of other queues."""
        if self.pooled or (self.employed[seat] and not any(self.present)):
            return
        queue = self.queues[seat]
        moving = [entry for entry in queue if entry[0] >= 0]
        queue.clear()
        for entry in moving:
            self.queued[seat] -= 1
            self.load[seat] -= 1
            self.waiting.down(now)
            del self.entry_of[entry[0]]
            self._requeue(entry, front=False)

    def _requeue(self, entry: list, front: bool) -> None:
        """Queue a displaced item again (front: work in progress); hold for a hire if no one."""
        now = self.env.now
        queue_index = self.route(0)
        if queue_index < 0:
            self.orphans.append(entry)
            self.entry_of[entry[0]] = entry
            self.where[entry[0]] = -1
            self.waiting.up(now)
            return
        self._enqueue(queue_index, entry, front)

    def _fill_all(self, now: float) -> None:
        for queue_index in range(len(self.queues)):
            self._fill(queue_index, now)

    # The server: routing, queues, starts and completions.

    def route(self, segment: int) -> int:
        """The queue for a new item: pooled 0; else a present head (an employed one if none)."""
        if self.headcount == 0:
            return -1
        if self.pooled:
            return 0
        seats = [s for s in range(self.n_seats) if self.present[s]] or [
            s for s in range(self.n_seats) if self.employed[s]
        ]
        if self.routing == "least_loaded":
            load = self.load
            return min(seats, key=lambda s: (load[s], s))
        for seat in seats:
            if seat >= self._rr:
                self._rr = seat + 1
                return seat
        self._rr = seats[0] + 1
        return seats[0]

    def least_loaded_head(self) -> int:
        """The present (else employed) head with the fewest items; -1 with no one employed."""
        if self.headcount == 0:
            return -1
        if self.pooled:
            return 0
        seats = [s for s in range(self.n_seats) if self.present[s]] or [
            s for s in range(self.n_seats) if self.employed[s]
        ]
        return min(seats, key=lambda s: (self.load[s], s))

    def _load_changed(self, head: int) -> None:
        """Least-loaded routing scans the seats; nothing to keep up to date."""

    def arrive(self, item: int, head: int, hold, done) -> None:
        """Queue an item (at a head, or the pooled queue) and start what can start."""
        self._enqueue(head, [item, hold, done, None], front=False)
        self._fill(head, self.env.now)

    def _enqueue(self, queue_index: int, entry: list, front: bool) -> None:
        queue = self.queues[queue_index]
        if front:
            queue.appendleft(entry)
        else:
            queue.append(entry)
        self.entry_of[entry[0]] = entry
        self.where[entry[0]] = queue_index
        self.queued[queue_index] += 1
        if not self.pooled:
            self.load[queue_index] += 1
        self.waiting.up(self.env.now)

    def withdraw(self, item: int, head: int) -> None:
        """Take a queued item out (SLA re-routing), wherever it is queued now."""
        entry = self.entry_of.pop(item, None)
        if entry is None:
            return
        entry[0] = -1
        queue_index = self.where[item]
        self.waiting.down(self.env.now)
        if queue_index < 0:
            return  # it was waiting for a hire
        self.queued[queue_index] -= 1
        if not self.pooled:
            self.load[queue_index] -= 1

    def _free_seat(self, queue_index: int) -> int:
        if not self.pooled:
            seat = queue_index
            return seat if self.busy_n[seat] < self.limit[seat] else -1
        for seat in range(self.n_seats):
            if self.busy_n[seat] < self.limit[seat]:
                return seat
        return -1

    def _fill(self, head: int, now: float) -> None:
        """Start queued items on usable slots while the calendar is open; else wait for it."""
        queue = self.queues[head]
        while queue and queue[0][0] < 0:
            queue.popleft()
        if not queue or self._free_seat(head) < 0:
            return
        if not self._always_open:
            opening = self.calendar.next_open(now)
            if opening > now:
                self._wake_at(opening)
                return
        while queue:
            seat = self._free_seat(head)
            if seat < 0:
                break
            entry = queue.popleft()
            item = entry[0]
            if item < 0:
                continue
            del self.entry_of[item]
            self.queued[head] -= 1
            self.waiting.down(now)
            if not self.pooled:
                self.load[head] -= 1
            self._begin(item, seat, now, entry[1], entry[2], entry[3])

    def _begin(self, item: int, seat: int, now: float, hold, done, remaining) -> None:
        """Start an item on a seat: a fresh start runs the hold, a resumed one its remainder."""
        p = self.productivity(seat, now) if self.working_time else 1.0
        calendar = self.calendar
        if remaining is None:
            end = hold(item, now)
            if p < 1.0:
                work = calendar.working_hours_until(end) - calendar.working_hours_until(now)
                end = calendar.add_working_hours(now, work / p)
        elif self.working_time:
            end = calendar.add_working_hours(now, remaining / p)
        else:
            end = now + remaining
        job = [item, seat, now, end, done, p]
        self.jobs[item] = job
        self.busy_n[seat] += 1
        self.load[seat] += 1
        self.busy.up(now)
        self._event_counter[0] += 1
        self.env.timeout(end - now).callbacks.append(lambda _e: self._complete(job))

    def _complete(self, job: list) -> None:
        item, seat, _, _, done, _ = job
        if self.jobs.get(item) is not job:
            return  # re-queued when its head left; the resumed job completes instead
        del self.jobs[item]
        now = self.env.now
        self.busy_n[seat] -= 1
        self.load[seat] -= 1
        self.served += 1
        self.busy.down(now)
        done(item, now)
        self._fill(0 if self.pooled else seat, now)

    # After the run.

    def _flush(self) -> None:
        """Close the busy level of items still in progress at their scheduled end."""
        if self._flushed:
            return
        self._flushed = True
        for job in self.jobs.values():
            self.busy.down(job[3])

    def busy_area(self) -> np.ndarray:
        self._flush()
        return super().busy_area()

    def busy_hours(self) -> float:
        self._flush()
        return super().busy_hours()

    def work_hours(self) -> float:
        self._flush()
        return super().work_hours()

    def slot_hours(self) -> float:
        """Slot-hours the present heads offered within the horizon (wall-clock)."""
        times = [row[0] for row in self.capacity_log] + [self.horizon]
        present = [row[2] for row in self.capacity_log]
        return float(
            sum(n * (b - a) for n, a, b in zip(present, times[:-1], times[1:], strict=True))
            * self.slots_per_head
        )

    @property
    def slots(self) -> int:
        """Mean slots offered over the horizon, rounded (capacity changes over the run)."""
        return round(self.slot_hours() / self.horizon) if self.horizon > 0 else 0


def capacity_rows(
    name: str, team: Team, horizon: float
) -> list[tuple[str, float, int, int, float]]:
    """The team's headcount over time: a row per change (one row for a fixed team)."""
    if isinstance(team, StaffedTeam):
        return [(name, *row) for row in team.capacity_log if row[0] < horizon]
    return [(name, 0.0, team.headcount, team.headcount, float(team.slots))]
