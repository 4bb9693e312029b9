"""Team sizes of a calibrated scenario: AEs that never queue (Little's law), the deal desk,
CSMs and SDRs sized to the calibrated volumes at their default work times."""

from __future__ import annotations

import math
from typing import Any

from funnelsim.calibrate.cyclebuild import DEFAULT_WIN_RATE, ENGINE_STEPS
from funnelsim.calibrate.fitting import Fitted
from funnelsim.calibrate.mapping import POOLED, STAGES, MappingError
from funnelsim.calibrate.pilot import TARGET_UTILISATION, WORK_HOURS_PER_WEEK, dist_mean
from funnelsim.scenario.base import MAX_CAPACITY_PER_HEAD, MAX_HEADCOUNT


def _size_teams(
    fitted: Fitted, data: dict[str, Any], prov: dict[str, str], roles: dict[str, str]
) -> None:
    """AEs never queue (Little's law with stalled and never-closing deals), and the deal
    desk and CSMs are sized to the won volume at their default work times."""
    teams, sales = data["teams"], data["sales"]
    weeks = data["horizon_days"] / 7.0
    entry_rate = float(fitted.arrivals["per_week"].sum())
    to_sales = entry_rate * _through_rate(fitted, roles, ("marketing", "seam1"))
    won_rate = to_sales * _won_share(fitted, roles)
    ae = teams[sales["team"]]
    if roles["cycle"] == "fitted" or roles["qualify"] != "default":
        wip = to_sales * _held_weeks(fitted, data, weeks)
        needed = max(1, math.ceil(1.5 * wip / max(ae["headcount"], 1)))
        observed = fitted.concurrent_per_owner
        if observed and sales["team"] in fitted.owners:
            ae["capacity_per_head"] = max(needed, math.ceil(1.25 * observed))
            prov[f"teams.{sales['team']}.capacity_per_head"] = (
                f"fitted: the larger of 1.25 x the 95th percentile of open records per owner "
                f"({observed:.0f}) and Little's law with stalled deals, so AEs never queue"
            )
        else:
            ae["capacity_per_head"] = max(needed, ae["capacity_per_head"])
            prov[f"teams.{sales['team']}.capacity_per_head"] = (
                "sized by Little's law (stalled and never-closing deals included) so AEs "
                "never queue: the export shows no AE queue"
            )
        _cap_capacity(fitted, ae, prov, f"teams.{sales['team']}.capacity_per_head")
    capacity_hours = WORK_HOURS_PER_WEEK * TARGET_UTILISATION
    desk = teams[data["seam2"]["team"]]
    desk_heads = won_rate * dist_mean(desk["work_time"]) / capacity_hours
    desk["headcount"] = _heads(desk_heads, f"teams.{data['seam2']['team']}", won_rate, "won deals")
    prov[f"teams.{data['seam2']['team']}.headcount"] = (
        "sized to the calibrated won volume: ~50% utilisation at the default work time"
    )
    csm_team = data["seam3"]["team"]
    if csm_team not in fitted.owners:
        onboarding = dist_mean(data["seam3"]["onboarding_days"])
        per_head = teams[csm_team]["capacity_per_head"]
        needed = won_rate * onboarding / 7.0 / (per_head * 0.7)
        teams[csm_team]["headcount"] = _heads(needed, f"teams.{csm_team}", won_rate, "won deals")
        prov[f"teams.{csm_team}.headcount"] = (
            "sized to the calibrated won volume: ~70% of onboarding slots"
        )
    sdr_path = f"teams.{data['seam1']['team']}.headcount"
    if roles["seam1"] == "default" and sdr_path not in prov:
        sdr = teams[data["seam1"]["team"]]
        mql_rate = entry_rate * _through_rate(fitted, roles, ("marketing",))
        work = dist_mean(sdr["work_time"]) if sdr.get("work_time") else 1.0
        sdr_heads = mql_rate * work / capacity_hours
        sdr["headcount"] = _heads(sdr_heads, f"teams.{data['seam1']['team']}", mql_rate, "MQLs")
        prov[f"teams.{data['seam1']['team']}.headcount"] = (
            "sized to the calibrated MQL volume: ~50% utilisation at the default work time"
        )


def _heads(needed: float, team: str, rate: float, what: str) -> int:
    """The heads a team sized to the export's volume needs (at least 1), or MappingError
    when that is beyond a scenario's limit: the export, not a field, is then too large."""
    heads = max(1, math.ceil(needed))
    if heads > MAX_HEADCOUNT:
        raise MappingError(
            f"the export's volume ({rate:,.0f} {what} a week) needs {heads:,} heads in {team} "
            f"at the default work time, more than the {MAX_HEADCOUNT:,} a team may have; "
            "calibrate part of the export (a later window_start, or one segment at a time)"
        )
    return heads


def _cap_capacity(fitted: Fitted, team: dict[str, Any], prov: dict[str, str], path: str) -> None:
    """Cap a fitted capacity at the scenario's limit per head, with a warning: an owner
    holding more open records than that (a catch-all or integration user) is not an AE."""
    wanted = team["capacity_per_head"]
    if wanted <= MAX_CAPACITY_PER_HEAD:
        return
    team["capacity_per_head"] = MAX_CAPACITY_PER_HEAD
    prov[path] += f"; capped at the limit of {MAX_CAPACITY_PER_HEAD:,}"
    fitted.warnings.append(
        f"{path}: the export needs {wanted:,} open records per head at once, more than the "
        f"{MAX_CAPACITY_PER_HEAD:,} a head may hold; capped there, so the AEs may queue "
        "(is one owner a catch-all such as an integration user?)"
    )


def _through_rate(fitted: Fitted, roles: dict[str, str], steps: tuple[str, ...]) -> float:
    """Share of entering records that get past ``steps`` (fitted conversions, 1 through)."""
    rate = 1.0
    for stage in fitted.stages:
        step = ENGINE_STEPS[STAGES.index(stage.to_stage) - 1]
        if step in steps and roles[step] == "fitted":
            rate *= stage.conversion
    return rate


def _won_share(fitted: Fitted, roles: dict[str, str]) -> float:
    """Share of records reaching sales that are won (the default win rate if unknown)."""
    if roles["cycle"] != "fitted" or POOLED not in fitted.cycles:
        return DEFAULT_WIN_RATE
    rate = fitted.cycles[POOLED].won_share
    for stage in fitted.stages:
        if stage.to_stage == "opportunity":
            rate *= stage.conversion
    return rate if math.isfinite(rate) else DEFAULT_WIN_RATE


def _held_weeks(fitted: Fitted, data: dict[str, Any], weeks: float) -> float:
    """Mean weeks an AE holds a record: discovery plus cycle, never-closing deals for the
    rest of the horizon."""
    sales = data["sales"]
    horizon_days = weeks * 7.0
    days = min(dist_mean(sales["discovery_days"]), horizon_days)
    pooled = fitted.cycles.get(POOLED)
    segment = next(iter(sales["cycle_days"]))
    won_days = min(dist_mean(sales["cycle_days"][segment]), horizon_days)
    lost_spec = (sales.get("lost_cycle_days") or {}).get(segment, sales["cycle_days"][segment])
    lost_days = min(dist_mean(lost_spec), horizon_days)
    if pooled is None or not math.isfinite(pooled.win_rate):
        return (days + won_days) / 7.0
    closing = 1.0 - pooled.stalled
    days += closing * (pooled.win_rate * won_days + (1 - pooled.win_rate) * lost_days)
    days += pooled.stalled * horizon_days
    return days / 7.0
