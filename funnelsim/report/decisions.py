"""The decision table's cells as text, shared by the terminal, the HTML report and Excel."""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.experiment.options import NO_CHANGE
from funnelsim.report.formatting import with_interval


def payback_text(months: float, option: str) -> str:
    """'6 months', 'none needed' (never below zero) or 'beyond the horizon'."""
    if option == NO_CHANGE:
        return "–"
    if not np.isfinite(months):
        return "beyond the horizon"
    if months == 0:
        return "none needed"
    return f"{months:.0f} month{'s' if months != 1 else ''}"


DECISION_NOTE = (
    "Extra cost is what an option's scenario adds (people, tools); a process change whose "
    "staff time its scenario does not price shows $0 (none modelled) and has no outlay to pay "
    "back. Revenue gain is revenue within the horizon: an option that invoices sooner also "
    "pulls revenue forward from beyond it (its deferred revenue falls). Payback is on cash: "
    "the month from which the cumulative extra cash margin (gross margin x cash collected - "
    "cash spent) stays above zero. Annual invoices bring cash ahead of revenue, so a payback "
    "can fall inside the horizon while net value, on revenue, is still negative; it reads "
    "'unclear' when the extra cash margin at the horizon has an interval spanning zero."
)


def no_extra_cost(row: pd.Series | dict) -> bool:
    """An option whose scenario adds no cost at all, in every replication."""
    return row["extra_cost"] == 0 and row["extra_cost_ci_low"] == row["extra_cost_ci_high"] == 0


def extra_cost_cell(row: pd.Series | dict, currency: str) -> str:
    """The extra cost; '$0 (none modelled)' for an option whose scenario adds no cost (the
    staff time a process change takes is priced only when its scenario adds it)."""
    if no_extra_cost(row) and row["option"] != NO_CHANGE:
        return f"{with_interval(0.0, np.nan, np.nan, currency, currency)} (none modelled)"
    return money_cell(row, "extra_cost", currency, interval=False)


def payback_cell(row: pd.Series | dict, currency: str) -> str:
    """The payback as a client should read it: nothing to pay back without an extra cost;
    'unclear' when the option's cumulative extra cash margin at the horizon has an
    interval spanning zero (its payback month is then noise)."""
    option = str(row["option"])
    if option == NO_CHANGE:
        return "–"
    if no_extra_cost(row):
        return "no outlay to pay back"
    months = float(row["payback_months"])
    low = row.get("cash_margin_at_horizon_ci_low", np.nan)
    high = row.get("cash_margin_at_horizon_ci_high", np.nan)
    if np.isfinite(months) and np.isfinite(low) and low <= 0 <= high:
        return "unclear: extra cash by the horizon spans 0"
    return payback_text(months, option)


def verdict_text(row: pd.Series | dict, currency: str) -> str:
    """How an option stands against the next ranked one, with the paired gap."""
    below = row["next_option"]
    if not below:
        return "last"
    gap = with_interval(row["gap"], row["gap_ci_low"], row["gap_ci_high"], currency, currency)
    if row["verdict"].startswith("identical"):
        return f"tied with {below} (identical in every replication)"
    if row["resolved"]:
        return f"ahead of {below} by {gap}"
    return f"not resolved from {below}: {gap} spans 0"


def money_cell(row: pd.Series | dict, column: str, currency: str, interval: bool = True) -> str:
    """A paired gain, '+' on gains, with its interval when asked and not of zero width."""
    low, high = row[f"{column}_ci_low"], row[f"{column}_ci_high"]
    if not interval or low == high:
        low = high = np.nan
    text = with_interval(row[column], low, high, currency, currency)
    return "+" + text if row[column] > 0 else text


def overall_verdict(summary: pd.DataFrame) -> str:
    """One sentence: is the ranking resolved at this replication count?"""
    n = int(summary["replications"].iloc[0]) if len(summary) else 0
    open_pairs = summary[~summary["resolved"]]
    if open_pairs.empty:
        return f"Ranking resolved at {n} replications: each option differs from the next."
    pairs = "; ".join(f"{row.option} vs {row.next_option}" for row in open_pairs.itertuples())
    return (
        f"Not resolved at {n} replications ({pairs}): add replications (--reps, "
        "--until-resolved) before choosing between them."
    )


def resolution_rule(summary: pd.DataFrame, confidence: float) -> str:
    """How "resolved" was tested: at ``confidence`` once, or (``--until-resolved``) at a
    stricter level per look so that repeated looks keep the error rate at 1 - confidence."""
    level = float(summary["gap_confidence"].iloc[0]) if "gap_confidence" in summary else confidence
    if len(summary) == 0 or level <= confidence + 1e-12:
        return (
            f"Resolved: the paired gap's {confidence:.0%} interval excludes zero. "
            "--until-resolved re-tests after every batch, so it tests each look at a "
            "stricter level (Bonferroni over the planned looks) to keep the chance of "
            f"calling identical options different at {1 - confidence:.0%}."
        )
    looks = round((1 - confidence) / (1 - level))
    return (
        f"Resolved: the paired gap's {level:.2%} interval excludes zero. Re-testing after "
        f"every batch (up to {looks} looks) would find differences between identical "
        f"options too often, so each look spends {1 - confidence:.0%} / {looks} "
        f"(Bonferroni): the chance of a false 'resolved' stays at most {1 - confidence:.0%}."
    )


def decision_rows(summary: pd.DataFrame, currency: str) -> list[tuple[str, ...]]:
    """The decision table as text rows: rank, option, extra cost, revenue gain, net value,
    payback and verdict."""
    rows = []
    for _, row in summary.iterrows():
        rows.append(
            (
                str(int(row["rank"])),
                str(row["option"]),
                extra_cost_cell(row, currency),
                money_cell(row, "revenue_gain", currency, interval=False),
                money_cell(row, "net_value", currency),
                payback_cell(row, currency),
                verdict_text(row, currency),
            )
        )
    return rows


def decision_header(confidence: float) -> tuple[str, ...]:
    """The decision table's column names."""
    return (
        "rank",
        "option",
        "extra cost",
        "revenue gain",
        f"net value (gross profit − cost) [{confidence:.0%} CI]",
        "payback",
        "verdict",
    )


__all__ = [
    "DECISION_NOTE",
    "decision_header",
    "decision_rows",
    "extra_cost_cell",
    "money_cell",
    "no_extra_cost",
    "overall_verdict",
    "payback_cell",
    "payback_text",
    "resolution_rule",
    "verdict_text",
]
