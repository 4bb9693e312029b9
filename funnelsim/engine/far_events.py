"""Events due far ahead kept out of SimPy's heap until their day comes near.

A run at scale has tens of thousands of completions pending weeks ahead (sales cycles,
onboarding), and every ``heappop`` of SimPy's event heap walks its depth through objects
scattered in memory, so its cost grew with the run's size (~1 us a pop at 3M leads against
0.4 us at 100k). Here ``Environment.schedule`` is replaced on the one environment: an event
due within the next ``WIDTH``-hour bucket or two goes into the heap as before; a later one
is kept, with the very heap entry SimPy would have made (time, priority, event id from
SimPy's own counter), in the list of its bucket. A tick at each bucket's start pushes the
next bucket's entries into the heap, a whole bucket before any is due. Events are
processed in exactly SimPy's order (the heap's key is the entry, and every entry is in the
heap before anything later than it is popped), so results are bit for bit those of plain
SimPy (``tests/test_far_events.py``). The ticks are not model events (not counted).
"""

from __future__ import annotations

from heapq import heappush

import simpy
from simpy.events import NORMAL, EventPriority

from funnelsim.engine.teams import Due

# Hours per bucket: the heap holds about two buckets of events.
WIDTH = 24.0


class FarEvents:
    """Installs itself as ``env.schedule``; ticks release each bucket a bucket early."""

    def __init__(self, env: simpy.Environment, horizon: float, width: float = WIDTH) -> None:
        self._env = env
        self._queue = env._queue
        self._eid = env._eid
        self._width = width
        self._horizon = horizon
        first = int(env._now // width)
        # Events due before this go straight into the heap (this bucket and the next).
        self._near_until = (first + 2) * width
        self._buckets: dict[int, list[tuple]] = {}
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
        key = int(at // self._width)
        bucket = self._buckets.get(key)
        if bucket is None:
            self._buckets[key] = [entry]
        else:
            bucket.append(entry)

    def _schedule_tick(self, index: int) -> None:
        at = index * self._width
        if at <= self._horizon:
            tick = Due(self._tick_callbacks, index)
            heappush(self._queue, (at, NORMAL, next(self._eid), tick))

    def _tick(self, event: simpy.Event) -> None:
        """At bucket ``index``'s start: release bucket ``index + 1`` into the heap."""
        index = event._value
        self._near_until = (index + 2) * self._width
        queue = self._queue
        for entry in self._buckets.pop(index + 1, ()):
            heappush(queue, entry)
        self._schedule_tick(index + 1)

    def pending(self) -> int:
        """Entries held back (not yet in the heap), the ones beyond the horizon included."""
        return sum(len(bucket) for bucket in self._buckets.values()) + len(self.beyond)
