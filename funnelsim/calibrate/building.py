"""From fitted quantities to a complete scenario: fitted values where the data speak,
documented defaults elsewhere, and a short pilot simulation for what the engine derives.

An export that starts at the opportunity (or MQL, SQL) stage says how many records enter
there per week, not how many leads arrive. The engine's leads still pass the default
marketing and seam-1 stages, so leads per week are back-solved: simulate, compare the
entry-stage rate with the observed one, rescale, repeat. Team sizes the export cannot see
are sized to the calibrated volume with the default work times.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from funnelsim.calibrate.fitdist import _round
from funnelsim.calibrate.fitting import MIN_SEGMENT, Fitted
from funnelsim.calibrate.mapping import PLURAL, MappingError
from funnelsim.engine import simulate
from funnelsim.scenario.loading import scenario_from_dict
from funnelsim.scenario.models import Scenario, Source

PILOT_ROUNDS = 5
PILOT_TOLERANCE = 0.03
PILOT_FAIL = 0.10
PILOT_LEADS = 250_000
PILOT_MAX_RUNS = 20
RUNAWAY_MIN_ENTRIES = 30
TARGET_UTILISATION = 0.5
WORK_HOURS_PER_WEEK = 40.0
STAGE_TIME = {"lead": "created", "mql": "mql_time", "sql": "sql_time", "opportunity": "opp_time"}
DEFAULT_DEAL_VALUE = {"dist": "lognormal", "median": 12000.0, "p90": 30000.0}
STALLED_DAYS = 3650.0
WARMUP_WEEKS = 2.0
MAX_STEP = 10.0
DEFAULT_WIN_RATE = 0.25
DEFAULT_CYCLE = {"dist": "lognormal", "median": 40, "p90": 100}


@dataclass
class Built:
    """The scenario as data, what each fitted field is based on, and the pilot's findings."""

    data: dict[str, Any]
    provenance: dict[str, str]
    pilot: dict[str, Any] = field(default_factory=dict)

    @property
    def scenario(self) -> Scenario:
        """The validated scenario."""
        return scenario_from_dict(self.data, source="calibrated scenario")


def build_scenario(fitted: Fitted, seed: int = 0) -> Built:
    """A complete, valid scenario from ``fitted``, with provenance for every fitted field."""
    mapping, export = fitted.mapping, fitted.export
    data = Scenario().model_dump(mode="json", by_alias=True)
    prov: dict[str, str] = {}
    horizon = max(1, math.ceil((export.export_date - export.start_date).days))
    data.update(
        name=mapping.name,
        description=mapping.description
        or f"calibrated from a CRM export ({fitted.export.n_rows} rows)",
        currency=mapping.currency,
        start_date=export.start_date.date().isoformat(),
        horizon_days=horizon,
    )
    for key in ("name", "description", "currency"):
        prov[key] = "from the mapping"
    prov["start_date"] = "the observation window's start (first record or window_start)"
    prov["horizon_days"] = "window start to the export date"
    segments = _segments(fitted, prov)
    data["segments"] = segments
    data["sources"] = _sources(fitted, list(segments), prov)
    _sales(fitted, data, list(segments), prov)
    _stage_times(fitted, data, prov)
    _mql_threshold(fitted, data, prov)
    _owners(fitted, data, prov)
    built = Built(data, prov)
    _pilot(fitted, built, seed)
    return built


def _segments(fitted: Fitted, prov: dict[str, str]) -> dict[str, Any]:
    shares = _exact_shares(fitted.segment_shares)
    out = {}
    for name, share in shares.items():
        fit = fitted.deal_values.get(name)
        value: dict[str, Any] = DEFAULT_DEAL_VALUE
        if fit is not None:
            value = fit.spec
            prov[f"segments.{name}.deal_value"] = (
                f"fitted: {fit.family} by AIC on {fit.n_events} won amounts"
                if fit.family != "empirical"
                else f"empirical: only {fit.n_events} won amounts"
            )
        elif "all" in fitted.deal_values:
            value = fitted.deal_values["all"].spec
            prov[f"segments.{name}.deal_value"] = "fitted on all segments (none won here)"
        out[name] = {"share": share, "deal_value": value}
        prov[f"segments.{name}.share"] = "observed share of records entering the funnel"
    return out


