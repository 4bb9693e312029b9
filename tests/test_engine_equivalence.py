"""The engine's fast paths agree with their slow, obviously-correct counterparts.

Each optimised piece (fates drawn in blocks for chosen rows, the calendar's fast paths and
its layout in bulk, least-loaded routing through a heap, levels integrated in bulk from a
log of steps, a team's completions as ``Due`` events with its inline start) is checked
against a plain implementation on many random inputs, value for value.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right

import numpy as np
import pytest
import simpy
from simpy.events import NORMAL

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.fates import FATE_STREAM, Fate, draw_fates, source_key, stream
from funnelsim.engine.teams import HOURS_PER_WEEK, Due, Team, level_areas
from funnelsim.scenario.models import WEEKDAYS, Calendar

OFFICE = Calendar(
    weekdays=["mon", "tue", "wed", "thu", "fri"],
    hours=[9, 17],
    holidays=[dt.date(2027, 1, 18), dt.date(2027, 1, 19)],
)
START = dt.date(2027, 1, 4)


def test_fates_for_chosen_rows_match_the_full_matrix() -> None:
    """Rows and columns drawn in blocks are the cells of one row-major draw per source."""
    rng = np.random.default_rng(0)
    names = ("paid", "organic", "referral")
    source = rng.integers(0, len(names), 90_000).astype(np.int16)
    full = np.empty((len(source), len(Fate)))
    for index, name in enumerate(names):
        mask = source == index
        full[mask] = stream(11, FATE_STREAM, source_key(name)).random((mask.sum(), len(Fate)))
    every = draw_fates(11, source, names)
    for fate in Fate:
        np.testing.assert_array_equal(every[fate], full[:, fate])
    rows = np.sort(rng.choice(len(source), 5_000, replace=False))
    some = draw_fates(11, source, names, rows=rows, columns=(Fate.WIN, Fate.FIT))
    np.testing.assert_array_equal(some[Fate.WIN], full[rows, Fate.WIN])
    np.testing.assert_array_equal(some[Fate.FIT], full[rows, Fate.FIT])


def _plain_next_open(calendar: WorkCalendar, t: float) -> float:
    i = bisect_right(calendar.closes, t)
    if i == len(calendar.opens):
        return t
    return max(calendar.opens[i], t)


def _plain_add_working_hours(calendar: WorkCalendar, t: float, work: float) -> float:
    """Work ends where its working hours run out, and never before it can start (work
    too small to register beside the hours before it ends at the next opening)."""
    if work <= 0:
        return t
    target = calendar.working_hours_until(t) + work
    j = bisect_left(calendar.cum_after, target)
    if j == len(calendar.opens):
        done = calendar.closes[-1] + (target - calendar.cum_after[-1])
    else:
        done = calendar.opens[j] + (target - calendar.cum_before[j])
    return max(done, _plain_next_open(calendar, t))


def test_calendar_fast_paths_match_plain_search() -> None:
    """next_open (with its cached interval) and add_working_hours, scalar and vectorised."""
    calendar = WorkCalendar(OFFICE, START, 3_000.0)
    rng = np.random.default_rng(1)
    t = np.concatenate(
        [
            np.sort(rng.uniform(0, 3_100, 20_000)),  # increasing, as in a run
            rng.uniform(-5, 3_100, 20_000),  # jumping around
            np.round(rng.uniform(0, 3_000, 2_000)),  # on the hour: openings and closings
        ]
    )
    work = rng.exponential(4.0, len(t))
    work[::50] = 0.0
    work[1::50] = 1e-15
    work[2::50] *= 30.0  # spanning many working days: past the forward steps, a search
    for ti in t.tolist():
        assert calendar.next_open(ti) == _plain_next_open(calendar, ti)
    pairs = list(zip(t.tolist(), work.tolist(), strict=True))
    fast = [calendar.add_working_hours(a, b) for a, b in pairs]
    plain = [_plain_add_working_hours(calendar, a, b) for a, b in pairs]
    assert fast == plain
    # As a team starts an item: next_open at the start first, whose interval the
    # working-hours sum then reuses (and after a jump elsewhere, does not).
    after_open = []
    for k, (a, b) in enumerate(pairs):
        calendar.next_open(a if k % 3 else a + 100.0)
        after_open.append(calendar.add_working_hours(a, b))
    assert after_open == plain
    np.testing.assert_array_equal(calendar.add_working_hours_array(t, work), plain)


def test_least_loaded_heap_matches_a_scan() -> None:
    """The heap's pick is always the lowest-numbered head with the least load."""
    env = simpy.Environment()
    calendar = WorkCalendar(OFFICE, START, 100.0)
    team = Team(env, "ae", 7, 3, calendar, "least_loaded", None, 1, [0], 100.0)
    rng = np.random.default_rng(2)
    for _ in range(20_000):
        head = team.route(0)
        assert head == team.load.index(min(team.load))
        changed = head if rng.random() < 0.55 else int(rng.integers(0, 7))
        if rng.random() < 0.55 or team.load[changed] == 0:
            team.load[changed] += 1
        else:
            team.load[changed] -= 1
        team._load_changed(changed)


