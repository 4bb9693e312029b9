"""The self-contained HTML report: a plain-language summary, charts and tables in one file.

Styles are inline and charts are inline base64 PNGs, so the file makes no network fetch
and references nothing outside itself: a consultant can e-mail it. It reads on a laptop
screen and prints to PDF with one section per page. Every result carries its confidence
interval when the run has two or more replications; with one, the report says so.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from funnelsim.experiment.compare import Comparison
from funnelsim.output import OutputExistsError
from funnelsim.report import charts
from funnelsim.report.data import (
    REASON_LABELS,
    SEAM_NAMES,
    ReportData,
    flow_table,
    funnel_table,
    pipeline_table,
    response_hours,
    seam_leakage,
    team_colors,
    total_leakage,
)
from funnelsim.report.formatting import number, with_interval
from funnelsim.results import Results

DPI = 150
HEADLINE_METRICS: tuple[str, ...] = (
    "horizon_revenue",
    "arr_at_horizon",
    "booked_arr",
    "won_deals",
    "active_customers",
)
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
    "nrr": "Net revenue retention",
    "grr": "Gross revenue retention",
    "cac": "Customer acquisition cost (CAC)",
    "cac_payback_months": "CAC payback",
    "forecast_mape": "Quarterly forecast error (MAPE)",
    "lead_to_customer": "Lead-to-customer conversion",
    "total_cost": "Total cost over the horizon",
    "net_value": "Net value (revenue − cost)",
}
Interval = tuple[float, float, float]
SECTION_RE = re.compile(r'<section id="([a-z]+)"><h2>(.*?)</h2>')


@dataclass
class SummaryFacts:
    """The numbers the plain-language summary states, kept apart so tests can check them."""

    currency: str
    replications: int
    confidence: float
    headline: dict[str, Interval]
    worst_seam: int | None = None
    worst_seam_arr: Interval | None = None
    worst_reason: str | None = None
    worst_reason_arr: Interval | None = None
    total_arr_lost: Interval | None = None
    total_revenue_lost: Interval | None = None
    best_fix_seam: int | None = None
    best_fix_value: Interval | None = None
    best_whatif: str | None = None
    best_whatif_revenue: Interval | None = None
    best_whatif_net: Interval | None = None
    sentences: list[str] = field(default_factory=list)


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


def write_report(text: str, path: str | Path, force: bool = False) -> Path:
    """Write the report atomically; refuse to replace an existing file unless ``force``."""
    path = Path(path)
    check_report_path(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """The process umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def check_report_path(path: str | Path, force: bool) -> None:
    """Refuse early when the report file exists (without ``force``) or is a directory."""
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"{path}: is a directory; give a file name such as report.html")
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists; pass --force to replace it")


