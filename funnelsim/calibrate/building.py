"""From fitted quantities to a complete scenario that reproduces what the export shows.

The engine's funnel has four steps: marketing (lead -> MQL), seam 1 (MQL -> SQL),
qualification (SQL -> opportunity) and the sales cycle (opportunity -> close). An export
step, from one dated stage to the next (or to won), may span several of them: its fitted
conversion and time are written on the last engine step it spans, and the engine steps it
passes on the way let everything through at once (probability 1, no delay; their teams
never queue), so the scenario reproduces the step's end-to-end rate and timing. Steps
before the export's first stage pass through too, so leads per week are the export's own
rate (or, with ``upstream: defaults``, keep the default marketing and seam 1 and the volume
is back-solved by pilot simulations). Steps after the last informed one keep documented
defaults. Each written value says in a comment what it rests on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import special

from funnelsim.calibrate.bookbuild import BookSummary, write_book
from funnelsim.calibrate.cyclebuild import (
    ALWAYS_OPEN,
    DEFAULT_DEAL_VALUE,
    ENGINE_STEPS,
    INSTANT,
    SCORE_NOISE,
    STEP_NAMES,
    THROUGH_SLOTS,
    _cycle,
)
from funnelsim.calibrate.fitdist import _round, scale_spec
from funnelsim.calibrate.fitting import MIN_SEGMENT, Fitted, gate_step
from funnelsim.calibrate.mapping import ONE, PLURAL, POOLED, STAGES
from funnelsim.calibrate.sizing import _size_teams
from funnelsim.calibrate.stagebuild import write_stages
from funnelsim.scenario.loading import scenario_from_dict
from funnelsim.scenario.models import Scenario, Source


@dataclass
class Built:
    """The scenario as data, what each fitted field is based on, and the pilot's findings."""

    data: dict[str, Any]
    provenance: dict[str, str]
    pilot: dict[str, Any] = field(default_factory=dict)
    roles: dict[str, str] = field(default_factory=dict)
    book: BookSummary | None = None

    @property
    def scenario(self) -> Scenario:
        """The validated scenario."""
        return scenario_from_dict(self.data, source="calibrated scenario")


def step_roles(fitted: Fitted) -> dict[str, str]:
    """For each engine step: 'fitted' (an export step ends here), 'through' (an export step
    spans it), 'upstream' (before the export's first stage) or 'default' (after the last)."""
    chain = fitted.chain
    ends = [*chain[1:], *(["close"] if fitted.mapping.stages.close is not None else [])]
    position = {stage: i for i, stage in enumerate((*STAGES, "close"))}
    roles = dict.fromkeys(ENGINE_STEPS, "default")
    for k, step in enumerate(ENGINE_STEPS):
        if k < position[chain[0]]:
            roles[step] = "upstream"
    for start, end in zip(chain, ends, strict=False):
        for k in range(position[start], position[end]):
            roles[ENGINE_STEPS[k]] = "fitted" if k == position[end] - 1 else "through"
    return roles


