"""The Monte Carlo forecast's walk of the open pipeline: each stage's drawn times and
outcomes per segment (``StageSamples``), and the open opportunities it walks from their
stage and time in it (``OpenDeals``). ``forecast.forecast_part`` uses them per quarter."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from funnelsim.analysis._common import HOURS_PER_DAY
from funnelsim.engine.ledger import Ledger
from funnelsim.scenario.models import Scenario

STAGE_SAMPLES = 4000


class StageSamples:
    """Draws of each stage's time (days, stall included) and outcome, per segment, to
    simulate the rest of an open opportunity's walk."""

    def __init__(self, scenario: Scenario, rng: np.random.Generator) -> None:
        self.segments = list(scenario.segments)
        sales = scenario.sales
        self.times: list[list[np.ndarray]] = []
        self.moves: list[list[np.ndarray]] = []
        for name in self.segments:
            times, moves = [], []
            if sales.stages is None:
                won = rng.random(STAGE_SAMPLES) < sales.win_rate[name]
                u = rng.random(STAGE_SAMPLES)
                lost_cycle = (sales.lost_cycle_days or sales.cycle_days)[name]
                days = np.where(won, sales.cycle_days[name].ppf(u), lost_cycle.ppf(u))
                slips = rng.random(STAGE_SAMPLES) < sales.slip.prob
                days += np.where(slips, sales.slip.extra_days.ppf(rng.random(STAGE_SAMPLES)), 0.0)
                stage_draws = [(days, won)]
            else:
                stage_draws = []
                for stage in sales.stages.values():
                    days = stage.days_for(name).ppf(rng.random(STAGE_SAMPLES))
                    stalls = rng.random(STAGE_SAMPLES) < stage.stall.prob
                    u = rng.random(STAGE_SAMPLES)
                    # ppf is elementwise: only the stalled draws need it.
                    extra = np.zeros(STAGE_SAMPLES)
                    extra[stalls] = stage.stall.extra_days.ppf(u[stalls])
                    days = days + extra
                    stage_draws.append((days, rng.random(STAGE_SAMPLES) < stage.advance_for(name)))
            for days, moved in stage_draws:
                order = _sort_order(days)
                times.append(days[order])
                moves.append(moved[order])
            self.times.append(times)
            self.moves.append(moves)
        # Per stage the days of a draw that moved on, +inf for one that did not: a walk's
        # days summed over these are its days, or +inf (never within a window) if it fell.
        self.passing = [
            [np.where(moved, days, np.inf) for days, moved in zip(times, moves, strict=True)]
            for times, moves in zip(self.times, self.moves, strict=True)
        ]

    def pipeline_wins(
        self, deals: OpenDeals, q0: float, q1: float, draws: int, rng: np.random.Generator
    ) -> np.ndarray:
        """``draws`` samples of the value the pipeline open at ``q0`` wins before ``q1``.

        Per segment and stage (in that order) the deals open there draw the rest of their
        walk: a uniform per draw for the time left in their stage, then an index per draw
        into each later stage's samples.
        """
        inside = (deals.entered <= q0) & (deals.until > q0)
        stage = deals.stage[inside]
        segment = deals.segment[inside]
        age = (q0 - deals.entered[inside]) / HOURS_PER_DAY
        value = deals.value[inside]
        window = (q1 - q0) / HOURS_PER_DAY
        total = np.zeros(draws)
        n_stages = len(self.times[0])
        n_groups = len(self.segments) * n_stages
        # Rows by (segment, stage) group, each group's rows in their order.
        key = np.where((segment >= 0) & (segment < len(self.segments)), segment, -1)
        key = np.where(key >= 0, key * n_stages + stage, n_groups)
        order = np.argsort(key, kind="stable")
        bounds = np.searchsorted(key[order], np.arange(n_groups + 1))
        for group in np.flatnonzero(np.diff(bounds)):
            code, k = divmod(int(group), n_stages)
            mine = order[bounds[group] : bounds[group + 1]]
            m = len(mine)
            times, passing = self.times[code], self.passing[code]
            mine_age = age[mine]
            first = np.searchsorted(times[k], mine_age, side="right")
            room = len(times[k]) - first
            share = rng.random((m, draws))
            share *= room[:, None]
            pick = share.astype(np.int64)
            pick += first[:, None]
            np.minimum(pick, len(times[k]) - 1, out=pick)
            # The same draws and sums as adding each stage's days and and-ing its moves: a
            # walk that fell carries +inf, which no window holds.
            elapsed = passing[k].take(pick)
            elapsed -= mine_age[:, None]
            np.maximum(elapsed, 0.0, out=elapsed)
            # Every stage holds STAGE_SAMPLES draws, so the later stages' indices come from
            # one call: the same numbers as one call per stage, in stage order.
            index = rng.integers(0, STAGE_SAMPLES, (n_stages - k - 1, m, draws))
            for step, later in enumerate(range(k + 1, n_stages)):
                elapsed += passing[later].take(index[step])
            total += ((elapsed < window) * value[mine][:, None]).sum(axis=0)
        return total


def _sort_order(days: np.ndarray) -> np.ndarray:
    """``np.argsort(days)``: found by the stable sort (quicker on these draws) where no
    two days are equal, so that the order is the only one; by ``np.argsort`` itself where
    some are (equal days, or NaN: how it orders them is its own)."""
    order = np.argsort(days, kind="stable")
    ordered = days[order]
    if len(ordered) and (np.isnan(ordered[-1]) or (ordered[1:] == ordered[:-1]).any()):
        return np.argsort(days)
    return order


@dataclass(frozen=True)
class OpenDeals:
    """A ledger's stage rows as arrays, for the Monte Carlo: when each row entered its
    stage and left it (+inf while open), its stage, and its deal's segment and value."""

    entered: np.ndarray
    until: np.ndarray
    stage: np.ndarray
    segment: np.ndarray
    value: np.ndarray

    @classmethod
    def of(cls, ledger: Ledger, rows: pd.DataFrame) -> OpenDeals:
        """The arrays of ``rows`` (the ledger's ``stage_rows``)."""
        lead = rows["lead_id"].to_numpy()
        left = rows["left"].to_numpy(dtype=float)
        return cls(
            entered=rows["entered"].to_numpy(dtype=float),
            until=np.where(np.isfinite(left), left, np.inf),
            stage=rows["stage"].to_numpy(dtype=np.int64),
            segment=np.asarray(ledger.columns["segment"])[lead].astype(np.int64),
            value=np.asarray(ledger.columns["deal_value"], dtype=float)[lead],
        )
