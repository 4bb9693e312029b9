"""Forecasts worth checking: what a CRM shows, what the simulator predicts, what happened.

At the start ``q0`` of every calendar quarter (the first one starts on ``start_date``; a
last quarter the horizon cuts short is left out):

* **Stage-weighted** (the CRM's forecast): every opportunity open at ``q0`` whose CRM close
  date falls in the quarter counts at its recorded stage's weight. The recorded stage is
  the stage it is in, one later when its record is stale (``crm_hygiene``; reps rarely
  record a stage too early); its CRM close date is the close it was planned for
  (``expected_close``: every stage's time, no stalls), pushed on by
  ``sales.close_date_push_days`` as many times as it has already passed. Weights come from
  the scenario (each stage's ``weight``; without one, the chance implied by the stages)
  or are fitted (:func:`fit_stage_weights`). Its target, ``actual_open``, is what the
  pipeline open at ``q0`` closed-won in the quarter: a pipeline forecast cannot see deals
  not yet created.
* **Monte Carlo** (the simulator's own): each open opportunity's rest of its walk is
  simulated from its stage and the time it has spent there (stage times drawn given
  they exceed that, the stage chances from there on), and the quarter's inflow (deals
  both created and won in it) is drawn from the other replications' same quarter (with
  one replication: the previous quarter's inflow). P10, P50 and P90 of their sum
  forecast ``actual``, every deal value won in the quarter. Each replication's open
  pipeline is simulated from its own stream (keyed by its replication seed), so that
  part can be computed where the replication ran (:func:`forecast_part`); the inflow
  draws come from the ``seed`` of :func:`forecasts`.

Forecast error is ``(forecast - actual) / actual`` per quarter; MAPE its absolute mean.
Money is the deal value won in sales (before any fall-through at seam 2).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from funnelsim.analysis._common import HOURS_PER_DAY, group_sums, horizon_hours, observed
from funnelsim.analysis.pipeline_walk import OpenDeals, StageSamples
from funnelsim.analysis.stages import stage_rows, wilson
from funnelsim.analysis.timeseries import calendar_months
from funnelsim.engine.ledger import Ledger
from funnelsim.experiment.stats import CONFIDENCE, t_interval
from funnelsim.scenario.models import Scenario
from funnelsim.scenario.stages import implied_weights

if TYPE_CHECKING:
    from pandas.core.groupby import SeriesGroupBy

MC_DRAWS = 1000
FORECAST_COLUMNS: tuple[str, ...] = (
    "quarter",
    "start",
    "stage_weighted",
    "stage_weighted_fitted",
    "actual_open",
    "mc_p10",
    "mc_p50",
    "mc_p90",
    "mc_mean",
    "actual",
)
METHODS: dict[str, tuple[str, str]] = {
    "stage_weighted": ("stage_weighted", "actual_open"),
    "stage_weighted_fitted": ("stage_weighted_fitted", "actual_open"),
    "monte_carlo": ("mc_p50", "actual"),
}


def quarter_edges(scenario: Scenario, horizon: float) -> tuple[np.ndarray, list[str]]:
    """Hour edges of the calendar quarters forecast: from the start date on, each whole
    quarter inside the run (one the horizon cuts short is left out)."""
    edges, labels = _quarter_edges(scenario.start_date, float(horizon))
    return edges.copy(), list(labels)


@functools.lru_cache(maxsize=16)
def _quarter_edges(start: dt.date, horizon: float) -> tuple[np.ndarray, tuple[str, ...]]:
    """:func:`quarter_edges` made once per start date and horizon (a replication asks for
    them several times); callers get copies."""
    edges, months = calendar_months(start, horizon)
    quarter = months["quarter"].tolist()
    first = [i for i, label in enumerate(quarter) if i == 0 or label != quarter[i - 1]]
    labels = [quarter[i] for i in first]
    bounds = np.append(edges[first], horizon)
    # The last quarter is whole if the run reaches the next quarter's first day.
    last_start = months["start"].iloc[first[-1]]
    month = last_start.month - (last_start.month - 1) % 3 + 3
    after = dt.date(last_start.year + (month > 12), (month - 1) % 12 + 1, 1)
    if (after - start).days * 24.0 > horizon and len(labels) > 1:
        return bounds[:-1], tuple(labels[:-1])
    return bounds, tuple(labels)


def stage_weights(scenario: Scenario) -> np.ndarray:
    """The CRM's weight of each stage: the scenario's, else the chance implied by the stages."""
    shares = {name: segment.share for name, segment in scenario.segments.items()}
    stages = scenario.sales.stages
    if stages is None:
        return np.array([sum(shares[s] * scenario.sales.win_rate[s] for s in shares)])
    implied = implied_weights(stages, shares)
    given = [stage.weight for stage in stages.values()]
    return np.array([w if w is not None else i for w, i in zip(given, implied, strict=True)])


def pipeline_by_quarter(
    ledger: Ledger, scenario: Scenario, rows: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per quarter and recorded stage: value due in the quarter (open at its start with a
    CRM close date in it) and value the open pipeline won in it (any close date).

    Columns quarter, start, stage, due, won_open. Weights times ``due`` summed over the
    stages is the stage-weighted forecast; ``won_open`` summed is ``actual_open``.
    ``rows``: the ledger's ``stage_rows`` when the caller has them already.
    """
    horizon = horizon_hours(ledger)
    edges, labels = quarter_edges(scenario, horizon)
    rows = stage_rows(ledger) if rows is None else rows
    lead = rows["lead_id"].to_numpy()
    c = ledger.columns
    value = np.asarray(c["deal_value"], dtype=float)[lead]
    expected = np.asarray(c["expected_close"], dtype=float)[lead]
    won_time = observed(ledger, "won_time")[lead]
    stale = np.asarray(c["stale_stage"], dtype=bool)[lead]
    stage = rows["stage"].to_numpy(dtype=np.int64)
    entered = rows["entered"].to_numpy(dtype=float)
    left = rows["left"].to_numpy(dtype=float)
    until = np.where(np.isfinite(left), left, np.inf)
    n_stages = len(ledger.stage_names)
    push = scenario.sales.close_date_push_days * HOURS_PER_DAY
    recorded = np.minimum(stage + stale, n_stages - 1)
    due_value = np.zeros((len(labels), n_stages))
    won_value = np.zeros((len(labels), n_stages))
    for q in range(len(labels)):
        q0, q1 = edges[q], edges[q + 1]
        inside = (entered <= q0) & (until > q0)
        close = crm_close_date(expected, q0, push)
        due = inside & (close >= q0) & (close < q1)
        won = inside & (won_time >= q0) & (won_time < q1)
        due_value[q] = np.bincount(recorded[due], value[due], minlength=n_stages)
        won_value[q] = np.bincount(recorded[won], value[won], minlength=n_stages)
    return pd.DataFrame(
        {
            "quarter": np.repeat(np.array(labels, dtype=object), n_stages),
            "start": np.repeat(edges[: len(labels)], n_stages),
            "stage": np.tile(np.arange(n_stages, dtype=np.int64), len(labels)),
            "due": due_value.ravel(),
            "won_open": won_value.ravel(),
        }
    )


