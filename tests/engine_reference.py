"""The plain versions of engine steps that were made cheaper: a frame per team or per
round of terms and their concatenation, the arrival curve made afresh for every run,
every freeze checking every column it names, the sales stages walked over every item.
``tests/test_engine_tables.py`` pins each rewritten step to its plain version here."""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.fates import HOURS_PER_WEEK, _hour_weights
from funnelsim.engine.ledger import SparseColumn, fill_value, floor32
from funnelsim.engine.stages import StageWalk, _walk
from funnelsim.scenario.models import Scenario


def team_levels(teams: dict, scenario: Scenario) -> pd.DataFrame:
    """One frame per team, concatenated."""
    frames = []
    for name, team in teams.items():
        busy = team.busy_area()
        weeks = np.arange(len(busy))
        width = np.minimum(HOURS_PER_WEEK, scenario.horizon_hours - weeks * HOURS_PER_WEEK)
        slots = max(team.slots, 1)
        frames.append(
            pd.DataFrame(
                {
                    "team": name,
                    "week": weeks,
                    "occupancy": busy / (width * slots),
                    "queue_length": team.queue_area() / width,
                    "on_duty_hours": team.on_duty_hours(),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def terms_table(rows: list[dict[str, np.ndarray]], stored: tuple[str, ...]) -> pd.DataFrame:
    """One frame per round of terms, concatenated, then churned terms' next ARR set to 0
    and the ``stored`` columns replaced by their float32 values one by one."""
    terms = pd.concat([pd.DataFrame(row) for row in rows], ignore_index=True)
    terms.loc[terms["status"].isin(["churned"]), "next_arr"] = 0.0
    for name in stored:
        terms[name] = floor32(terms[name].to_numpy())
    return terms


def hour_grid(scenario: Scenario, horizon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly edges over the horizon, each hour's calendar month, and its open share."""
    edges = np.append(np.arange(0.0, horizon, 1.0), horizon)
    start = np.datetime64(scenario.start_date, "h")
    months = (start + edges[:-1].astype("timedelta64[h]")).astype("datetime64[M]")
    month_index = months.astype(np.int64) % 12
    calendar = WorkCalendar(scenario.calendar, scenario.start_date, horizon + 24.0)
    open_share = np.diff(calendar.working_hours_array(edges)) / np.diff(edges)
    return edges, month_index, open_share


def inbound_intensity(scenario: Scenario, name: str) -> np.ndarray:
    """An inbound source's cumulative expected arrivals at each hour edge, made afresh."""
    source = scenario.sources[name]
    edges, month_index, open_share = hour_grid(scenario, scenario.horizon_hours)
    rate_per_hour = source.leads_per_week / HOURS_PER_WEEK
    season = np.ones(12) if source.seasonality is None else np.asarray(source.seasonality)
    weight = _hour_weights(open_share, source.business_hours_share)
    intensity = rate_per_hour * season[month_index] * weight * np.diff(edges)
    return np.concatenate([[0.0], np.cumsum(intensity)])


def freeze(columns, names) -> None:
    """``Columns.freeze`` checking every named dense column, however often it was checked."""
    for name in names:
        if name not in columns:
            continue
        value = columns.stored(name)
        if isinstance(value, np.ndarray):
            sparse = SparseColumn.of(value, fill_value(name))
            if sparse is not None:
                dict.__setitem__(columns, name, sparse)


def walk_stages(scenario, segment, active, u, start_stage, age_hours) -> StageWalk:
    """The stage walk over every item, inactive ones included."""
    return _walk(scenario, segment, active, u, start_stage, age_hours)
