"""Sweeps: every point of a parameter grid, with intervals and the best net value marked.

Net value is gross profit - cost: horizon revenue x the scenario's gross margin, minus
total cost; a point's net gain is its paired difference in net value against the base.

All points run on the same replication seeds as the base scenario, so each point's gain
over the base is a paired difference. With an output directory, each finished point is
written atomically as its own JSON file; a rerun skips the points already there and
gives the same final table as an uninterrupted run. A point file that is damaged or
belongs to another sweep is run again, with a warning naming it. The directory carries
funnelsim's sweep marker and is locked while a sweep writes into it.
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from funnelsim.atomic import ClaimedFolder, write_text
from funnelsim.experiment.defaults import DEFAULT_REPLICATIONS
from funnelsim.experiment.executors import DaskScheduler, execute
from funnelsim.experiment.replications import replication_jobs, run_replication
from funnelsim.experiment.stats import CONFIDENCE, paired_difference, t_interval
from funnelsim.experiment.variants import get_path, grid_points, scenario_data, with_overrides
from funnelsim.scenario.loading import ScenarioError
from funnelsim.scenario.models import Scenario

SWEEP_METRICS = (
    "horizon_revenue",
    "arr_at_horizon",
    "won_deals",
    "gross_profit",
    "total_cost",
    "net_value",
)
# Part of every saved point's key: points saved under another definition are rerun.
NET_VALUE_DEFINITION = "gross_profit - total_cost"
SWEEP_KIND = "sweep"


def sweep(
    base: Scenario,
    grid: Mapping[str, list[Any]],
    replications: int = DEFAULT_REPLICATIONS,
    seed: int = 0,
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    out_dir: Path | None = None,
    on_done: Callable[[int, Any], None] | None = None,
    confidence: float = CONFIDENCE,
    on_warning: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """One row per grid point: metrics with CIs, gain over the base, and the best point.

    ``on_warning`` gets one line per saved point that is run again (default: ``warnings``).
    """
    points = [{}, *grid_points(grid)]
    scenarios = [with_overrides(base, point) for point in points]
    keys = [_point_key(base, point, replications, seed) for point in points]
    with _claimed(out_dir):
        stored = _load_points(out_dir, keys, points, replications, on_warning or _warn)
        todo = [i for i, key in enumerate(keys) if key not in stored]
        jobs: list[tuple] = []
        owners: list[int] = []
        for i in todo:
            jobs += replication_jobs(scenarios[i], replications, seed, keep_ledgers=False)
            owners += [i] * replications
        collected: dict[int, dict[int, dict[str, float]]] = {i: {} for i in todo}

        def finished(job: int, rep: Any) -> None:
            point = owners[job]
            collected[point][rep.index] = _metric_values(rep, base.currency)
            if len(collected[point]) == replications:
                values = [collected[point][r] for r in range(replications)]
                stored[keys[point]] = values
                if out_dir is not None:
                    _save_point(out_dir, keys[point], points[point], values)
            if on_done:
                on_done(job, rep)

        execute(run_replication, jobs, workers=workers, scheduler=scheduler, on_done=finished)
    data = scenario_data(base)
    base_values = {path: _base_value(data, path) for path in grid}
    return _table(points, [stored[key] for key in keys], base_values, confidence)


def _claimed(out_dir: Path | None) -> AbstractContextManager[object]:
    """The sweep directory held for this sweep (created with its marker when missing)."""
    if out_dir is None:
        return nullcontext()
    return ClaimedFolder(Path(out_dir), SWEEP_KIND, adopt=_sweep_before_markers)


def _sweep_before_markers(folder: Path) -> bool:
    """A folder holding only what sweeps wrote before they left a marker (or nothing)."""
    return all(entry.name in {"points", "sweep.csv"} for entry in folder.iterdir())


def _warn(message: str) -> None:
    warnings.warn(message, RuntimeWarning, stacklevel=3)


def _metric_values(rep: Any, currency: str) -> dict[str, float]:
    metrics = rep.metrics(currency).set_index("metric")["value"].astype(float)
    return {name: float(metrics[name]) for name in SWEEP_METRICS if name in metrics}


def _base_value(data: dict[str, Any], path: str) -> Any:
    """The base scenario's value at a grid path (None where the base has no such field)."""
    try:
        return get_path(data, path)
    except ScenarioError:
        return None


