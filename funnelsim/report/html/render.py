"""The report of a run, a results directory or a comparison, as one HTML string."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from funnelsim.experiment.compare import Comparison
from funnelsim.report.data import ReportData
from funnelsim.report.html import sections as s
from funnelsim.report.html.page import page
from funnelsim.report.html.summary import summary_facts
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


def report_from_comparison(comparison: Comparison, label: str | None = None) -> str:
    """The report of a paired comparison: the baseline's run and the what-if against it."""
    baseline = Results(
        scenario=comparison.baseline,
        seed=comparison.seed,
        replications=comparison.baseline_runs,
        confidence=comparison.confidence,
    )
    name = label or comparison.variant.name
    return render_report(ReportData.from_results(baseline), {name: comparison})


def render_report(
    data: ReportData,
    comparisons: Mapping[str, Comparison] | None = None,
    leaks: pd.DataFrame | None = None,
) -> str:
    """The whole report as one HTML string."""
    facts = summary_facts(data, comparisons, leaks)
    sections = [
        s.summary_section(data, facts),
        s.leakage_section(data, leaks),
        s.funnel_section(data),
    ]
    if data.ledgers is not None:
        sections += [s.speed_section(data), s.teams_section(data), s.pipeline_section(data)]
    if data.timeseries_bands is not None:
        sections.append(s.calendar_section(data))
    if data.forecast is not None:
        sections.append(s.forecast_section(data))
    if comparisons:
        sections.append(s.whatif_section(data, comparisons))
    sections.append(s.metrics_section(data))
    sections.append(s.method_section(data))
    return page(data, sections)
