"""A team served seat by seat: usable slots per seat, ramp, shifts, routing, queues and jobs.

A staffing change (a hire, a leaver, an absence, a ramp step) costs O(log n) amortised in
the number of seats n, not O(n) Python steps: headcounts are running counts and sorted
seat lists (``bisect``; an insert moves pointers in C), effective capacity is summed run
by run (``repeated_sum``), and a change fills only the queues it touched. Least-loaded
routing and a pooled queue's free seats use heaps, one per shift calendar, with stale
entries skipped on the way out; with shifts a routing decision looks at each distinct
shift once, not at each head. Results are the same, to the bit, as scanning every seat.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from heapq import heapify, heappop, heappush

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.repeated_sum import add_repeatedly
from funnelsim.engine.roster import HOURS_PER_MONTH
from funnelsim.engine.teams import LevelLog, Team

INF = math.inf
# A pooled queue's free seats may sit on any shift: it is never waiting for one calendar.
_ANY_SHIFT = -1


class SeatTeam(Team):
    """A team whose seats open, close and change their usable slots during the run.

    Subclasses open and close the seats (``StaffedTeam`` follows a roster); this class
    routes items to present seats, queues them, starts them on usable slots and, for teams
    with a ``work_time``, slows the work by the occupant's ramp-up productivity.

    With ``duty`` (one on-duty calendar per seat, ``shifts.duty_calendars``) each seat
    starts items only during its own shift, least-loaded routing picks among the heads on
    duty (else those whose shift starts first), and a ``work_time`` stage's work, timed by
    the stage on the team calendar, advances only during the head's shift.

    Seats change state only through ``_set_employed``, ``_set_present`` and
    ``_set_limit``, which keep the sorted lists, heaps and counts below up to date.
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
        self._init_index()

    def _init_index(self) -> None:
        """The running state that keeps each staffing change O(log n) (module docstring)."""
        shifts = len(self.duty_calendars)
        self.n_present = 0
        self._employed_seats: list[int] = []
        self._present_seats: list[int] = []
        self._shift_seats: list[list[int]] = [[] for _ in range(shifts)]
        for seat, shift in enumerate(self.duty_index):
            self._shift_seats[shift].append(seat)
        self._present_on_shift = [0] * shifts
        by_segment = self.routing == "by_segment" and bool(self.head_segments)
        self._segment_seats: dict[int, tuple[list[int], list[int]]] | None = (
            {segment: ([], []) for segment in self.head_segments} if by_segment else None
        )
        least_loaded = self.routing == "least_loaded" and not self.pooled
        self._least_heaps: list[list[tuple[int, int]]] | None = (
            [[] for _ in range(shifts)] if least_loaded else None
        )
        self._free_heaps: list[list[int]] | None = (
            [[] for _ in range(shifts)] if self.pooled else None
        )
        # Present heads still ramping, by hire time, for the effective capacity.
        self._ramp_groups: dict[float, list[int]] = {}
        self._ramp_seats: list[int] = []
        self._ramp_hires: list[float] = []
        self._jobs_at: list[dict[int, list]] = [{} for _ in range(self.n_seats)]
        self._dirty: set[int] = set()
        self._blocked: dict[int, set[int]] = {}

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
        return self._ramp_factor(self.hired[seat], now)

    def _ramp_factor(self, hired: float, now: float) -> float:
        """Productivity of a head hired at ``hired`` (-inf: on the team from the start)."""
        ramp = self.ramp
        if ramp is None or hired == -INF:
            return 1.0
        month = int((now - hired) // HOURS_PER_MONTH)
        return ramp[month] if 0 <= month < len(ramp) else 1.0

    def _ramped(self, hired: float, now: float) -> bool:
        """Whether a head hired at ``hired`` is past the ramp's listed months, for good."""
        return (
            self.ramp is None
            or hired == -INF
            or int((now - hired) // HOURS_PER_MONTH) >= len(self.ramp)
        )

    def _usable(self, seat: int, now: float) -> int:
        if not self.present[seat]:
            return 0
        if self.working_time:
            return self.slots_per_head
        p = self.productivity(seat, now)
        return max(1, round(p * self.slots_per_head))

    def effective_capacity(self, now: float) -> float:
        """Slot-equivalents of the present heads: productivity x slots per head.

        The float is the seat-by-seat sum in seat order (as ``sum`` over the seats rounds
        it), taken run by run: full heads between ramping ones, then each run of
        consecutive present heads hired together.
        """
        self._drop_ramped(now)
        present, ramping = self._present_seats, self._ramp_seats
        slots = self.slots_per_head
        full = 1.0 * slots
        total, summed, k = 0.0, 0, 0
        while k < len(ramping):
            seat = ramping[k]
            at = bisect_left(present, seat, summed)
            total = add_repeatedly(total, full, at - summed)
            hired = self.hired[seat]
            group = self._ramp_groups[hired]
            run = _common_run(present, at, group, bisect_left(group, seat))
            total = add_repeatedly(total, float(self._ramp_factor(hired, now) * slots), run)
            summed = at + run
            k += run
        return add_repeatedly(total, full, len(present) - summed)

    def _drop_ramped(self, now: float) -> None:
        """Count the heads that finished their ramp as full heads (earliest hires first)."""
        hires = self._ramp_hires
        while hires and self._ramped(hires[0], now):
            for seat in self._ramp_groups.pop(heappop(hires), ()):
                del self._ramp_seats[bisect_left(self._ramp_seats, seat)]

    # Seat state changes, each O(log n) amortised.

    def _set_employed(self, seat: int, employed: bool) -> None:
        if self.employed[seat] == employed:
            return
        self.employed[seat] = employed
        _toggle(self._employed_seats, seat, employed)
        if self._segment_seats is not None and seat < len(self.head_segments):
            _toggle(self._segment_seats[self.head_segments[seat]][1], seat, employed)
        self.headcount = len(self._employed_seats)

    def _set_present(self, seat: int, present: bool, now: float) -> None:
        if self.present[seat] == present:
            return
        self.present[seat] = present
        self.n_present += 1 if present else -1
        self._present_on_shift[self.duty_index[seat]] += 1 if present else -1
        _toggle(self._present_seats, seat, present)
        if self._segment_seats is not None and seat < len(self.head_segments):
            _toggle(self._segment_seats[self.head_segments[seat]][0], seat, present)
        if present and self._least_heaps is not None:
            heappush(self._least_heaps[self.duty_index[seat]], (self.load[seat], seat))
        hired = self.hired[seat]
        if present and not self._ramped(hired, now):
            if hired not in self._ramp_groups:
                self._ramp_groups[hired] = []
                heappush(self._ramp_hires, hired)
            insort(self._ramp_groups[hired], seat)
            insort(self._ramp_seats, seat)
        elif not present and _holds(self._ramp_groups.get(hired, ()), seat):
            _toggle(self._ramp_groups[hired], seat, False)
            _toggle(self._ramp_seats, seat, False)

    def _set_limit(self, seat: int, limit: int) -> None:
        """A seat's usable slots; the queue it serves is filled at the next ``_fill_all``."""
        self.limit[seat] = limit
        self._slot_freed(seat)
        self._dirty.add(0 if self.pooled else seat)

    def _slot_freed(self, seat: int) -> None:
        """Offer a seat with a free usable slot to its shift's free-seat heap (pooled)."""
        if self._free_heaps is None or self.busy_n[seat] >= self.limit[seat]:
            return
        shift = self.duty_index[seat]
        heap = self._free_heaps[shift]
        heappush(heap, seat)
        if len(heap) > 4 * len(self._shift_seats[shift]) + 64:
            busy_n, limit = self.busy_n, self.limit
            heap[:] = [s for s in self._shift_seats[shift] if busy_n[s] < limit[s]]
            heapify(heap)

    def _load_changed(self, seat: int) -> None:
        """Record a seat's new load for least-loaded routing; compact stale entries."""
        if self._least_heaps is None:
            return
        shift = self.duty_index[seat]
        heap = self._least_heaps[shift]
        heappush(heap, (self.load[seat], seat))
        if len(heap) > 4 * len(self._shift_seats[shift]) + 64:
            present, load = self.present, self.load
            heap[:] = [(load[s], s) for s in self._shift_seats[shift] if present[s]]
            heapify(heap)

    # Which queues a change or an opening can start work in.

    def _fill_all(self, now: float) -> None:
        """Fill the queues a change touched, and those waiting for a calendar open now.

        Every other queue is empty, has no free usable slot, or waits for a calendar still
        closed with a wake-up pending no later than its opening, so filling it (as the
        team once did for every queue at every change) would do nothing.
        """
        todo = self._dirty
        self._dirty = set()
        for shift, queues in self._blocked.items():
            if queues and (shift == _ANY_SHIFT or self._opens_by(shift, now)):
                todo |= queues
        for queue_index in sorted(todo):
            self._fill(queue_index, now)

    def _opens_by(self, shift: int, now: float) -> bool:
        calendar = self.duty_calendars[shift]
        return calendar.always_open or calendar.next_open(now) <= now

    def _wake(self, opening: float) -> None:
        """At a wake-up, fill every queue that waited for a calendar, in queue order."""
        if self._wake_time != opening:
            return
        self._wake_time = None
        todo = self._dirty
        self._dirty = set()
        for queues in self._blocked.values():
            todo |= queues
        now = self.env.now
        for queue_index in sorted(todo):
            self._fill(queue_index, now)

    def _mark_blocked(self, queue_index: int, blocked: bool) -> None:
        """Note whether a queue holds entries with a free slot, waiting for a calendar."""
        if self.pooled:
            shift = _ANY_SHIFT if self.duty is not None else 0
        else:
            shift = self.duty_index[queue_index]
        if blocked:
            self._blocked.setdefault(shift, set()).add(queue_index)
        elif shift in self._blocked:
            self._blocked[shift].discard(queue_index)

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
        if self._segment_seats is not None:
            present, employed = self._segment_seats.get(segment, ([], []))
            seats = present if self._present_seats else employed
        if not seats:
            return -1
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
        """The head with the fewest items (lowest seat on ties) among the candidates.

        Candidates are the present heads (else the employed ones); with shifts, only those
        on duty now, else those whose shift starts first. Each shift's heap gives its
        least-loaded present head.
        """
        heaps = self._least_heaps
        if heaps is None or not self.n_present:
            load = self.load
            return min(self._candidate_seats(), key=lambda s: (load[s], s))
        shifts = [s for s, n in enumerate(self._present_on_shift) if n]
        if self.duty is not None and len(shifts) > 1:
            now = self.env.now
            opening = [self.duty_calendars[s].next_open(now) for s in shifts]
            first = min(opening)
            shifts = [s for s, at in zip(shifts, opening, strict=True) if at == first]
        present, load = self.present, self.load
        best: tuple[int, int] | None = None
        for shift in shifts:
            heap = heaps[shift]
            while True:
                level, seat = heap[0]
                if present[seat] and load[seat] == level:
                    break
                heappop(heap)
            if best is None or (level, seat) < best:
                best = (level, seat)
        return best[1]

    def _candidate_seats(self) -> list[int]:
        """The present seats, else the employed ones (all away: queue for their return).

        With shifts, only the heads on duty now, else those whose shift starts first (a
        routing tool that knows who is working; round robin and by-segment rules assign
        in turn whatever the shift, as a CRM's assignment rule does). A scan of every seat,
        for least-loaded routing with everyone away and for a team without its heaps.
        """
        seats = [s for s in range(self.n_seats) if self.present[s]] or [
            s for s in range(self.n_seats) if self.employed[s]
        ]
        if self.duty is None or len(seats) < 2:
            return seats
        now = self.env.now
        opening = [self.duty[s].next_open(now) for s in seats]
        first = min(opening)
        return [s for s, at in zip(seats, opening, strict=True) if at == first]

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
        lowest = -1
        for heap in self._free_heaps:
            while heap and busy_n[heap[0]] >= limit[heap[0]]:
                heappop(heap)
            if heap and (lowest < 0 or heap[0] < lowest):
                lowest = heap[0]
        return lowest

    def _fill(self, head: int, now: float) -> None:
        """Start queued items on usable slots while the calendar is open; else wait for it."""
        queue = self.queues[head]
        while queue and queue[0][0] < 0:
            queue.popleft()
        if not queue or self._free_seat(head) < 0:
            self._mark_blocked(head, False)
            return
        if self.duty is None and not self._always_open and self._closed_until_opening(now):
            self._mark_blocked(head, True)
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
                self._load_changed(head)
            self._begin(item, seat, now, entry[1], entry[2], entry[3])
        self._mark_blocked(head, bool(queue) and self._free_seat(head) >= 0)

    def _on_duty_seat(self, queue_index: int, now: float) -> int:
        """A seat with a usable slot whose shift is on now; else wake at the first such shift.

        Pooled, the lowest such seat: each shift's free-seat heap gives its lowest seat.
        """
        if not self.pooled:
            seat = queue_index
            if self.busy_n[seat] >= self.limit[seat]:
                return -1
            at = self.duty[seat].next_open(now)
            if at <= now:
                return seat
            self._wake_at(at)
            return -1
        busy_n, limit = self.busy_n, self.limit
        lowest, first, free = -1, INF, False
        for shift, heap in enumerate(self._free_heaps):
            while heap and busy_n[heap[0]] >= limit[heap[0]]:
                heappop(heap)
            if not heap:
                continue
            free = True
            at = self.duty_calendars[shift].next_open(now)
            if at <= now:
                if lowest < 0 or heap[0] < lowest:
                    lowest = heap[0]
            else:
                first = min(first, at)
        if lowest < 0 and free:
            self._wake_at(first)
        return lowest

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
        self._jobs_at[seat][item] = job
        self.busy_n[seat] += 1
        self.load[seat] += 1
        self._load_changed(seat)
        self._busy_up(seat, now)
        self._event_counter[0] += 1
        self.env.timeout(end - now, job).callbacks.append(self._on_complete)

    def _on_complete(self, event: simpy.Event) -> None:
        self._complete(event.value)

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


def _toggle(seats: list[int], seat: int, member: bool) -> None:
    """Insert a seat into, or remove it from, a sorted list of seats."""
    if member:
        insort(seats, seat)
    else:
        del seats[bisect_left(seats, seat)]


def _holds(seats: list[int], seat: int) -> bool:
    """Whether a sorted list of seats holds the seat."""
    at = bisect_left(seats, seat)
    return at < len(seats) and seats[at] == seat


def _common_run(seats: list[int], at: int, group: list[int], start: int) -> int:
    """How many seats from ``seats[at]`` on are ``group[start]``, ``group[start + 1]``, ...

    Both lists are sorted, ``seats[at] == group[start]`` and every seat of the group is in
    ``seats``, so the two agree up to some length and never after it: binary search.
    """
    low, high = 1, min(len(seats) - at, len(group) - start)
    while low < high:
        middle = (low + high + 1) // 2
        if seats[at + middle - 1] == group[start + middle - 1]:
            low = middle
        else:
            high = middle - 1
    return low