def summary_facts(
    data: ReportData,
    comparisons: Mapping[str, Comparison] | None = None,
    leaks: pd.DataFrame | None = None,
) -> SummaryFacts:
    """Compute the summary's figures (and its sentences) from the results."""
    currency = data.currency
    facts = SummaryFacts(
        currency=currency,
        replications=data.n_replications,
        confidence=data.confidence,
        headline={name: data.metric(name) for name in HEADLINE_METRICS},
    )
    fmt = _formatter(data.n_replications, currency)
    revenue, arr, customers = (
        facts.headline["horizon_revenue"],
        facts.headline["arr_at_horizon"],
        facts.headline["active_customers"],
    )
    facts.sentences.append(
        f"Over the {data.horizon_days} days simulated, {escape(data.name)} realises "
        f"<b>{fmt(revenue, currency)}</b> of revenue and ends with <b>{fmt(arr, currency)}</b> "
        f"of ARR from <b>{fmt(customers, 'customers')}</b> active customers."
    )
    arr_lost = data.leakage_summary[data.leakage_summary["measure"] == "arr_lost"]
    if data.leakage is not None:
        per_seam = seam_leakage(data.leakage, data.confidence)
        per_seam = per_seam[per_seam["measure"] == "arr_lost"]
        totals = total_leakage(data.leakage, data.confidence).set_index("measure")
        facts.total_arr_lost = _interval(totals.loc["arr_lost"])
        facts.total_revenue_lost = _interval(totals.loc["horizon_revenue_lost"])
    else:
        sums = arr_lost.groupby("seam", sort=True)["mean"].sum()
        per_seam = pd.DataFrame(
            {"seam": sums.index, "mean": sums.to_numpy(), "ci_low": np.nan, "ci_high": np.nan}
        )
    if len(per_seam) and float(per_seam["mean"].max()) > 0:
        worst = per_seam.loc[per_seam["mean"].astype(float).idxmax()]
        facts.worst_seam = int(worst["seam"])
        facts.worst_seam_arr = _interval(worst)
        reasons = arr_lost[arr_lost["seam"] == facts.worst_seam]
        top = reasons.loc[reasons["mean"].astype(float).idxmax()]
        facts.worst_reason = str(top["reason"])
        facts.worst_reason_arr = _interval(top)
        share = facts.worst_reason_arr[0] / facts.worst_seam_arr[0]
        facts.sentences.append(
            f"The seam that loses the most ARR is <b>seam {facts.worst_seam} "
            f"({SEAM_NAMES[facts.worst_seam]})</b>: <b>{fmt(facts.worst_seam_arr, currency)}</b> "
            f"of ARR a year, mostly because leads <b>{_reason_phrase(facts.worst_reason)}</b> "
            f"({fmt(facts.worst_reason_arr, currency)}, {100 * share:.0f}% of that seam's loss)."
        )
    else:
        facts.sentences.append("No seam lost any ARR in this run.")
    if facts.total_revenue_lost is not None:
        facts.sentences.append(
            f"Across all four seams, leakage costs {fmt(facts.total_arr_lost, currency)} of ARR "
            f"and {fmt(facts.total_revenue_lost, currency)} of revenue within the horizon "
            "(attributed: the expected value of the leads lost, from this run)."
        )
    if leaks is not None and len(leaks):
        best = leaks.sort_values("counterfactual_horizon_revenue", ascending=False).iloc[0]
        facts.best_fix_seam = int(best["seam"])
        facts.best_fix_value = _interval(best, "counterfactual_horizon_revenue")
        facts.sentences.append(
            f"Fixing <b>seam {facts.best_fix_seam} ({SEAM_NAMES[facts.best_fix_seam]})</b> "
            f"is worth the most: <b>{fmt(facts.best_fix_value, currency)}</b> of revenue "
            "within the horizon (counterfactual: the same runs with that seam made perfect)."
        )
    if comparisons:
        nets = {
            name: comparison.summary().set_index("metric")
            for name, comparison in comparisons.items()
        }
        name = max(nets, key=lambda n: _value(nets[n], "net_value", "difference"))
        table = nets[name]
        facts.best_whatif = name
        facts.best_whatif_revenue = _interval(table.loc["horizon_revenue"], "difference")
        facts.best_whatif_net = _interval(table.loc["net_value"], "difference")
        lead = "The best what-if" if len(comparisons) > 1 else "The what-if"
        facts.sentences.append(
            f"{lead}, <b>{escape(name)}</b>, changes revenue within the horizon by "
            f"<b>{fmt(facts.best_whatif_revenue, currency, signed=True)}</b> and net value "
            f"(after its cost) by <b>{fmt(facts.best_whatif_net, currency, signed=True)}</b>, "
            "paired against the baseline on the same random numbers."
        )
    return facts


def render_report(
    data: ReportData,
    comparisons: Mapping[str, Comparison] | None = None,
    leaks: pd.DataFrame | None = None,
) -> str:
    """The whole report as one HTML string."""
    facts = summary_facts(data, comparisons, leaks)
    sections = [
        _summary_section(data, facts),
        _leakage_section(data, leaks),
        _funnel_section(data),
    ]
    if data.ledgers is not None:
        sections += [_speed_section(data), _teams_section(data), _pipeline_section(data)]
    if comparisons:
        sections.append(_whatif_section(data, comparisons))
    sections.append(_metrics_section(data))
    sections.append(_method_section(data))
    generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    return TEMPLATE.format(
        title=escape(f"Revenue leakage report: {data.name}"),
        css=CSS,
        name=escape(data.name),
        description=escape(data.description),
        meta=escape(
            f"{data.horizon_days} days simulated · {_reps_text(data)} · seed {data.seed} · "
            f"money in {data.currency} · generated {generated}"
        ),
        nav="".join(
            f'<a href="#{anchor}">{title}</a>'
            for anchor, title in SECTION_RE.findall("".join(sections))
        ),
        body="\n".join(sections),
    )


