"""Least-loaded routing's index: the lowest-numbered head among those with the least load.

One heap of plain head numbers per load level, stale entries skipped on the way out, and
the lowest level with a head on it kept as a number. A pick reads the top of that level's
heap; a change of a head's load pushes one int into its new level's heap. This replaces a
single heap of ``(load, head)`` tuples: at scale (thousands of heads) its pops walked a
heap four times the headcount deep, comparing tuples element by element, while here each
level's heap holds only its own heads and compares ints. The pick is exactly that heap's
(``tests/test_least_loaded.py``).
"""

from __future__ import annotations

from heapq import heappop, heappush

# A level's heap is rebuilt from its valid entries once it holds more than twice its heads
# plus this many entries.
SLACK = 64


class LeastLoaded:
    """Which head has the least load (lowest number on ties), as loads change one at a time.

    Invariant: every head whose load is ``L`` has an entry in ``heaps[L]``; an entry for a
    head whose load is no longer ``L`` is stale and dropped when it reaches the top.
    """

    def __init__(self, headcount: int) -> None:
        self.level = [0] * headcount
        self.count = [headcount]
        self.heaps: list[list[int]] = [list(range(headcount))]
        self.lowest = 0

    def route(self, _segment: int = 0) -> int:
        """The lowest-numbered head with the least load (the segment plays no part)."""
        heap, level, lowest = self.heaps[self.lowest], self.level, self.lowest
        while True:
            head = heap[0]
            if level[head] == lowest:
                return head
            heappop(heap)

    def moved(self, head: int, load: int) -> None:
        """Record that ``head`` now carries ``load`` items."""
        level, count = self.level, self.count
        old = level[head]
        if old == load:
            return
        level[head] = load
        count[old] -= 1
        heaps = self.heaps
        while len(heaps) <= load:
            heaps.append([])
            count.append(0)
        count[load] += 1
        heap = heaps[load]
        heappush(heap, head)
        if len(heap) > 2 * count[load] + SLACK:
            heap[:] = sorted({h for h in heap if level[h] == load})
        if load < self.lowest:
            self.lowest = load
        else:
            lowest = self.lowest
            while not count[lowest]:
                lowest += 1
            self.lowest = lowest
