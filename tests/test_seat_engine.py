"""The seat engine's sorted lists, heaps and running sums answer as a scan of every seat.

A staffed team (and a team on staggered shifts) keeps sorted seat lists, heaps per shift
and its effective capacity by runs of hires so that a staffing change costs O(log n)
(``engine/seats.py``). These tests run scenarios with every kind of change and check each
routing answer, each free seat and each capacity against a scan of the seats (the
engine's earlier O(n) rules, written out here), and that after every "fill all" point no
queue could start work; and the repeated addition against a loop.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from funnelsim.engine import simulate
from funnelsim.engine.repeated_sum import add_repeatedly
from funnelsim.engine.seats import SeatTeam
from funnelsim.scenario.loading import scenario_from_dict
from funnelsim.scenario.models import Scenario

START = dt.date(2027, 1, 4)  # a Monday
WIDE = {"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat"], "hours": [7, 21]}
# Calendars opening at midnight, when plan steps take effect: a staffing change and the
# opening fall at the same instant (one shift; staggered shifts).
MIDNIGHT = {"weekdays": ["mon", "tue", "wed", "thu", "fri"], "hours": [0, 8]}
MIDNIGHT_WIDE = {"weekdays": ["mon", "tue", "wed", "thu", "fri", "sat"], "hours": [0, 14]}
TURNOVER = {
    "tenure_months": {"dist": "gamma", "mean": 2, "sd": 1},
    "replace": True,
    "hiring_delay_days": {"dist": "fixed", "value": 9},
}


def _loop(total: float, term: float, count: int) -> float:
    for _ in range(count):
        total += term
    return total


ramp_terms = st.builds(
    lambda p, slots: p * slots,
    st.sampled_from([0.1, 0.25, 0.3, 0.35, 0.4, 0.55, 0.65, 0.7, 0.8, 0.9, 1.0]),
    st.integers(1, 30),
)
any_terms = st.floats(0, 1e4, allow_nan=False, allow_infinity=False)


@given(
    total=st.one_of(st.integers(0, 10_000).map(float), any_terms),
    term=st.one_of(ramp_terms, any_terms, st.integers(0, 50).map(float)),
    count=st.integers(0, 3000),
)
@example(total=2.0, term=1.0 + 2.0**-52, count=5)  # ties, rounded to even
@example(total=3.0, term=1.0 + 2.0**-52, count=1000)
@example(total=0.0, term=0.35 * 3, count=2500)
@example(total=1e6, term=1e-12, count=100)  # below half a spacing
def test_adding_repeatedly_rounds_as_a_loop_does(total: float, term: float, count: int) -> None:
    assert add_repeatedly(total, term, count) == _loop(total, term, count)


# The seat scan the sorted lists and heaps replace.


def _scan_candidates(team: SeatTeam, segment: int | None, on_duty: bool) -> list[int]:
    seats = [s for s in range(team.n_seats) if team.present[s]] or [
        s for s in range(team.n_seats) if team.employed[s]
    ]
    if segment is not None and team.routing == "by_segment" and team.head_segments:
        seats = [s for s in seats if team.head_segments[s] == segment]
    if team.duty is None or not on_duty or len(seats) < 2:
        return seats
    opening = [team.duty[s].next_open(team.env.now) for s in seats]
    return [s for s, at in zip(seats, opening, strict=True) if at == min(opening)]


def _scan_route(team: SeatTeam, segment: int) -> int:
    if team.headcount == 0:
        return -1
    if team.pooled:
        return 0
    seats = _scan_candidates(team, segment, on_duty=team.routing == "least_loaded")
    if not seats:
        return -1
    if team.routing == "least_loaded":
        return min(seats, key=lambda s: (team.load[s], s))
    return next((s for s in seats if s >= team._rr), seats[0])


def _scan_capacity(team: SeatTeam, now: float) -> float:
    slots = team.slots_per_head
    return float(
        sum(team.productivity(s, now) * slots for s in range(team.n_seats) if team.present[s])
    )


def _free_seats(team: SeatTeam, queue_index: int) -> list[int]:
    seats = range(team.n_seats) if team.pooled else [queue_index]
    return [s for s in seats if team.busy_n[s] < team.limit[s]]


def _opening(team: SeatTeam, seat: int, now: float) -> float:
    calendar = team.seat_calendar(seat)
    return now if calendar.always_open else calendar.next_open(now)


def _scan_on_duty_seat(team: SeatTeam, queue_index: int, now: float) -> int:
    on_duty = [s for s in _free_seats(team, queue_index) if _opening(team, s, now) <= now]
    return on_duty[0] if on_duty else -1


def _nothing_left_to_start(team: SeatTeam) -> None:
    """No queue with work has a usable slot now; each waits for a wake-up at its opening."""
    now = team.env.now
    for queue_index, queue in enumerate(team.queues):
        if not any(entry[0] >= 0 for entry in queue):
            continue
        for seat in _free_seats(team, queue_index):
            opening = _opening(team, seat, now)
            assert opening > now, (team.name, queue_index, seat, now)
            assert team._wake_time is not None and team._wake_time <= opening


@pytest.fixture
def checked(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Check every answer of every seat team against the scan; count the checks."""
    counts = dict.fromkeys(("route", "capacity", "ramping", "seat", "fill_all"), 0)
    route, capacity = SeatTeam.route, SeatTeam.effective_capacity
    free_seat, on_duty_seat = SeatTeam._free_seat, SeatTeam._on_duty_seat
    fill_all, wake = SeatTeam._fill_all, SeatTeam._wake

    def checked_route(self: SeatTeam, segment: int) -> int:
        expected = _scan_route(self, segment)
        assert route(self, segment) == expected
        counts["route"] += 1
        return expected

    def checked_capacity(self: SeatTeam, now: float) -> float:
        expected = _scan_capacity(self, now)
        assert capacity(self, now) == expected  # to the bit
        counts["capacity"] += 1
        counts["ramping"] += not expected.is_integer()
        return expected

    def checked_free_seat(self: SeatTeam, queue_index: int) -> int:
        expected = next(iter(_free_seats(self, queue_index)), -1)
        assert free_seat(self, queue_index) == expected
        counts["seat"] += 1
        return expected

    def checked_on_duty_seat(self: SeatTeam, queue_index: int, now: float) -> int:
        expected = _scan_on_duty_seat(self, queue_index, now)
        assert on_duty_seat(self, queue_index, now) == expected
        counts["seat"] += 1
        return expected

    def checked_fill_all(self: SeatTeam, now: float) -> None:
        fill_all(self, now)
        _nothing_left_to_start(self)
        counts["fill_all"] += 1

    def checked_wake(self: SeatTeam, opening: float) -> None:
        woken = self._wake_time == opening
        wake(self, opening)
        if woken:
            _nothing_left_to_start(self)

    monkeypatch.setattr(SeatTeam, "route", checked_route)
    monkeypatch.setattr(SeatTeam, "effective_capacity", checked_capacity)
    monkeypatch.setattr(SeatTeam, "_free_seat", checked_free_seat)
    monkeypatch.setattr(SeatTeam, "_on_duty_seat", checked_on_duty_seat)
    monkeypatch.setattr(SeatTeam, "_fill_all", checked_fill_all)
    monkeypatch.setattr(SeatTeam, "_wake", checked_wake)
    return counts


