"""The report sections of a decision: the ranked table first, then one section per option.

An option's section says what it changes, draws the before/after charts of what the
change acts on (speed to lead and team load for seam 1, quote-to-cash for seam 2,
retention for seams 3-4; see :mod:`funnelsim.experiment.changes`), its paired
differences one panel per unit, and a compact table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from markupsafe import Markup

from funnelsim.experiment.changes import (
    QUOTE_TO_CASH,
    RETENTION,
    SPEED_TO_LEAD,
    TEAM_LOAD,
    Change,
    acts_on,
    changes,
)
from funnelsim.experiment.options import NO_CHANGE, Decision
from funnelsim.report.charts import decision as decision_chart
from funnelsim.report.charts.options import (
    quote_to_cash_overlay,
    response_overlay,
    retention_overlay,
    team_load_overlay,
)
from funnelsim.report.charts.parameters import parameter_label
from funnelsim.report.data import team_colors
from funnelsim.report.decisions import (
    DECISION_NOTE,
    decision_header,
    decision_rows,
    overall_verdict,
    resolution_rule,
)
from funnelsim.report.html.markup import chart, pair, section, table
from funnelsim.report.html.sections import forest_figure
from funnelsim.report.html.tables import comparison_table
from funnelsim.report.labels import DisplayNames
from funnelsim.scenario.models import Scenario

MAX_CHANGES_SHOWN = 8
OPTION_METRICS = (
    "horizon_revenue",
    "arr_at_horizon",
    "won_deals",
    "active_customers",
    "total_cost",
    "net_value",
    "cac",
    "median_first_response_hours",
    "sla_compliance",
    "median_quote_to_cash_days",
    "grr",
    "nrr",
    "seam1_leads_lost",
    "seam2_leads_lost",
    "seam3_leads_lost",
    "seam4_leads_lost",
    "peak_cash_need",
)


def decision_section(decision: Decision, names: Mapping[str, str]) -> Markup:
    """The decision table, its chart and whether the ranking is resolved."""
    currency = decision.baseline.currency
    summary = decision.summary()
    shown = summary.assign(
        option=summary["option"].map(lambda n: names.get(n, n)),
        next_option=summary["next_option"].map(lambda n: names.get(n, n)),
    )
    return section(
        "decision",
        "Options ranked by net value",
        Markup(
            "<p>Each option ran on the same random numbers as the base (paired), over {} "
            "replications. Extra cost and revenue gain are over the {} days simulated; net "
            "value is gross profit (revenue × gross margin) minus cost.</p>"
        ).format(decision.replications, decision.baseline.horizon_days),
        table(
            list(decision_header(decision.confidence)),
            decision_rows(shown, currency),
            numeric=(0, 2, 3, 4),
            caption=f"Paired against the base, {decision.confidence:.0%} intervals",
        ),
        Markup('<p class="verdict">{}</p>').format(overall_verdict(shown)),
        Markup('<p class="note">{} {}</p>').format(
            DECISION_NOTE, resolution_rule(shown, decision.confidence)
        ),
        chart(
            lambda ax: decision_chart(shown, currency, ax=ax),
            (9.0, 1.3 + 0.42 * len(shown)),
            "Net value of each option against the base",
        ),
    )


def option_sections(decision: Decision, names: Mapping[str, str]) -> list[Markup]:
    """One section per option, best first: changes, before/after charts, differences."""
    sections = []
    ranked = [name for name in decision.ranking() if name != NO_CHANGE]
    for number, name in enumerate(ranked, start=1):
        sections.append(_option_section(decision, name, names.get(name, name), number))
    return sections


def _option_section(decision: Decision, name: str, shown: str, number: int) -> Markup:
    base, option = decision.baseline, decision.options[name]
    comparison = decision.comparison(name)
    summary = comparison.summary()
    base_name = DisplayNames.of(base).title
    figures = _overlays(decision, name, (f"{base_name} (before)", f"{shown} (after)"))
    warnings = [line for line in decision.warnings() if line.startswith(f"{name}: ")]
    parts: list[Any] = [_changes_list(changes(base, option), base)]
    if figures:
        parts.append(pair(*figures))
    else:
        parts.append(
            Markup(
                '<p class="note">This option changes no stage of the funnel, only costs or '
                "settings no chart shows.</p>"
            )
        )
    parts.append(forest_figure(summary, base.currency, f"Paired differences: {shown}"))
    parts.append(comparison_table(summary, base.currency, comparison, OPTION_METRICS))
    if warnings:
        items = Markup("").join(
            Markup("<li>{}</li>").format(line.removeprefix(f"{name}: ")) for line in warnings
        )
        parts.append(Markup('<p class="note">With this option:</p><ul>{}</ul>').format(items))
    return section(f"option-{number}", f"Option {number}: {shown}", *parts)


def _changes_list(found: list[Change], base: Scenario) -> Markup:
    """What the option changes, one line per field (the first few), in words with the
    scenario's display names."""
    if not found:
        return Markup('<p class="note">Identical to the base in every field.</p>')
    names = DisplayNames.of(base)
    items = [
        Markup("<li>{}: {} → {}</li>").format(
            parameter_label(change.path, base.currency, names),
            _value(change.before),
            _value(change.after),
        )
        for change in found[:MAX_CHANGES_SHOWN]
    ]
    more = len(found) - MAX_CHANGES_SHOWN
    if more > 0:
        items.append(Markup("<li>and {} more</li>").format(more))
    return Markup("<p>What it changes:</p><ul>{}</ul>").format(Markup("").join(items))


