"""The report's tables: leakage by seam and reason, seam fixes, comparisons, headline metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from funnelsim.experiment.compare import Comparison
from funnelsim.experiment.leaks import single_seams
from funnelsim.report import charts
from funnelsim.report.data import REASON_LABELS, SEAM_NAMES, ReportData
from funnelsim.report.formatting import number, with_interval
from funnelsim.report.html.markup import interval_header, pair, table
from funnelsim.report.labels import ASSUMPTION_REASONS, DisplayNames, metric_label

SPLIT_AFTER = 12


def metrics_table(data: ReportData) -> Markup:
    """Every headline metric with its interval (metrics nobody measured, and zeros, left out)."""
    rows = []
    for row in data.summary.itertuples(index=False):
        if row.replications == 0 and not np.isfinite(row.mean):
            continue
        if is_zero(row.mean, row.ci_low, row.ci_high):
            continue
        rows.append(
            (
                metric_label(row.metric),
                with_interval(row.mean, row.ci_low, row.ci_high, row.unit, data.currency),
            )
        )
    header = ["metric", interval_header(data)]
    if len(rows) <= SPLIT_AFTER:
        return table(header, rows, numeric=(1,))
    half = (len(rows) + 1) // 2  # two shorter tables side by side: fewer pages in print
    return pair(table(header, rows[:half], numeric=(1,)), table(header, rows[half:], numeric=(1,)))


def is_zero(*values: float) -> bool:
    """Every value is zero or missing, and at least one is zero: a row with nothing to show."""
    numbers = [float(v) for v in values if v is not None and np.isfinite(float(v))]
    return bool(numbers) and all(v == 0 for v in numbers)


def unchanged(difference: float, low: float, high: float) -> bool:
    """A paired difference of zero in every replication, or one nobody measured."""
    values = [float(v) for v in (difference, low, high) if v is not None]
    finite = [v for v in values if np.isfinite(v)]
    return all(v == 0 for v in finite)


LEAKAGE_MEASURES = ("deals_affected", "arr_lost", "horizon_revenue_lost")


FORECAST_METHODS: dict[str, str] = {
    "stage_weighted": "stage-weighted, CRM weights (vs the open pipeline's wins)",
    "stage_weighted_fitted": "stage-weighted, fitted weights (vs the open pipeline's wins)",
    "monte_carlo": "Monte Carlo P50 (vs every deal won)",
}


def forecast_table(accuracy: pd.DataFrame, data: ReportData) -> Markup:
    """Each forecast's error over the run: MAPE and bias with their intervals."""
    whole = accuracy[accuracy["quarter"] == "all"].set_index("method")
    rows = [
        (
            label,
            with_interval(*whole.loc[method, ["mape", "mape_low", "mape_high"]], "share", ""),
            with_interval(*whole.loc[method, ["bias", "bias_low", "bias_high"]], "share", ""),
        )
        for method, label in FORECAST_METHODS.items()
        if method in whole.index
    ]
    return table(["forecast", "MAPE", "bias (forecast − actual) / actual"], rows, numeric=(1, 2))


def leakage_table(data: ReportData) -> Markup:
    """Attributed leakage by seam and reason: leads, ARR and horizon revenue lost.

    Hand-off losses come first; losses that rest on modelling assumptions (scored out: a
    latent fit against a noisy score) follow under their own heading. Reasons that lost
    nothing in any replication are left out.
    """
    units = dict(zip(LEAKAGE_MEASURES, ("leads", data.currency, data.currency), strict=True))
    indexed = data.leakage_summary.set_index(["seam", "reason", "measure"])
    pairs = list(
        dict.fromkeys(
            zip(data.leakage_summary["seam"], data.leakage_summary["reason"], strict=True)
        )
    )
    groups: dict[bool, list[tuple[str, ...]]] = {False: [], True: []}
    for seam, reason in pairs:
        cells, figures = [], []
        for measure, unit in units.items():
            row = indexed.loc[(seam, reason, measure)]
            figures += [row["mean"], row["ci_low"], row["ci_high"]]
            cells.append(
                with_interval(row["mean"], row["ci_low"], row["ci_high"], unit, data.currency)
            )
        if is_zero(*figures):
            continue
        groups[reason in ASSUMPTION_REASONS].append(
            (
                Markup('<span class="dot" style="background:{}"></span>{} {}').format(
                    charts.seam_color(seam), int(seam), SEAM_NAMES.get(int(seam), "")
                ),
                REASON_LABELS.get(reason, reason),
                *cells,
            )
        )
    rows: list[tuple[str, ...]] = []
    kinds: list[str | None] = []
    for assumed, title in ((False, "Hand-off losses"), (True, ASSUMPTION_HEADING)):
        if groups[assumed]:
            rows.append((title,))
            kinds.append("group")
            rows += groups[assumed]
            kinds += ["assumption" if assumed else None] * len(groups[assumed])
    return table(
        [
            "seam",
            "reason",
            "leads lost / deals hit",
            "ARR lost",
            "revenue lost within the horizon",
        ],
        rows,
        numeric=(2, 3, 4),
        caption=(
            f"Attributed leakage by seam and reason, capacity-aware ({interval_header(data)}). "
            "Contract errors lose no lead: they count the deals hit and the ARR they erode."
        ),
        row_classes=kinds,
    )