def _plain_weekly_areas(steps: list[tuple[float, int]], n_weeks: int, until: float) -> np.ndarray:
    """Walk the level step by step, cutting each stretch at week boundaries."""
    weekly = np.zeros(n_weeks)
    level, last = 0, 0.0
    for t, delta in [*sorted(steps, key=lambda step: (step[0], -step[1])), (until, 0)]:
        t = min(t, until)
        while last < t:
            week = int(last // HOURS_PER_WEEK)
            end = min(t, (week + 1) * HOURS_PER_WEEK)
            if week < n_weeks:
                weekly[week] += level * (end - last)
            last = end
        level += delta
    return weekly


def test_level_log_integrates_like_a_step_walk() -> None:
    """Weekly areas from the bulk integration equal a plain walk over the level's steps."""
    rng = np.random.default_rng(3)
    until, n_weeks = 10 * HOURS_PER_WEEK - 30.0, 10
    starts = rng.uniform(0, until + 50, 3_000)
    ends = starts + rng.exponential(20.0, len(starts))
    ends[::7] = starts[::7]  # zero-length stays
    starts[:20] = np.arange(20) * HOURS_PER_WEEK / 2  # on week boundaries
    steps = [(s, 1) for s in starts.tolist()] + [(e, -1) for e in ends.tolist()]
    bulk = level_areas(starts, ends, n_weeks, until)
    plain = _plain_weekly_areas(steps, n_weeks, until)
    np.testing.assert_allclose(bulk, plain, rtol=1e-10, atol=1e-7)
    assert np.all(bulk >= 0)


def _plain_intervals(spec: Calendar, start: dt.date, span_hours: float) -> tuple[list, list]:
    """The calendar's open intervals, day by day (consecutive open days' hours joined)."""
    opens: list[float] = []
    closes: list[float] = []
    # As many days as the layout: the span, then eight more plus one per holiday.
    days = int(np.ceil(span_hours / 24.0)) + 8 + len(set(spec.holidays))
    for offset in range(days):
        day = start + dt.timedelta(days=offset)
        if WEEKDAYS[day.weekday()] not in spec.weekdays or day in spec.holidays:
            continue
        begin, end = offset * 24.0 + spec.hours[0], offset * 24.0 + spec.hours[1]
        if closes and closes[-1] == begin:
            closes[-1] = end
        else:
            opens.append(begin)
            closes.append(end)
    return opens, closes


def test_calendar_layout_in_bulk_matches_a_day_by_day_walk() -> None:
    """Office hours, round-the-clock days that join up, odd hours, holidays in and out."""
    rng = np.random.default_rng(4)
    specs = [OFFICE, Calendar(weekdays=list(WEEKDAYS), hours=[0, 24])]
    for _ in range(40):
        days = [d for d in WEEKDAYS if rng.random() < 0.6] or ["wed"]
        begin = float(rng.choice([0.0, 6.5, 9.0]))
        end = float(rng.choice([begin + 0.25, 17.0, 24.0]))
        holidays = sorted({START + dt.timedelta(days=int(d)) for d in rng.integers(-5, 400, 8)})
        specs.append(Calendar(weekdays=days, hours=[begin, end], holidays=holidays))
    for spec in specs:
        calendar = WorkCalendar(spec, START, 3_000.0)
        assert (calendar.opens, calendar.closes) == _plain_intervals(spec, START, 3_000.0)


def test_due_events_are_processed_like_timeouts() -> None:
    """Due events and Timeouts scheduled together run in time order, ties in the order
    they were scheduled, with their values."""
    env = simpy.Environment()
    rng = np.random.default_rng(5)
    seen: list[tuple[float, int]] = []

    def record(event: simpy.Event) -> None:
        seen.append((env.now, event._value))

    expected = []
    for k in range(2_000):
        delay = float(rng.choice([1.0, 2.5])) if k % 3 == 0 else float(rng.exponential(5.0))
        if k % 2:
            env.schedule(Due((record,), k), NORMAL, delay)
        else:
            env.timeout(delay, k).callbacks.append(record)
        expected.append((delay, k))
    env.run()
    assert seen == sorted(expected)


def _plain_team_times(
    calendar: WorkCalendar,
    heads: int,
    slots: int,
    pooled: bool,
    arrivals: list[float],
    work: list[float],
) -> list[tuple[float, float]]:
    """Start and end per item with one plain SimPy Resource per head (or one pooled):
    an item takes a slot, waits for the calendar to open, then works its hours."""
    env = simpy.Environment()
    resources = [simpy.Resource(env, slots * (heads if pooled else 1)) for _ in range(heads)]
    times: list[tuple[float, float]] = [(np.nan, np.nan)] * len(arrivals)

    def item(k: int, resource: simpy.Resource):
        yield env.timeout(arrivals[k])
        with resource.request() as request:
            yield request
            opening = calendar.next_open(env.now)
            if opening > env.now:
                yield env.timeout(opening - env.now)
            start = env.now
            yield env.timeout(calendar.add_working_hours(start, work[k]) - start)
            times[k] = (start, env.now)

    for k in range(len(arrivals)):
        env.process(item(k, resources[0 if pooled else k % heads]))
    env.run()
    return times


@pytest.mark.parametrize(("routing", "heads", "slots"), [("round_robin", 3, 2), ("pooled", 2, 3)])
def test_team_serves_like_plain_simpy_resources(routing: str, heads: int, slots: int) -> None:
    """The team's fast start, queue, calendar wake-ups and Due completions give every item
    the start and end a plain Resource-per-head model gives it."""
    calendar = WorkCalendar(OFFICE, START, 5_000.0)
    rng = np.random.default_rng(6)
    arrivals = np.sort(rng.uniform(0, 3_000, 2_500)).tolist()
    work = rng.exponential(2.5, len(arrivals)).tolist()
    env = simpy.Environment()
    team = Team(env, "t", heads, slots, calendar, routing, None, 30, [0], 5_000.0)
    times: list[list[float]] = [[np.nan, np.nan] for _ in arrivals]

    def hold(k: int, start: float) -> float:
        times[k][0] = start
        return calendar.add_working_hours(start, work[k])

    def done(k: int, now: float) -> None:
        times[k][1] = now

    def feed():
        for k, at in enumerate(arrivals):
            yield env.timeout(at - env.now)
            team.arrive(k, team.route(0), hold, done)

    env.process(feed())
    env.run()
    plain = _plain_team_times(calendar, heads, slots, routing == "pooled", arrivals, work)
    assert [tuple(t) for t in times] == plain
    assert team.served == len(arrivals)
