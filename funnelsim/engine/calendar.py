"""Working calendars: when a team can work, and how working hours map to wall-clock hours.

Simulation time is wall-clock hours since the scenario's start date (midnight). A team only
works while its calendar is open; leads cool in wall-clock time regardless.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right

import numpy as np

from funnelsim.scenario.models import WEEKDAYS, Calendar


class WorkCalendar:
    """A calendar laid out as sorted open intervals over a span of wall-clock hours."""

    def __init__(self, spec: Calendar, start_date: dt.date, span_hours: float) -> None:
        self.always_open = spec.always_open
        start_hour, end_hour = spec.hours
        # Days laid out past the span until one more open day: each holiday closes at most
        # one day and any eight days hold every weekday. Every time within the span then
        # falls before the last interval's close; past that the calendar counts as open.
        holidays = set(spec.holidays)
        n_days = int(np.ceil(span_hours / 24.0)) + 8 + len(holidays)
        # Open days as day offsets from the start (weekday and holidays), in bulk.
        offset = np.arange(n_days)
        weekday = (start_date.weekday() + offset) % 7
        is_open = np.isin(weekday, [WEEKDAYS.index(day) for day in spec.weekdays])
        holiday = [(day - start_date).days for day in holidays]
        is_open[[d for d in holiday if 0 <= d < n_days]] = False
        day_start = offset[is_open] * 24.0
        begins, ends = day_start + start_hour, day_start + end_hour
        # A day that opens when the previous one closes continues its interval.
        first = np.ones(len(begins), dtype=bool)
        first[1:] = begins[1:] != ends[:-1]
        last = np.ones(len(begins), dtype=bool)
        last[:-1] = first[1:]
        opens: list[float] = begins[first].tolist()
        closes: list[float] = ends[last].tolist()
        self.opens = opens
        self.closes = closes
        lengths = np.subtract(closes, opens)
        self.cum_before = np.concatenate([[0.0], np.cumsum(lengths)[:-1]]).tolist()
        self.cum_after = np.cumsum(lengths).tolist()
        self._opens_np = np.asarray(opens)
        self._closes_np = np.asarray(closes)
        self._cum_before_np = np.asarray(self.cum_before)
        self._cum_after_np = np.asarray(self.cum_after)
        self._gap_begin = self._interval_open = self._interval_end = 0.0
        self._interval = 0

    def next_open(self, t: float) -> float:
        """The earliest time >= t at which the calendar is open."""
        if self.always_open:
            return t
        # Most calls fall in the same closed gap and open interval as the previous one.
        if self._gap_begin <= t < self._interval_end:
            opening = self._interval_open
            return opening if opening > t else t
        i = bisect_right(self.closes, t)
        if i == len(self.opens):
            return t
        self._gap_begin = self.closes[i - 1] if i else -np.inf
        self._interval_open = opening = self.opens[i]
        self._interval_end = self.closes[i]
        self._interval = i
        return opening if opening > t else t

    def working_hours_until(self, t: float) -> float:
        """Working hours elapsed between the start and wall-clock time t."""
        if self.always_open:
            return t
        i = bisect_right(self.closes, t)
        if i == len(self.opens):
            return self.cum_after[-1] + (t - self.closes[-1]) if self.closes else t
        return self.cum_before[i] + max(0.0, t - self.opens[i])

    def add_working_hours(self, t: float, work: float) -> float:
        """The wall-clock time at which ``work`` working hours started at t are done."""
        if self.always_open:
            return t + work
        if work <= 0:
            return t
        # A start is mostly the time ``next_open`` was just asked about: the interval it
        # found is this search's answer (closes[i - 1] <= t < closes[i]).
        if self._gap_begin <= t < self._interval_end:
            i = self._interval
        else:
            i = bisect_right(self.closes, t)
            if i == len(self.opens):
                return self._add_beyond(t, work)
        opening = self.opens[i]
        cum_before = self.cum_before
        target = cum_before[i] + (t - opening if t > opening else 0.0) + work
        if cum_before[i] <= target <= self.cum_after[i]:
            # Done within the interval it starts in (or the next opening's): skip a search.
            # Work too small to register beside the hours before it (float rounding) ends
            # where it starts, never at an earlier closing.
            return opening + (target - cum_before[i])
        # The first later interval whose end reaches the target: most work ends within a
        # few intervals, so step forward before searching the rest (a bisection over the
        # whole calendar touches ~12 entries scattered in memory: slow in large runs).
        cum_after = self.cum_after
        n = len(cum_after)
        j, stop = i + 1, min(i + 5, n)
        while j < stop and cum_after[j] < target:
            j += 1
        if j == stop and j < n:
            j = bisect_left(cum_after, target, j)
        if j == n:
            return self.closes[-1] + (target - cum_after[-1])
        return self.opens[j] + (target - cum_before[j])

    def _add_beyond(self, t: float, work: float) -> float:
        """``add_working_hours`` from a time past the calendar's last interval."""
        target = self.working_hours_until(t) + work
        if not self.closes:
            return t + work
        return self.closes[-1] + (target - self.cum_after[-1])

    def add_working_hours_array(self, t: np.ndarray, work: np.ndarray) -> np.ndarray:
        """``add_working_hours`` for arrays of start times and working hours."""
        t = np.asarray(t, dtype=float)
        work = np.broadcast_to(np.asarray(work, dtype=float), t.shape)
        if self.always_open:
            return t + work
        if not self.opens:
            return np.where(work > 0, t + work, t)
        target = self._working_until_array(t) + work
        j = np.searchsorted(self._cum_after_np, target, side="left")
        inside = j < len(self.opens)
        safe = np.minimum(j, len(self.opens) - 1)
        within = self._opens_np[safe] + (target - self._cum_before_np[safe])
        beyond = self._closes_np[-1] + (target - self._cum_after_np[-1])
        # As in add_working_hours: work lost to float rounding ends at the next opening,
        # never at the closing before its start.
        done = np.maximum(np.where(inside, within, beyond), self._next_open_array(t))
        return np.where(work > 0, done, t)

    def _next_open_array(self, t: np.ndarray) -> np.ndarray:
        """``next_open`` for an array of times (the calendar has at least one interval)."""
        i = np.searchsorted(self._closes_np, t, side="right")
        safe = np.minimum(i, len(self.opens) - 1)
        return np.where(i < len(self.opens), np.maximum(self._opens_np[safe], t), t)

    def open_hours_between(self, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Working hours inside [begin, end] for arrays of wall-clock times."""
        return self._working_until_array(end) - self._working_until_array(begin)

    def working_hours_array(self, t: np.ndarray) -> np.ndarray:
        """Working hours elapsed from the start until each wall-clock time in ``t``."""
        return self._working_until_array(t)

    def _working_until_array(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        if self.always_open or not self.opens:
            return t
        i = np.searchsorted(self._closes_np, t, side="right")
        inside = i < len(self.opens)
        safe = np.minimum(i, len(self.opens) - 1)
        within = self._cum_before_np[safe] + np.maximum(0.0, t - self._opens_np[safe])
        beyond = self._cum_after_np[-1] + (t - self._closes_np[-1])
        return np.where(inside, within, beyond)
