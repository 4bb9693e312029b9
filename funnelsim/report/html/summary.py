"""The plain-language summary: its figures (``SummaryFacts``) and the sentences stating them.

With seam fixes it leads with what fixing each seam is worth (counterfactual) and names
the downstream team a fix would saturate. Losses are stated as revenue within the horizon
and as a share of the potential (realised + attributed leakage), so no sentence or card
can claim a seam loses more than the company could have earned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from markupsafe import Markup

from funnelsim.experiment.compare import Comparison
from funnelsim.experiment.leaks import combined_row, single_seams
from funnelsim.report.data import SEAM_NAMES, ReportData, seam_leakage, total_leakage
from funnelsim.report.html.markup import Interval, formatter
from funnelsim.report.labels import ASSUMPTION_REASONS, DisplayNames

HEADLINE_METRICS: tuple[str, ...] = (
    "horizon_revenue",
    "arr_at_horizon",
    "booked_arr",
    "won_deals",
    "active_customers",
    "deferred_revenue",
    "deferred_cash",
)


@dataclass
class SummaryFacts:
    """The numbers the plain-language summary states, kept apart so tests can check them."""

    currency: str
    replications: int
    confidence: float
    headline: dict[str, Interval]
    potential_revenue: float | None = None
    worst_seam: int | None = None
    worst_seam_revenue: Interval | None = None
    worst_seam_arr: Interval | None = None
    worst_reason: str | None = None
    worst_reason_revenue: Interval | None = None
    total_arr_lost: Interval | None = None
    total_revenue_lost: Interval | None = None
    contract_error_deals: float | None = None
    contract_error_arr: float | None = None
    assumption_revenue: float | None = None
    best_fix_seam: int | None = None
    best_fix_value: Interval | None = None
    fix_values: dict[int, Interval] = field(default_factory=dict)
    all_fixes_value: Interval | None = None
    interaction_value: Interval | None = None
    saturated: dict[int, tuple[str, float, str]] = field(default_factory=dict)
    best_whatif: str | None = None
    best_whatif_revenue: Interval | None = None
    best_whatif_net: Interval | None = None
    sentences: list[Markup] = field(default_factory=list)
    names: DisplayNames = field(default_factory=lambda: DisplayNames(title=""))


def summary_facts(
    data: ReportData,
    comparisons: Mapping[str, Comparison] | None = None,
    leaks: pd.DataFrame | None = None,
) -> SummaryFacts:
    """Compute the summary's figures (and its sentences) from the results."""
    facts = SummaryFacts(
        currency=data.currency,
        replications=data.n_replications,
        confidence=data.confidence,
        headline={name: data.metric(name) for name in HEADLINE_METRICS},
        names=DisplayNames.of(data.scenario, data.name),
    )
    fmt = formatter(data.n_replications, data.currency)
    if leaks is not None and len(single_seams(leaks)):
        _seam_fixes(facts, leaks, fmt)
    revenue, arr, customers = (
        facts.headline["horizon_revenue"],
        facts.headline["arr_at_horizon"],
        facts.headline["active_customers"],
    )
    facts.sentences.append(
        Markup(
            "Over the {} days simulated, {} realises <b>{}</b> of revenue and ends with "
            "<b>{}</b> of ARR from <b>{}</b> active customers."
        ).format(
            data.horizon_days,
            facts.names.title,
            fmt(revenue, data.currency),
            fmt(arr, data.currency),
            fmt(customers, "customers"),
        )
    )
    _leakage(facts, data, fmt)
    if facts.best_fix_seam is None and facts.worst_seam is not None:
        facts.sentences.append(
            Markup(
                "What fixing each seam is worth (the counterfactual, the honest headline when a "
                "fix would flood the next team) needs the seam-fix runs: rerun with "
                "<code>--leaks</code>."
            )
        )
    _deferral(facts, data, fmt)
    if comparisons:
        _whatifs(facts, comparisons, fmt)
    return facts


