"""The sales cycle written into the scenario: win rate, won and lost cycle days per
segment (pooled where few closed), and stalled deals as slips past the horizon."""

from __future__ import annotations

from typing import Any

from funnelsim.calibrate.cycles import CycleFit
from funnelsim.calibrate.fitdist import _round
from funnelsim.calibrate.fitting import MIN_SEGMENT, Fitted
from funnelsim.calibrate.mapping import NAME, PLURAL, POOLED
from funnelsim.scenario.base import WEEKDAYS

DEFAULT_DEAL_VALUE = {"dist": "lognormal", "median": 12000.0, "p90": 30000.0}
DEFAULT_WIN_RATE = 0.25
DEFAULT_CYCLE = {"dist": "lognormal", "median": 40, "p90": 100}
STALLED_DAYS = 3650.0
NEVER = {"dist": "fixed", "value": STALLED_DAYS}
INSTANT = {"dist": "fixed", "value": 0.0}
ALWAYS_OPEN = {"weekdays": list(WEEKDAYS), "hours": [0.0, 24.0], "holidays": []}
THROUGH_SLOTS = 1000
SCORE_NOISE = 0.05
ENGINE_STEPS = ("marketing", "seam1", "qualify", "cycle")
STEP_NAMES = {
    "marketing": "lead -> MQL",
    "seam1": "MQL -> SQL",
    "qualify": "SQL -> opportunity",
    "cycle": "opportunity -> close",
}


def _cycle(
    fitted: Fitted, data: dict[str, Any], prov: dict[str, str], roles: dict[str, str]
) -> None:
    """Win rate, won and lost cycles, and stalled deals per segment from the close step."""
    sales = data["sales"]
    segments = list(data["segments"])
    pooled = fitted.cycles.get(POOLED)
    if roles["cycle"] != "fitted" or pooled is None or pooled.time is None:
        why = "no closed record in the window" if fitted.cycles else "no close date mapped"
        sales["win_rate"] = dict.fromkeys(segments, DEFAULT_WIN_RATE)
        sales["cycle_days"] = dict.fromkeys(segments, DEFAULT_CYCLE)
        sales.pop("lost_cycle_days", None)
        prov["sales.win_rate"] = f"default {DEFAULT_WIN_RATE}: not estimable ({why})"
        prov["sales.cycle_days"] = f"default: not estimable ({why})"
        return
    start = fitted.last_stage
    sales["win_rate"], sales["cycle_days"], sales["lost_cycle_days"] = {}, {}, {}
    for segment in segments:
        cycle = _segment_cycle(fitted, segment)
        where = "" if cycle.segment == segment else " (pooled: too few closed here)"
        sales["win_rate"][segment] = _round(cycle.win_rate)
        low, high = cycle.win_ci
        if cycle.won_only:
            prov[f"sales.win_rate.{segment}"] = (
                f"fitted{where}: share of {PLURAL[start]} ever won, {cycle.win_rate:.3f} "
                f"(95% CI {low:.3f}-{high:.3f}; Kaplan-Meier, {cycle.won} won, "
                f"{cycle.still_open} not won yet censored); the export records no losses"
            )
        else:
            prov[f"sales.win_rate.{segment}"] = (
                f"fitted{where}: {cycle.won} won / {cycle.lost} lost, {cycle.still_open} open "
                f"censored; {cycle.win_rate:.3f} (95% CI {low:.3f}-{high:.3f})"
            )
        _outcome_cycles(fitted, sales, segment, prov)
    if pooled.won_only:
        sales["lost_cycle_days"] = dict.fromkeys(segments, NEVER)
        prov["sales.lost_cycle_days"] = (
            "the export records no losses: records not won stay open (they never close "
            "within the horizon)"
        )
    if not sales["lost_cycle_days"]:
        sales.pop("lost_cycle_days")
    stalled = pooled.stalled
    sales["slip"] = {"prob": _round(stalled) if stalled else 0.0, "extra_days": STALLED_DAYS}
    prov["sales.slip"] = (
        f"fitted: {stalled:.1%} of deals stall (open far beyond any close; Kaplan-Meier "
        f"plateau), modelled as slipping past the horizon; the fitted cycle includes slips"
        if stalled
        else "fitted cycle includes slips, so no extra slip"
    )


def _segment_cycle(fitted: Fitted, segment: str) -> CycleFit:
    cycle = fitted.cycles.get(segment)
    if cycle is not None and cycle.won + cycle.lost >= MIN_SEGMENT and cycle.won_time is not None:
        return cycle
    return fitted.cycles[POOLED]


def _outcome_cycles(
    fitted: Fitted, sales: dict[str, Any], segment: str, prov: dict[str, str]
) -> None:
    """Won deals' cycle as cycle_days, lost deals' as lost_cycle_days (pooled when few)."""
    pooled = fitted.cycles[POOLED]
    start = NAME[fitted.last_stage]
    for key, outcome in (("cycle_days", "won"), ("lost_cycle_days", "lost")):
        cycle = fitted.cycles.get(segment, pooled)
        fit = getattr(cycle, f"{outcome}_time")
        if getattr(cycle, outcome) < MIN_SEGMENT or fit is None:
            cycle, fit = pooled, getattr(pooled, f"{outcome}_time")
        if fit is None:
            fit = pooled.time
            if outcome == "lost" or fit is None:
                continue
        median = getattr(cycle, f"{outcome}_median_days")
        where = "" if cycle is not pooled or segment == POOLED else f" (pooled: few {outcome} here)"
        how = fit.note or f"{fit.family} by AIC"
        sales[key][segment] = fit.spec
        prov[f"sales.{key}.{segment}"] = (
            f"fitted{where}: days from {start} to {outcome} ({getattr(cycle, outcome)} "
            f"{outcome}, open ones censored); {how}; median {median:.0f} days"
        )
