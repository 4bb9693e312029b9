"""The report's sections: summary, leakage, funnel, speed to lead, teams, pipeline, what-ifs."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from markupsafe import Markup

from funnelsim.analysis.forecast import forecast_accuracy
from funnelsim.experiment.compare import Comparison
from funnelsim.report import charts
from funnelsim.report.data import ReportData
from funnelsim.report.html.markup import chart, figure_chart, formatter, pair, section
from funnelsim.report.html.summary import SummaryFacts
from funnelsim.report.html.tables import (
    comparison_table,
    forecast_table,
    leakage_table,
    leaks_table,
    metrics_table,
)
from funnelsim.report.plotting import PlotAccessor


def summary_section(data: ReportData, facts: SummaryFacts, heading: str = "Summary") -> Markup:
    """The summary: headline cards, a note on replications and the findings."""
    cards = summary_cards(data, facts)
    card_html = Markup("").join(
        Markup(
            '<div class="card"><div class="card-label">{}</div>'
            '<div class="card-value">{}</div></div>'
        ).format(label, value)
        for label, value in cards
    )
    if data.n_replications < 2:
        notice = Markup(
            '<p class="notice">This run has a single replication, so its figures are single-run '
            "estimates without confidence intervals. Rerun with <code>--reps 10</code> or more "
            "before relying on them.</p>"
        )
    else:
        notice = Markup(
            '<p class="note">Figures are means over {} independent replications; brackets give '
            "the {:.0%} confidence interval.</p>"
        ).format(data.n_replications, data.confidence)
    sentences = Markup("").join(Markup("<li>{}</li>").format(s) for s in facts.sentences)
    return section(
        "summary",
        heading,
        Markup('<div class="cards">{}</div>{}<ul class="findings">{}</ul>').format(
            card_html, notice, sentences
        ),
    )


def summary_cards(data: ReportData, facts: SummaryFacts) -> list[tuple[str, str]]:
    """The summary's cards (label, value): the best seam fix first when there is one.

    The leak card states revenue lost within the horizon and its share of the potential
    (realised + leakage), so it can never exceed what the company could have earned.
    """
    fmt = formatter(data.n_replications, data.currency)
    cards = []
    if facts.best_fix_value is not None:
        cards.append(
            (
                f"Fixing seam {facts.best_fix_seam} is worth (revenue within the horizon)",
                fmt(facts.best_fix_value, data.currency),
            )
        )
    cards += [
        ("Revenue within the horizon", fmt(facts.headline["horizon_revenue"], data.currency)),
        ("ARR at the horizon", fmt(facts.headline["arr_at_horizon"], data.currency)),
    ]
    if facts.worst_seam is not None and facts.worst_seam_revenue is not None:
        potential = facts.potential_revenue or np.nan
        share = facts.worst_seam_revenue[0] / potential if potential > 0 else np.nan
        cards.append(
            (
                f"Biggest hand-off leak: seam {facts.worst_seam}, revenue lost within the "
                f"horizon ({share:.0%} of the potential)",
                fmt(facts.worst_seam_revenue, data.currency),
            )
        )
    if facts.best_fix_value is None and facts.best_whatif_net is not None:
        cards.append(
            (
                f"{facts.best_whatif}: net value (gross profit − cost)",
                fmt(facts.best_whatif_net, data.currency, signed=True),
            )
        )
    elif facts.best_fix_value is None:
        cards.append(("Won deals", fmt(facts.headline["won_deals"], "deals")))
    return cards


def leakage_section(data: ReportData, leaks: pd.DataFrame | None) -> Markup:
    """Where revenue leaks: the waterfall, its table and what fixing each seam is worth."""
    waterfall = chart(
        PlotAccessor(data).waterfall,
        (9.5, 5.0),
        "Leakage waterfall from potential to realised revenue",
    )
    parts = [
        Markup(
            "<p>Potential revenue is what was realised plus the revenue the leaks cost within "
            "the horizon; each bar is one seam and reason (attributed leakage, capacity-aware, "
            "so the bars add up to the potential and never claim more than the teams could "
            "have handled). Whiskers show the interval of each loss. Slow quote-to-cash is not "
            "a bar: it defers revenue and cash (see the headline metrics), it does not lose "
            "them.</p>"
        ),
        waterfall,
        leakage_table(data),
    ]
    if leaks is not None and len(leaks):
        parts.append(Markup("<h3>What fixing each seam is worth</h3>"))
        parts.append(
            chart(
                lambda ax: charts.seam_fixes(leaks, data.currency, ax=ax),
                (9.0, 3.8),
                "Counterfactual value of fixing each seam",
            )
        )
        parts.append(leaks_table(leaks, data))
    return section("leakage", "Where revenue leaks", *parts)


def funnel_section(data: ReportData) -> Markup:
    """The funnel and, with ledgers, the flow of leads to their outcomes."""
    parts = [
        chart(
            PlotAccessor(data).funnel,
            (9.0, 4.2),
            "Funnel with stage-to-stage conversion",
        ),
    ]
    if data.ledgers is not None:
        parts.append(
            chart(
                PlotAccessor(data).flow,
                (10.0, 5.6),
                "Flow of leads across stages to their outcomes",
            )
        )
    else:
        parts.append(no_ledger_note())
        parts.append(saturation_note(data))
    return section("funnel", "The funnel", *parts)


def speed_section(data: ReportData) -> Markup:
    """Speed to lead: first-response times against the SLA."""
    sla = data.scenario.seam1.sla_hours if data.scenario is not None else None
    fmt = formatter(data.n_replications, data.currency)
    median = data.metric("median_first_response_hours")
    text = Markup("Median first response: <b>{}</b>.").format(fmt(median, "hours"))
    if sla is not None:
        clock = data.scenario.seam1.sla_clock if data.scenario is not None else "business"
        counted = "the SDR team's open hours" if clock == "business" else "wall-clock hours"
        text += Markup(
            " Share answered within the {:g}-hour SLA (counted in {}): <b>{}</b>."
        ).format(sla, counted, fmt(data.metric("sla_compliance"), "share"))
    else:
        text += " The scenario sets no response SLA."
    return section(
        "speed",
        "Speed to lead",
        Markup(
            "<p>{} Leads cool while they wait, in wall-clock time, nights and weekends "
            "included.</p>"
        ).format(text),
        chart(
            PlotAccessor(data).first_response,
            (9.0, 4.2),
            "First response time against the SLA",
        ),
    )


def origins_section(data: ReportData) -> Markup:
    """Where new business comes from: new ARR per source and per segment, each bar with
    its interval, leads and conversion (the starting book left out)."""
    plot = PlotAccessor(data)
    alts = {}
    for by in ("source", "segment"):
        table = data.origins(by)
        rows = table[table["measure"] == "booked_arr"].sort_values("mean", ascending=False)
        alts[by] = f"New ARR booked by {by}, largest first: " + ", ".join(rows["label"])
    return section(
        "origins",
        "Where new business comes from",
        Markup(
            '<p class="note">New ARR booked within the horizon from the leads the run created '
            "(the starting book left out), mean per run with its {:.0%} interval; beside each "
            "bar its leads and the share of them that became customers. Per replication in "
            "<code>results.by_source()</code> and <code>results.by_segment()</code>.</p>"
        ).format(data.confidence),
        pair(
            chart(lambda ax: plot.by_source(ax=ax), (6.4, 3.4), alts["source"]),
            chart(lambda ax: plot.by_segment(ax=ax), (6.4, 3.4), alts["segment"]),
        ),
    )


def teams_section(data: ReportData) -> Markup:
    """Team occupancy and queues over time."""
    plot = PlotAccessor(data)
    charts_html = pair(
        *(
            chart(
                lambda ax, m=measure: plot.teams(measure=m, ax=ax),
                (6.4, 4.0),
                f"Team {measure.replace('_', ' ')} over time",
            )
            for measure in ("occupancy", "queue_length")
        )
    )
    return section(
        "teams",
        "Teams: load and queues",
        Markup(
            "<p>Each team is coloured as the seam it serves. Lines are weekly means over the "
            "replications, bands their interval.</p>"
        ),
        saturation_note(data),
        charts_html,
    )


def saturation_note(data: ReportData) -> Markup:
    """One line per team busy >= 90% for a quarter, naming its queue (empty when none)."""
    lines = data.saturation_warnings()
    if not lines:
        return Markup("")
    items = Markup("").join(Markup("<li>{}</li>").format(line) for line in lines)
    return Markup(
        '<p class="note">Saturated teams cap what any upstream fix is worth; work waiting '
        "in their queues cools:</p><ul>{}</ul>"
    ).format(items)


def pipeline_section(data: ReportData) -> Markup:
    """Open pipeline and value won per quarter."""
    return section(
        "pipeline",
        "Pipeline over time",
        chart(
            PlotAccessor(data).pipeline,
            (9.0, 4.0),
            "Open pipeline and value won per quarter",
        ),
    )


def calendar_section(data: ReportData) -> Markup:
    """Monthly results on the calendar as fan charts: ARR, revenue and bookings, pipeline."""
    plot = PlotAccessor(data)
    return section(
        "calendar",
        "Month by month",
        Markup(
            '<p class="note">Calendar months from the start date, the starting book included. '
            "Lines are means over replications; the dark band is the {:.0%} interval of the "
            "mean, the light band the 10th-90th percentile of single replications. The table "
            "behind them is <code>timeseries.csv</code>.</p>"
        ).format(data.confidence),
        chart(lambda ax: plot.timeseries(("arr_end",), ax=ax), (9.0, 3.6), "ARR by month"),
        chart(
            lambda ax: plot.timeseries(("revenue", "new_bookings"), ax=ax),
            (9.0, 3.6),
            "Revenue and new bookings by month",
        ),
        chart(lambda ax: plot.timeseries(("pipeline",), ax=ax), (9.0, 3.6), "Open pipeline"),
    )


def forecast_section(data: ReportData) -> Markup:
    """Forecasts made at each quarter's start against the actuals, with their errors."""
    accuracy = forecast_accuracy(data.forecast, data.confidence)
    coverage = accuracy.set_index("method").loc["band_coverage"]
    return section(
        "forecast",
        "Forecast against actual",
        Markup(
            '<p class="note">At each calendar quarter\'s start: the stage-weighted forecast a '
            "CRM shows (each open deal due in the quarter at its stage's weight), the same with "
            "weights fitted on the run's own quarters, and the simulator's Monte Carlo forecast "
            "from the open pipeline and the expected inflow. The actual fell inside the Monte "
            "Carlo P10-P90 band in {} of {} quarters [{} – {}]; a well-calibrated band covers "
            "about 80%. The tables behind this are <code>forecast.csv</code> and "
            "<code>forecast_accuracy.csv</code>.</p>"
        ).format(
            f"{coverage['mape']:.0%}",
            int(coverage["quarters"]),
            f"{coverage['mape_low']:.0%}",
            f"{coverage['mape_high']:.0%}",
        ),
        chart(PlotAccessor(data).forecast, (9.0, 4.0), "Forecasts against actuals by quarter"),
        forecast_table(accuracy, data),
    )


