"""A team served seat by seat: usable slots per seat, ramp, routing, queues and jobs.

Staffing changes (a hire, a leaver, an absence, a ramp step) cost O(log n) amortised in
the number of seats n, not O(n) Python steps: headcounts are running counts, effective
capacity sums seats grouped by hire time, and a change fills only the queues it touched.
Routing uses sorted lists of present and employed seats (``bisect``; an insert moves
pointers in C) and, for least-loaded routing and pooled queues, heaps with stale entries
skipped on the way out. Results are the same as scanning every seat.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from heapq import heapify, heappop, heappush

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.roster import HOURS_PER_MONTH
from funnelsim.engine.teams import Team

INF = math.inf


class SeatTeam(Team):
    """A team whose seats open, close and change their usable slots during the run.

    Subclasses open and close the seats (``StaffedTeam`` follows a roster); this class
    routes items to present seats, queues them, starts them on usable slots and, for teams
    with a ``work_time``, slows the work by the occupant's ramp-up productivity.
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
    ) -> None:
        super().__init__(
            env, name, 0, slots_per_head, calendar, routing, None, n_weeks, counter, horizon
        )
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
        # Running state that keeps each staffing change O(log n) (see the module docstring).
        self.n_present = 0
        self._employed_seats: list[int] = []
        self._present_seats: list[int] = []
        self._full_present = 0
        self._ramping: dict[float, int] = {}
        self._jobs_at: list[dict[int, list]] = [{} for _ in range(n_seats)]
        self._dirty: set[int] = set()
        self._blocked: set[int] = set()
        self._least_heap: list[tuple[int, int]] | None = (
            [] if routing == "least_loaded" and not self.pooled else None
        )
        self._free_heap: list[int] | None = [] if self.pooled else None

    # Productivity and usable slots.

    def productivity(self, seat: int, now: float) -> float:
        """The seat's occupant's productivity now (1 when ramped or without a ramp)."""
        return self._ramp_factor(self.hired[seat], now)

    def _usable(self, seat: int, now: float) -> int:
        if not self.present[seat]:
            return 0
        if self.working_time:
            return self.slots_per_head
        p = self.productivity(seat, now)
        return max(1, round(p * self.slots_per_head))

    def effective_capacity(self, now: float) -> float:
        """Slot-equivalents of the present heads: productivity x slots per head.

        Present heads still ramping are counted by hire time (heads hired together share
        their productivity); a group that has finished its ramp joins the full heads.
        With ramping heads the float sum may differ from a seat-by-seat sum in its last bit.
        """
        for hired in [h for h in self._ramping if self._ramped(h, now)]:
            self._full_present += self._ramping.pop(hired)
        slots = self.slots_per_head
        total = float(self._full_present * slots)
        for hired, count in self._ramping.items():
            total += count * (self._ramp_factor(hired, now) * slots)
        return total

    def _ramp_factor(self, hired: float, now: float) -> float:
        """Productivity of a head hired at ``hired`` (-inf: on the team from the start)."""
        ramp = self.ramp
        if ramp is None or hired == -INF:
            return 1.0
        month = int((now - hired) // HOURS_PER_MONTH)
        return ramp[month] if 0 <= month < len(ramp) else 1.0

    def _ramped(self, hired: float, now: float) -> bool:
        """Whether a head hired at ``hired`` is past the ramp listed months (for good)."""
        return (
            self.ramp is None
            or hired == -INF
            or int((now - hired) // HOURS_PER_MONTH) >= len(self.ramp)
        )

    # Seat state changes, each O(log n) amortised.

    def _set_employed(self, seat: int, employed: bool) -> None:
        if self.employed[seat] == employed:
            return
        self.employed[seat] = employed
        if employed:
            insort(self._employed_seats, seat)
        else:
            del self._employed_seats[bisect_left(self._employed_seats, seat)]
        self.headcount = len(self._employed_seats)

    def _set_present(self, seat: int, present: bool, now: float) -> None:
        if self.present[seat] == present:
            return
        self.present[seat] = present
        hired = self.hired[seat]
        step = 1 if present else -1
        self.n_present += step
        if present:
            insort(self._present_seats, seat)
            if self._least_heap is not None:
                heappush(self._least_heap, (self.load[seat], seat))
            if self._ramped(hired, now):
                self._full_present += 1
            else:
                self._ramping[hired] = self._ramping.get(hired, 0) + 1
            return
        del self._present_seats[bisect_left(self._present_seats, seat)]
        if hired in self._ramping:
            self._ramping[hired] -= 1
            if not self._ramping[hired]:
                del self._ramping[hired]
        else:
            self._full_present -= 1

    def _set_limit(self, seat: int, limit: int) -> None:
        """A seat's usable slots; the queue it serves is filled at the next ``_fill_all``."""
        self.limit[seat] = limit
        self._slot_freed(seat)
        self._dirty.add(0 if self.pooled else seat)

    def _slot_freed(self, seat: int) -> None:
        """Offer a seat with a free usable slot to the pooled queue's free-seat heap."""
        heap = self._free_heap
        if heap is None or self.busy_n[seat] >= self.limit[seat]:
            return
        heappush(heap, seat)
        if len(heap) > 4 * self.n_seats + 64:
            heap[:] = [s for s in range(self.n_seats) if self.busy_n[s] < self.limit[s]]
            heapify(heap)

    def _fill_all(self, now: float) -> None:
        """Fill the queues a change touched (and, when open, those waiting for the opening).

        Every other queue is empty, has no free usable slot, or waits for the calendar to
        open with a wake-up pending, so filling it would do nothing.
        """
        todo = self._dirty
        self._dirty = set()
        if self._blocked and (self._always_open or self.calendar.next_open(now) <= now):
            todo |= self._blocked
        for queue_index in sorted(todo):
            self._fill(queue_index, now)

    def _wake(self, opening: float) -> None:
        """At the calendar's opening, fill the queues that waited for it."""
        if self._wake_time != opening:
            return
        self._wake_time = None
        todo = self._blocked | self._dirty
        self._blocked, self._dirty = set(), set()
        now = self.env.now
        for queue_index in sorted(todo):
            self._fill(queue_index, now)

    # The server: routing, queues, starts and completions.

    def route(self, segment: int) -> int:
        """The queue for a new item: pooled 0; else a present head (an employed one if none)."""
        if self.headcount == 0:
            return -1
        if self.pooled:
            return 0
        if self.routing == "least_loaded":
            return self._least_loaded()
        seats = self._present_seats or self._employed_seats
        at = bisect_left(seats, self._rr)
        seat = seats[at] if at < len(seats) else seats[0]
        self._rr = seat + 1
        return seat

    def least_loaded_head(self) -> int:
        """The present (else employed) head with the fewest items; -1 with no one employed."""
        if self.headcount == 0:
            return -1
        if self.pooled:
            return 0
        return self._least_loaded()

    def _least_loaded(self) -> int:
        """The present head with the fewest items (lowest seat on ties); else employed."""
        load = self.load
        heap = self._least_heap
        if heap is None or not self.n_present:
            seats = self._present_seats or self._employed_seats
            return min(seats, key=lambda s: (load[s], s))
        present = self.present
        while True:
            level, seat = heap[0]
            if present[seat] and load[seat] == level:
                return seat
            heappop(heap)

    def _load_changed(self, head: int) -> None:
        """Record a seat's new load for least-loaded routing; compact stale entries."""
        heap = self._least_heap
        if heap is None:
            return
        heappush(heap, (self.load[head], head))
        if len(heap) > 4 * self.n_seats + 64:
            heap[:] = [(self.load[s], s) for s in self._present_seats]
            heapify(heap)

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
            self._load_changed(queue_index)
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
            self._load_changed(queue_index)

    def _free_seat(self, queue_index: int) -> int:
        """The seat to start on: the head's own, or (pooled) the lowest seat with a slot."""
        busy_n, limit = self.busy_n, self.limit
        if not self.pooled:
            seat = queue_index
            return seat if busy_n[seat] < limit[seat] else -1
        heap = self._free_heap
        while heap:
            seat = heap[0]
            if busy_n[seat] < limit[seat]:
                return seat
            heappop(heap)
        return -1

    def _fill(self, head: int, now: float) -> None:
        """Start queued items on usable slots while the calendar is open; else wait for it."""
        queue = self.queues[head]
        while queue and queue[0][0] < 0:
            queue.popleft()
        if not queue or self._free_seat(head) < 0:
            self._blocked.discard(head)
            return
        if not self._always_open and self._closed_until_opening(now):
            self._blocked.add(head)
            return
        self._blocked.discard(head)
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
                self._load_changed(head)
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
        self._jobs_at[seat][item] = job
        self.busy_n[seat] += 1
        self.load[seat] += 1
        self._load_changed(seat)
        self.busy.up(now)
        self._event_counter[0] += 1
        self.env.timeout(end - now).callbacks.append(lambda _e: self._complete(job))

    def _complete(self, job: list) -> None:
        item, seat, _, _, done, _ = job
        if self.jobs.get(item) is not job:
            return  # re-queued when its head left; the resumed job completes instead
        del self.jobs[item]
        del self._jobs_at[seat][item]
        now = self.env.now
        self.busy_n[seat] -= 1
        self._slot_freed(seat)
        self.load[seat] -= 1
        self._load_changed(seat)
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
