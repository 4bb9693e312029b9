"""The engine's fast paths agree with their slow, obviously-correct counterparts.

Each optimised piece (fates drawn in blocks for chosen rows, the calendar's fast paths,
least-loaded routing through a heap, levels integrated in bulk from a log of steps) is
checked against a plain implementation on many random inputs, value for value.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right

import numpy as np
import simpy

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.fates import FATE_STREAM, Fate, draw_fates, source_key, stream
from funnelsim.engine.teams import HOURS_PER_WEEK, Team, level_areas
from funnelsim.scenario.models import Calendar

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
    for ti in t.tolist():
        assert calendar.next_open(ti) == _plain_next_open(calendar, ti)
    pairs = list(zip(t.tolist(), work.tolist(), strict=True))
    fast = [calendar.add_working_hours(a, b) for a, b in pairs]
    plain = [_plain_add_working_hours(calendar, a, b) for a, b in pairs]
    assert fast == plain
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
