"""The sales stages an opportunity walks, in bulk: a loop over the scenario's stage list.

Nothing in a walk depends on queueing (the AE holds the opportunity's slot from its first
stage to its close), so every opportunity's walk is drawn up front from its own stage
uniforms (four per stage: advance, time in stage, stall, stall length; the first stage's
are the lead's win, cycle and slip fates, so a single stage with the one-stage cycle's
chance, days and slip meets exactly its draws): at each stage it
spends its time (plus a stall, if one strikes) and then moves on with the stage's chance
or is lost there; past the last stage it is won. A new stage list needs no engine code.

An opportunity of the starting book starts at its own stage, ``age`` hours into it: its
time there is drawn given that it has lasted that long.

Without ``sales.stages`` the sales cycle is one stage, drawn by
:func:`funnelsim.engine.inputs.flow_inputs` exactly as it always was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from funnelsim.scenario.models import Scenario

HOURS_PER_DAY = 24.0
UNIFORMS_PER_STAGE = 4
ADVANCE, DAYS, STALL, STALL_DAYS = range(UNIFORMS_PER_STAGE)


@dataclass
class StageWalk:
    """Per item, in days: time in stages until the exit (``cycle``) and stalls on top
    (``stall``), the close the CRM plans (``planned``: every stage's time from the start
    stage, no stalls), whether it was won, and when (days after the walk's start) it
    entered each stage (``offsets``, NaN for a stage never entered)."""

    cycle: np.ndarray
    stall: np.ndarray
    planned: np.ndarray
    win: np.ndarray
    offsets: np.ndarray


def walk_stages(
    scenario: Scenario,
    segment: np.ndarray,
    active: np.ndarray,
    u: np.ndarray,
    start_stage: np.ndarray,
    age_hours: np.ndarray,
) -> StageWalk:
    """Walk every active item through the scenario's stages (``u``: items x 4 per stage).

    ``start_stage`` is each item's first stage (0 for new opportunities) and
    ``age_hours`` how long it has already been in it (0 for new ones). An inactive item
    walks nowhere (no time, not won, no stage entered), so only the active ones (a few
    in ten) are walked, value for value as among all.
    """
    if active.all():
        return _walk(scenario, segment, active, u, start_stage, age_hours)
    rows = np.flatnonzero(active)
    walked = _walk(
        scenario, segment[rows], active[rows], u[rows], start_stage[rows], age_hours[rows]
    )
    n = len(segment)
    out = StageWalk(
        cycle=np.zeros(n),
        stall=np.zeros(n),
        planned=np.zeros(n),
        win=np.zeros(n, dtype=bool),
        offsets=np.full((n, walked.offsets.shape[1]), np.nan),
    )
    for name in ("cycle", "stall", "planned", "win", "offsets"):
        getattr(out, name)[rows] = getattr(walked, name)
    return out


def _walk(
    scenario: Scenario,
    segment: np.ndarray,
    active: np.ndarray,
    u: np.ndarray,
    start_stage: np.ndarray,
    age_hours: np.ndarray,
) -> StageWalk:
    """:func:`walk_stages` over every item given (active or not)."""
    stages = list((scenario.sales.stages or {}).values())
    n = len(segment)
    names = list(scenario.segments)
    cycle = np.zeros(n)
    stall = np.zeros(n)
    planned = np.zeros(n)
    offsets = np.full((n, len(stages)), np.nan)
    alive = active.copy()
    age_days = np.where(np.isfinite(age_hours), age_hours, 0.0) / HOURS_PER_DAY
    # Masks that do not change from stage to stage, worked out once.
    of_segment = [segment == code for code in range(len(names))]
    aged = age_days > 0
    for k, stage in enumerate(stages):
        cols = u[:, k * UNIFORMS_PER_STAGE : (k + 1) * UNIFORMS_PER_STAGE]
        here = alive & (start_stage <= k)
        counted = active & (start_stage <= k)
        # Book opportunities part-way through this stage (few, or none).
        resuming = (start_stage == k) & aged
        any_resuming = bool(resuming.any())
        days = np.zeros(n)
        chance = np.zeros(n)
        for code, name in enumerate(names):
            rows = counted & of_segment[code]
            if not rows.any():
                continue
            dist = stage.days_for(name)
            resumed = rows & resuming if any_resuming else None
            if resumed is not None and resumed.any():
                fresh = rows & ~resumed
                elapsed = age_days[resumed]
                days[resumed] = dist.ppf_above(cols[resumed, DAYS], elapsed) - elapsed
            else:
                fresh = rows
            days[fresh] = dist.ppf(cols[fresh, DAYS])
            chance[rows] = stage.advance_for(name)
        stalls = np.zeros(n)
        struck = here & (cols[:, STALL] < stage.stall.prob)
        if struck.any():
            stalls[struck] = stage.stall.extra_days.ppf(cols[struck, STALL_DAYS])
        offsets[here, k] = (cycle + stall)[here]
        cycle[here] += days[here]
        stall[here] += stalls[here]
        planned[counted] += days[counted]
        # Rows not yet at their first stage (book opportunities further on) stay alive.
        alive = np.where(start_stage <= k, here & (cols[:, ADVANCE] < chance), alive)
    return StageWalk(cycle=cycle, stall=stall, planned=planned, win=alive, offsets=offsets)