def _exact_shares(shares: dict[str, float]) -> dict[str, float]:
    """Rounded shares that add up to exactly 1."""
    rounded = {k: round(v, 6) for k, v in shares.items()}
    biggest = max(rounded, key=rounded.get)
    rounded[biggest] = round(1.0 - sum(v for k, v in rounded.items() if k != biggest), 6)
    return rounded


def _sources(fitted: Fitted, segments: list[str], prov: dict[str, str]) -> dict[str, Any]:
    out = {}
    entry = fitted.chain[0]
    for row in fitted.arrivals.itertuples():
        spec: dict[str, Any] = Source(leads_per_week=1).model_dump(mode="json", by_alias=True)
        spec["leads_per_week"] = _round(row.per_week)
        path = f"sources.{row.source}"
        if entry == "lead":
            prov[f"{path}.leads_per_week"] = (
                f"fitted: {row.records} leads in {row.weeks:.1f} weeks "
                f"(95% CI {row.ci_low:.4g}-{row.ci_high:.4g})"
            )
        season = fitted.seasonality.get(row.source)
        if season is not None:
            spec["seasonality"] = season
            prov[f"{path}.seasonality"] = "fitted: monthly rates (Poisson LR test)"
        mix = fitted.segment_mix.get(row.source)
        if mix and len(fitted.arrivals) > 1 and len(segments) > 1:
            spec["segment_mix"] = _exact_shares({s: mix.get(s, 0.0) for s in segments})
            prov[f"{path}.segment_mix"] = "observed segment mix of this source"
        out[row.source] = spec
    return out


def _pick_cycle(fitted: Fitted, segment: str):
    cycle = fitted.cycles.get(segment)
    if cycle is not None and cycle.won + cycle.lost >= MIN_SEGMENT and cycle.time is not None:
        return cycle, segment
    return fitted.cycles["all"], "all"


def _sales(fitted: Fitted, data: dict[str, Any], segments: list[str], prov: dict[str, str]) -> None:
    sales = data["sales"]
    sales["qualify_prob"] = dict.fromkeys(segments, 0.5)
    sales["win_rate"] = {}
    sales["cycle_days"] = {}
    sales["lost_cycle_days"] = {}
    if not fitted.cycles or fitted.cycles["all"].time is None:
        why = "no closed record in the window" if fitted.cycles else "no close date mapped"
        sales["win_rate"] = dict.fromkeys(segments, DEFAULT_WIN_RATE)
        sales["cycle_days"] = dict.fromkeys(segments, DEFAULT_CYCLE)
        sales.pop("lost_cycle_days")
        prov["sales.win_rate"] = f"default {DEFAULT_WIN_RATE}: not estimable ({why})"
        prov["sales.cycle_days"] = f"default: not estimable ({why})"
        return
    maps_to_cycle = fitted.last_stage == "opportunity"
    for segment in segments:
        cycle, used = _pick_cycle(fitted, segment)
        sales["win_rate"][segment] = _round(cycle.win_rate)
        low, high = cycle.win_ci
        where = "" if used == segment else " (pooled: too few closed here)"
        prov[f"sales.win_rate.{segment}"] = (
            f"fitted{where}: {cycle.won} won / {cycle.lost} lost, {cycle.still_open} open "
            f"censored; {cycle.win_rate:.3f} (95% CI {low:.3f}-{high:.3f})"
        )
        if not maps_to_cycle:
            sales["cycle_days"][segment] = DEFAULT_CYCLE
        elif fitted.cycles["all"].lost_time is not None:
            _outcome_cycles(fitted, sales, segment, prov)
        else:
            sales["cycle_days"][segment] = cycle.time.spec
            prov[f"sales.cycle_days.{segment}"] = (
                f"fitted{where}: {cycle.time.family}, KM median {cycle.median_days:.0f} days"
            )
    if not sales["lost_cycle_days"]:
        sales.pop("lost_cycle_days")
    stalled = fitted.cycles["all"].stalled
    sales["slip"] = {"prob": _round(stalled) if stalled else 0.0, "extra_days": STALLED_DAYS}
    prov["sales.slip"] = (
        f"fitted: {stalled:.1%} of deals stall (open far beyond any close; Kaplan-Meier "
        f"plateau), modelled as slipping past the horizon; the fitted cycle includes slips"
        if stalled
        else "fitted cycle includes slips, so no extra slip"
    )
    if "sql" in fitted.chain and fitted.qualify:
        prov["sales.qualify_prob"] = "fitted: SQL -> opportunity conversion (pilot-adjusted)"