def _table(
    points: list[dict[str, Any]],
    results: list[list[dict[str, float]]],
    base_values: dict[str, Any],
    confidence: float,
) -> pd.DataFrame:
    """One row per point; the base row (point 0) shows the base scenario's values."""
    base_net = np.array([r["net_value"] for r in results[0]])
    rows = []
    for index, (point, values) in enumerate(zip(points, results, strict=True)):
        row: dict[str, Any] = {"point": index}
        for path, base_value in base_values.items():
            row[path] = point.get(path, base_value)
        for metric in SWEEP_METRICS:
            series = np.array([v[metric] for v in values])
            row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = t_interval(
                series, confidence
            )
        net = np.array([v["net_value"] for v in values])
        gain = paired_difference(base_net, net, confidence)
        row["net_gain"], row["net_gain_ci_low"], row["net_gain_ci_high"] = gain
        row["replications"] = len(values)
        rows.append(row)
    table = pd.DataFrame(rows)
    table.insert(1, "is_base", table["point"] == 0)
    grid_rows = table[~table["is_base"]]
    table["best"] = False
    if not grid_rows.empty:
        table.loc[grid_rows["net_gain"].idxmax(), "best"] = True
    return table


def _point_key(base: Scenario, point: Mapping[str, Any], replications: int, seed: int) -> str:
    """A stable identity for a point: base scenario, overrides, replications and seed."""
    text = json.dumps(
        {
            "base": scenario_data(base),
            "point": point,
            "reps": replications,
            "seed": seed,
            "net_value": NET_VALUE_DEFINITION,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _load_points(
    out_dir: Path | None,
    keys: list[str],
    points: list[dict[str, Any]],
    replications: int,
    warn: Callable[[str], None],
) -> dict[str, list[dict[str, float]]]:
    """The saved points that are sound; a damaged or foreign one is left to run again."""
    stored: dict[str, list[dict[str, float]]] = {}
    if out_dir is None:
        return stored
    for key, point in zip(keys, points, strict=True):
        path = Path(out_dir) / "points" / f"{key}.json"
        if not path.exists():
            continue
        values, problem = _read_point(path, key, point, replications)
        if values is not None:
            stored[key] = values
        else:
            warn(f"{path}: {problem}; running this point again")
    return stored


def _read_point(
    path: Path, key: str, point: Mapping[str, Any], replications: int
) -> tuple[list[dict[str, float]] | None, str]:
    """A point file's replications, or None and what is wrong with it."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None, "unreadable (not a JSON point file)"
    if not isinstance(document, dict):
        return None, "not a sweep point (expected a JSON object)"
    if document.get("key", key) != key or document.get("overrides") != _as_json(point):
        return None, "saved by another sweep (a different scenario or grid point)"
    values = document.get("replications")
    if not isinstance(values, list) or len(values) != replications:
        return None, f"expected {replications} replications"
    if not all(_sound_replication(value) for value in values):
        return None, f"expected the finite metrics {', '.join(SWEEP_METRICS)} per replication"
    return [{name: float(value[name]) for name in SWEEP_METRICS} for value in values], ""


def _sound_replication(value: object) -> bool:
    return isinstance(value, dict) and all(
        isinstance(value.get(name), int | float)
        and not isinstance(value.get(name), bool)
        and math.isfinite(value[name])
        for name in SWEEP_METRICS
    )


def _as_json(value: Any) -> Any:
    """``value`` as it reads back from the JSON a point file holds."""
    return json.loads(json.dumps(value, default=str))


def _save_point(
    out_dir: Path, key: str, point: Mapping[str, Any], values: list[dict[str, float]]
) -> None:
    document = json.dumps({"key": key, "overrides": point, "replications": values}, default=str)
    write_text(Path(out_dir) / "points" / f"{key}.json", document, force=True)
