"""A team served seat by seat: usable slots per seat, ramp, shifts, routing, queues and jobs."""

from __future__ import annotations

import math
from collections import deque

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.roster import HOURS_PER_MONTH
from funnelsim.engine.teams import LevelLog, Team

INF = math.inf


class SeatTeam(Team):
    """A team whose seats open, close and change their usable slots during the run.

    Subclasses open and close the seats (``StaffedTeam`` follows a roster); this class
    routes items to present seats, queues them, starts them on usable slots and, for teams
    with a ``work_time``, slows the work by the occupant's ramp-up productivity.

    With ``duty`` (one on-duty calendar per seat, ``shifts.duty_calendars``) each seat
    starts items only during its own shift, least-loaded routing picks among the heads on
    duty (else those whose shift starts first), and a ``work_time`` stage's work, timed by
    the stage on the team calendar, advances only during the head's shift.
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
        n_seats: int,
        ramp: tuple[float, ...] | None,
        working_time: bool,
        duty: list[WorkCalendar] | None = None,
        head_segments: list[int] | None = None,
    ) -> None:
        super().__init__(
            env, name, 0, slots_per_head, calendar, routing, None, n_weeks, counter, horizon
        )
        self.head_segments = head_segments
        self.n_seats = n_seats
        self.ramp = ramp
        self.working_time = working_time
        self.employed = [False] * n_seats
        self.present = [False] * n_seats
        self.hired = [-INF] * n_seats
        self.limit = [0] * n_seats
        self.busy_n = [0] * n_seats
        self.load = [0] * max(n_seats, 1)
        self.queues = [deque() for _ in range(1 if self.pooled else n_seats)]
        self.queued = [0] * len(self.queues)
        self.entry_of: dict[int, list] = {}
        self.where: dict[int, int] = {}
        self.jobs: dict[int, list] = {}
        self.capacity_log: list[tuple[float, int, int, float]] = []
        self._flushed = False
        self.duty = duty
        # One busy log per distinct shift calendar, to measure work on each head's shift.
        self.duty_calendars: list[WorkCalendar] = list(dict.fromkeys(duty or [calendar]))
        self.duty_index = [self.duty_calendars.index(c) for c in duty or [calendar] * n_seats]
        self.duty_busy = [LevelLog() for _ in self.duty_calendars] if duty else [self.busy]

    def seat_calendar(self, seat: int) -> WorkCalendar:
        """The calendar a seat's occupant is on duty by (the team's without shifts)."""
        return self.duty[seat] if self.duty is not None else self.calendar

    def _busy_up(self, seat: int, at: float) -> None:
        self.busy.up(at)
        if self.duty is not None:
            self.duty_busy[self.duty_index[seat]].up(at)

    def _busy_down(self, seat: int, at: float) -> None:
        self.busy.down(at)
        if self.duty is not None:
            self.duty_busy[self.duty_index[seat]].down(at)

    # Productivity and usable slots.

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
        seats = self._candidate_seats(segment, on_duty=self.routing == "least_loaded")
        if not seats:
            return -1
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
        return min(self._candidate_seats(on_duty=True), key=lambda s: (self.load[s], s))

    def _candidate_seats(self, segment: int | None = None, on_duty: bool = False) -> list[int]:
        """The present seats, else the employed ones (all away: queue for their return).

        With ``by_segment`` routing, only the segment's heads. With shifts and ``on_duty``
        (a routing tool that knows who is working), only the heads on duty now, else those
        whose shift starts first; round robin and by-segment rules assign in turn whatever
        the shift, as a CRM's assignment rule does.
        """
        seats = [s for s in range(self.n_seats) if self.present[s]] or [
            s for s in range(self.n_seats) if self.employed[s]
        ]
        if segment is not None and self.routing == "by_segment" and self.head_segments:
            seats = [s for s in seats if self.head_segments[s] == segment]
        if self.duty is None or not on_duty or len(seats) < 2:
            return seats
        now = self.env.now
        opening = [self.duty[s].next_open(now) for s in seats]
        first = min(opening)
        return [s for s, at in zip(seats, opening, strict=True) if at == first]

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
        if self.duty is None and not self._always_open and self._closed_until_opening(now):
            return
        while queue:
            seat = self._free_seat(head) if self.duty is None else self._on_duty_seat(head, now)
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

    def _on_duty_seat(self, queue_index: int, now: float) -> int:
        """A seat with a usable slot whose shift is on now; else wake at the first such shift."""
        seats = [queue_index] if not self.pooled else range(self.n_seats)
        free = [s for s in seats if self.busy_n[s] < self.limit[s]]
        opening = [self.duty[s].next_open(now) for s in free]
        for seat, at in zip(free, opening, strict=True):
            if at <= now:
                return seat
        if opening:
            self._wake_at(min(opening))
        return -1

    def _begin(self, item: int, seat: int, now: float, hold, done, remaining) -> None:
        """Start an item on a seat: a fresh start runs the hold, a resumed one its remainder.

        A ``work_time`` stage times its work on the team calendar; the work is re-timed on
        the seat's shift and slowed by the occupant's productivity p.
        """
        p = self.productivity(seat, now) if self.working_time else 1.0
        calendar = self.calendar
        duty = self.seat_calendar(seat)
        if remaining is None:
            end = hold(item, now)
            if p < 1.0 or (self.working_time and duty is not calendar):
                work = calendar.working_hours_until(end) - calendar.working_hours_until(now)
                end = duty.add_working_hours(now, work / p)
        elif self.working_time:
            end = duty.add_working_hours(now, remaining / p)
        else:
            end = now + remaining
        job = [item, seat, now, end, done, p]
        self.jobs[item] = job
        self.busy_n[seat] += 1
        self.load[seat] += 1
        self._busy_up(seat, now)
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
        self._busy_down(seat, now)
        done(item, now)
        self._fill(0 if self.pooled else seat, now)

    # After the run.

    def _flush(self) -> None:
        """Close the busy level of items still in progress at their scheduled end."""
        if self._flushed:
            return
        self._flushed = True
        for job in self.jobs.values():
            self._busy_down(job[1], job[3])

    def busy_area(self) -> np.ndarray:
        self._flush()
        return super().busy_area()

    def busy_hours(self) -> float:
        self._flush()
        return super().busy_hours()

    def work_hours(self) -> float:
        """Slot-hours spent on items while their heads were on duty, up to the horizon."""
        self._flush()
        if self.duty is None:
            return super().work_hours()
        total = 0.0
        for calendar, log in zip(self.duty_calendars, self.duty_busy, strict=True):
            starts, ends = np.asarray(log.ups), np.asarray(log.downs)
            working = calendar.working_hours_array
            total += float(np.sum(working(np.minimum(ends, self.horizon))))
            total -= float(np.sum(working(starts)))
        return total

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