def crm_close_date(expected: np.ndarray, at: float, push_hours: float) -> np.ndarray:
    """The close date a CRM shows at ``at``: the planned one, pushed on by ``push_hours``
    each time it has passed."""
    late = np.isfinite(expected) & (expected < at)
    pushes = np.ceil((at - expected[late]) / push_hours)
    out = expected.copy()
    out[late] = expected[late] + np.maximum(pushes, 1.0) * push_hours
    return out


def fit_stage_weights(pipelines: Sequence[pd.DataFrame], fallback: np.ndarray) -> np.ndarray:
    """Weights calibrated on history: per recorded stage, the value its open pipeline won
    within the quarter over the value due in the quarter, pooled over the tables given
    (``fallback`` where a stage was never due)."""
    n_stages = len(fallback)
    stage = np.concatenate([p["stage"].to_numpy(dtype=np.int64) for p in pipelines])
    values = np.column_stack(
        [
            np.concatenate([p[name].to_numpy(dtype=float) for p in pipelines])
            for name in ("due", "won_open")
        ]
    )
    inside = stage < n_stages
    due, won = group_sums(stage[inside], values[inside], n_stages).T
    with np.errstate(divide="ignore", invalid="ignore"):
        fitted = np.where(due > 0, won / due, fallback)
    return np.nan_to_num(fitted, nan=0.0)