def build_scenario(fitted: Fitted, seed: int = 0, book: bool = True) -> Built:
    """A complete, valid scenario from ``fitted``, with provenance for every fitted field;
    with ``book``, starting on the export date from the book the export shows."""
    from funnelsim.calibrate.pilot import back_solve

    mapping, export = fitted.mapping, fitted.export
    data = Scenario().model_dump(mode="json", by_alias=True)
    prov: dict[str, str] = {}
    horizon = max(1, math.ceil((export.export_date - export.start_date).days))
    data.update(
        name=mapping.name,
        description=mapping.description or f"calibrated from a CRM export ({export.n_rows} rows)",
        currency=mapping.currency,
        start_date=export.start_date.date().isoformat(),
        horizon_days=horizon,
    )
    for key in ("name", "description", "currency"):
        prov[key] = "from the mapping"
    prov["start_date"] = "the observation window's start (first record or window_start)"
    prov["horizon_days"] = "window start to the export date"
    roles = step_roles(fitted)
    if mapping.upstream == "defaults":
        roles = {k: "default" if v == "upstream" else v for k, v in roles.items()}
    built = Built(data, prov, roles=roles)
    segments = _segments(fitted, prov)
    data["segments"] = segments
    data["sources"] = _sources(fitted, list(segments), prov)
    factors = _source_factors(fitted, roles, data, prov)
    _marketing(fitted, data, prov, roles, factors)
    _seam1(fitted, data, prov, roles)
    _qualify(fitted, data, prov, roles)
    _cycle(fitted, data, prov, roles)
    write_stages(fitted, data, prov)
    _owners(fitted, data, prov)
    _size_teams(fitted, data, prov, roles)
    if mapping.upstream == "defaults" and fitted.chain[0] != "lead":
        built.pilot = back_solve(fitted, data, prov, seed)
        _divide_gate(data, prov, roles, {POOLED: built.pilot["fit"]}, "pilot simulation")
    else:
        _divide_gate(data, prov, roles, _gate_factors(data, factors), "the sources' fits")
    if book:
        built.book = write_book(fitted, data, prov)
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
        elif POOLED in fitted.deal_values:
            value = fitted.deal_values[POOLED].spec
            prov[f"segments.{name}.deal_value"] = "fitted on all segments (none won here)"
        elif fitted.mapping.amount is None:
            prov[f"segments.{name}.deal_value"] = "default: no amount column in the export"
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
        prov[f"{path}.leads_per_week"] = (
            f"fitted: {row.records} {PLURAL[entry]} in {row.weeks:.1f} weeks "
            f"(95% CI {row.ci_low:.4g}-{row.ci_high:.4g})"
            + ("" if entry == "lead" else f"; every lead is {ONE[entry]} at once (pass-through)")
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


def _source_factors(
    fitted: Fitted, roles: dict[str, str], data: dict[str, Any], prov: dict[str, str]
) -> dict[str, float]:
    """Each source's conversion relative to the best one, when marketing passes through and
    the export step holding the opportunity gate starts after the lead: written as the
    source's fit (only fit leads can become opportunities), so sources keep their own
    end-to-end rates."""
    if roles["marketing"] not in ("upstream", "through") or not fitted.source_rates:
        return {}
    rates = {s: fitted.source_rates.get(s) for s in data["sources"]}
    known = [r for r in rates.values() if r is not None and r > 0]
    if not known:
        return {}
    best = max(known)
    pooled = _gate_rate(fitted)
    factors = {}
    for name, rate in rates.items():
        used = rate if rate is not None else pooled
        factors[name] = float(np.clip(used / best, 1e-4, 1.0))
        where = "" if rate is not None else f" (pooled: fewer than {MIN_SEGMENT} records)"
        prov[f"sources.{name}.fit"] = (
            f"fitted{where}: this source converts {used:.3f} against {best:.3f} for the best "
            "source; only that share are fits and can become opportunities"
        )
    return factors


def _gate_rate(fitted: Fitted) -> float:
    """Pooled conversion of the export step holding the opportunity gate."""
    step = gate_step(fitted.chain, fitted.mapping)
    if step is None:
        return 1.0
    if step == len(fitted.chain) - 1:
        return fitted.cycles[POOLED].won_share
    return fitted.stages[step].conversion


def _through(prov: dict[str, str], paths: list[str], why: str) -> None:
    for path in paths:
        prov[path] = why


def _marketing(
    fitted: Fitted,
    data: dict[str, Any],
    prov: dict[str, str],
    roles: dict[str, str],
    factors: dict[str, float],
) -> None:
    """Lead -> MQL: passed through, or the MQL threshold solved for the observed rate."""
    marketing = data["marketing"]
    role = roles["marketing"]
    if role in ("upstream", "through"):
        why = _why(fitted, "marketing", role)
        marketing["scoring"].update(mql_threshold=0.0, noise_sd=0.0)
        marketing["nurture"]["resurface_prob"] = 0.0
        for name, source in data["sources"].items():
            source["fit"] = {"dist": "fixed", "value": _round(factors.get(name, 1.0))}
            prov.setdefault(f"sources.{name}.fit", why)
        paths = ["scoring.mql_threshold", "scoring.noise_sd", "nurture.resurface_prob"]
        _through(prov, [f"marketing.{p}" for p in paths], why)
    elif role == "fitted":
        factors.update(dict.fromkeys(data["sources"], _mql_threshold(fitted, data, prov)))
    if roles["seam1"] != "default":
        marketing["data_decay_per_year"] = 0.0
        prov["marketing.data_decay_per_year"] = (
            "0: contact data decay would lose leads the export counts as converting or open"
        )


def _why(fitted: Fitted, step: str, role: str) -> str:
    if role == "upstream":
        return (
            f"pass-through: the export starts at {ONE[fitted.chain[0]]}, so {STEP_NAMES[step]} "
            "lets every lead through at once (probability 1, no delay)"
        )
    return (
        f"pass-through: the export has no date between its stages here, so {STEP_NAMES[step]} "
        "lets everything through at once; the export step's conversion and time are "
        "written on its last engine step"
    )


def _mql_threshold(fitted: Fitted, data: dict[str, Any], prov: dict[str, str]) -> float:
    """Lead -> MQL written as a sharp score threshold on a fixed fit; returns the fit share.

    Every lead has fit f and score f + SCORE_NOISE z; it is an MQL when the score passes the
    threshold t: P(MQL) = Phi((f - t) / SCORE_NOISE). A conversion of at least one half
    keeps every lead a fit (f = 1) and solves t; a lower one sets t = 1 and solves f (at
    least 0.8). The share of fits among MQLs is then f, which the opportunity gate's
    conversion is divided by; nurture passes nothing on (the export's rate includes it).
    """
    stage = next(s for s in fitted.stages if s.to_stage == "mql")
    target = float(np.clip(stage.conversion, 1e-4, 1 - 1e-4))
    z = float(special.ndtri(target))
    fit, threshold = (1.0, 1.0 - SCORE_NOISE * z) if target >= 0.5 else (1.0 + SCORE_NOISE * z, 1.0)
    marketing = data["marketing"]
    marketing["scoring"].update(mql_threshold=_round(threshold), noise_sd=SCORE_NOISE)
    marketing["nurture"]["resurface_prob"] = 0.0
    for name, source in data["sources"].items():
        source["fit"] = {"dist": "fixed", "value": _round(fit)}
        prov[f"sources.{name}.fit"] = "fitted with the MQL threshold (see marketing.scoring)"
    why = (
        f"fitted: lead -> MQL conversion {stage.conversion:.3f} (95% CI {stage.ci_low:.3f}-"
        f"{stage.ci_high:.3f}), as a score threshold on a fixed fit of {fit:.3f}"
    )
    for path in ("scoring.mql_threshold", "scoring.noise_sd", "nurture.resurface_prob"):
        prov[f"marketing.{path}"] = why
    return _round(fit)


def _seam1(
    fitted: Fitted, data: dict[str, Any], prov: dict[str, str], roles: dict[str, str]
) -> None:
    """MQL -> SQL: passed through, or the observed conversion and time written directly."""
    role = roles["seam1"]
    if role == "default":
        return
    seam1 = data["seam1"]
    seam1["decay"]["half_life_hours"] = None
    prov["seam1.decay"] = "off: the export's MQL -> SQL conversion already includes any decay"
    if role == "fitted":
        stage = next(s for s in fitted.stages if s.to_stage == "sql")
        p = _round(stage.conversion)
        seam1["acceptance"].update(p_accept_fit=p, p_accept_unfit=p)
        prov["seam1.acceptance"] = (
            f"fitted: {stage.from_stage} -> SQL conversion {stage.conversion:.3f} (95% CI "
            f"{stage.ci_low:.3f}-{stage.ci_high:.3f}, Kaplan-Meier), fit or not"
        )
        if stage.time is not None:
            seam1["response_delay"] = scale_spec(stage.time.spec, 24.0)
            prov["seam1.response_delay"] = (
                f"fitted: {stage.from_stage} -> SQL time in hours ({stage.time.family}); the "
                "SDRs start at once and take no time, so this is the whole delay"
            )
        else:
            seam1["response_delay"] = INSTANT
            prov["seam1.response_delay"] = "fitted: most convert the day they enter"
    else:
        why = _why(fitted, "seam1", role)
        seam1["acceptance"].update(p_accept_fit=1.0, p_accept_unfit=1.0)
        seam1["response_delay"] = INSTANT
        _through(prov, ["seam1.acceptance", "seam1.response_delay"], why)
    team = data["teams"][seam1["team"]]
    team.update(work_time=INSTANT, calendar=ALWAYS_OPEN, capacity_per_head=THROUGH_SLOTS)
    prov[f"teams.{seam1['team']}.work_time"] = "0: the SDR step's time is the response delay"
    prov[f"teams.{seam1['team']}.calendar"] = "always open: no delay beyond the fitted one"
    prov[f"teams.{seam1['team']}.capacity_per_head"] = "ample: the export shows no SDR queue"


def _qualify(
    fitted: Fitted, data: dict[str, Any], prov: dict[str, str], roles: dict[str, str]
) -> None:
    """SQL -> opportunity: passed through, or conversion per segment and time written."""
    role = roles["qualify"]
    sales = data["sales"]
    segments = list(data["segments"])
    if role == "default":
        sales["qualify_prob"] = dict.fromkeys(segments, 0.5)
        return
    if role == "fitted":
        stage = next(s for s in fitted.stages if s.to_stage == "opportunity")
        sales["qualify_prob"] = {}
        for segment in segments:
            own = fitted.qualify.get(segment)
            used = own if own is not None and own.entered >= MIN_SEGMENT else stage
            sales["qualify_prob"][segment] = _round(used.conversion)
            where = "" if used is own else " (pooled: few records here)"
            prov[f"sales.qualify_prob.{segment}"] = (
                f"fitted{where}: {used.from_stage} -> opportunity conversion "
                f"{used.conversion:.3f} (95% CI {used.ci_low:.3f}-{used.ci_high:.3f})"
            )
        sales["discovery_days"] = stage.time.spec if stage.time is not None else INSTANT
        prov["sales.discovery_days"] = (
            f"fitted: {stage.from_stage} -> opportunity days ({stage.time.family})"
            if stage.time is not None
            else "fitted: most become opportunities the day they enter"
        )
    else:
        why = _why(fitted, "qualify", role)
        sales["qualify_prob"] = dict.fromkeys(segments, 1.0)
        sales["discovery_days"] = INSTANT
        _through(prov, ["sales.qualify_prob", "sales.discovery_days"], why)
    ae = data["teams"][sales["team"]]
    ae["calendar"] = ALWAYS_OPEN
    prov[f"teams.{sales['team']}.calendar"] = "always open: no delay beyond the fitted one"


def _gate_factors(data: dict[str, Any], factors: dict[str, float]) -> dict[str, float]:
    """Per segment, the share of fit records among those reaching the opportunity gate:
    the average of the sources' fits (written by the source factors or the MQL
    threshold), weighted by each source's records in the segment."""
    if not factors:
        return {}
    sources = data["sources"]
    out = {}
    for segment in data["segments"]:
        total = share = 0.0
        for name, src in sources.items():
            mix = src.get("segment_mix") or {s: v["share"] for s, v in data["segments"].items()}
            weight = src["leads_per_week"] * mix.get(segment, 0.0)
            total += weight
            share += weight * factors.get(name, 1.0)
        out[segment] = share / total if total > 0 else 1.0
    return out


def _divide_gate(
    data: dict[str, Any],
    prov: dict[str, str],
    roles: dict[str, str],
    factors: dict[str, float],
    why: str,
) -> None:
    """Divide the conversion written at the end of the export step that spans the
    opportunity gate by the share of fit records reaching it (only fits pass the gate),
    so the step keeps its observed rate: qualify_prob when that step ends at the
    opportunity, the win rate when it runs on to close."""
    key = {"fitted": "qualify_prob", "through": "win_rate"}.get(roles["qualify"])
    if key is None or not factors:
        return
    sales = data["sales"]
    for segment in list(sales[key]):
        factor = factors.get(segment, factors.get(POOLED, 1.0))
        if factor >= 1.0 - 1e-9:
            continue
        written = sales[key][segment] / factor
        sales[key][segment] = _round(min(written, 1.0))
        note = (
            f"; divided by {factor:.3f}, the share of fit records reaching the opportunity "
            f"gate ({why})" + (", capped at 1" if written > 1 else "")
        )
        path = f"sales.{key}.{segment}"
        prov[path] = prov.get(path, prov.get(f"sales.{key}", "fitted")) + note


def _owners(fitted: Fitted, data: dict[str, Any], prov: dict[str, str]) -> None:
    for team, count in fitted.owners.items():
        data["teams"][team]["headcount"] = count
        column = fitted.mapping.owner_columns()[team]
        prov[f"teams.{team}.headcount"] = f"fitted: {count} distinct {column} in the window"
