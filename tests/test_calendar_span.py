"""A calendar's open hours up to the end of its span: the hours after its last close count as
closed, whatever weekday or holidays the span ends on (the arrival grid reads them)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from funnelsim.engine import fates
from funnelsim.engine.calendar import WorkCalendar
from funnelsim.scenario.models import Calendar

MONDAY = dt.date(2027, 1, 4)
WEEKDAYS = Calendar(weekdays=("mon", "tue", "wed", "thu", "fri"), hours=(9.0, 17.0))


def open_hours_day_by_day(spec: Calendar, start: dt.date, until: float) -> float:
    """Open hours from the start to ``until`` counted one day at a time."""
    total = 0.0
    for day in range(int(np.ceil(until / 24.0)) + 1):
        date = start + dt.timedelta(days=day)
        names = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        if names[date.weekday()] not in spec.weekdays or date in spec.holidays:
            continue
        begin, end = day * 24.0 + spec.hours[0], day * 24.0 + spec.hours[1]
        total += max(0.0, min(end, until) - begin)
    return total


def test_a_span_ending_on_a_weekend_counts_friday_evening_closed() -> None:
    span = 5 * 24.0  # Monday to midnight starting Saturday
    calendar = WorkCalendar(WEEKDAYS, MONDAY, span + 24.0)
    assert calendar.working_hours_until(span) == 40.0
    assert calendar.working_hours_array(np.array([span]))[0] == 40.0


def test_the_arrival_grid_has_no_open_hours_after_the_last_close() -> None:
    fates._hour_grid.cache_clear()
    _, _, open_share = fates._hour_grid(WEEKDAYS, MONDAY, 5 * 24.0)
    assert open_share[4 * 24 + 17 :].sum() == 0.0
    assert open_share.sum() == 40.0


@pytest.mark.parametrize("start_offset", range(7))
@pytest.mark.parametrize("holidays", [(), (8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)])
def test_open_hours_to_any_span_end_match_a_day_by_day_count(
    start_offset: int, holidays: tuple[int, ...]
) -> None:
    start = MONDAY + dt.timedelta(days=start_offset)
    spec = WEEKDAYS.model_copy(
        update={"holidays": tuple(start + dt.timedelta(days=d) for d in holidays)}
    )
    for span in np.arange(6.0, 20 * 24.0, 7.0):
        calendar = WorkCalendar(spec, start, float(span))
        expected = open_hours_day_by_day(spec, start, float(span))
        assert calendar.working_hours_until(float(span)) == pytest.approx(expected)
        assert calendar.working_hours_array(np.array([span]))[0] == pytest.approx(expected)