# ---------------------------------------------------------------------------- sections


def _summary_section(data: ReportData, facts: SummaryFacts) -> str:
    fmt = _formatter(data.n_replications, data.currency)
    cards = [
        ("Revenue within the horizon", fmt(facts.headline["horizon_revenue"], data.currency)),
        ("ARR at the horizon", fmt(facts.headline["arr_at_horizon"], data.currency)),
    ]
    if facts.worst_seam is not None and facts.worst_seam_arr is not None:
        cards.append(
            (
                f"Biggest leak: seam {facts.worst_seam}, ARR lost a year",
                fmt(facts.worst_seam_arr, data.currency),
            )
        )
    if facts.best_fix_value is not None:
        cards.append(
            (
                f"Fixing seam {facts.best_fix_seam} is worth",
                fmt(facts.best_fix_value, data.currency),
            )
        )
    elif facts.best_whatif_net is not None:
        cards.append(
            (
                f"{facts.best_whatif}: net value",
                fmt(facts.best_whatif_net, data.currency, signed=True),
            )
        )
    else:
        cards.append(("Won deals", fmt(facts.headline["won_deals"], "deals")))
    card_html = "".join(
        f'<div class="card"><div class="card-label">{escape(label)}</div>'
        f'<div class="card-value">{value}</div></div>'
        for label, value in cards
    )
    notice = ""
    if data.n_replications < 2:
        notice = (
            '<p class="notice">This run has a single replication, so its figures are single-run '
            "estimates without confidence intervals. Rerun with <code>--reps 10</code> or more "
            "before relying on them.</p>"
        )
    else:
        notice = (
            f'<p class="note">Figures are means over {data.n_replications} independent '
            f"replications; brackets give the {data.confidence:.0%} confidence interval.</p>"
        )
    sentences = "".join(f"<li>{s}</li>" for s in facts.sentences)
    return (
        '<section id="summary"><h2>Summary</h2>'
        f'<div class="cards">{card_html}</div>{notice}<ul class="findings">{sentences}</ul>'
        "</section>"
    )


def _leakage_section(data: ReportData, leaks: pd.DataFrame | None) -> str:
    chart = _chart(
        lambda ax: charts.waterfall(
            data.leakage_summary, data.metric("horizon_revenue"), data.currency, ax=ax
        ),
        (9.5, 5.0),
        "Leakage waterfall from potential to realised revenue",
    )
    parts = [
        '<section id="leakage"><h2>Where revenue leaks</h2>',
        "<p>Potential revenue is what was realised plus the revenue the leaks cost within the "
        "horizon; each bar is one seam and reason (attributed leakage). Whiskers show the "
        "interval of each loss.</p>",
        chart,
        _leakage_table(data),
    ]
    if leaks is not None and len(leaks):
        parts.append("<h3>What fixing each seam is worth</h3>")
        parts.append(
            _chart(
                lambda ax: charts.seam_fixes(leaks, data.currency, ax=ax),
                (9.0, 3.8),
                "Counterfactual value of fixing each seam",
            )
        )
        parts.append(_leaks_table(leaks, data))
    parts.append("</section>")
    return "".join(parts)


def _funnel_section(data: ReportData) -> str:
    parts = [
        '<section id="funnel"><h2>The funnel</h2>',
        _chart(
            lambda ax: charts.funnel(funnel_table(data.summary), ax=ax),
            (9.0, 4.2),
            "Funnel with stage-to-stage conversion",
        ),
    ]
    if data.ledgers is not None:
        parts.append(
            _chart(
                lambda ax: charts.flow(flow_table(data.ledgers), ax=ax),
                (10.0, 5.6),
                "Flow of leads across stages to their outcomes",
            )
        )
    else:
        parts.append(_no_ledger_note())
    parts.append("</section>")
    return "".join(parts)


def _speed_section(data: ReportData) -> str:
    sla = data.scenario.seam1.sla_hours if data.scenario is not None else None
    fmt = _formatter(data.n_replications, data.currency)
    median = data.metric("median_first_response_hours")
    text = f"Median first response: <b>{fmt(median, 'hours')}</b>."
    if sla is not None:
        text += (
            f" Share answered within the {sla:g}-hour SLA: "
            f"<b>{fmt(data.metric('sla_compliance'), 'share')}</b>."
        )
    else:
        text += " The scenario sets no response SLA."
    return (
        '<section id="speed"><h2>Speed to lead</h2>'
        f"<p>{text} Leads cool while they wait, in wall-clock time, nights and weekends "
        "included.</p>"
        + _chart(
            lambda ax: charts.first_response(response_hours(data.ledgers), sla, ax=ax),
            (9.0, 4.2),
            "First response time against the SLA",
        )
        + "</section>"
    )


