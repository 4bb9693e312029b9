"""Teams as SimPy servers: heads with slots, routing, FIFO queues and level monitors.

A team holds ``headcount * capacity_per_head`` slots. An item takes a slot, starts when
the calendar next opens, and holds the slot until the time its stage returns. Only the
completion is a SimPy event; waiting in a queue costs nothing until a slot frees.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar

HOURS_PER_WEEK = 168.0

# A stage tells the team how long an item holds its slot (given the start time) and what
# happens when it is done.
HoldFn = Callable[[int, float], float]
DoneFn = Callable[[int, float], None]


class LevelMonitor:
    """A time-weighted level (busy slots, queue length) integrated into weekly buckets."""

    def __init__(self, n_weeks: int) -> None:
        self.weekly: list[float] = [0.0] * n_weeks
        self.total_area = 0.0
        self.value = 0
        self.last_t = 0.0
        self._week = 0
        self._week_end = HOURS_PER_WEEK

    def change(self, now: float, delta: int) -> None:
        """The level moves by ``delta`` at time ``now``."""
        if self.value:
            if now <= self._week_end:
                area = self.value * (now - self.last_t)
                self.total_area += area
                if self._week < len(self.weekly):
                    self.weekly[self._week] += area
            else:
                self._accumulate(self.last_t, now)
        elif now > self._week_end:
            self._move_to_week(now)
        self.last_t = now
        self.value += delta

    def close(self, now: float) -> None:
        """Account for the level up to ``now`` (the horizon)."""
        self.change(now, 0)

    @property
    def area(self) -> np.ndarray:
        """Level x hours per week."""
        return np.asarray(self.weekly)

    def _accumulate(self, begin: float, end: float) -> None:
        self.total_area += self.value * (end - begin)
        n_weeks = len(self.weekly)
        week = int(begin // HOURS_PER_WEEK)
        while begin < end and week < n_weeks:
            boundary = min(end, (week + 1) * HOURS_PER_WEEK)
            self.weekly[week] += self.value * (boundary - begin)
            begin = boundary
            week += 1
        self._move_to_week(end)

    def _move_to_week(self, now: float) -> None:
        self._week = int(now // HOURS_PER_WEEK)
        self._week_end = (self._week + 1) * HOURS_PER_WEEK


class Team:
    """One team's heads, slots and queues inside a SimPy environment."""

    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        headcount: int,
        slots_per_head: int,
        calendar: WorkCalendar,
        routing: str,
        head_segments: list[int] | None,
        n_weeks: int,
        counter: list[int],
        horizon: float,
    ) -> None:
        self.env = env
        self.name = name
        self.headcount = headcount
        self.slots_per_head = slots_per_head
        self.calendar = calendar
        self.pooled = routing == "pooled"
        self.routing = routing
        self.free = [slots_per_head] * headcount
        self.free_total = slots_per_head * headcount
        self.queues: list[deque] = [deque() for _ in range(1 if self.pooled else headcount)]
        self.queued = [0] * len(self.queues)
        self.load = [0] * max(headcount, 1)
        self.busy = LevelMonitor(n_weeks)
        self.waiting = LevelMonitor(n_weeks)
        self.head_segments = head_segments
        self._rr = 0
        self._rr_by_segment: dict[int, int] = {}
        self._event_counter = counter
        self.withdrawn: set[int] = set()
        self.served = 0
        self.work_hours = 0.0
        self._wake_time: float | None = None
        self.horizon = horizon

    def route(self, segment: int) -> int:
        """Pick the head (queue index) for a new item; -1 when no head can take it."""
        if self.pooled:
            return 0 if self.headcount else -1
        if self.headcount == 0:
            return -1
        if self.routing == "least_loaded":
            load = self.load
            return load.index(min(load))
        if self.routing == "by_segment":
            heads = [h for h, s in enumerate(self.head_segments or ()) if s == segment]
            if not heads:
                return -1
            turn = self._rr_by_segment.get(segment, 0)
            self._rr_by_segment[segment] = turn + 1
            return heads[turn % len(heads)]
        head = self._rr % self.headcount
        self._rr += 1
        return head

    def least_loaded_head(self) -> int:
        """The head with the fewest items, whatever its segment; -1 with no heads."""
        if self.headcount == 0:
            return -1
        if self.pooled:
            return 0
        return self.load.index(min(self.load))

    def arrive(self, item: int, head: int, hold: HoldFn, done: DoneFn) -> None:
        """Queue an item at a head; it starts at once if a slot is free and the team works."""
        now = self.env.now
        self.load[head] += 1
        self.queues[head].append((item, hold, done))
        self.queued[head] += 1
        self.waiting.change(now, 1)
        self._fill(head, now)

    def withdraw(self, item: int, head: int) -> None:
        """Take a queued item out (SLA re-routing); its queue entry is skipped lazily."""
        self.withdrawn.add(item)
        self.load[head] -= 1
        self.queued[head] -= 1
        self.waiting.change(self.env.now, -1)

    def _fill(self, head: int, now: float) -> None:
        """Start queued items on free slots while the calendar is open; else wait for it."""
        queue = self.queues[head]
        if not queue:
            return
        free = self.free_total if self.pooled else self.free[head]
        if free <= 0:
            return
        opening = self.calendar.next_open(now)
        if opening > now:
            self._wake_at(opening)
            return
        while queue and free > 0:
            item, hold, done = queue.popleft()
            if item in self.withdrawn:
                self.withdrawn.discard(item)
                continue
            self.queued[head] -= 1
            self.waiting.change(now, -1)
            free -= 1
            self._start(item, head, now, hold, done)
        if self.pooled:
            self.free_total = free
        else:
            self.free[head] = free

    def _wake_at(self, opening: float) -> None:
        """One pending wake-up per team, at the calendar's next opening."""
        if self._wake_time is not None and self._wake_time <= opening:
            return
        self._wake_time = opening
        self._event_counter[0] += 1
        event = self.env.timeout(opening - self.env.now)
        event.callbacks.append(lambda _e: self._wake(opening))

    def _wake(self, opening: float) -> None:
        if self._wake_time != opening:
            return
        self._wake_time = None
        now = self.env.now
        for head in range(len(self.queues)):
            self._fill(head, now)

    def _start(self, item: int, head: int, now: float, hold: HoldFn, done: DoneFn) -> None:
        self.busy.change(now, 1)
        end = hold(item, now)
        if now < self.horizon:
            working = self.calendar.working_hours_until
            self.work_hours += working(min(end, self.horizon)) - working(now)
        self._event_counter[0] += 1
        event = self.env.timeout(end - now)
        event.callbacks.append(lambda _e: self._finish(item, head, done))

    def _finish(self, item: int, head: int, done: DoneFn) -> None:
        now = self.env.now
        self.busy.change(now, -1)
        self.load[head] -= 1
        self.served += 1
        if self.pooled:
            self.free_total += 1
        else:
            self.free[head] += 1
        done(item, now)
        self._fill(head, now)

    def close(self, now: float) -> None:
        self.busy.close(now)
        self.waiting.close(now)

    @property
    def slots(self) -> int:
        return self.headcount * self.slots_per_head
