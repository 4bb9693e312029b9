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
from funnelsim.report.html.markup import interval_header, table

METRIC_LABELS: dict[str, str] = {
    "leads": "Leads",
    "mqls": "MQLs",
    "sqls": "SQLs",
    "opportunities": "Opportunities",
    "won_deals": "Won deals",
    "active_customers": "Active customers at the horizon",
    "booked_arr": "ARR booked",
    "arr_at_horizon": "ARR at the horizon",
    "horizon_revenue": "Revenue within the horizon",
    "invoiced_revenue": "Revenue invoiced within the horizon",
    "win_rate": "Win rate (won / closed opportunities)",
    "median_sales_cycle_days": "Median sales cycle",
    "median_first_response_hours": "Median first response",
    "sla_compliance": "First responses within the SLA",
    "median_quote_to_cash_days": "Median quote-to-cash (closed-won to invoice)",
    "deferred_revenue": "Revenue deferred past the horizon by quote-to-cash (not lost)",
    "deferred_cash": "Cash deferred past the horizon by quote-to-cash (not lost)",
    "nrr": "Net revenue retention (trailing 12 months, whole book)",
    "grr": "Gross revenue retention (trailing 12 months, whole book)",
    "renewal_nrr": "Net retention over the terms decided in the run",
    "renewal_grr": "Gross retention over the terms decided in the run",
    "arr_at_start": "ARR at the start (the starting book)",
    "customers_at_horizon": "Customers at the horizon (the book's included)",
    "cac": "Customer acquisition cost (CAC)",
    "cac_payback_months": "CAC payback",
    "forecast_mape": "Stage-weighted forecast error (MAPE, CRM weights)",
    "forecast_mape_fitted": "Stage-weighted forecast error (MAPE, weights fitted on the run)",
    "lead_to_customer": "Lead-to-customer conversion",
    "gross_profit": "Gross profit (revenue × gross margin)",
    "total_cost": "Total cost over the horizon",
    "net_value": "Net value (gross profit − cost)",
}


def metric_label(metric: str) -> str:
    """A metric's label in the report."""
    return METRIC_LABELS.get(metric, metric.replace("_", " "))


def metrics_table(data: ReportData) -> Markup:
    """Every headline metric with its interval (metrics nobody measured left out)."""
    rows = []
    for row in data.summary.itertuples(index=False):
        if row.replications == 0 and not np.isfinite(row.mean):
            continue
        rows.append(
            (
                metric_label(row.metric),
                with_interval(row.mean, row.ci_low, row.ci_high, row.unit, data.currency),
            )
        )
    return table(["metric", interval_header(data)], rows, numeric=(1,))


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
    """Attributed leakage by seam and reason: leads, ARR and horizon revenue lost."""
    units = {
        "deals_affected": "leads",
        "arr_lost": data.currency,
        "horizon_revenue_lost": data.currency,
    }
    indexed = data.leakage_summary.set_index(["seam", "reason", "measure"])
    pairs = list(
        dict.fromkeys(
            zip(data.leakage_summary["seam"], data.leakage_summary["reason"], strict=True)
        )
    )
    rows = []
    for seam, reason in pairs:
        cells = []
        for measure, unit in units.items():
            row = indexed.loc[(seam, reason, measure)]
            cells.append(
                with_interval(row["mean"], row["ci_low"], row["ci_high"], unit, data.currency)
            )
        rows.append(
            (
                Markup('<span class="dot" style="background:{}"></span>{} {}').format(
                    charts.seam_color(seam), int(seam), SEAM_NAMES.get(int(seam), "")
                ),
                REASON_LABELS.get(reason, reason),
                *cells,
            )
        )
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
            f"Attributed leakage by seam and reason, capacity-aware ({interval_header(data)})"
        ),
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
                _saturates(record),
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
        "the sum of the single fixes.",
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


def comparison_table(summary: pd.DataFrame, currency: str, comparison: Comparison) -> Markup:
    """A paired comparison: baseline, what-if and their difference with its interval."""
    rows = []
    for row in summary.itertuples(index=False):
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
        caption=f"Paired over {len(comparison.baseline_runs)} replications",
    )


def _cell(record: dict[str, Any], name: str, currency: str) -> str:
    """A figure with its interval from ``name``, ``name_ci_low`` and ``name_ci_high``."""
    return with_interval(
        record[name], record[f"{name}_ci_low"], record[f"{name}_ci_high"], currency, currency
    )