def _seam_fixes(facts: SummaryFacts, leaks: pd.DataFrame, fmt) -> None:
    """The lead: what fixing each seam is worth, all together, and what saturates."""
    currency = facts.currency
    singles = single_seams(leaks).sort_values("counterfactual_horizon_revenue", ascending=False)
    for row in singles.itertuples(index=False):
        record = row._asdict()
        seam = int(record["seam"])
        facts.fix_values[seam] = _interval(record, "counterfactual_horizon_revenue")
        _note_saturation(facts, seam, record)
    facts.best_fix_seam = int(singles.iloc[0]["seam"])
    facts.best_fix_value = facts.fix_values[facts.best_fix_seam]
    others = Markup("; ").join(
        Markup("seam {} {}").format(seam, fmt(value, currency))
        for seam, value in facts.fix_values.items()
        if seam != facts.best_fix_seam
    )
    sentence = Markup(
        "Fixing <b>seam {} ({})</b> is worth the most: <b>{}</b> of revenue within the "
        "horizon (counterfactual: the same runs with that seam made perfect)"
    ).format(
        facts.best_fix_seam,
        SEAM_NAMES[facts.best_fix_seam],
        fmt(facts.best_fix_value, currency),
    )
    sentence += Markup("; then {}.").format(others) if others else Markup(".")
    facts.sentences.append(sentence)
    together, interaction = combined_row(leaks, "all"), combined_row(leaks, "interaction")
    if together is not None and interaction is not None:
        facts.all_fixes_value = _interval(together, "counterfactual_horizon_revenue")
        facts.interaction_value = _interval(interaction, "counterfactual_horizon_revenue")
        facts.sentences.append(
            Markup(
                "All four fixed together are worth <b>{}</b>; the fixes interact, so that "
                "differs from the sum of the single fixes by {}."
            ).format(
                fmt(facts.all_fixes_value, currency),
                fmt(facts.interaction_value, currency, signed=True),
            )
        )
        _note_saturation(facts, 0, together)
    told: set[str] = set()
    for seam, (team, occupancy, teams) in facts.saturated.items():
        if seam == 0 and teams in told:
            continue
        told.add(teams)
        which = "Fixing all four seams" if seam == 0 else f"Fixing seam {seam}"
        team, teams = facts.names.team(team), facts.names.team_list(teams)
        also = teams.split(", ")[1:]
        facts.sentences.append(
            Markup(
                "{} would saturate the <b>{}</b> team ({:.0%} occupancy in its busiest quarter "
                "of the fixed run{}): that team's queue, not the hand-off, then limits what the "
                "fix is worth."
            ).format(which, team, occupancy, f"; also {', '.join(also)}" if also else "")
        )


def _note_saturation(facts: SummaryFacts, seam: int, record) -> None:
    """Record the team a fix saturates (first in the order work reaches it), if any."""
    team = record.get("saturated_team", "")
    if isinstance(team, str) and team:
        teams = record.get("saturated_teams", "")
        facts.saturated[seam] = (
            team,
            float(record["saturated_occupancy"]),
            teams if isinstance(teams, str) and teams else team,
        )


def _leakage(facts: SummaryFacts, data: ReportData, fmt) -> None:
    """Where revenue leaks: the worst seam by hand-off losses (revenue within the horizon
    and share of the potential), and apart from it the assumption-driven losses."""
    currency = facts.currency
    summary = data.leakage_summary
    lost = summary[summary["measure"] == "horizon_revenue_lost"]
    assumed = lost["reason"].isin(ASSUMPTION_REASONS)
    if data.leakage is not None:
        handoff = data.leakage[~data.leakage["reason"].isin(ASSUMPTION_REASONS)]
        per_seam = seam_leakage(handoff, data.confidence)
        totals = total_leakage(data.leakage, data.confidence).set_index("measure")
        facts.total_arr_lost = _interval(totals.loc["arr_lost"])
        facts.total_revenue_lost = _interval(totals.loc["horizon_revenue_lost"])
    else:
        kept = summary[~summary["reason"].isin(ASSUMPTION_REASONS)]
        means = kept.groupby(["seam", "measure"], sort=True)["mean"].sum().reset_index()
        per_seam = means.assign(ci_low=np.nan, ci_high=np.nan)
        total = float(lost["mean"].sum())
        facts.total_revenue_lost = (total, np.nan, np.nan)
    realised = facts.headline["horizon_revenue"][0]
    facts.potential_revenue = realised + facts.total_revenue_lost[0]
    facts.assumption_revenue = float(lost.loc[assumed, "mean"].sum())
    errors = summary[(summary["reason"] == "contract_error")]
    if len(errors):
        measures = errors.set_index("measure")["mean"]
        facts.contract_error_deals = float(measures.get("deals_affected", np.nan))
        facts.contract_error_arr = float(measures.get("arr_lost", np.nan))
    revenue_by_seam = per_seam[per_seam["measure"] == "horizon_revenue_lost"]
    if not len(revenue_by_seam) or float(revenue_by_seam["mean"].max()) <= 0:
        facts.sentences.append(Markup("No hand-off lost any revenue in this run."))
        _assumption_sentence(facts, fmt)
        return
    worst = revenue_by_seam.loc[revenue_by_seam["mean"].astype(float).idxmax()]
    facts.worst_seam = int(worst["seam"])
    facts.worst_seam_revenue = _interval(worst)
    arr_row = per_seam[(per_seam["measure"] == "arr_lost") & (per_seam["seam"] == facts.worst_seam)]
    facts.worst_seam_arr = _interval(arr_row.iloc[0]) if len(arr_row) else None
    reasons = lost[(lost["seam"] == facts.worst_seam) & ~assumed]
    top = reasons.loc[reasons["mean"].astype(float).idxmax()]
    facts.worst_reason = str(top["reason"])
    facts.worst_reason_revenue = _interval(top)
    potential = facts.potential_revenue
    share = facts.worst_seam_revenue[0] / potential if potential > 0 else np.nan
    reason_share = facts.worst_reason_revenue[0] / facts.worst_seam_revenue[0]
    facts.sentences.append(
        Markup(
            "Of a potential <b>{}</b> of revenue within the horizon (realised + leakage), the "
            "company realises {:.0f}%. The biggest hand-off leak is <b>seam {} ({})</b>: "
            "<b>{}</b> ({:.0f}% of the potential), mostly because leads <b>{}</b> ({:.0f}% of "
            "that seam's hand-off loss). Attributed and capacity-aware: lost leads are valued "
            "as comparable leads of this run earned, scaled to what the downstream teams' idle "
            "capacity could have taken: an upper bound (that idle capacity used perfectly)."
        ).format(
            fmt((potential, np.nan, np.nan), currency),
            100 * realised / potential,
            facts.worst_seam,
            SEAM_NAMES[facts.worst_seam],
            fmt(facts.worst_seam_revenue, currency),
            100 * share,
            _reason_phrase(facts.worst_reason),
            100 * reason_share,
        )
    )
    _assumption_sentence(facts, fmt)
    if facts.contract_error_deals:
        facts.sentences.append(
            Markup(
                "Manual contract errors hit {} deals a run and cost {} of ARR (they lose no "
                "lead, so they count deals hit, not leads lost)."
            ).format(
                fmt((facts.contract_error_deals, np.nan, np.nan), "deals"),
                fmt((facts.contract_error_arr, np.nan, np.nan), currency),
            )
        )


