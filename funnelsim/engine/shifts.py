"""Shifts: each head's on-duty calendar inside the team calendar (capacity is paid hours).

A head works ``paid_hours`` a week (its shift plus paid overtime). When the team calendar
is open no longer than that, every head works the whole calendar: the team calendar is
everyone's. A wider calendar is covered by staggering shifts across heads, so widening it
spreads the same paid hours over more of the week and never adds free ones:

* a head works ``k`` days a week, ``k = max(min(open days, 5), ceil(paid / open hours a
  day))``, for ``paid / k`` hours each day it works;
* shift start times are spread evenly from the calendar's opening to ``close - shift``
  (``m = ceil(open hours a day / shift hours)`` start times, the first at the opening, the
  last ending at the close); head i takes start time ``i mod m``, so the first ``m`` heads
  cover the day end to end (an early and a late shift on a 7am-9pm calendar);
* when the calendar has more open days than ``k``, heads rotate days off: head i works
  ``k`` consecutive open days starting at open day ``(i // m) x k``, so two groups of
  heads cover any week of up to ``2k`` open days.

A team with too few heads to cover its calendar leaves the last start times (or days)
uncovered. Holidays close every head's day. Each head's pattern depends only on its seat
index, so adding seats (a hiring plan) leaves the existing heads' shifts unchanged.
"""

from __future__ import annotations

import math

import numpy as np

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.scenario.base import WEEKDAYS
from funnelsim.scenario.market import Calendar
from funnelsim.scenario.teams_spec import weekly_open_hours

WORKDAYS_PER_WEEK = 5
_EPS = 1e-9


def duty_calendars(calendar: Calendar, paid_hours: float, n_heads: int) -> list[Calendar] | None:
    """Each head's on-duty calendar, by seat index; None when one shift covers the calendar."""
    if weekly_open_hours(calendar) <= paid_hours + _EPS:
        return None
    open_days = [day for day in WEEKDAYS if day in set(calendar.weekdays)]
    opening, closing = calendar.hours
    day_hours = closing - opening
    days = max(min(len(open_days), WORKDAYS_PER_WEEK), math.ceil(paid_hours / day_hours - _EPS))
    shift = paid_hours / days
    starts = _start_times(opening, closing, shift)
    heads = []
    for head in range(n_heads):
        begin = starts[head % len(starts)]
        first_day = (head // len(starts)) * days
        worked = {open_days[(first_day + d) % len(open_days)] for d in range(days)}
        weekdays = tuple(day for day in open_days if day in worked)
        hours = (begin, closing) if begin == starts[-1] else (begin, begin + shift)
        heads.append(Calendar(weekdays=weekdays, hours=hours, holidays=calendar.holidays))
    return heads


def _start_times(opening: float, closing: float, shift: float) -> list[float]:
    """Evenly spread shift starts: the first at the opening, the last ending at the close."""
    count = math.ceil((closing - opening) / shift - _EPS)
    if count <= 1:
        return [opening]
    step = (closing - shift - opening) / (count - 1)
    return [opening + j * step for j in range(count - 1)] + [closing - shift]


def on_duty_hours(
    calendar: WorkCalendar, spans: list[tuple[float, float]], edges: np.ndarray
) -> np.ndarray:
    """Hours the calendar is open inside the spans (a head's presence), per week of edges."""
    hours = np.zeros(len(edges) - 1)
    for begin, end in spans:
        if end > begin:
            hours += np.diff(calendar.working_hours_array(np.clip(edges, begin, end)))
    return hours
