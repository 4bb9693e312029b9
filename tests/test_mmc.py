"""The SDR team as an M/M/c queue: simulated waits and queue lengths against Erlang C.

Each validation scenario (scenarios/validation/) reduces seam 1 to a textbook M/M/3 queue.
R independent replications (seeds 0..R-1) give one mean wait and one time-average queue
length each, over a window that drops a warm-up at the start (the queue starts empty) and
the last week (leads still waiting at the horizon have no first response yet). The theory
value must lie inside the replications' Student-t interval. Six intervals are checked at
once, so each is a 99% interval: the family's false-alarm rate stays near 6%.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import funnelsim as fs
from funnelsim import theory

VALIDATION = Path(__file__).resolve().parents[1] / "scenarios" / "validation"
REPLICATIONS = 20
CONFIDENCE = 0.99
WARMUP_WEEKS = 2
HOURS_PER_WEEK = 168.0


def _t_interval(values: list[float]) -> tuple[float, float]:
    """Student-t confidence interval of the mean of independent replication values."""
    data = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, len(data) - 1) * data.std(ddof=1)
    half /= np.sqrt(len(data))
    return float(data.mean() - half), float(data.mean() + half)


def _replicate(scenario: fs.Scenario) -> tuple[list[float], list[float]]:
    """Per replication: mean queue wait of leads arriving in the window, mean queue length."""
    first_week = WARMUP_WEEKS
    end_week = int(scenario.horizon_hours // HOURS_PER_WEEK) - 1
    begin, end = first_week * HOURS_PER_WEEK, end_week * HOURS_PER_WEEK
    waits, lengths = [], []
    for seed in range(REPLICATIONS):
        ledger = fs.simulate(scenario, seed)
        c = ledger.columns
        arrived = (c["mql_time"] >= begin) & (c["mql_time"] < end)
        wait = c["first_response"][arrived] - c["mql_time"][arrived]
        assert not np.isnan(wait).any(), "a lead arriving before the last week was never served"
        waits.append(float(wait.mean()))
        levels = ledger.team_levels
        sdr = levels[
            (levels["team"] == scenario.seam1.team)
            & (levels["week"] >= first_week)
            & (levels["week"] < end_week)
        ]
        lengths.append(float(sdr["queue_length"].mean()))
    return waits, lengths


@pytest.mark.parametrize("name", ["mmc_rho05", "mmc_rho09"])
def test_sdr_queue_matches_erlang_c(name: str) -> None:
    scenario = fs.load_scenario(VALIDATION / f"{name}.yaml")
    (source,) = scenario.sources.values()
    team = scenario.teams[scenario.seam1.team]
    lam = source.leads_per_week / HOURS_PER_WEEK
    mu = 1.0 / team.work_time.mean()
    servers = team.headcount * team.capacity_per_head
    expected_wait = theory.mmc_mean_wait(lam, mu, servers)
    expected_length = theory.mmc_mean_queue_length(lam, mu, servers)

    waits, lengths = _replicate(scenario)

    low, high = _t_interval(waits)
    assert low <= expected_wait <= high, (
        f"{name}: Erlang C W_q = {expected_wait:.4f} h outside the simulated "
        f"{CONFIDENCE:.0%} CI [{low:.4f}, {high:.4f}]"
    )
    low, high = _t_interval(lengths)
    assert low <= expected_length <= high, (
        f"{name}: L_q = lam W_q = {expected_length:.4f} outside the simulated "
        f"{CONFIDENCE:.0%} CI [{low:.4f}, {high:.4f}]"
    )
    # Little's law inside the simulation itself: time-average queue length against the
    # arrival rate times the same replication's mean wait (paired, so most noise cancels).
    low, high = _t_interval(list(np.asarray(lengths) - lam * np.asarray(waits)))
    assert low <= 0.0 <= high, (
        f"{name}: L_q - lam W_q has {CONFIDENCE:.0%} CI [{low:.4f}, {high:.4f}], excluding 0"
    )
