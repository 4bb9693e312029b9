"""Teams as SimPy servers: heads with slots, routing, FIFO queues and level monitors.

A team holds ``headcount * capacity_per_head`` slots. An item takes a slot, starts when
the calendar next opens, and holds the slot until the time its stage returns. Only the
completion is a SimPy event; waiting in a queue costs nothing until a slot frees.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable

import numpy as np
import simpy
from simpy.events import NORMAL

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.least_loaded import LeastLoaded

HOURS_PER_WEEK = 168.0

# A stage tells the team how long an item holds its slot (given the start time) and what
# happens when it is done.
HoldFn = Callable[[int, float], float]
DoneFn = Callable[[int, float], None]


class Due(simpy.Event):
    """An event already triggered, due after a delay: what ``simpy.Timeout`` is, minus what
    nothing here reads (its ``env`` and ``delay`` fields, the negative-delay check).

    It carries its payload as its value and its callbacks as a tuple shared by every event
    of its kind (``Environment.step`` only iterates them), so an event costs one small
    object and one ``Environment.schedule`` call: ~12% of SimPy's time per event.
    """

    _ok = True  # read by ``Environment.step``: these events always succeed

    def __init__(self, callbacks: tuple[Callable[[simpy.Event], None], ...], value: object):
        self.callbacks = callbacks  # type: ignore[assignment]
        self._value = value


class Completion(Due):
    """A team's completion: the item as its value, its head and its stage's ``done`` as
    fields of the event itself (no tuple per event to allocate and, weeks later, fetch)."""

    def __init__(
        self,
        callbacks: tuple[Callable[[simpy.Event], None], ...],
        item: int,
        head: int,
        done: DoneFn,
    ):
        self.callbacks = callbacks  # type: ignore[assignment]
        self._value = item
        self.head = head
        self.done = done


class LevelLog:
    """A level (busy slots, queue length) logged as the times it steps up and down by one.

    Appending a time is all the run does; the time-weighted weekly areas are integrated
    in bulk afterwards (``level_areas``).
    """

    def __init__(self) -> None:
        self.ups = array("d")
        self.downs = array("d")
        self.up = self.ups.append
        self.down = self.downs.append

    def clear(self) -> None:
        """Drop the logged times (two floats a step) once the weekly areas are made."""
        self.ups = array("d")
        self.downs = array("d")
        self.up = self.ups.append
        self.down = self.downs.append

    def area(self, n_weeks: int, until: float) -> np.ndarray:
        """Level x hours in each week up to ``until``."""
        return level_areas(np.asarray(self.ups), np.asarray(self.downs), n_weeks, until)


def week_edges(n_weeks: int, horizon: float) -> np.ndarray:
    """Week boundaries from 0 to the horizon (the last week may be cut short)."""
    return np.minimum(np.arange(n_weeks + 1) * HOURS_PER_WEEK, horizon)


def level_areas(ups: np.ndarray, downs: np.ndarray, n_weeks: int, until: float) -> np.ndarray:
    """Level x hours per week up to ``until``, for a level from 0 stepping at ``ups``/``downs``.

    A step at time s adds the rest of its own week after s and every later week whole (each
    cut at ``until``), so the area is that of the ups minus that of the downs: no sort and no
    merged copy of the step times (O(steps), a few bytes a step while it runs).
    """
    weekly = _step_areas(ups, n_weeks, until) - _step_areas(downs, n_weeks, until)
    return np.maximum(weekly, 0.0, out=weekly)


def _step_areas(steps: np.ndarray, n_weeks: int, until: float) -> np.ndarray:
    """Per week, the hours up to ``until`` that each step time in ``steps`` lies behind."""
    starts = np.arange(n_weeks) * HOURS_PER_WEEK
    lengths = np.clip(np.minimum(starts + HOURS_PER_WEEK, until) - starts, 0.0, None)
    steps = steps[steps < until]
    week = (steps // HOURS_PER_WEEK).astype(np.int64)
    rest = np.minimum((week + 1) * HOURS_PER_WEEK, until)
    rest -= steps
    partial = np.bincount(week, weights=rest, minlength=n_weeks)[:n_weeks]
    count = np.bincount(week, minlength=n_weeks)[:n_weeks]
    behind = np.cumsum(count) - count
    return partial + lengths * behind


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
        self._always_open = calendar.always_open
        self.pooled = routing == "pooled"
        self.routing = routing
        self.free = [slots_per_head] * headcount
        self.free_total = slots_per_head * headcount
        self.queues: list[deque] = [deque() for _ in range(1 if self.pooled else headcount)]
        self.queued = [0] * len(self.queues)
        self.load = [0] * max(headcount, 1)
        # Least-loaded routing's index of heads by load (lowest-numbered on ties).
        self._least: LeastLoaded | None = None
        if routing == "least_loaded" and headcount:
            self._least = LeastLoaded(headcount)
        self._heads_of_segment: dict[int, list[int]] = {}
        for head, segment in enumerate(head_segments or ()):
            self._heads_of_segment.setdefault(segment, []).append(head)
        self.busy = LevelLog()
        self.waiting = LevelLog()
        # Bound once: the hot paths below run once or twice per item.
        self._log_start, self._log_end = self.busy.up, self.busy.down
        self._wait_up = self.waiting.up
        self._env_schedule = env.schedule
        self._finish_callbacks = (self._finisher(routing, headcount),)
        # Completions already processed, taken again for the next start: an event object
        # made and freed per item cost more than setting its four fields.
        self._spare: list[Completion] = []
        self._wake_callbacks = (self._on_wake,)
        self.n_weeks = n_weeks
        self.head_segments = head_segments
        self._rr = 0
        self._rr_by_segment: dict[int, int] = {}
        self._event_counter = counter
        self.withdrawn: set[tuple[int, int]] = set()
        self.served = 0
        self._wake_time: float | None = None
        self.horizon = horizon
        if type(self) is Team:
            # The routing rule picked once: ``route`` runs for every item. (Seat teams
            # route seat by seat with their own ``route``.)
            self.route = self._router()  # type: ignore[method-assign]

    def release_logs(self) -> None:
        """Drop the level logs (and the appends bound to them) once the tables are made."""
        for log in (self.busy, self.waiting, *getattr(self, "duty_busy", ())):
            log.clear()
        self._log_start, self._log_end = self.busy.up, self.busy.down
        self._wait_up = self.waiting.up

    def _router(self) -> Callable[[int], int]:
        """``route`` for this team's rule and headcount, without the checks per call."""
        if self.pooled:
            return self._route_first if self.headcount else self._route_none
        if self.headcount == 0:
            return self._route_none
        if self._least is not None:
            return self._least.route
        if self.routing == "by_segment":
            return self._route_by_segment
        return self._route_round_robin

    def route(self, segment: int) -> int:
        """Pick the head (queue index) for a new item; -1 when no head can take it."""
        return self._router()(segment)

    @staticmethod
    def _route_first(_segment: int) -> int:
        return 0

    @staticmethod
    def _route_none(_segment: int) -> int:
        return -1

    def _route_by_segment(self, segment: int) -> int:
        """The segment's heads in turn; -1 when the segment has none."""
        heads = self._heads_of_segment.get(segment)
        if not heads:
            return -1
        turn = self._rr_by_segment.get(segment, 0)
        self._rr_by_segment[segment] = turn + 1
        return heads[turn % len(heads)]

    def _route_round_robin(self, _segment: int) -> int:
        """Every head in turn."""
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

    def _load_changed(self, head: int) -> None:
        """Tell least-loaded routing a head's new load."""
        if self._least is not None:
            self._least.moved(head, self.load[head])

    def arrive(self, item: int, head: int, hold: HoldFn, done: DoneFn) -> None:
        """Queue an item at a head; it starts at once if a slot is free and the team works."""
        now = self.env._now
        self.load[head] += 1
        if self._least is not None:
            self._least.moved(head, self.load[head])
        queue = self.queues[head]
        pooled = self.pooled
        free = self.free_total if pooled else self.free[head]
        opening = now
        if free > 0 and not self._always_open:
            opening = self.calendar.next_open(now)
        if free > 0 and not queue and opening <= now:
            # The common case: nothing waiting, a free slot and an open calendar: start
            # at once (as ``_fill`` starts a queued item).
            if pooled:
                self.free_total = free - 1
            else:
                self.free[head] = free - 1
            end = hold(item, now)
            self._log_start(now)
            self._log_end(end)
            self._event_counter[0] += 1
            spare = self._spare
            if spare:
                event = spare.pop()
                event.callbacks = self._finish_callbacks
                event._value, event.head, event.done = item, head, done
            else:
                event = Completion(self._finish_callbacks, item, head, done)
            self._env_schedule(event, NORMAL, end - now)
            return
        queue.append((item, hold, done))
        self.queued[head] += 1
        self._wait_up(now)
        if free > 0:
            # Slots free: a closed calendar books the wake-up at its opening (what ``_fill``
            # would do); an open one starts what it can. (With no free slot ``_fill`` would
            # do nothing.)
            if opening > now:
                self._wake_at(opening)
            else:
                self._fill(head, now)

    def withdraw(self, item: int, head: int) -> None:
        """Take a queued item out (SLA re-routing); its queue entry is skipped lazily."""
        self.withdrawn.add((item, head))
        self.load[head] -= 1
        if self._least is not None:
            self._least.moved(head, self.load[head])
        self.queued[head] -= 1
        self.waiting.down(self.env.now)

    def _fill(self, head: int, now: float) -> None:
        """Start queued items on free slots while the calendar is open; else wait for it."""
        queue = self.queues[head]
        if not queue:
            return
        pooled = self.pooled
        free = self.free_total if pooled else self.free[head]
        if free <= 0:
            return
        if not self._always_open:
            opening = self.calendar.next_open(now)
            if opening > now:
                self._wake_at(opening)
                return
        withdrawn = self.withdrawn
        down = self.waiting.down
        queued = self.queued
        callbacks = self._finish_callbacks
        schedule = self._env_schedule
        spare = self._spare
        while queue and free > 0:
            item, hold, done = queue.popleft()
            if withdrawn and (item, head) in withdrawn:
                withdrawn.discard((item, head))
                continue
            queued[head] -= 1
            down(now)
            free -= 1
            if pooled:
                self.free_total = free
            else:
                self.free[head] = free
            # Start it: the stage says when it is done; the completion carries its item
            # as the event's value (one shared callback, no closure per event).
            end = hold(item, now)
            self._log_start(now)
            self._log_end(end)
            self._event_counter[0] += 1
            if spare:
                event = spare.pop()
                event.callbacks = callbacks
                event._value, event.head, event.done = item, head, done
            else:
                event = Completion(callbacks, item, head, done)
            schedule(event, NORMAL, end - now)

    def _closed_until_opening(self, now: float) -> bool:
        """Whether the calendar is closed at ``now``; if so, wake the team at its opening."""
        opening = self.calendar.next_open(now)
        if opening > now:
            self._wake_at(opening)
            return True
        return False

    def _wake_at(self, opening: float) -> None:
        """One pending wake-up per team, at the calendar's next opening."""
        if self._wake_time is not None and self._wake_time <= opening:
            return
        self._wake_time = opening
        self._event_counter[0] += 1
        self._env_schedule(Due(self._wake_callbacks, opening), NORMAL, opening - self.env._now)

    def _on_wake(self, event: simpy.Event) -> None:
        self._wake(event._value)

    def _wake(self, opening: float) -> None:
        if self._wake_time != opening:
            return
        self._wake_time = None
        now = self.env.now
        for head in range(len(self.queues)):
            self._fill(head, now)

    def _finisher(self, routing: str, headcount: int) -> Callable[[simpy.Event], None]:
        """The completion callback for this team's routing, without the checks per call."""
        if routing == "pooled":
            return self._finish_pooled
        if routing == "least_loaded" and headcount:
            return self._finish
        return self._finish_per_head

    def _finish(self, event: Completion) -> None:
        """A completion at a head of a least-loaded team (the router is told)."""
        head = event.head
        now = self.env._now
        load = self.load
        load[head] -= 1
        self._least.moved(head, load[head])  # type: ignore[union-attr]
        self.served += 1
        self.free[head] += 1
        event.done(event._value, now)
        self._spare.append(event)
        if self.queues[head]:
            self._fill(head, now)

    def _finish_per_head(self, event: Completion) -> None:
        """A completion at a head routed round robin or by segment."""
        head = event.head
        now = self.env._now
        self.load[head] -= 1
        self.served += 1
        self.free[head] += 1
        event.done(event._value, now)
        self._spare.append(event)
        if self.queues[head]:
            self._fill(head, now)

    def _finish_pooled(self, event: Completion) -> None:
        """A completion in a pooled team (one queue, slots shared)."""
        now = self.env._now
        self.load[0] -= 1
        self.served += 1
        self.free_total += 1
        event.done(event._value, now)
        self._spare.append(event)
        if self.queues[0]:
            self._fill(0, now)

    def busy_area(self) -> np.ndarray:
        """Busy slots x hours per week up to the horizon."""
        return self.busy.area(self.n_weeks, self.horizon)

    def queue_area(self) -> np.ndarray:
        """Queued items x hours per week up to the horizon."""
        return self.waiting.area(self.n_weeks, self.horizon)

    def busy_hours(self) -> float:
        """Slot-hours spent on items up to the horizon."""
        starts, ends = np.asarray(self.busy.ups), np.asarray(self.busy.downs)
        return float(np.sum(np.minimum(ends, self.horizon) - starts))

    def work_hours(self) -> float:
        """Working (calendar-open) slot-hours spent on items up to the horizon."""
        starts, ends = np.asarray(self.busy.ups), np.asarray(self.busy.downs)
        working = self.calendar.working_hours_array
        return float(np.sum(working(np.minimum(ends, self.horizon)) - working(starts)))

    def on_duty_hours(self) -> np.ndarray:
        """Person-hours on duty per week up to the horizon: every head works the calendar."""
        edges = week_edges(self.n_weeks, self.horizon)
        return self.headcount * np.diff(self.calendar.working_hours_array(edges))

    @property
    def slots(self) -> int:
        return self.headcount * self.slots_per_head
