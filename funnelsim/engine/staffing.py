"""Staffed teams: hiring plans, attrition, vacations and ramp-up applied as SimPy events."""

from __future__ import annotations

from collections import deque

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.roster import (
    HOURS_PER_MONTH,
    INF,
    Stint,
    build_roster,
    employed_hours,
    presence_spans,
    seat_key,
    seat_windows,
    stint_rows,
)
from funnelsim.engine.seats import SeatTeam
from funnelsim.engine.shifts import on_duty_hours
from funnelsim.engine.teams import Team, week_edges

__all__ = [
    "HOURS_PER_MONTH",
    "StaffedTeam",
    "Stint",
    "build_roster",
    "capacity_rows",
    "employed_hours",
    "seat_key",
    "seat_windows",
    "stint_rows",
]


class StaffedTeam(SeatTeam):
    """A team whose heads (seats) open, close, go on leave and ramp up during the run.

    It applies the roster (``roster.build_roster``) inside the run as SimPy events:

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

    A fixed team whose calendar is wider than one shift is a ``StaffedTeam`` too (one stint
    per seat for the whole run), served seat by seat on its heads' shifts (``duty``).
    """

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
        duty: list[WorkCalendar] | None = None,
        head_segments: list[int] | None = None,
    ) -> None:
        n_seats = max((s.seat for s in stints), default=-1) + 1
        super().__init__(
            env,
            name,
            slots_per_head,
            calendar,
            routing,
            n_weeks,
            counter,
            horizon,
            n_seats,
            ramp,
            working_time,
            duty,
            head_segments,
        )
        self.stints = stints
        self.stint_of = [-1] * n_seats
        self.orphans: deque = deque()
        self.requeued = 0
        self._schedule()

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

    def on_duty_hours(self) -> np.ndarray:
        """Person-hours the heads were on duty per week: their shifts while employed and
        not on leave, up to the horizon."""
        edges = week_edges(self.n_weeks, self.horizon)
        hours = np.zeros(self.n_weeks)
        for stint in self.stints:
            spans = presence_spans(stint, self.horizon)
            hours += on_duty_hours(self.seat_calendar(stint.seat), spans, edges)
        return hours

    def _log(self) -> None:
        now = self.env.now
        self.capacity_log.append(
            (now, self.headcount, self.n_present, self.effective_capacity(now))
        )

    def _current_seat(self, index: int) -> int:
        """The stint's seat while the stint holds it (else -1: a later stint or a leaver)."""
        seat = self.stints[index].seat
        if self.stint_of[seat] != index or not self.employed[seat]:
            return -1
        return seat

    def _changed(self, now: float) -> None:
        """Log the new capacity and start what the change lets start."""
        self._log()
        self._fill_all(now)

    def _open(self, index: int) -> None:
        stint = self.stints[index]
        seat, now = stint.seat, self.env.now
        self.stint_of[seat] = index
        self.hired[seat] = -INF if stint.ramped else stint.start
        self._set_employed(seat, True)
        self._set_present(seat, True, now)
        self._set_limit(seat, self._usable(seat, now))
        orphans, self.orphans = self.orphans, deque()
        for entry in orphans:
            if entry[0] < 0:
                continue  # withdrawn while waiting for a hire
            self.waiting.down(now)
            del self.entry_of[entry[0]]
            self._requeue(entry, front=entry[3] is not None)
        self._changed(now)

    def _close(self, index: int) -> None:
        seat, now = self._current_seat(index), self.env.now
        if seat < 0:
            return
        self._set_present(seat, False, now)
        self._set_employed(seat, False)
        self._set_limit(seat, 0)
        # The seat's jobs in the order they entered ``jobs``, sorted by start time.
        running = sorted(self._jobs_at[seat].values(), key=lambda job: job[2])
        self._jobs_at[seat] = {}
        resumed = []
        duty = self.seat_calendar(seat)
        for job in running:
            item, _, _, end, done, p = job
            del self.jobs[item]
            self._busy_down(seat, now)
            self.busy_n[seat] -= 1
            self.load[seat] -= 1
            self._load_changed(seat)
            if self.working_time:
                remaining = (duty.working_hours_until(end) - duty.working_hours_until(now)) * p
            else:
                remaining = end - now
            resumed.append([item, None, done, max(remaining, 0.0)])
        self.requeued += len(resumed)
        for entry in reversed(resumed):
            self._requeue(entry, front=True)
        self._move_queued(seat, now)
        self._changed(now)

    def _leave_start(self, index: int) -> None:
        seat, now = self._current_seat(index), self.env.now
        if seat < 0:
            return
        self._set_present(seat, False, now)
        self._set_limit(seat, 0)
        self._move_queued(seat, now)
        self._changed(now)

    def _leave_end(self, index: int) -> None:
        seat, now = self._current_seat(index), self.env.now
        if seat < 0:
            return
        self._set_present(seat, True, now)
        self._set_limit(seat, self._usable(seat, now))
        self._changed(now)

    def _ramp_step(self, index: int) -> None:
        seat, now = self._current_seat(index), self.env.now
        if seat < 0:
            return
        self._set_limit(seat, self._usable(seat, now))
        self._changed(now)

    def _move_queued(self, seat: int, now: float) -> None:
        """Items queued at a head that left or is away go to the back of other queues."""
        if self.pooled or (self.employed[seat] and not self.n_present):
            return
        queue = self.queues[seat]
        moving = [entry for entry in queue if entry[0] >= 0]
        queue.clear()
        for entry in moving:
            self.queued[seat] -= 1
            self.load[seat] -= 1
            self._load_changed(seat)
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
        self._dirty.add(queue_index)


def capacity_rows(
    name: str, team: Team, horizon: float
) -> list[tuple[str, float, int, int, float]]:
    """The team's headcount over time: a row per change (one row for a fixed team)."""
    if isinstance(team, StaffedTeam):
        return [(name, *row) for row in team.capacity_log if row[0] < horizon]
    return [(name, 0.0, team.headcount, team.headcount, float(team.slots))]
