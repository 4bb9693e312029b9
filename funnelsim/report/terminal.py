"""The terminal view of a run: funnel, leakage by seam and reason, headline metrics."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.table import Table

from funnelsim.report.formatting import with_interval
from funnelsim.results import Results

FUNNEL_METRICS = ("leads", "mqls", "sqls", "opportunities", "won_deals", "active_customers")
SEAM_TITLES = {
    1: "seam 1 marketing → sales",
    2: "seam 2 sales → finance",
    3: "seam 3 finance → CS",
    4: "seam 4 renewal",
}


def print_results(results: Results, console: Console) -> None:
    """Print the run's funnel, leakage and headline tables."""
    scenario = results.scenario
    reps = results.n_replications
    interval = f"mean [{results.confidence:.0%} CI]" if reps > 1 else "value"
    console.print(
        f"[bold]{scenario.name}[/bold]: {scenario.horizon_days} days, "
        f"{reps} replication{'s' if reps != 1 else ''}, seed {results.seed}"
    )
    summary = results.summary()
    console.print(_funnel_table(summary, scenario.currency, interval))
    console.print(_leakage_table(results.leakage_summary(), scenario.currency, interval))
    console.print(_metrics_table(summary, scenario.currency, interval))
    console.print(
        "[dim]Leakage here is attributed: the expected value of the leads lost at each seam "
        "(deal value x the chance they would have closed and stayed, from this run).[/dim]"
    )


def _funnel_table(summary: pd.DataFrame, currency: str, interval: str) -> Table:
    table = Table(title="Funnel", title_justify="left")
    table.add_column("stage")
    table.add_column(interval, justify="right")
    rows = summary.set_index("metric")
    for metric in FUNNEL_METRICS:
        if metric in rows.index:
            row = rows.loc[metric]
            table.add_row(
                metric.replace("_", " "),
                with_interval(row["mean"], row["ci_low"], row["ci_high"], row["unit"], currency),
            )
    return table


def _leakage_table(leakage: pd.DataFrame, currency: str, interval: str) -> Table:
    table = Table(title=f"Leakage by seam and reason ({interval})", title_justify="left")
    for name, justify in (
        ("seam", "left"),
        ("reason", "left"),
        ("leads lost", "right"),
        ("ARR lost", "right"),
        ("horizon revenue lost", "right"),
    ):
        table.add_column(name, justify=justify)
    units = {"leads_lost": "leads", "arr_lost": currency, "horizon_revenue_lost": currency}
    wide = leakage.pivot_table(
        index=["seam", "reason"],
        columns="measure",
        values=["mean", "ci_low", "ci_high"],
        sort=False,
        dropna=False,
    )
    for seam in sorted(leakage["seam"].unique()):
        first = True
        for (row_seam, reason), row in wide.iterrows():
            if row_seam != seam:
                continue
            cells = [
                with_interval(
                    row[("mean", m)], row[("ci_low", m)], row[("ci_high", m)], units[m], currency
                )
                for m in ("leads_lost", "arr_lost", "horizon_revenue_lost")
            ]
            table.add_row(SEAM_TITLES.get(int(seam), str(seam)) if first else "", reason, *cells)
            first = False
        table.add_section()
    return table


def _metrics_table(summary: pd.DataFrame, currency: str, interval: str) -> Table:
    table = Table(title="Headline metrics", title_justify="left")
    table.add_column("metric")
    table.add_column(interval, justify="right")
    for _, row in summary.iterrows():
        if row["metric"] in FUNNEL_METRICS:
            continue
        table.add_row(
            row["metric"].replace("_", " "),
            with_interval(row["mean"], row["ci_low"], row["ci_high"], row["unit"], currency),
        )
    return table