def _teams_section(data: ReportData) -> str:
    levels = data.team_levels
    colors = team_colors(data.scenario, list(dict.fromkeys(levels["team"])))
    charts_html = "".join(
        _chart(
            lambda ax, m=measure: charts.teams(
                levels, measure=m, colors=colors, confidence=data.confidence, ax=ax
            ),
            (9.0, 3.8),
            f"Team {measure.replace('_', ' ')} over time",
        )
        for measure in ("occupancy", "queue_length")
    )
    return (
        '<section id="teams"><h2>Teams: load and queues</h2>'
        "<p>Each team is coloured as the seam it serves. Lines are weekly means over the "
        "replications, bands their interval.</p>" + charts_html + "</section>"
    )


def _pipeline_section(data: ReportData) -> str:
    return (
        '<section id="pipeline"><h2>Pipeline over time</h2>'
        + _chart(
            lambda ax: charts.pipeline(
                pipeline_table(data.ledgers), data.currency, confidence=data.confidence, ax=ax
            ),
            (9.0, 4.0),
            "Open pipeline and value won per quarter",
        )
        + "</section>"
    )


def _whatif_section(data: ReportData, comparisons: Mapping[str, Comparison]) -> str:
    parts = ['<section id="whatifs"><h2>What-ifs against the baseline</h2>']
    for name, comparison in comparisons.items():
        summary = comparison.summary()
        parts.append(f"<h3>{escape(name)}</h3>")
        parts.append(
            _chart(
                lambda ax, s=summary: charts.forest(s, data.currency, ax=ax),
                (9.0, 3.6),
                f"Paired differences: {name}",
            )
        )
        parts.append(_comparison_table(summary, data.currency, comparison))
    parts.append("</section>")
    return "".join(parts)


def _metrics_section(data: ReportData) -> str:
    rows = []
    for row in data.summary.itertuples(index=False):
        if row.replications == 0 and not np.isfinite(row.mean):
            continue
        rows.append(
            (
                METRIC_LABELS.get(row.metric, row.metric.replace("_", " ")),
                with_interval(row.mean, row.ci_low, row.ci_high, row.unit, data.currency),
            )
        )
    return (
        '<section id="metrics"><h2>Headline metrics</h2>'
        + _table(["metric", _interval_header(data)], rows, numeric=(1,))
        + "</section>"
    )


def _method_section(data: ReportData) -> str:
    return (
        '<section id="method"><h2>How to read this report</h2><ul>'
        "<li><b>Seams</b> are the hand-offs between departments: 1 marketing → sales, "
        "2 sales → finance (quote-to-cash), 3 finance → customer success, 4 renewal.</li>"
        "<li><b>Attributed leakage</b> is the expected value of the leads lost at a seam: "
        "their deal value times the chance such a lead would have closed and stayed, "
        "estimated from the same run.</li>"
        "<li><b>Counterfactual</b> values (seam fixes, what-ifs) are paired differences: the "
        "same replications rerun with the change, every lead meeting the same random draws, "
        "so the difference is measured with little noise.</li>"
        f"<li>Intervals are {data.confidence:.0%} Student-t confidence intervals over "
        "independent replications. ARR is annual; revenue within the horizon is what is "
        f"recognised in the {data.horizon_days} days simulated.</li>"
        "<li>This is a simulation of the scenario as described; its figures are as good as "
        "the inputs. Replace assumptions with CRM data where it exists.</li>"
        "</ul></section>"
    )


# ------------------------------------------------------------------------------ tables


def _leakage_table(data: ReportData) -> str:
    units = {
        "leads_lost": "leads",
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
                f'<span class="dot" style="background:{charts.seam_color(seam)}"></span>'
                f"{int(seam)} {escape(SEAM_NAMES.get(int(seam), ''))}",
                escape(REASON_LABELS.get(reason, reason)),
                *cells,
            )
        )
    return _table(
        ["seam", "reason", "leads lost", "ARR lost", "revenue lost within the horizon"],
        rows,
        numeric=(2, 3, 4),
        raw=True,
        caption=f"Attributed leakage by seam and reason ({_interval_header(data)})",
    )