def _outcome_cycles(
    fitted: Fitted, sales: dict[str, Any], segment: str, prov: dict[str, str]
) -> None:
    """Won deals' cycle as cycle_days, lost deals' as lost_cycle_days (pooled when few)."""
    pooled = fitted.cycles["all"]
    for key, outcome in (("cycle_days", "won"), ("lost_cycle_days", "lost")):
        cycle = fitted.cycles.get(segment, pooled)
        fit = getattr(cycle, f"{outcome}_time")
        if getattr(cycle, outcome) < MIN_SEGMENT or fit is None:
            cycle, fit = pooled, getattr(pooled, f"{outcome}_time")
        median = getattr(cycle, f"{outcome}_median_days")
        where = "" if cycle is not pooled else f" (pooled: few {outcome} here)"
        how = fit.note or f"{fit.family} by AIC"
        sales[key][segment] = fit.spec
        prov[f"sales.{key}.{segment}"] = (
            f"fitted{where}: {outcome} deals ({getattr(cycle, outcome)} closed, open ones "
            f"censored); {how}; Aalen-Johansen median {median:.0f} days"
        )


def _stage_times(fitted: Fitted, data: dict[str, Any], prov: dict[str, str]) -> None:
    from funnelsim.calibrate.fitdist import scale_spec

    for stage in fitted.stages:
        if stage.time is None:
            continue
        if stage.name == "mql -> sql":
            data["seam1"]["response_delay"] = scale_spec(stage.time.spec, 24.0)
            prov["seam1.response_delay"] = (
                f"fitted: MQL -> SQL time in hours ({stage.time.family}); includes SDR "
                "queue and work time"
            )
        elif stage.name == "sql -> opportunity":
            data["sales"]["discovery_days"] = stage.time.spec
            prov["sales.discovery_days"] = f"fitted: SQL -> opportunity days ({stage.time.family})"


def _mql_threshold(fitted: Fitted, data: dict[str, Any], prov: dict[str, str]) -> None:
    stage = next((s for s in fitted.stages if s.name == "lead -> mql"), None)
    if stage is None:
        return
    scoring = data["marketing"]["scoring"]
    resurface = data["marketing"]["nurture"]["resurface_prob"]
    target = float(np.clip((stage.conversion - resurface) / (1 - resurface), 1e-4, 1 - 1e-4))
    grid = (np.arange(2000) + 0.5) / 2000
    fits = []
    for source in data["sources"].values():
        a, b = source["fit"]["a"], source["fit"]["b"]
        fits.append((source["leads_per_week"], special.betaincinv(a, b, grid)))
    total = sum(w for w, _ in fits)

    def excess(t: float) -> float:
        p = sum(w * special.ndtr((f - t) / scoring["noise_sd"]).mean() for w, f in fits) / total
        return p - target

    threshold = optimize.brentq(excess, -3.0, 4.0)
    scoring["mql_threshold"] = _round(float(np.clip(threshold, 0.0, 1.0)))
    prov["marketing.scoring.mql_threshold"] = (
        f"fitted: lead -> MQL conversion {stage.conversion:.3f} (KM, open leads censored), "
        "solved under the default fit and noise"
    )


def _owners(fitted: Fitted, data: dict[str, Any], prov: dict[str, str]) -> None:
    team = fitted.mapping.owner_team
    if fitted.owners:
        data["teams"][team]["headcount"] = fitted.owners
        prov[f"teams.{team}.headcount"] = f"fitted: {fitted.owners} distinct owners in the window"
    if team == "ae" and fitted.concurrent_per_owner and fitted.last_stage == "opportunity":
        capacity = max(1, math.ceil(1.25 * fitted.concurrent_per_owner))
        data["teams"]["ae"]["capacity_per_head"] = capacity
        prov["teams.ae.capacity_per_head"] = (
            f"fitted: 1.25 x the 95th percentile of open records per owner "
            f"({fitted.concurrent_per_owner:.0f})"
        )


