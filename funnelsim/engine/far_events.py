"""Events due far ahead kept out of SimPy's heap until their day comes near.

A run at scale has tens of thousands of completions pending weeks ahead (sales cycles,
onboarding), and every ``heappop`` of SimPy's event heap walks its depth through objects
scattered in memory, so its cost grew with the run's size (~1 us a pop at 3M leads against
0.4 us at 100k). Here ``Environment.schedule`` is replaced on the one environment: an event
due within the next slot or two goes into the heap as before; a later one is kept, with
the very heap entry SimPy would have made (time, priority, event id from SimPy's own
counter), in the list of its slot. A tick at each slot's start pushes the next slot's
entries into the heap, a whole slot before any is due. A slot is a day up to 100k leads;
past that a day is split into more slots in proportion to the leads (``slots_for``), so
the heap holds about as many entries at any size (at 10M leads a day-wide heap's pop
cost 1.1 us against 0.3 at 100k). Events are processed in exactly SimPy's order (the
heap's key is the entry, and every entry is in the heap before anything later than it is
popped), so results are bit for bit those of plain
SimPy (``tests/test_far_events.py``). The ticks are not model events (not counted).
"""

from __future__ import annotations

import math
from collections import deque
from heapq import heappush
from operator import itemgetter

import simpy
from simpy.events import NORMAL, EventPriority

from funnelsim.engine.teams import Due

# Hours per day bucket: far events wait in the bucket of their day.
WIDTH = 24.0
# Runs with more leads than this split each day into slots (``slots_for``), so the heap
# holds about as many events as at this size whatever the run's size.
SLOT_LEADS = 100_000
_time = itemgetter(0)


def slots_for(leads: int) -> int:
    """Slots per day bucket for a run of ``leads`` leads: 1 up to ``SLOT_LEADS``, then the
    power of two at or above ``leads / SLOT_LEADS`` (a slot is an exact binary fraction
    of the day), so the heap's depth and the memory its entries span stay about those of
    a 100k-lead run (at 10M leads a pop of a day-wide heap cost 1.1 us against 0.3)."""
    slots = 1
    while slots * SLOT_LEADS < leads:
        slots *= 2
    return slots


class FarEvents:
    """Installs itself as ``env.schedule``; ticks release each slot a slot early.

    An event due beyond the next slot waits in its slot's list; one due beyond the next
    day waits in its day's list first, sorted by time a day ahead (one C sort, not a
    Python step per entry), and the ticks push it a slot ahead (many narrow slots months
    ahead would be as many cold lists). A slot is the day itself when ``slots`` is 1.
    Where an entry goes is decided by its slot's number, not by comparing times with
    float slot edges, so no entry lands in a slot already released.
    """

    def __init__(
        self, env: simpy.Environment, horizon: float, width: float = WIDTH, slots: int = 1
    ) -> None:
        self._env = env
        self._queue = env._queue
        self._eid = env._eid
        self._slots = slots
        self._slot_width = width / slots
        self._horizon = horizon
        first = int(env._now // self._slot_width)
        # Slots below this number go straight into the heap (this slot and the next); so
        # does any time below ``_near_until``, the same edge as a time (a fast check).
        self._near_key = first + 2
        self._near_until = (first + 2) * self._slot_width
        self._buckets: dict[int, list[tuple]] = {}
        # Days from this number on are held in ``_days`` (with one slot a day, none are).
        self._day_key: float = (first + 2) // slots + 2 if slots > 1 else math.inf
        self._days: dict[int, list[tuple]] = {}
        # Opened days' entries in time order, pushed into the heap a slot ahead.
        self._staged: deque[tuple] = deque()
        # Entries due after the horizon: never processed (the run stops first), kept alive
        # as SimPy keeps them.
        self.beyond: list[tuple] = []
        self._tick_callbacks = (self._tick,)
        self._schedule_tick(first + 1)
        env.schedule = self.schedule  # type: ignore[method-assign]

    def schedule(
        self, event: simpy.Event, priority: EventPriority = NORMAL, delay: float = 0
    ) -> None:
        """``Environment.schedule``: the same heap entry, held back while it is far."""
        at = self._env._now + delay
        if at < self._near_until:
            heappush(self._queue, (at, priority, next(self._eid), event))
            return
        entry = (at, priority, next(self._eid), event)
        if not at <= self._horizon:
            self.beyond.append(entry)
            return
        key = int(at // self._slot_width)
        if key < self._near_key:
            heappush(self._queue, entry)
            return
        day = key // self._slots
        held = self._buckets
        if day >= self._day_key:
            held, key = self._days, day
        bucket = held.get(key)
        if bucket is None:
            held[key] = [entry]
        else:
            bucket.append(entry)

    def _schedule_tick(self, index: int) -> None:
        at = index * self._slot_width
        if at <= self._horizon:
            tick = Due(self._tick_callbacks, index)
            heappush(self._queue, (at, NORMAL, next(self._eid), tick))

    def _tick(self, event: simpy.Event) -> None:
        """At slot ``index``'s start: the day after next moved to its slots; slot
        ``index + 1`` released into the heap."""
        index = event._value
        self._near_key = index + 2
        self._near_until = (index + 2) * self._slot_width
        while self._day_key < (index + 2) // self._slots + 2:
            self._open(int(self._day_key))
        queue = self._queue
        for entry in self._buckets.pop(index + 1, ()):
            heappush(queue, entry)
        staged, near_until = self._staged, self._near_until
        while staged and staged[0][0] < near_until:
            heappush(queue, staged.popleft())
        self._schedule_tick(index + 1)

    def _open(self, day: int) -> None:
        """Day ``day``'s entries sorted by time behind the days opened before (ticks push
        them a slot ahead); later entries of that day go to their slot's list."""
        self._day_key = day + 1
        entries = self._days.pop(day, None)
        if entries:
            entries.sort(key=_time)
            self._staged.extend(entries)

    def pending(self) -> int:
        """Entries held back (not yet in the heap), the ones beyond the horizon included."""
        held = sum(len(bucket) for bucket in self._buckets.values())
        held += sum(len(bucket) for bucket in self._days.values()) + len(self._staged)
        return held + len(self.beyond)