ASSUMPTION_HEADING = (
    "Assumption-driven (a modelling estimate: fit leads the score turned away, from the "
    "assumed fit distribution and score noise)"
)


def leaks_table(leaks: pd.DataFrame, data: ReportData) -> Markup:
    """Seam fixes by rank, then all four together, the sum of singles and the interaction:
    counterfactual gains beside the attributed loss and the team a fix saturates."""
    rows = []
    ordered = pd.concat([single_seams(leaks).sort_values("rank"), _combined(leaks)])
    for row in ordered.itertuples(index=False):
        record = row._asdict()
        single = record.get("kind", "seam") == "seam"
        name = (
            f"{record['seam']} {SEAM_NAMES.get(int(record['seam']), '')}"
            if single
            else str(record["seam_name"])
        )
        rows.append(
            (
                str(record["rank"]) if single else "",
                name,
                _cell(record, "counterfactual_horizon_revenue", data.currency),
                _cell(record, "counterfactual_arr_at_horizon", data.currency),
                _cell(record, "attributed_horizon_revenue_lost", data.currency),
                DisplayNames.of(data.scenario).team_list(_saturates(record)),
            )
        )
    return table(
        [
            "rank",
            "fix",
            "fix it: revenue gained",
            "fix it: ARR at horizon gained",
            "attributed: revenue lost",
            "saturates",
        ],
        rows,
        numeric=(2, 3, 4),
        caption="Single fixes do not add up: the interaction row is all four together minus "
        "the sum of the single fixes. Attributed loss is an upper bound at today's capacity "
        "(idle paid hours used perfectly), so a fix can gain less; it can gain more where a "
        "perfect seam also lifts a capacity limit (it has no queue) or brings deferred revenue "
        "into the horizon, which is why all four together can exceed their attributed total.",
    )


def _combined(leaks: pd.DataFrame) -> pd.DataFrame:
    """The all / sum / interaction rows of a seam-fix table (none for an older table)."""
    if "kind" not in leaks.columns:
        return leaks.iloc[0:0]
    return leaks[leaks["kind"] != "seam"]


def _saturates(record: dict[str, Any]) -> str:
    """'team (peak%), ...' for a fix that saturates downstream teams, else ''."""
    teams = record.get("saturated_teams", "")
    return teams if isinstance(teams, str) else ""


# Attributed ARR per seam moves the wrong way in a what-if (better conversion downstream
# raises the value of the same lost leads), so comparisons show leads lost instead.
HIDDEN_IN_COMPARISONS = frozenset(f"seam{seam}_arr_lost" for seam in (1, 2, 3, 4))


def comparison_table(
    summary: pd.DataFrame,
    currency: str,
    comparison: Comparison,
    metrics: tuple[str, ...] | None = None,
) -> Markup:
    """A paired comparison: baseline, what-if and their difference with its interval.

    Rows the change left alone in every replication (or that nobody measured) and
    attributed ARR per seam are left out; ``metrics`` keeps only those.
    """
    rows = []
    for row in summary.itertuples(index=False):
        if row.metric in HIDDEN_IN_COMPARISONS or (metrics and row.metric not in metrics):
            continue
        if unchanged(row.difference, row.ci_low, row.ci_high):
            continue
        rows.append(
            (
                metric_label(row.metric),
                number(row.baseline, row.unit, currency),
                number(row.variant, row.unit, currency),
                with_interval(row.difference, row.ci_low, row.ci_high, row.unit, currency),
            )
        )
    return table(
        ["metric", "baseline", "what-if", f"difference [{comparison.confidence:.0%} CI]"],
        rows,
        numeric=(1, 2, 3),
        caption=f"Paired over {len(comparison.baseline_runs)} replications; metrics the "
        "change left alone in every replication are not shown",
    )


def _cell(record: dict[str, Any], name: str, currency: str) -> str:
    """A figure with its interval from ``name``, ``name_ci_low`` and ``name_ci_high``."""
    return with_interval(
        record[name], record[f"{name}_ci_low"], record[f"{name}_ci_high"], currency, currency
    )