def _pilot(fitted: Fitted, built: Built, seed: int) -> None:
    """Back-solve lead volumes and size unseen teams by simulating the draft scenario.

    Each round simulates the draft at a bounded size (PILOT_LEADS leads: volume and team
    headcounts scaled by the same factor, rates scaled back) and rescales every source's
    leads per week by observed over simulated entry rate (sources share the default stages,
    so one factor keeps their observed split). It stops once they agree within the
    tolerance (wider when the pilot sees few entries). A rate that does not follow the
    volume (the default stages cannot deliver it) or still misses after PILOT_ROUNDS is
    refused with one line rather than chased.
    """
    data, prov = built.data, built.provenance
    entry = fitted.chain[0]
    target = dict(zip(fitted.arrivals["source"], fitted.arrivals["per_week"], strict=True))
    observed = sum(target.values())
    history: list[dict[str, float]] = []
    volumes: list[float] = []
    miss, entries = 0.0, 0
    for round_index in range(PILOT_ROUNDS):
        scenario, scale, runs = _pilot_scenario(data)
        seeds = np.random.SeedSequence(seed).generate_state(runs)
        leads = pd.concat([simulate(scenario, int(s)).leads for s in seeds], ignore_index=True)
        weeks = scenario.horizon_days / 7.0
        counts = _entry_counts(leads, entry)
        entries = sum(counts.values())
        span = max(weeks - WARMUP_WEEKS, 1.0) * scale * runs
        history.append({k: round(v / span, 2) for k, v in counts.items()})
        simulated = entries / span
        before = sum(src["leads_per_week"] for src in data["sources"].values())
        volumes.append(before)
        miss = abs(simulated / observed - 1.0) if simulated > 0 else math.inf
        tolerance = max(PILOT_TOLERANCE, 2.0 / math.sqrt(max(entries, 1)))
        if entry != "lead" and miss > tolerance:
            settled = round_index > 0 and entries >= RUNAWAY_MIN_ENTRIES
            _rescale_volume(data, observed, simulated, entry, settled, volumes)
        after = sum(src["leads_per_week"] for src in data["sources"].values())
        _size_teams(fitted, data, prov, leads, weeks * scale * runs / (after / before))
        _match_conversions(fitted, data, prov, leads, scenario)
        if entry == "lead" or miss <= tolerance:
            break
    if entry != "lead":
        if miss > max(PILOT_FAIL, 4.0 / math.sqrt(max(entries, 1))):
            raise MappingError(
                f"created_stage: cannot back-solve leads per week for '{entry}' records: after "
                f"{PILOT_ROUNDS} pilot simulations the default stages before '{entry}' still "
                f"miss the observed rate by {miss:.0%} (leads/week tried: "
                f"{', '.join(f'{v:.4g}' for v in volumes)})"
            )
        for row in fitted.arrivals.itertuples():
            prov[f"sources.{row.source}.leads_per_week"] = (
                f"back-solved: {row.records} {entry} records in {row.weeks:.1f} weeks = "
                f"{row.per_week:.4g}/week (95% CI {row.ci_low:.4g}-{row.ci_high:.4g}) "
                "through the default marketing and seam-1 stages (pilot simulation)"
            )
    built.pilot = {"entry_stage": entry, "target_per_week": target, "simulated": history}


def _rescale_volume(
    data: dict[str, Any],
    observed: float,
    simulated: float,
    entry: str,
    settled: bool,
    volumes: list[float],
) -> None:
    """Every source's leads per week times observed / simulated entry rate (at most
    MAX_STEP); refuse when, past the first round and with enough simulated entries to tell,
    the rate no longer follows the volume."""
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


def _entry_counts(leads, entry: str) -> dict[str, int]:
    """Simulated records entering the export's first stage, by source (after warm-up)."""
    times = leads[STAGE_TIME[entry]].to_numpy()
    after = times >= WARMUP_WEEKS * 168.0
    return {str(k): int(v) for k, v in leads.loc[after, "source"].value_counts().items()}


