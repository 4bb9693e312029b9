"""Reports of the other experiments: a hiring plan, a grid sweep and a sensitivity tornado.

Each is one self-contained page with the same title block, escaping and print rules as
the run's report: the experiment's chart and table first, then how to read it.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from markupsafe import Markup

from funnelsim.experiment.plans import PlanComparison
from funnelsim.report import charts
from funnelsim.report.charts.parameters import parameter_label
from funnelsim.report.formatting import number, with_interval
from funnelsim.report.html.markup import chart, section, table
from funnelsim.report.html.page import page, scenario_block
from funnelsim.report.html.render import report_from_comparison
from funnelsim.report.labels import DisplayNames, hires_label, metric_label
from funnelsim.scenario.models import Scenario


def report_from_plan(plan: PlanComparison) -> str:
    """A hiring plan's report: the paired comparison and the planned headcount."""
    comparison = plan.comparison
    names = DisplayNames.of(comparison.baseline)
    label = hires_label(plan.hires, names)
    rows = [
        (
            names.team(str(row.team)),
            str(row.date),
            str(int(row.headcount_baseline)),
            str(int(row.headcount_plan)),
        )
        for row in plan.headcount().itertuples(index=False)
    ]
    headcount = section(
        "headcount",
        "Planned headcount",
        table(
            ["team", "from", "baseline", "plan"],
            rows,
            numeric=(2, 3),
            caption="Headcount by the plan alone, before attrition and vacations",
        ),
    )
    return report_from_comparison(comparison, label, extra_sections=[headcount])


def report_from_sweep(
    table_data: pd.DataFrame,
    scenario: Scenario,
    paths: Sequence[str],
    replications: int,
    seed: int,
    confidence: float,
) -> str:
    """A grid sweep's report: net value gain against the first parameter (a line per value
    of the second), and every point with its interval."""
    currency = scenario.currency
    names = DisplayNames.of(scenario)
    by = paths[1] if len(paths) > 1 else None
    headings = [parameter_label(path, currency, names) for path in paths]
    figure = chart(
        lambda ax: charts.sweep(table_data, paths[0], currency=currency, by=by, ax=ax, names=names),
        (9.0, 4.2),
        f"Net value gain against {headings[0]}",
    )
    rows = []
    for record in table_data.to_dict("records"):
        point = ["base" if record["is_base"] else f"{record[p]:g}" for p in paths]
        rows.append(
            (
                *point,
                _cell(record, "horizon_revenue", currency),
                _cell(record, "total_cost", currency),
                _cell(record, "net_gain", currency),
                "★ best" if record["best"] else "",
            )
        )
    header = [*headings, "revenue within the horizon", "total cost", "net value gain", ""]
    numeric = tuple(range(len(paths), len(paths) + 3))
    body = section(
        "sweep",
        "Sweep",
        Markup(
            "<p>Every point ran on the base's random numbers; the gain is paired against the "
            "base. Net value is gross profit (revenue × gross margin) minus cost. The star marks "
            "the highest mean gain; check its interval against its neighbours' before choosing."
            "</p>"
        ),
        figure,
        table(header, rows, numeric=numeric, caption=f"{confidence:.0%} intervals"),
    )
    block = scenario_block(scenario, "Parameter sweep", replications, confidence, seed)
    return page(block, [body])


def report_from_sensitivity(
    table_data: pd.DataFrame,
    scenario: Scenario,
    replications: int,
    seed: int,
    confidence: float,
) -> str:
    """A one-at-a-time sensitivity report: the tornado and each parameter's effects."""
    currency = scenario.currency
    metric = str(table_data["metric"].iloc[0]) if len(table_data) else "metric"
    unit = currency if metric not in {"won_deals", "active_customers"} else "deals"
    names = DisplayNames.of(scenario)
    figure = chart(
        lambda ax: charts.tornado(table_data, currency, ax=ax, names=names),
        (9.0, max(3.0, 0.42 * len(table_data) + 1.6)),
        f"Sensitivity of {metric_label(metric)}",
    )
    rows = [
        (
            parameter_label(str(row.parameter), currency, names),
            f"{row.base_value:g}",
            f"{row.low_value:g} → "
            + with_interval(row.low_effect, row.low_ci_low, row.low_ci_high, unit, currency),
            f"{row.high_value:g} → "
            + with_interval(row.high_effect, row.high_ci_low, row.high_ci_high, unit, currency),
            number(row.swing, unit, currency),
        )
        for row in table_data.itertuples(index=False)
    ]
    body = section(
        "sensitivity",
        f"What moves {metric_label(metric).lower()}",
        Markup(
            "<p>Each parameter moved down and up on its own, every run paired with the base on "
            "the same random numbers; the widest swing is on top.</p>"
        ),
        figure,
        table(
            ["parameter", "base", "down → effect", "up → effect", "swing"],
            rows,
            numeric=(1, 2, 3, 4),
            caption=f"{confidence:.0%} intervals",
        ),
    )
    block = scenario_block(scenario, "Sensitivity", replications, confidence, seed)
    return page(block, [body])


def _cell(record: dict, name: str, currency: str) -> str:
    return with_interval(
        record[name], record[f"{name}_ci_low"], record[f"{name}_ci_high"], currency, currency
    )
