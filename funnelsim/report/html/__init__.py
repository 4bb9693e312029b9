"""The self-contained HTML report: a plain-language summary, charts and tables in one file.

The public names are imported on first use (PEP 562): a command that only checks its
``--report`` path (``check_report_path``) loads neither matplotlib nor the charts.
"""

# Styles are inline and charts are inline base64 PNGs, so the file makes no network fetch
# and references nothing outside itself: a consultant can e-mail it. It reads on a laptop
# screen and prints to PDF on few pages (no forced page breaks; tables and charts are kept
# whole). Every result carries its confidence
# interval when the run has two or more replications; with one, the report says so.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

_EXPORTS = {
    "CSS": "funnelsim.report.html.page",
    "DPI": "funnelsim.report.html.markup",
    "HEADLINE_METRICS": "funnelsim.report.html.summary",
    "METRIC_LABELS": "funnelsim.report.labels",
    "SECTION_RE": "funnelsim.report.html.page",
    "TEMPLATE": "funnelsim.report.html.page",
    "SummaryFacts": "funnelsim.report.html.summary",
    "check_report_path": "funnelsim.report.html.files",
    "render_report": "funnelsim.report.html.render",
    "report_from_comparison": "funnelsim.report.html.render",
    "report_from_decision": "funnelsim.report.html.render",
    "report_from_directory": "funnelsim.report.html.render",
    "report_from_plan": "funnelsim.report.html.experiments",
    "report_from_results": "funnelsim.report.html.render",
    "report_from_sensitivity": "funnelsim.report.html.experiments",
    "report_from_sweep": "funnelsim.report.html.experiments",
    "summary_facts": "funnelsim.report.html.summary",
    "write_report": "funnelsim.report.html.files",
}

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


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'funnelsim.report.html' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
