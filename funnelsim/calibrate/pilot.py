"""Lead volume back-solved by pilot simulations, for ``upstream: defaults``.

An export that starts at the MQL (or SQL, opportunity) stage says how many records enter
there per week. With ``upstream: defaults`` the default marketing and seam 1 stay in front
of it, so the leads per week that deliver that rate are found by simulating: each round
runs the draft at a bounded size, compares the entry rate with the observed one and
rescales the volume. The rounds stop at the tolerance; a rate that does not follow the
volume, or still misses after PILOT_ROUNDS, is refused with one line.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import numpy as np
import pandas as pd

from funnelsim.calibrate.fitdist import _round
from funnelsim.calibrate.fitting import Fitted
from funnelsim.calibrate.mapping import PLURAL, MappingError
from funnelsim.engine import simulate
from funnelsim.scenario.distributions import Distribution
from funnelsim.scenario.loading import scenario_from_dict
from funnelsim.scenario.models import Scenario

PILOT_ROUNDS = 5
PILOT_TOLERANCE = 0.03
PILOT_FAIL = 0.10
PILOT_LEADS = 250_000
PILOT_MAX_RUNS = 20
RUNAWAY_MIN_ENTRIES = 30
MAX_STEP = 10.0
WARMUP_WEEKS = 2.0
TARGET_UTILISATION = 0.5
WORK_HOURS_PER_WEEK = 40.0
STAGE_TIME = {"lead": "created", "mql": "mql_time", "sql": "sql_time", "opportunity": "opp_time"}


def back_solve(fitted: Fitted, data: dict[str, Any], prov: dict[str, str], seed: int) -> dict:
    """Rescale ``data``'s leads per week until the simulated entry rate meets the observed
    one; size the SDR team to the volume. Returns the pilot's history and the share of fit
    leads among those entering the export's first stage."""
    entry = fitted.chain[0]
    target = dict(zip(fitted.arrivals["source"], fitted.arrivals["per_week"], strict=True))
    observed = sum(target.values())
    history: list[dict[str, float]] = []
    volumes: list[float] = []
    miss, entries, fit_share = math.inf, 0, 1.0
    for round_index in range(PILOT_ROUNDS):
        scenario, scale, runs = _pilot_scenario(data)
        seeds = np.random.SeedSequence(seed).generate_state(runs)
        leads = pd.concat([simulate(scenario, int(s)).leads for s in seeds], ignore_index=True)
        weeks = scenario.horizon_days / 7.0
        entered = leads[STAGE_TIME[entry]].to_numpy() >= WARMUP_WEEKS * 168.0
        counts = leads.loc[entered, "source"].value_counts()
        entries = int(counts.sum())
        fit_share = float(leads.loc[entered, "is_fit"].mean()) if entries else 1.0
        span = max(weeks - WARMUP_WEEKS, 1.0) * scale * runs
        history.append({str(k): round(v / span, 2) for k, v in counts.items()})
        simulated = entries / span
        volumes.append(sum(src["leads_per_week"] for src in data["sources"].values()))
        miss = abs(simulated / observed - 1.0) if simulated > 0 else math.inf
        tolerance = max(PILOT_TOLERANCE, 2.0 / math.sqrt(max(entries, 1)))
        mql_rate = float((leads["mql_time"] < np.inf).sum()) / (weeks * scale * runs)
        if miss <= tolerance:
            _size_sdrs(fitted, data, prov, mql_rate)
            break
        settled = round_index > 0 and entries >= RUNAWAY_MIN_ENTRIES
        factor = _rescale(data, observed, simulated, entry, settled, volumes)
        _size_sdrs(fitted, data, prov, mql_rate * factor)
    if miss > max(PILOT_FAIL, 4.0 / math.sqrt(max(entries, 1))):
        raise MappingError(
            f"created_stage: cannot back-solve leads per week for '{entry}' records: after "
            f"{PILOT_ROUNDS} pilot simulations the default stages before '{entry}' still "
            f"miss the observed rate by {miss:.0%} (leads/week tried: "
            f"{', '.join(f'{v:.4g}' for v in volumes)})"
        )
    for row in fitted.arrivals.itertuples():
        prov[f"sources.{row.source}.leads_per_week"] = (
            f"back-solved: {row.records} {PLURAL[entry]} in {row.weeks:.1f} weeks = "
            f"{row.per_week:.4g}/week (95% CI {row.ci_low:.4g}-{row.ci_high:.4g}) through "
            "the default marketing and seam-1 stages (pilot simulation, upstream: defaults)"
        )
    return {"entry_stage": entry, "target_per_week": target, "simulated": history, "fit": fit_share}


def _rescale(
    data: dict[str, Any],
    observed: float,
    simulated: float,
    entry: str,
    settled: bool,
    volumes: list[float],
) -> float:
    """Every source's leads per week times observed / simulated entry rate (at most
    MAX_STEP); refuse when, past the first round and with enough simulated entries to tell,
    the rate no longer follows the volume. Returns the factor applied."""
    factor = observed / simulated if simulated > 0 else MAX_STEP
    if settled and factor >= MAX_STEP:
        raise MappingError(
            f"created_stage: cannot back-solve leads per week for '{entry}' records: the "
            f"simulated rate does not grow with the lead volume ({simulated:.4g} against "
            f"{observed:.4g} {PLURAL[entry]}/week observed; leads/week tried "
            f"{', '.join(f'{v:.4g}' for v in volumes)})"
        )
    factor = float(np.clip(factor, 1 / MAX_STEP, MAX_STEP))
    for source in data["sources"].values():
        source["leads_per_week"] = _round(source["leads_per_week"] * factor)
    return factor


def _pilot_scenario(data: dict[str, Any]) -> tuple[Scenario, float, int]:
    """The draft scenario sized to about PILOT_LEADS leads: a large volume is scaled down
    with the team headcounts (its weekly counts carry ``scale`` < 1); a small one keeps its
    rates, teams and horizon and is simulated ``runs`` times instead, so queues and the
    start-up behave as in the scenario itself."""
    per_week = sum(src["leads_per_week"] for src in data["sources"].values())
    leads = per_week * data["horizon_days"] / 7.0
    data = copy.deepcopy(data)
    scale, runs = 1.0, 1
    if leads > PILOT_LEADS:
        scale = PILOT_LEADS / leads
        for src in data["sources"].values():
            src["leads_per_week"] = src["leads_per_week"] * scale
        for team in data["teams"].values():
            team["headcount"] = max(1, math.ceil(team["headcount"] * scale))
            team.pop("segments", None)
    elif leads > 0:
        runs = min(PILOT_MAX_RUNS, math.ceil(PILOT_LEADS / leads))
    return scenario_from_dict(data, source="calibrated scenario"), scale, runs


def _size_sdrs(fitted: Fitted, data: dict[str, Any], prov: dict[str, str], mql_rate: float):
    """SDRs sized to the MQLs per week at the default work time (~50% utilisation)."""
    if "sdr" in fitted.owners:
        return
    team = data["teams"]["sdr"]
    work = dist_mean(team["work_time"]) if team.get("work_time") else 1.0
    capacity = WORK_HOURS_PER_WEEK * TARGET_UTILISATION
    team["headcount"] = max(1, math.ceil(mql_rate * work / capacity))
    prov["teams.sdr.headcount"] = (
        "sized to the back-solved MQL volume: ~50% utilisation at the default work time"
    )


def dist_mean(spec: dict[str, Any] | float) -> float:
    """The mean of a scenario distribution spec."""
    from pydantic import TypeAdapter

    return float(TypeAdapter(Distribution).validate_python(spec).mean())
