"""The terminal view of a run: funnel, leakage by seam and reason, headline metrics."""

from __future__ import annotations

import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from funnelsim.report.decisions import (
    DECISION_NOTE,
    decision_header,
    decision_rows,
    overall_verdict,
    resolution_rule,
)
from funnelsim.report.formatting import with_interval
from funnelsim.report.labels import DisplayNames, metric_heading, metric_label, reason_label
from funnelsim.results import Results

FUNNEL_METRICS = ("leads", "mqls", "sqls", "opportunities", "won_deals", "active_customers")
ATTRIBUTED_NOTE = (
    "Leakage here is attributed and capacity-aware: a lost lead is worth what comparable "
    "leads of this run earned, scaled down to the share of the lost flow that the downstream "
    "teams' idle capacity could have absorbed; realised + leakage = potential revenue. It is "
    "an upper bound (idle paid hours used perfectly, no queueing): what fixing a seam would "
    "bring is the seam-fix counterfactual (run --leaks, funnelsim leaks). Slow "
    "quote-to-cash is deferred (deferred revenue, deferred cash), not lost. Net value = gross "
    "profit (revenue x gross margin) - total cost."
)
SEAM_TITLES = {
    1: "1 mktg → sales",
    2: "2 sales → finance",
    3: "3 finance → CS",
    4: "4 renewal",
}


def print_results(results: Results, console: Console) -> None:
    """Print the run's funnel, leakage and headline tables."""
    scenario = results.scenario
    reps = results.n_replications
    interval = f"mean [{results.confidence:.0%} CI]" if reps > 1 else "value"
    console.print(
        f"[bold]{escape(DisplayNames.of(scenario).title)}[/bold]: {scenario.horizon_days} days, "
        f"{reps} replication{'s' if reps != 1 else ''}, seed {results.seed}"
    )
    summary = results.summary()
    console.print(_funnel_table(summary, scenario.currency, interval))
    console.print(_leakage_table(results.leakage_summary(), scenario.currency, interval))
    console.print(_metrics_table(summary, scenario.currency, interval))
    console.print(f"[dim]{ATTRIBUTED_NOTE}[/dim]")


def print_warnings(lines: list[str], console: Console) -> None:
    """Print each warning (e.g. a saturated team) on one line."""
    for line in lines:
        console.print(f"[bold yellow]warning:[/bold yellow] {line}")


def _funnel_table(summary: pd.DataFrame, currency: str, interval: str) -> Table:
    table = Table(title="Funnel", title_justify="left")
    table.add_column("stage")
    table.add_column(interval, justify="right")
    rows = summary.set_index("metric")
    for metric in FUNNEL_METRICS:
        if metric in rows.index:
            row = rows.loc[metric]
            _add_row(
                table,
                metric_label(metric),
                with_interval(row["mean"], row["ci_low"], row["ci_high"], row["unit"], currency),
            )
    return table


def _leakage_table(leakage: pd.DataFrame, currency: str, interval: str) -> Table:
    table = Table(title=f"Leakage by seam and reason ({interval})", title_justify="left")
    for name, justify in (
        ("seam", "left"),
        ("reason", "left"),
        ("leads lost / deals hit", "right"),
        ("ARR lost", "right"),
        ("horizon revenue lost", "right"),
    ):
        table.add_column(name, justify=justify)
    units = {"deals_affected": "leads", "arr_lost": currency, "horizon_revenue_lost": currency}
    indexed = leakage.set_index(["seam", "reason", "measure"])
    pairs = list(dict.fromkeys(zip(leakage["seam"], leakage["reason"], strict=True)))
    for seam in sorted({seam for seam, _ in pairs}):
        reasons = [reason for s, reason in pairs if s == seam]
        position = 0
        for reason in reasons:
            rows = [indexed.loc[(seam, reason, measure)] for measure in units]
            if all(_is_zero(row) for row in rows):  # nothing lost for this reason
                continue
            cells = [
                with_interval(row["mean"], row["ci_low"], row["ci_high"], unit, currency)
                for row, unit in zip(rows, units.values(), strict=True)
            ]
            title = SEAM_TITLES.get(int(seam), str(seam)) if position == 0 else ""
            _add_row(table, title, reason_label(reason), *cells)
            position += 1
        if position:
            table.add_section()
    return table