def _assumption_sentence(facts: SummaryFacts, fmt) -> None:
    """Losses that rest on modelling assumptions, stated apart from hand-off losses."""
    value = facts.assumption_revenue
    potential = facts.potential_revenue or np.nan
    if not value or value <= 0:
        return
    facts.sentences.append(
        Markup(
            "A further <b>{}</b> ({:.0f}% of the potential) is <b>scored out</b>: fit leads "
            "that marketing's score turned away. It rests on the assumed fit distribution and "
            "score noise, not on an observed hand-off, so read it as a modelling estimate."
        ).format(fmt((value, np.nan, np.nan), facts.currency), 100 * value / potential)
    )


def _deferral(facts: SummaryFacts, data: ReportData, fmt) -> None:
    """Slow quote-to-cash: deferred revenue and cash, not a loss."""
    revenue, cash = facts.headline["deferred_revenue"], facts.headline["deferred_cash"]
    if not np.isfinite(revenue[0]) or revenue[0] <= 0:
        return
    facts.sentences.append(
        Markup(
            "Slow quote-to-cash <b>defers</b> {} of revenue and {} of cash past the horizon: "
            "the contract term starts at the invoice, so this money arrives later; it is not "
            "lost and not in the leakage above."
        ).format(fmt(revenue, facts.currency), fmt(cash, facts.currency))
    )


def _whatifs(facts: SummaryFacts, comparisons: Mapping[str, Comparison], fmt) -> None:
    """The best what-if by net value (gross profit - cost)."""
    currency = facts.currency
    nets = {
        name: comparison.summary().set_index("metric") for name, comparison in comparisons.items()
    }
    name = max(nets, key=lambda n: _value(nets[n], "net_value", "difference"))
    table = nets[name]
    facts.best_whatif = name
    facts.best_whatif_revenue = _interval(table.loc["horizon_revenue"], "difference")
    facts.best_whatif_net = _interval(table.loc["net_value"], "difference")
    lead = "The best what-if" if len(comparisons) > 1 else "The what-if"
    facts.sentences.append(
        Markup(
            "{}, <b>{}</b>, changes revenue within the horizon by <b>{}</b> and net value "
            "(gross profit − cost) by <b>{}</b>, paired against the baseline on the same "
            "random numbers."
        ).format(
            lead,
            name,
            fmt(facts.best_whatif_revenue, currency, signed=True),
            fmt(facts.best_whatif_net, currency, signed=True),
        )
    )


def _interval(row, prefix: str | None = None) -> Interval:
    if prefix is None:
        names = ("mean", "ci_low", "ci_high")
    elif prefix == "difference":
        names = ("difference", "ci_low", "ci_high")
    else:
        names = (prefix, f"{prefix}_ci_low", f"{prefix}_ci_high")
    return tuple(_float(row[n]) for n in names)  # type: ignore[return-value]


def _float(value: object) -> float:
    return np.nan if value is None else float(value)  # type: ignore[arg-type]


def _value(table: pd.DataFrame, metric: str, column: str) -> float:
    value = float(table.at[metric, column]) if metric in table.index else np.nan
    return value if np.isfinite(value) else -np.inf


def _reason_phrase(reason: str) -> str:
    phrases = {
        "scored_out": "were scored out before sales saw them",
        "unrouted": "were routed to nobody",
        "stale_contact": "had stale contact records",
        "went_cold": "went cold waiting for a first response",
        "rejected": "were rejected by SDRs",
        "not_followed_up": "were qualified but cooled waiting for an AE",
        "fell_through": "fell through in contract review",
        "contract_error": "lost value to manual contract errors",
        "missing_context": "reached customer success without the deal context and churned",
        "slow_onboarding": "churned after slow onboarding",
        "late_renewal": "were approached too late for renewal and churned",
    }
    return phrases.get(reason, reason.replace("_", " "))