def _size_teams(fitted: Fitted, data: dict[str, Any], prov: dict[str, str], leads, weeks) -> None:
    """SDRs, deal desk and CSMs sized to the volume at the default work times.

    ``weeks`` is the simulated span divided by the factor the lead volume was just scaled
    by, so counts per ``weeks`` are the rates the next round will see.
    """
    teams = data["teams"]
    sized = "sized to the calibrated volume: ~50% utilisation at the default work time"
    mql_rate = float((leads["mql_time"] < np.inf).sum()) / weeks
    won_rate = float(leads["won_time"].notna().sum()) / weeks
    if fitted.mapping.owner_team != "sdr" or not fitted.owners:
        work = _mean_work(data, "sdr")
        teams["sdr"]["headcount"] = max(1, math.ceil(mql_rate * work / _capacity_hours()))
        prov["teams.sdr.headcount"] = sized
    work = _mean_work(data, "deal_desk")
    teams["deal_desk"]["headcount"] = max(1, math.ceil(won_rate * work / _capacity_hours()))
    prov["teams.deal_desk.headcount"] = sized
    onboarding = _dist_mean(data["seam3"]["onboarding_days"])
    concurrent = won_rate * onboarding / 7.0
    if fitted.mapping.owner_team != "csm" or not fitted.owners:
        per_head = teams["csm"]["capacity_per_head"]
        teams["csm"]["headcount"] = max(1, math.ceil(concurrent / (per_head * 0.7)))
        prov["teams.csm.headcount"] = "sized to the calibrated won volume: ~70% of onboarding slots"
    if "teams.ae.capacity_per_head" not in prov or "teams.ae.headcount" not in prov:
        opp_rate = float(leads["opp_time"].notna().sum()) / weeks
        cycle_weeks = (
            np.nanmean((leads["close_time"] - leads["opp_time"]).to_numpy(dtype=float)) / 168.0
        )
        wip = opp_rate * (cycle_weeks if np.isfinite(cycle_weeks) else 8.0)
        heads = teams["ae"]["headcount"]
        stalled_wip = data["sales"]["slip"]["prob"] * opp_rate * weeks
        needed = max(1, math.ceil(1.5 * (wip + stalled_wip) / heads))
        if needed > teams["ae"]["capacity_per_head"]:
            teams["ae"]["capacity_per_head"] = needed
            prov["teams.ae.capacity_per_head"] = (
                "sized by Little's law so AEs never queue (the export shows no AE queue)"
            )


def _match_conversions(fitted: Fitted, data: dict[str, Any], prov: dict[str, str], leads, scenario):
    """Scale seam-1 acceptance and qualify_prob so simulated conversions meet observed ones."""
    cutoff = scenario.horizon_hours * 0.6
    stages = {s.name: s for s in fitted.stages}
    mqls = leads[leads["mql_time"] < cutoff]
    if "mql -> sql" in stages and len(mqls):
        simulated = float(mqls["sql_time"].notna().mean())
        observed = stages["mql -> sql"].conversion
        if simulated > 0:
            acceptance = data["seam1"]["acceptance"]
            factor = observed / simulated
            for key in ("p_accept_fit", "p_accept_unfit"):
                acceptance[key] = _round(float(np.clip(acceptance[key] * factor, 0.0, 1.0)))
            prov["seam1.acceptance"] = (
                f"fitted: scaled so MQL -> SQL conversion matches {observed:.3f} (pilot)"
            )
    sqls = leads[leads["sql_time"] < cutoff]
    if fitted.qualify and len(sqls):
        pooled = stages.get("sql -> opportunity")
        for segment in data["sales"]["qualify_prob"]:
            stage = fitted.qualify.get(segment)
            if stage is None or stage.entered < MIN_SEGMENT:
                stage = pooled
            rows = sqls[sqls["segment"] == segment]
            if stage is None or rows.empty:
                continue
            simulated = float(rows["opp_time"].notna().mean())
            current = data["sales"]["qualify_prob"][segment]
            if simulated > 0:
                new = current * stage.conversion / simulated
                data["sales"]["qualify_prob"][segment] = _round(float(np.clip(new, 0.0, 1.0)))


def _mean_work(data: dict[str, Any], team: str) -> float:
    work = data["teams"][team].get("work_time")
    return _dist_mean(work) if work else 1.0


def _dist_mean(spec: dict[str, Any] | float) -> float:
    from pydantic import TypeAdapter

    from funnelsim.scenario.distributions import Distribution

    return float(TypeAdapter(Distribution).validate_python(spec).mean())


def _capacity_hours() -> float:
    return WORK_HOURS_PER_WEEK * TARGET_UTILISATION