def _is_zero(row: pd.Series) -> bool:
    """A leakage cell that is exactly zero in every replication."""
    return all(row[key] == 0 for key in ("mean", "ci_low", "ci_high"))


def _metrics_table(summary: pd.DataFrame, currency: str, interval: str) -> Table:
    table = Table(title="Headline metrics", title_justify="left")
    table.add_column("metric")
    table.add_column(interval, justify="right")
    for _, row in summary.iterrows():
        if row["metric"] in FUNNEL_METRICS:
            continue
        _add_row(
            table,
            metric_heading(row["metric"], row["unit"], currency),
            with_interval(row["mean"], row["ci_low"], row["ci_high"], row["unit"], currency),
        )
    return table


def print_headcount(
    headcount: pd.DataFrame, console: Console, names: DisplayNames | None = None
) -> None:
    """The planned headcount over time (before attrition and vacations), baseline and plan."""
    names = names or DisplayNames(title="")
    table = Table(title="Planned headcount (before attrition and vacations)", title_justify="left")
    for name, justify in (
        ("team", "left"),
        ("from", "left"),
        ("baseline", "right"),
        ("plan", "right"),
    ):
        table.add_column(name, justify=justify)
    for _, row in headcount.iterrows():
        _add_row(
            table,
            names.team(str(row["team"])),
            str(row["date"]),
            str(int(row["headcount_baseline"])),
            str(int(row["headcount_plan"])),
        )
    console.print(table)


def print_comparison(
    summary: pd.DataFrame,
    names: tuple[str, str],
    currency: str,
    console: Console,
    confidence: float,
) -> None:
    """Paired differences per metric, with how much narrower pairing made the interval."""
    table = Table(
        title=f"{escape(names[1])} vs {escape(names[0])}: paired difference [{confidence:.0%} CI]",
        title_justify="left",
    )
    for name, justify in (
        ("metric", "left"),
        (escape(names[0]), "right"),
        (escape(names[1]), "right"),
        ("difference", "right"),
        ("unpaired CI would be", "right"),
        ("narrower by", "right"),
    ):
        table.add_column(name, justify=justify)
    for _, row in summary.iterrows():
        unit = row["unit"]
        _add_row(
            table,
            metric_heading(row["metric"], unit, currency),
            with_interval(row["baseline"], float("nan"), float("nan"), unit, currency),
            with_interval(row["variant"], float("nan"), float("nan"), unit, currency),
            with_interval(row["difference"], row["ci_low"], row["ci_high"], unit, currency),
            with_interval(
                float("nan"), row["unpaired_ci_low"], row["unpaired_ci_high"], unit, currency
            ).removeprefix("– "),
            "–" if pd.isna(row["narrowing"]) else f"{row['narrowing']:.1f}x",
        )
    console.print(table)


def print_decision(
    summary: pd.DataFrame, currency: str, console: Console, confidence: float
) -> None:
    """The decision table (options ranked by net value) and whether the ranking is resolved."""
    n = int(summary["replications"].iloc[0]) if len(summary) else 0
    table = Table(
        title=f"Options ranked by net value, each paired against the base ({n} replications)",
        title_justify="left",
    )
    for name in decision_header(confidence):
        table.add_column(name, justify="left" if name in {"option", "verdict"} else "right")
    for row in decision_rows(summary, currency):
        _add_row(table, *row)
    console.print(table)
    console.print(escape(overall_verdict(summary)))
    console.print(f"[dim]{escape(DECISION_NOTE)}[/dim]")
    console.print(f"[dim]{escape(resolution_rule(summary, confidence))}[/dim]")


