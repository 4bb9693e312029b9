"""One-at-a-time sensitivity: which inputs move revenue most (the data behind a tornado).

Each parameter is moved down and up by a relative step (probabilities stay in [0, 1],
counts stay whole and change by at least one) with everything else at the base value.
Every variant runs on the base's replication seeds, so each effect is a paired
difference with its interval.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from funnelsim.experiment.defaults import DEFAULT_REPLICATIONS
from funnelsim.experiment.executors import DaskScheduler, execute
from funnelsim.experiment.replications import replication_jobs, run_replication
from funnelsim.experiment.stats import CONFIDENCE, paired_difference
from funnelsim.experiment.variants import get_path, numeric_paths, scenario_data, with_overrides
from funnelsim.scenario.loading import ScenarioError
from funnelsim.scenario.models import Scenario

DEFAULT_PARAMETERS = (
    "sources.*.leads_per_week",
    "marketing.scoring.mql_threshold",
    "marketing.data_decay_per_year",
    "teams.sdr.headcount",
    "teams.ae.headcount",
    "seam1.response_delay.median",
    "seam1.decay.half_life_hours",
    "seam1.acceptance.p_accept_fit",
    "sales.win_rate.*",
    "sales.stages.*.advance.*",
    "seam2.nonstandard_share",
    "seam2.fallthrough_per_week_waiting",
    "seam3.context_transfer_prob",
    "seam4.trigger_days_before_end",
    "seam4.expansion.prob",
)
NOT_TUNABLE = ("horizon_days", "seam4.term_months")
# Sales fields a scenario with sales stages does not use (the stages replace them).
REPLACED_BY_STAGES = (
    "sales.win_rate.",
    "sales.cycle_days.",
    "sales.lost_cycle_days.",
    "sales.slip.",
)


def sensitivity(
    scenario: Scenario,
    parameters: Iterable[str] | None = None,
    step: float = 0.2,
    metric: str = "horizon_revenue",
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    on_done: Callable[[int, Any], None] | None = None,
    confidence: float = CONFIDENCE,
) -> pd.DataFrame:
    """Effect on ``metric`` of moving each parameter down and up by ``step`` (relative)."""
    data = scenario_data(scenario)
    paths = resolve_parameters(data, parameters)
    variants: list[tuple[str, str, Any]] = []
    for path in paths:
        base_value = get_path(data, path)
        for side, value in zip(("low", "high"), _nudges(path, base_value, step), strict=True):
            if value != base_value:
                variants.append((path, side, value))
    scenarios = [scenario] + [with_overrides(scenario, {p: v}) for p, _, v in variants]
    jobs: list[tuple] = []
    for variant in scenarios:
        jobs += replication_jobs(variant, replications, seed, keep_ledgers=False)
    runs = execute(run_replication, jobs, workers=workers, scheduler=scheduler, on_done=on_done)
    values = np.array([_value(rep, metric) for rep in runs]).reshape(len(scenarios), replications)
    effects: dict[tuple[str, str], tuple[Any, tuple[float, float, float]]] = {}
    for (path, side, value), row in zip(variants, values[1:], strict=True):
        effects[(path, side)] = (value, paired_difference(values[0], row, confidence))
    rows = []
    for path in paths:
        row: dict[str, Any] = {"parameter": path, "base_value": get_path(data, path)}
        for side in ("low", "high"):
            value, (mean, low, high) = effects.get(
                (path, side), (row["base_value"], (0.0, 0.0, 0.0))
            )
            row[f"{side}_value"] = value
            row[f"{side}_effect"], row[f"{side}_ci_low"], row[f"{side}_ci_high"] = mean, low, high
        row["swing"] = abs(row["high_effect"] - row["low_effect"])
        rows.append(row)
    table = pd.DataFrame(rows).sort_values("swing", ascending=False, kind="stable")
    table.insert(1, "metric", metric)
    return table.reset_index(drop=True)


def resolve_parameters(data: dict[str, Any], parameters: Iterable[str] | None) -> list[str]:
    """Expand ``*`` in parameter paths (one level) against the scenario; check they exist."""
    wanted = list(parameters) if parameters is not None else list(DEFAULT_PARAMETERS)
    available = [p for p in numeric_paths(data) if p not in NOT_TUNABLE]
    if data.get("sales", {}).get("stages"):
        available = [p for p in available if not p.startswith(REPLACED_BY_STAGES)]
    resolved: list[str] = []
    for pattern in wanted:
        if pattern == "all":
            resolved += available
            continue
        parts = pattern.split(".")
        matches = [
            p
            for p in available
            if len(p.split(".")) == len(parts)
            and all(a == b or a == "*" for a, b in zip(parts, p.split("."), strict=True))
        ]
        if not matches:
            if parameters is None:
                continue
            raise ScenarioError(f"--param {pattern}: not a numeric field of the scenario")
        resolved += matches
    return list(dict.fromkeys(resolved))


def _nudges(path: str, value: float, step: float) -> tuple[float, float]:
    """The low and high values for a parameter, respecting its kind."""
    if isinstance(value, int) and not isinstance(value, bool):
        delta = max(1, round(abs(value) * step))
        return max(0, value - delta), value + delta
    low, high = value * (1 - step), value * (1 + step)
    if _is_probability(path, value):
        low, high = max(0.0, low), min(1.0, high)
    return low, high


def _is_probability(path: str, value: float) -> bool:
    words = (
        "prob",
        "share",
        "rate",
        "threshold",
        "floor",
        "p_accept",
        "decay_per_year",
        "loss",
        "advance",
    )
    return 0.0 <= value <= 1.0 and any(word in path for word in words)


def _value(rep: Any, metric: str) -> float:
    frame = rep.metrics("")
    values = frame.set_index("metric")["value"]
    if metric not in values.index:
        raise ScenarioError(f"--metric {metric}: unknown; expected one of {list(values.index)}")
    return float(values[metric])