def _value(value: Any) -> str:
    """A scenario value as a reader sees it (a distribution by its parameters)."""
    if value is None:
        return "–"
    if isinstance(value, dict) and "dist" in value:
        params = ", ".join(
            f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in value.items()
            if k != "dist"
        )
        return f"{value['dist']} ({params})"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _overlays(decision: Decision, name: str, names: tuple[str, str]) -> list[Markup]:
    """The before/after charts of what the option's changes act on."""
    base, option = decision.baseline, decision.options[name]
    found = acts_on(base, option)
    before = [getattr(run, "views", {}) for run in decision.baseline_runs]
    after = [getattr(run, "views", {}) for run in decision.option_runs[name]]
    if not all(before) or not all(after):
        return []

    def views(runs: list[dict[str, Any]], key: str) -> list[Any]:
        return [run[key] for run in runs]

    figures = []
    size = (6.4, 4.0)
    if SPEED_TO_LEAD in found.views:
        sla = (base.seam1.sla_hours, option.seam1.sla_hours)
        figures.append(
            chart(
                lambda ax: response_overlay(
                    views(before, "response_hours"),
                    views(after, "response_hours"),
                    names,
                    sla,
                    ax=ax,
                ),
                size,
                "Speed to lead before and after",
            )
        )
    if TEAM_LOAD in found.views and found.teams:
        labels = {**DisplayNames.of(base).teams, **DisplayNames.of(option).teams}
        colors = team_colors(option, found.teams)
        figures.append(
            chart(
                lambda ax: team_load_overlay(
                    views(before, "team_load"),
                    views(after, "team_load"),
                    found.teams,
                    base.start_date,
                    labels,
                    colors,
                    ax=ax,
                ),
                size,
                "Team load before and after",
            )
        )
    if QUOTE_TO_CASH in found.views:
        figures.append(
            chart(
                lambda ax: quote_to_cash_overlay(
                    views(before, "quote_to_cash_days"),
                    views(after, "quote_to_cash_days"),
                    names,
                    ax=ax,
                ),
                size,
                "Quote-to-cash before and after",
            )
        )
    if RETENTION in found.views:
        figures.append(
            chart(
                lambda ax: retention_overlay(
                    views(before, "retention"),
                    views(after, "retention"),
                    names,
                    decision.confidence,
                    ax=ax,
                ),
                size,
                "Retention before and after",
            )
        )
    return figures


__all__ = ["decision_section", "option_sections"]