def stage_weighted(pipeline: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """Per quarter: the stage-weighted forecast and the open pipeline's actual (quarters
    in the order they first appear)."""
    quarter, start, forecast, actual = _stage_weighted_sums(pipeline, weights)
    return pd.DataFrame(
        {"quarter": quarter, "start": start, "forecast": forecast, "actual_open": actual}
    )


def _stage_weighted_sums(
    pipeline: pd.DataFrame, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`stage_weighted`'s columns as arrays: quarter, start, forecast, actual_open."""
    quarter = pipeline["quarter"].to_numpy()
    start = pipeline["start"].to_numpy(dtype=float)
    cell = _quarter_cells(quarter, start)
    first = np.unique(cell, return_index=True)[1]
    n = len(first)
    forecast = pipeline["due"].to_numpy(dtype=float) * weights[pipeline["stage"].to_numpy()]
    won = pipeline["won_open"].to_numpy(dtype=float)
    sums = group_sums(cell, np.column_stack([forecast, won]), n)
    return quarter[first], start[first], sums[:, 0], sums[:, 1]


def _quarter_cells(quarter: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Each row's (quarter, start) pair numbered in the order pairs first appear: read off
    the runs of equal pairs where each pair is one run (as ``pipeline_by_quarter`` makes
    them), else factorized."""
    if len(quarter) and not np.isnan(start).any():
        change = (quarter[1:] != quarter[:-1]) | (start[1:] != start[:-1])
        runs = np.r_[0, np.flatnonzero(change) + 1]
        if len(set(zip(quarter[runs].tolist(), start[runs].tolist(), strict=True))) == len(runs):
            return np.cumsum(np.r_[0, change.astype(np.int64)])
    quarter_code, _ = pd.factorize(quarter)
    start_code, starts = pd.factorize(start)
    cell, _ = pd.factorize(quarter_code * len(starts) + start_code)
    return cell


def forecast_error(ledger: Ledger, scenario: Scenario, fitted: bool = False) -> float:
    """MAPE of the stage-weighted forecast against what the open pipeline won, over the
    quarters with such wins (scenario weights; ``fitted``: weights fitted on this run)."""
    given, on_run = forecast_errors(ledger, scenario)
    return on_run if fitted else given


def forecast_errors(
    ledger: Ledger,
    scenario: Scenario,
    pipeline: pd.DataFrame | None = None,
    weighted: pd.DataFrame | None = None,
) -> tuple[float, float]:
    """:func:`forecast_error` with the scenario's weights and with weights fitted on the run
    (``pipeline``: this ledger's :func:`pipeline_by_quarter`, and ``weighted`` its
    :func:`stage_weighted` with the scenario's weights, when already made)."""
    if pipeline is None:
        pipeline = pipeline_by_quarter(ledger, scenario)
    weights = stage_weights(scenario)
    if weighted is None:
        weighted = stage_weighted(pipeline, weights)
    _, _, forecast, actual = _stage_weighted_sums(pipeline, fit_stage_weights([pipeline], weights))
    return _mape(weighted), _mape_of(forecast, actual)


def _mape(table: pd.DataFrame) -> float:
    """Mean absolute percentage error over the quarters with an actual (NaN without)."""
    return _mape_of(table["forecast"].to_numpy(), table["actual_open"].to_numpy(dtype=float))


def _mape_of(forecast: np.ndarray, actual: np.ndarray) -> float:
    """:func:`_mape` of the forecast and actual columns."""
    keep = actual > 0
    if not keep.any():
        return np.nan
    return float(np.mean(np.abs(forecast[keep] - actual[keep]) / actual[keep]))


@dataclass(frozen=True)
class ForecastPart:
    """What one replication brings to :func:`forecasts`, computed from its ledger alone.

    ``pipeline`` is :func:`pipeline_by_quarter`; per quarter, ``inflow`` the value won by
    deals created in it, ``actual`` every deal value won in it, and ``open_wins`` (quarters
    x draws) the Monte Carlo samples of what the pipeline open at its start wins in it;
    ``weighted`` is :func:`stage_weighted` with the scenario's weights.
    """

    pipeline: pd.DataFrame
    weighted: pd.DataFrame
    edges: np.ndarray
    inflow: np.ndarray
    actual: np.ndarray
    open_wins: np.ndarray


def forecast_part(ledger: Ledger, scenario: Scenario, draws: int = MC_DRAWS) -> ForecastPart:
    """One replication's share of the forecasts; its Monte Carlo draws come from a stream
    keyed by the ledger's own seed, so the part is the same wherever it is computed."""
    rng = np.random.default_rng(np.random.SeedSequence([int(ledger.meta["seed"]), 0xF0CA57]))
    samples = StageSamples(scenario, rng)
    edges, _ = quarter_edges(scenario, horizon_hours(ledger))
    rows = stage_rows(ledger)
    deals = OpenDeals.of(ledger, rows)
    open_wins = np.zeros((len(edges) - 1, draws))
    for q in range(len(edges) - 1):
        open_wins[q] = samples.pipeline_wins(deals, edges[q], edges[q + 1], draws, rng)
    pipeline = pipeline_by_quarter(ledger, scenario, rows)
    return ForecastPart(
        pipeline=pipeline,
        weighted=stage_weighted(pipeline, stage_weights(scenario)),
        edges=edges,
        inflow=_inflow(ledger, scenario),
        actual=_actual(ledger, edges),
        open_wins=open_wins,
    )


def forecasts(
    ledgers: Sequence[Ledger],
    scenario: Scenario,
    seed: int = 0,
    draws: int = MC_DRAWS,
    parts: Sequence[ForecastPart] | None = None,
) -> pd.DataFrame:
    """Every replication's quarterly forecasts and actuals (columns ``FORECAST_COLUMNS``
    with a ``replication`` column first). Fitted weights are pooled over all the ledgers;
    each open pipeline's draws come from its ledger's stream (:func:`forecast_part`; pass
    ``parts`` already computed with the same ``draws`` to reuse them), the inflow draws
    from a Generator seeded with ``seed``."""
    if parts is None:
        parts = [forecast_part(ledger, scenario, draws) for ledger in ledgers]
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0xF0CA57]))
    pipelines = [part.pipeline for part in parts]
    fitted = fit_stage_weights(pipelines, stage_weights(scenario))
    inflow = np.array([part.inflow for part in parts])
    mc = np.zeros((*inflow.shape, 4))
    for r, part in enumerate(parts):
        others = np.delete(inflow, r, axis=0)
        new = np.empty_like(part.open_wins)
        for q in range(len(new)):
            if len(others):
                new[q] = others[rng.integers(0, len(others), draws), q]
            else:
                new[q] = inflow[r, q - 1] if q else 0.0
        total = part.open_wins + new
        mc[r, :, :3] = np.quantile(total, [0.1, 0.5, 0.9], axis=1).T
        mc[r, :, 3] = total.mean(axis=1)
    # Every replication at once: one frame, one grouping (per replication and quarter).
    table = pd.concat([part.weighted for part in parts], ignore_index=True)
    table = table.rename(columns={"forecast": "stage_weighted"})
    table.insert(0, "replication", np.repeat(np.arange(len(parts)), inflow.shape[1]))
    stacked = pd.concat(pipelines, ignore_index=True)
    stacked["replication"] = np.repeat(np.arange(len(parts)), [len(p) for p in pipelines])
    stacked["forecast"] = stacked["due"] * fitted[stacked["stage"].to_numpy()]
    refit = stacked.groupby(["replication", "quarter", "start"], sort=False)["forecast"].sum()
    table["stage_weighted_fitted"] = refit.to_numpy()
    table[["mc_p10", "mc_p50", "mc_p90", "mc_mean"]] = mc.reshape(-1, 4)
    table["actual"] = np.concatenate([part.actual for part in parts])
    table["start"] = pd.Timestamp(scenario.start_date) + pd.to_timedelta(table["start"], "h")
    return table[["replication", *FORECAST_COLUMNS]]


def forecast_accuracy(table: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    """Forecast errors with intervals, from :func:`forecasts` output.

    One row per method (stage_weighted, stage_weighted_fitted, monte_carlo) and quarter
    (``all`` for the whole run): mean absolute percentage error and mean (signed) error as
    a share of the actual, each with its Student-t interval over replications, and the
    quarters counted. A row ``band_coverage`` gives the share of (replication, quarter)
    whose actual fell inside the Monte Carlo P10-P90 band, with a Wilson interval.
    """
    rows = []
    for method, (forecast, actual) in METHODS.items():
        frame = table[table[actual] > 0].assign(
            error=lambda f, fc=forecast, ac=actual: (f[fc] - f[ac]) / f[ac]
        )
        quarters = _by_quarter(frame)
        if quarters is None:  # a replication with several rows in a quarter
            quarters = [(q, _per_replication(g)) for q, g in frame.groupby("quarter", sort=False)]
        for quarter, (absolute, signed, count) in [
            ("all", _per_replication(frame)),
            *quarters,
        ]:
            ape, bias = t_interval(absolute, confidence), t_interval(signed, confidence)
            rows.append((method, quarter, *ape, *bias, count))
    columns = [
        "method",
        "quarter",
        "mape",
        "mape_low",
        "mape_high",
        "bias",
        "bias_low",
        "bias_high",
        "quarters",
    ]
    result = pd.DataFrame(rows, columns=columns)
    inside = (table["actual"] >= table["mc_p10"]) & (table["actual"] <= table["mc_p90"])
    z = float(special.ndtri(0.5 + confidence / 2))
    low, high = wilson(int(inside.sum()), len(table), z)
    coverage = pd.DataFrame(
        [("band_coverage", "all", inside.mean(), low, high, np.nan, np.nan, np.nan, len(table))],
        columns=columns,
    )
    return pd.concat([result, coverage], ignore_index=True)


def _per_replication(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, int]:
    """A group's mean absolute and mean error per replication (in replication order) and
    its rows counted."""
    per_rep = group.groupby("replication")["error"]
    return _mean_absolute(per_rep), per_rep.mean().to_numpy(), len(group)


def _by_quarter(frame: pd.DataFrame) -> list[tuple[str, tuple]] | None:
    """:func:`_per_replication` of each quarter's rows (quarters in order of first
    appearance, rows without one left out) when every replication has at most one row
    in a quarter (as :func:`forecasts` makes the table): a replication's one error is
    then its mean and its absolute value its mean absolute error, read off the errors
    sorted by quarter and replication rather than grouped quarter by quarter. None
    otherwise (or for replication numbers that are not integers)."""
    if not pd.api.types.is_integer_dtype(frame["replication"].dtype):
        return None
    codes, names = pd.factorize(frame["quarter"], sort=False)
    kept = np.flatnonzero(codes >= 0)
    replication = frame["replication"].to_numpy()[kept]
    order = np.lexsort((replication, codes[kept]))
    quarter, replication = codes[kept][order], replication[order]
    if ((quarter[1:] == quarter[:-1]) & (replication[1:] == replication[:-1])).any():
        return None
    errors = frame["error"].to_numpy(dtype=float)[kept][order]
    parts = np.split(errors, np.flatnonzero(np.diff(quarter)) + 1) if len(errors) else []
    return [
        (name, (np.abs(part), part, len(part))) for name, part in zip(names, parts, strict=True)
    ]


def _mean_absolute(per_rep: SeriesGroupBy) -> np.ndarray:
    """Each group's mean absolute value, in the groups' order: the numbers of
    ``per_rep.apply(lambda e: e.abs().mean())`` computed as ``Series.mean`` does (NaN
    as 0 in the sum, over the count of the others) without a Series per group."""
    values = np.abs(per_rep.obj.to_numpy(dtype=float))
    groups = per_rep.indices
    out = []
    for key in sorted(groups):
        part = values[groups[key]]
        missing = np.isnan(part)
        count = len(part) - int(missing.sum())
        total = np.where(missing, 0.0, part).sum() if missing.any() else part.sum()
        out.append(total / count if count else np.nan)
    return np.array(out, dtype=float)


def _inflow(ledger: Ledger, scenario: Scenario) -> np.ndarray:
    """Per quarter: value won in it by opportunities created in it."""
    edges, _ = quarter_edges(scenario, horizon_hours(ledger))
    opened = observed(ledger, "opp_time")
    won_time = observed(ledger, "won_time")
    value = np.asarray(ledger.columns["deal_value"], dtype=float)
    out = np.zeros(len(edges) - 1)
    for q in range(len(out)):
        q0, q1 = edges[q], edges[q + 1]
        new = (opened >= q0) & (opened < q1) & (won_time >= q0) & (won_time < q1)
        out[q] = value[new].sum()
    return out


def _actual(ledger: Ledger, edges: np.ndarray) -> np.ndarray:
    """Per quarter: every deal value won in it."""
    won_time = observed(ledger, "won_time")
    value = np.asarray(ledger.columns["deal_value"], dtype=float)
    return np.array(
        [
            value[(won_time >= edges[q]) & (won_time < edges[q + 1])].sum()
            for q in range(len(edges) - 1)
        ]
    )