def _leaks_table(leaks: pd.DataFrame, data: ReportData) -> str:
    rows = []
    for row in leaks.sort_values("rank").itertuples(index=False):
        record = row._asdict()
        rows.append(
            (
                str(record["rank"]),
                f"{record['seam']} {escape(SEAM_NAMES.get(int(record['seam']), ''))}",
                _cell(record, "counterfactual_horizon_revenue", data.currency),
                _cell(record, "counterfactual_arr_at_horizon", data.currency),
                _cell(record, "attributed_horizon_revenue_lost", data.currency),
            )
        )
    return _table(
        [
            "rank",
            "seam",
            "fix it: revenue gained",
            "fix it: ARR at horizon gained",
            "attributed: revenue lost",
        ],
        rows,
        numeric=(2, 3, 4),
        raw=True,
    )


def _comparison_table(summary: pd.DataFrame, currency: str, comparison: Comparison) -> str:
    rows = []
    for row in summary.itertuples(index=False):
        rows.append(
            (
                METRIC_LABELS.get(row.metric, row.metric.replace("_", " ")),
                number(row.baseline, row.unit, currency),
                number(row.variant, row.unit, currency),
                with_interval(row.difference, row.ci_low, row.ci_high, row.unit, currency),
            )
        )
    return _table(
        ["metric", "baseline", "what-if", f"difference [{comparison.confidence:.0%} CI]"],
        rows,
        numeric=(1, 2, 3),
        caption=f"Paired over {len(comparison.baseline_runs)} replications",
    )


def _table(
    header: list[str],
    rows: list[tuple[str, ...]],
    numeric: tuple[int, ...] = (),
    raw: bool = False,
    caption: str | None = None,
) -> str:
    def cell(tag: str, i: int, value: str) -> str:
        css = ' class="num"' if i in numeric else ""
        text = value if raw else escape(value)
        return f"<{tag}{css}>{text}</{tag}>"

    head = "".join(cell("th", i, h) for i, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows
    )
    cap = f"<caption>{escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(record: dict[str, Any], name: str, currency: str) -> str:
    return escape(
        with_interval(
            record[name], record[f"{name}_ci_low"], record[f"{name}_ci_high"], currency, currency
        )
    )


# ------------------------------------------------------------------------------ helpers


def _chart(draw: Callable[[Axes], Axes], size: tuple[float, float], alt: str) -> str:
    """Draw on a fresh Agg figure and return an <img> with the PNG inline (base64)."""
    figure = Figure(figsize=size, layout="constrained")
    draw(figure.add_subplot())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{encoded}"></figure>'


def _formatter(replications: int, currency: str) -> Callable[..., str]:
    """Format (mean, low, high) as 'mean [low – high]'; a lone mean with one replication."""

    def fmt(value: Interval, unit: str, signed: bool = False) -> str:
        mean, low, high = value
        text = number(mean, unit, currency)
        if signed and np.isfinite(mean) and mean > 0:
            text = "+" + text
        if replications >= 2 and np.isfinite(low) and np.isfinite(high):
            text += (
                f' <span class="ci">[{escape(number(low, unit, currency))} – '
                f"{escape(number(high, unit, currency))}]</span>"
            )
        return text

    return fmt


def _interval(row: pd.Series, prefix: str | None = None) -> Interval:
    if prefix is None:
        names = ("mean", "ci_low", "ci_high")
    elif prefix == "difference":
        names = ("difference", "ci_low", "ci_high")
    else:
        names = (prefix, f"{prefix}_ci_low", f"{prefix}_ci_high")
    return tuple(float(row[n]) if row[n] is not None else np.nan for n in names)  # type: ignore[return-value]


def _value(table: pd.DataFrame, metric: str, column: str) -> float:
    value = float(table.at[metric, column]) if metric in table.index else np.nan
    return value if np.isfinite(value) else -np.inf