def whatif_section(data: ReportData, comparisons: Mapping[str, Comparison]) -> Markup:
    """Each what-if's paired differences against the baseline, chart and table."""
    parts = []
    for name, comparison in comparisons.items():
        summary = comparison.summary()
        parts.append(Markup("<h3>{}</h3>").format(name))
        parts.append(forest_figure(summary, data.currency, f"Paired differences: {name}"))
        parts.append(comparison_table(summary, data.currency, comparison))
    return section("whatifs", "What-ifs against the baseline", *parts)


def forest_figure(summary: pd.DataFrame, currency: str, alt: str) -> Markup:
    """The forest of a comparison's decision metrics, one panel per unit."""
    groups = charts.forest_groups(summary, currency)
    rows = sum(len(table) for _, _, table in groups)
    return figure_chart(
        lambda figure: charts.forest_panels(summary, currency, figure=figure),
        (9.0, 0.9 + 0.3 * rows + 0.5 * len(groups)),
        alt,
    )


def metrics_section(data: ReportData) -> Markup:
    """Every headline metric with its interval."""
    return section("metrics", "Headline metrics", metrics_table(data))


def method_section(data: ReportData) -> Markup:
    """How to read the report: seams, attributed and counterfactual values, intervals."""
    return section(
        "method",
        "How to read this report",
        Markup(
            "<ul>"
            "<li><b>Seams</b> are the hand-offs between departments: 1 marketing → sales, "
            "2 sales → finance (quote-to-cash), 3 finance → customer success, 4 renewal.</li>"
            "<li><b>Attributed leakage</b> is the value of the leads lost at a seam, estimated "
            "from the same run and capacity-aware: each lost lead is worth what comparable "
            "leads of the run earned per unit of deal value (same segment and quarter), scaled "
            "down by the share of the lost flow that the downstream teams' idle capacity could "
            "have absorbed. Realised revenue plus attributed leakage is the "
            "<b>potential</b>. It is an upper bound: it assumes the idle paid hours are used "
            "perfectly, with no queueing; what fixing a seam would bring is its counterfactual "
            "below.</li>"
            "<li><b>Waiting costs leads.</b> A lead waiting for a first response can go cold, "
            "and a qualified lead waiting for an AE can be lost as not followed up, each by "
            "its own curve in wall-clock time. A team busy 90% or more for a quarter is "
            "flagged as saturated: a fix upstream of it mostly lengthens its queue.</li>"
            "<li><b>Counterfactual</b> values (seam fixes, what-ifs) are paired differences: the "
            "same replications rerun with the change, every lead meeting the same random draws, "
            "so the difference is measured with little noise. Fixes interact, so single seam "
            "fixes do not add up to all four fixed together. Where a fix floods a downstream "
            "team, the counterfactual is the honest figure and the team that saturates (above "
            "90% occupancy in a quarter) is named.</li>"
            "<li><b>Deferred</b> revenue and cash are what a slow quote-to-cash moves past the "
            "horizon (the term starts at the invoice); they arrive later and are not lost.</li>"
            "<li><b>Won deals</b> are booked deals: a deal that fell through in contract review "
            "is not won. <b>Net value</b> is gross profit (revenue × the scenario's gross "
            "margin) minus total cost.</li>"
            "<li>Intervals are {:.0%} Student-t confidence intervals over independent "
            "replications. ARR is annual; revenue within the horizon is what is recognised in "
            "the {} days simulated.</li>"
            "<li>This is a simulation of the scenario as described; its figures are as good as "
            "the inputs. Replace assumptions with CRM data where it exists.</li>"
            "</ul>"
        ).format(data.confidence, data.horizon_days),
    )


def no_ledger_note() -> Markup:
    """Said where lead-level charts would go when the run kept no ledgers."""
    return Markup(
        '<p class="note">The lead-level charts (flow, speed to lead, teams, pipeline) need '
        "the run's ledgers, which were not kept for this report.</p>"
    )
