"""Least-loaded routing's per-level index picks exactly the head the (load, head) heap did."""

from __future__ import annotations

from heapq import heapify, heappop, heappush

from hypothesis import given, settings
from hypothesis import strategies as st

from funnelsim.engine.least_loaded import LeastLoaded


class TupleHeap:
    """The plain version it replaces: one heap of (load, head), stale entries skipped."""

    def __init__(self, headcount: int) -> None:
        self.load = [0] * headcount
        self.heap = [(0, head) for head in range(headcount)]

    def route(self) -> int:
        while True:
            level, head = self.heap[0]
            if self.load[head] == level:
                return head
            heappop(self.heap)

    def moved(self, head: int, load: int) -> None:
        self.load[head] = load
        heappush(self.heap, (load, head))
        if len(self.heap) > 4 * len(self.load) + 64:
            self.heap[:] = [(level, h) for h, level in enumerate(self.load)]
            heapify(self.heap)


# Each step: arrive at the routed head (True), or finish one item at a head (False, its
# number taken modulo the headcount; skipped when that head carries nothing).
steps = st.lists(st.tuples(st.booleans(), st.integers(0, 10_000)), max_size=600)


@settings(max_examples=200, deadline=None)
@given(headcount=st.integers(1, 40), steps=steps)
def test_same_head_as_the_tuple_heap(headcount: int, steps: list[tuple[bool, int]]) -> None:
    fast, plain = LeastLoaded(headcount), TupleHeap(headcount)
    load = [0] * headcount
    for arrive, number in steps:
        picked = fast.route(0)
        assert picked == plain.route()
        assert picked == load.index(min(load))
        head = picked if arrive else number % headcount
        if not arrive and load[head] == 0:
            continue
        load[head] += 1 if arrive else -1
        fast.moved(head, load[head])
        plain.moved(head, load[head])
    assert fast.route(0) == plain.route() == load.index(min(load))


@settings(max_examples=50, deadline=None)
@given(headcount=st.integers(1, 6), rounds=st.integers(1, 2_000))
def test_stale_entries_stay_bounded(headcount: int, rounds: int) -> None:
    """One head going up and down forever does not grow its levels' heaps without bound."""
    index = LeastLoaded(headcount)
    for _ in range(rounds):
        index.moved(0, 1)
        index.moved(0, 0)
    assert all(len(heap) <= 2 * headcount + 65 for heap in index.heaps)
    assert index.route(0) == 0