def _reason_phrase(reason: str) -> str:
    phrases = {
        "scored_out": "were scored out before sales saw them",
        "unrouted": "were routed to nobody",
        "stale_contact": "had stale contact records",
        "went_cold": "went cold waiting for a first response",
        "rejected": "were rejected by SDRs",
        "fell_through": "fell through in contract review",
        "contract_error": "lost value to manual contract errors",
        "slow_quote_to_cash": "waited on slow quote-to-cash",
        "missing_context": "reached customer success without the deal context and churned",
        "slow_onboarding": "churned after slow onboarding",
        "late_renewal": "were approached too late for renewal and churned",
    }
    return phrases.get(reason, reason.replace("_", " "))


def _reps_text(data: ReportData) -> str:
    n = data.n_replications
    if n < 2:
        return "1 replication (no intervals)"
    return f"{n} replications, {data.confidence:.0%} intervals"


def _interval_header(data: ReportData) -> str:
    return f"mean [{data.confidence:.0%} CI]" if data.n_replications >= 2 else "single run"


def _no_ledger_note() -> str:
    return (
        '<p class="note">The lead-level charts (flow, speed to lead, teams, pipeline) need '
        "the run's ledgers, which were not kept for this report.</p>"
    )


CSS = """
:root { --ink:#1F2933; --muted:#6B7785; --line:#E5E8EC; --accent:#1F3A4D; --bg:#F7F8FA; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:var(--accent); color:#fff; padding:28px 0 24px; }
.wrap { max-width: 1040px; margin: 0 auto; padding: 0 28px; }
header .kicker { text-transform:uppercase; letter-spacing:.08em; font-size:12px; opacity:.75; }
header h1 { margin:4px 0 6px; font-size:28px; font-weight:600; }
header p { margin:2px 0; opacity:.9; max-width: 820px; }
header .meta { font-size:13px; opacity:.7; margin-top:8px; }
nav { font-size:13px; padding:10px 0; border-bottom:1px solid var(--line); background:#fff; }
nav a { color:var(--accent); text-decoration:none; margin-right:16px; }
main { padding: 8px 0 40px; }
section { background:#fff; border:1px solid var(--line); border-radius:8px; padding:22px 28px;
  margin:18px 0; }
h2 { margin:0 0 12px; font-size:21px; color:var(--accent); }
h3 { margin:22px 0 8px; font-size:16px; }
.cards { display:grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap:12px;
  margin: 6px 0 14px; }
.card { border:1px solid var(--line); border-left:4px solid var(--accent); border-radius:6px;
  padding:12px 14px; background:#FBFCFD; }
.card-label { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.04em; }
.card-value { font-size:22px; font-weight:600; margin-top:4px; }
.card-value .ci { display:block; font-size:12.5px; font-weight:400; color:var(--muted); }
.ci { color:var(--muted); font-size:.92em; white-space:nowrap; }
.findings { padding-left: 20px; margin: 8px 0 0; }
.findings li { margin: 6px 0; }
.notice { background:#FFF6E5; border:1px solid #F0C36D; border-radius:6px; padding:10px 14px; }
.note { color:var(--muted); font-size:13.5px; }
figure { margin: 14px 0; text-align:center; break-inside: avoid; page-break-inside: avoid; }
figure img { max-width:100%; height:auto; }
table { border-collapse: collapse; width:100%; font-size:13.5px; margin: 10px 0 4px; }
caption { text-align:left; color:var(--muted); font-size:12.5px; padding-bottom:6px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
th { font-weight:600; background:#F2F4F7; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; page-break-inside: avoid; }
.dot { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; }
code { background:#F2F4F7; padding:1px 4px; border-radius:3px; font-size:.92em; }
footer { color:var(--muted); font-size:12px; text-align:center; padding: 0 0 30px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { background:#fff; font-size:11pt; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  nav { display:none; }
  header { padding: 14px 0; }
  .wrap { max-width:none; padding:0; }
  section { border:none; border-radius:0; padding:0; margin:0;
    break-before: page; page-break-before: always; }
  section#summary { break-before: auto; page-break-before: auto; margin-top: 12px; }
  h2 { break-after: avoid; page-break-after: avoid; }
  figure img { max-height: 120mm; }
}
"""

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<header><div class="wrap">
<div class="kicker">Revenue leakage report · funnelsim</div>
<h1>{name}</h1>
<p>{description}</p>
<div class="meta">{meta}</div>
</div></header>
<nav><div class="wrap">{nav}</div></nav>
<main><div class="wrap">
{body}
</div></main>
<footer>Produced by funnelsim, a discrete-event simulation of the revenue engine.</footer>
</body>
</html>
"""