def _scenario(calendar: dict | None, **changes: object) -> Scenario:
    """120 days of a small company whose SDRs, AEs and deal desk all change over the run."""
    shifts = {"calendar": calendar} if calendar else {}
    data: dict = {
        "name": "seats",
        "start_date": START.isoformat(),
        "horizon_days": 120,
        "sources": {"inbound": {"leads_per_week": 90}},
        "teams": {
            "sdr": {
                "headcount": 5,
                "work_time": {"dist": "lognormal", "median": 1.5, "p90": 4},
                "plan": [{"date": "2027-02-01", "change": 6}, {"date": "2027-03-15", "change": -3}],
                "ramp": [0.3, 0.6, 0.9],
                "attrition": TURNOVER,
                "vacation_days_per_year": 30,
                **shifts,
            },
            "ae": {
                "headcount": 6,
                "capacity_per_head": 3,
                "plan": [{"date": "2027-01-20", "change": 5}, {"date": "2027-03-01", "change": -4}],
                "ramp": [0.35, 0.65],
                "attrition": TURNOVER,
                "vacation_days_per_year": 20,
                **shifts,
            },
            "deal_desk": {
                "headcount": 3,
                "work_time": {"dist": "gamma", "mean": 6, "sd": 4},
                "plan": [{"date": "2027-02-10", "change": 2}],
                "vacation_days_per_year": 40,
                **shifts,
            },
        },
    }
    for path, value in changes.items():
        section, key = path.split("__")
        data.setdefault(section, {})[key] = value
    return scenario_from_dict(data)


@pytest.mark.parametrize(
    "calendar",
    [None, WIDE, MIDNIGHT, MIDNIGHT_WIDE],
    ids=["one shift", "staggered shifts", "one shift from midnight", "shifts from midnight"],
)
@pytest.mark.parametrize("routing", ["round_robin", "least_loaded", "pooled"])
def test_staffed_teams_answer_as_a_scan_of_every_seat(
    checked: dict[str, int], calendar: dict | None, routing: str
) -> None:
    scenario = _scenario(calendar, seam1__routing=routing, sales__routing="least_loaded")
    for seed in (1, 2):
        simulate(scenario, seed=seed)
    assert all(checked.values()), checked


def test_segment_routing_on_shifts_answers_as_a_scan_of_every_seat(
    checked: dict[str, int],
) -> None:
    sdr = {
        "headcount": 6,
        "work_time": {"dist": "lognormal", "median": 1.5, "p90": 4},
        "segments": {"smb": 3, "mid_market": 2, "enterprise": 1},
        "calendar": WIDE,
    }
    scenario = scenario_from_dict(
        {
            "name": "segments",
            "horizon_days": 60,
            "sources": {"inbound": {"leads_per_week": 90}},
            "teams": {"sdr": sdr},
            "seam1": {"routing": "by_segment"},
        }
    )
    simulate(scenario, seed=3)
    assert checked["route"] > 0 and checked["fill_all"] > 0
