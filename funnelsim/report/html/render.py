"""The report of a run, a results directory or a comparison, as one HTML string."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from funnelsim.experiment.compare import Comparison
from funnelsim.experiment.options import Decision
from funnelsim.report.data import ReportData
from funnelsim.report.html import sections as s
from funnelsim.report.html.decision import decision_section, option_sections
from funnelsim.report.html.page import page, title_block
from funnelsim.report.html.summary import summary_facts
from funnelsim.report.labels import DisplayNames
from funnelsim.results import Results


def report_from_results(
    results: Results,
    comparisons: Mapping[str, Comparison] | None = None,
    leaks: pd.DataFrame | None = None,
) -> str:
    """The report of an in-memory run (with what-ifs and seam fixes when given)."""
    return render_report(ReportData.from_results(results), comparisons, leaks)


def report_from_directory(path: str | Path) -> str:
    """The report of a results directory written by ``funnelsim run``."""
    return render_report(ReportData.from_directory(path))


def report_from_comparison(
    comparison: Comparison,
    label: str | None = None,
    extra_sections: Sequence[Markup] = (),
) -> str:
    """The report of a paired comparison: the baseline's run and the what-if against it
    (``extra_sections`` follow the what-if, e.g. a hiring plan's headcount)."""
    baseline = Results(
        scenario=comparison.baseline,
        seed=comparison.seed,
        replications=comparison.baseline_runs,
        confidence=comparison.confidence,
    )
    name = label or DisplayNames.of(comparison.variant).title
    return render_report(
        ReportData.from_results(baseline), {name: comparison}, extra_sections=extra_sections
    )


def report_from_decision(decision: Decision, labels: Mapping[str, str] | None = None) -> str:
    """The report of several options against a base: the decision table first, then each
    option's before/after charts and differences, then the base as it is.

    ``labels`` give options a display name other than their name in the decision.
    """
    names = {name: (labels or {}).get(name, name) for name in decision.options}
    baseline = Results(
        scenario=decision.baseline,
        seed=decision.seed,
        replications=decision.baseline_runs,
        confidence=decision.confidence,
    )
    data = ReportData.from_results(baseline)
    comparisons = {names[name]: c for name, c in decision.comparisons.items()}
    facts = summary_facts(data, comparisons)
    sections = [
        decision_section(decision, names),
        *option_sections(decision, names),
        s.summary_section(data, facts, heading="The base as it is"),
        s.leakage_section(data, None),
        s.metrics_section(data),
        s.method_section(data),
    ]
    return page(title_block(data, "Options compared"), sections)


def render_report(
    data: ReportData,
    comparisons: Mapping[str, Comparison] | None = None,
    leaks: pd.DataFrame | None = None,
    extra_sections: Sequence[Markup] = (),
) -> str:
    """The whole report as one HTML string."""
    facts = summary_facts(data, comparisons, leaks)
    sections = [
        s.summary_section(data, facts),
        s.leakage_section(data, leaks),
        s.funnel_section(data),
    ]
    if data.ledgers is not None:
        sections += [
            s.origins_section(data),
            s.speed_section(data),
            s.teams_section(data),
            s.pipeline_section(data),
        ]
    if data.timeseries_bands is not None:
        sections.append(s.calendar_section(data))
    if data.forecast is not None:
        sections.append(s.forecast_section(data))
    if comparisons:
        sections.append(s.whatif_section(data, comparisons))
    sections += list(extra_sections)
    # How to read it before the full metrics table: the table is the appendix, and printed
    # it then starts a page of its own instead of leaving the notes a page alone.
    sections.append(s.method_section(data))
    sections.append(s.metrics_section(data))
    return page(title_block(data), sections)
