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

from array import array
from collections.abc import Callable
from heapq import heappush

import simpy
from simpy.events import NORMAL, EventPriority

from funnelsim.engine.teams import Completion, DoneFn, Due

# A held-back team completion as numbers: time, event id, item, head, kind.
ROW = 5

# Hours per bucket: the heap holds about two buckets of events.
WIDTH = 2.0


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
        # Team completions held back as rows of numbers (``ROW`` doubles each), made into
        # events only when released: no object waits weeks in memory to be popped cold.
        self._rows: dict[int, array] = {}
        self._kinds: list[tuple[tuple[Callable[[simpy.Event], None], ...], DoneFn]] = []
        # Entries due after the horizon: never processed (the run stops first), kept alive
        # as SimPy keeps them.
        self.beyond: list[tuple] = []
        self._tick_callbacks = (self._tick,)
        self._schedule_tick(first + 1)
        env.schedule = self.schedule  # type: ignore[method-assign]
        env.far_events = self  # type: ignore[attr-defined]

    def kind(self, callbacks: tuple[Callable[[simpy.Event], None], ...], done: DoneFn) -> int:
        """A number for a team's completion callbacks and a stage's ``done``."""
        self._kinds.append((callbacks, done))
        return len(self._kinds) - 1

    def completion(self, kind: int, item: int, head: int, delay: float) -> None:
        """Schedule a team's ``Completion`` of ``kind``: what ``schedule`` does with it, a
        far one kept as a row of numbers until its bucket is released."""
        at = self._env._now + delay
        if at < self._near_until or not at <= self._horizon:
            callbacks, done = self._kinds[kind]
            self.schedule(Completion(callbacks, item, head, done), NORMAL, delay)
            return
        key = int(at // self._width)
        rows = self._rows.get(key)
        if rows is None:
            rows = self._rows[key] = array("d")
        rows.extend((at, next(self._eid), item, head, kind))

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
        rows = self._rows.pop(index + 1, None)
        if rows is not None:
            kinds = self._kinds
            numbers = iter(rows)
            for at, eid, item, head, kind in zip(*(numbers,) * ROW, strict=True):
                callbacks, done = kinds[int(kind)]
                event = Completion(callbacks, int(item), int(head), done)
                heappush(queue, (at, NORMAL, int(eid), event))
        self._schedule_tick(index + 1)

    def pending(self) -> int:
        """Entries held back (not yet in the heap), the ones beyond the horizon included."""
        rows = sum(len(bucket) for bucket in self._rows.values()) // ROW
        return sum(len(bucket) for bucket in self._buckets.values()) + rows + len(self.beyond)
