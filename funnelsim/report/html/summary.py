"""The plain-language summary: its figures (``SummaryFacts``) and the sentences stating them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from markupsafe import Markup

from funnelsim.experiment.compare import Comparison
from funnelsim.report.data import SEAM_NAMES, ReportData, seam_leakage, total_leakage
from funnelsim.report.html.markup import Interval, formatter

HEADLINE_METRICS: tuple[str, ...] = (
    "horizon_revenue",
    "arr_at_horizon",
    "booked_arr",
    "won_deals",
    "active_customers",
)


@dataclass
class SummaryFacts:
    """The numbers the plain-language summary states, kept apart so tests can check them."""

    currency: str
    replications: int
    confidence: float
    headline: dict[str, Interval]
    worst_seam: int | None = None
    worst_seam_arr: Interval | None = None
    worst_reason: str | None = None
    worst_reason_arr: Interval | None = None
    total_arr_lost: Interval | None = None
    total_revenue_lost: Interval | None = None
    best_fix_seam: int | None = None
    best_fix_value: Interval | None = None
    best_whatif: str | None = None
    best_whatif_revenue: Interval | None = None
    best_whatif_net: Interval | None = None
    sentences: list[Markup] = field(default_factory=list)


def summary_facts(
    data: ReportData,
    comparisons: Mapping[str, Comparison] | None = None,
    leaks: pd.DataFrame | None = None,
) -> SummaryFacts:
    """Compute the summary's figures (and its sentences) from the results."""
    currency = data.currency
    facts = SummaryFacts(
        currency=currency,
        replications=data.n_replications,
        confidence=data.confidence,
        headline={name: data.metric(name) for name in HEADLINE_METRICS},
    )
    fmt = formatter(data.n_replications, currency)
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
            data.name,
            fmt(revenue, currency),
            fmt(arr, currency),
            fmt(customers, "customers"),
        )
    )
    arr_lost = data.leakage_summary[data.leakage_summary["measure"] == "arr_lost"]
    if data.leakage is not None:
        per_seam = seam_leakage(data.leakage, data.confidence)
        per_seam = per_seam[per_seam["measure"] == "arr_lost"]
        totals = total_leakage(data.leakage, data.confidence).set_index("measure")
        facts.total_arr_lost = _interval(totals.loc["arr_lost"])
        facts.total_revenue_lost = _interval(totals.loc["horizon_revenue_lost"])
    else:
        sums = arr_lost.groupby("seam", sort=True)["mean"].sum()
        per_seam = pd.DataFrame(
            {"seam": sums.index, "mean": sums.to_numpy(), "ci_low": np.nan, "ci_high": np.nan}
        )
    if len(per_seam) and float(per_seam["mean"].max()) > 0:
        worst = per_seam.loc[per_seam["mean"].astype(float).idxmax()]
        facts.worst_seam = int(worst["seam"])
        facts.worst_seam_arr = _interval(worst)
        reasons = arr_lost[arr_lost["seam"] == facts.worst_seam]
        top = reasons.loc[reasons["mean"].astype(float).idxmax()]
        facts.worst_reason = str(top["reason"])
        facts.worst_reason_arr = _interval(top)
        share = facts.worst_reason_arr[0] / facts.worst_seam_arr[0]
        facts.sentences.append(
            Markup(
                "The seam that loses the most ARR is <b>seam {} ({})</b>: <b>{}</b> of ARR a "
                "year, mostly because leads <b>{}</b> ({}, {:.0f}% of that seam's loss)."
            ).format(
                facts.worst_seam,
                SEAM_NAMES[facts.worst_seam],
                fmt(facts.worst_seam_arr, currency),
                _reason_phrase(facts.worst_reason),
                fmt(facts.worst_reason_arr, currency),
                100 * share,
            )
        )
    else:
        facts.sentences.append(Markup("No seam lost any ARR in this run."))
    if facts.total_revenue_lost is not None:
        facts.sentences.append(
            Markup(
                "Across all four seams, leakage costs {} of ARR and {} of revenue within the "
                "horizon (attributed: the expected value of the leads lost, from this run)."
            ).format(fmt(facts.total_arr_lost, currency), fmt(facts.total_revenue_lost, currency))
        )
    if leaks is not None and len(leaks):
        best = leaks.sort_values("counterfactual_horizon_revenue", ascending=False).iloc[0]
        facts.best_fix_seam = int(best["seam"])
        facts.best_fix_value = _interval(best, "counterfactual_horizon_revenue")
        facts.sentences.append(
            Markup(
                "Fixing <b>seam {} ({})</b> is worth the most: <b>{}</b> of revenue within the "
                "horizon (counterfactual: the same runs with that seam made perfect)."
            ).format(
                facts.best_fix_seam,
                SEAM_NAMES[facts.best_fix_seam],
                fmt(facts.best_fix_value, currency),
            )
        )
    if comparisons:
        nets = {
            name: comparison.summary().set_index("metric")
            for name, comparison in comparisons.items()
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
                "(after its cost) by <b>{}</b>, paired against the baseline on the same random "
                "numbers."
            ).format(
                lead,
                name,
                fmt(facts.best_whatif_revenue, currency, signed=True),
                fmt(facts.best_whatif_net, currency, signed=True),
            )
        )
    return facts


def _interval(row: pd.Series, prefix: str | None = None) -> Interval:
    if prefix is None:
        names = ("mean", "ci_low", "ci_high")
    elif prefix == "difference":
        names = ("difference", "ci_low", "ci_high")
    else:
        names = (prefix, f"{prefix}_ci_low", f"{prefix}_ci_high")
    return tuple(float(row[n]) if row[n] is not None else np.nan for n in names)  # type: ignore[return-value]


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
        "slow_quote_to_cash": "waited on slow quote-to-cash",
        "missing_context": "reached customer success without the deal context and churned",
        "slow_onboarding": "churned after slow onboarding",
        "late_renewal": "were approached too late for renewal and churned",
    }
    return phrases.get(reason, reason.replace("_", " "))
