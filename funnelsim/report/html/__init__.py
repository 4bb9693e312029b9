"""The self-contained HTML report: a plain-language summary, charts and tables in one file."""

# Styles are inline and charts are inline base64 PNGs, so the file makes no network fetch
# and references nothing outside itself: a consultant can e-mail it. It reads on a laptop
# screen and prints to PDF on few pages (no forced page breaks; tables and charts are kept
# whole). Every result carries its confidence
# interval when the run has two or more replications; with one, the report says so.

from funnelsim.report.html.experiments import (
    report_from_plan,
    report_from_sensitivity,
    report_from_sweep,
)
from funnelsim.report.html.files import check_report_path, write_report
from funnelsim.report.html.markup import DPI
from funnelsim.report.html.page import CSS, SECTION_RE, TEMPLATE
from funnelsim.report.html.render import (
    render_report,
    report_from_comparison,
    report_from_decision,
    report_from_directory,
    report_from_results,
)
from funnelsim.report.html.summary import HEADLINE_METRICS, SummaryFacts, summary_facts
from funnelsim.report.labels import METRIC_LABELS

__all__ = [
    "CSS",
    "DPI",
    "HEADLINE_METRICS",
    "METRIC_LABELS",
    "SECTION_RE",
    "TEMPLATE",
    "SummaryFacts",
    "check_report_path",
    "render_report",
    "report_from_comparison",
    "report_from_decision",
    "report_from_directory",
    "report_from_plan",
    "report_from_results",
    "report_from_sensitivity",
    "report_from_sweep",
    "summary_facts",
    "write_report",
]