def print_leaks(
    leaks: pd.DataFrame,
    currency: str,
    console: Console,
    confidence: float,
    names: DisplayNames | None = None,
) -> None:
    """Per seam, ranked: the counterfactual value of fixing it beside attributed leakage."""
    names = names or DisplayNames(title="")
    table = Table(
        title=f"What fixing each seam is worth [{confidence:.0%} CI]", title_justify="left"
    )
    for name, justify in (
        ("rank", "right"),
        ("seam", "left"),
        ("fix it: horizon revenue gained", "right"),
        ("fix it: ARR at horizon gained", "right"),
        ("attributed: leads lost", "right"),
        ("attributed: horizon revenue lost", "right"),
        ("saturates", "left"),
    ):
        table.add_column(name, justify=justify)
    for _, row in leaks.iterrows():
        single = row.get("kind", "seam") == "seam"
        if not single and row["kind"] == "all":
            table.add_section()
        _add_row(
            table,
            str(row["rank"]) if single else "",
            f"{row['seam']} {row['seam_name']}" if single else str(row["seam_name"]),
            _cell(row, "counterfactual_horizon_revenue", currency, currency),
            _cell(row, "counterfactual_arr_at_horizon", currency, currency),
            _cell(row, "attributed_leads_lost", "leads", currency),
            _cell(row, "attributed_horizon_revenue_lost", currency, currency),
            names.team_list(_saturation(row)),
        )
    console.print(table)
    console.print(
        "[dim]Counterfactual: the paired difference against the same scenario with "
        "that seam made perfect (no delay, no handoff loss); fixes interact, so single fixes "
        "do not add up to all four together. Attributed: the value of the leads lost at that "
        "seam in the baseline itself, capacity-aware: an upper bound (idle paid hours used "
        "perfectly, no queueing) at today's capacity, so a fix can bring less. It can bring "
        "more where a perfect seam also lifts a capacity limit (no queue: fixing seam 2 frees "
        "the deal desk that caps seam 1) or pulls deferred revenue into the horizon; that is "
        "why all four together gain more than their attributed total. Saturates: the "
        "downstream team whose quarterly occupancy in the fixed run exceeds 90%.[/dim]"
    )


def print_sweep(
    table_data: pd.DataFrame,
    paths: list[str],
    currency: str,
    console: Console,
    confidence: float,
    names: DisplayNames | None = None,
) -> None:
    """One row per grid point; the best net value (gross profit − cost) gain is starred."""
    table = Table(
        title=(
            f"Sweep [{confidence:.0%} CI]; net value (gross profit − cost) = horizon revenue x "
            "gross margin - total cost"
        ),
        title_justify="left",
    )
    from funnelsim.report.charts.parameters import parameter_label  # sweep only: charts load

    headings = [parameter_label(path, currency, names) for path in paths]
    for name in [*headings, "revenue within the horizon", "total cost", "net value gain", "best"]:
        table.add_column(escape(name), justify="right")
    for _, row in table_data.iterrows():
        point = ["base" if row["is_base"] else str(row[p]) for p in paths]
        _add_row(
            table,
            *point,
            _cell(row, "horizon_revenue", currency, currency),
            _cell(row, "total_cost", currency, currency),
            _cell(row, "net_gain", currency, currency),
            "★" if row["best"] else "",
        )
    console.print(table)


def print_sensitivity(
    table_data: pd.DataFrame,
    currency: str,
    console: Console,
    confidence: float,
    names: DisplayNames | None = None,
) -> None:
    """Tornado as a table: effect of moving each parameter down and up."""
    from funnelsim.report.charts.parameters import parameter_label  # sensitivity only

    metric = table_data["metric"].iloc[0] if len(table_data) else "metric"
    unit = currency if metric not in {"won_deals", "active_customers"} else "deals"
    title = f"Sensitivity of {escape(metric_heading(metric, unit, currency))} [{confidence:.0%} CI]"
    table = Table(title=title, title_justify="left")
    for name in ("parameter", "base", "low → effect", "high → effect", "swing"):
        table.add_column(name, justify="left" if name == "parameter" else "right")
    for _, row in table_data.iterrows():
        _add_row(
            table,
            parameter_label(row["parameter"], currency, names),
            f"{row['base_value']:g}",
            f"{row['low_value']:g} → "
            + with_interval(
                row["low_effect"], row["low_ci_low"], row["low_ci_high"], unit, currency
            ),
            f"{row['high_value']:g} → "
            + with_interval(
                row["high_effect"], row["high_ci_low"], row["high_ci_high"], unit, currency
            ),
            with_interval(row["swing"], float("nan"), float("nan"), unit, currency),
        )
    console.print(table)


def _add_row(table: Table, *cells: str) -> None:
    """Add a row of plain text: names, units and values are never read as markup."""
    table.add_row(*(escape(str(cell)) for cell in cells))


def _cell(row: pd.Series, name: str, unit: str, currency: str) -> str:
    return with_interval(row[name], row[f"{name}_ci_low"], row[f"{name}_ci_high"], unit, currency)


def _saturation(row: pd.Series) -> str:
    """The teams a fix saturates with their peak quarterly occupancy, or '' when none."""
    teams = row.get("saturated_teams", "")
    return teams if isinstance(teams, str) else ""
