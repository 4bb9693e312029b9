"""The report page: its HTML template and CSS (screen and print), header and navigation."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from markupsafe import Markup

from funnelsim.report.data import ReportData
from funnelsim.report.labels import DisplayNames
from funnelsim.scenario.models import Scenario

SECTION_RE = re.compile(r'<section id="([a-z0-9-]+)"><h2>(.*?)</h2>')


@dataclass(frozen=True)
class TitleBlock:
    """The page's header: what the report is, for whom, over which dates, how it was run."""

    kicker: str
    title: str
    client: str | None = None
    dates: str = ""
    description: str = ""
    meta: str = ""


def title_block(data: ReportData, kicker: str = "Revenue leakage report") -> TitleBlock:
    """The header of a run's report: the scenario's label, client and simulated dates."""
    names = DisplayNames.of(data.scenario, data.name)
    return TitleBlock(
        kicker=kicker,
        title=names.title,
        client=names.client,
        dates=names.date_range(),
        description=data.description,
        meta=run_meta(data.horizon_days, data.n_replications, data.confidence, data.seed)
        + f" · money in {data.currency}",
    )


def scenario_block(
    scenario: Scenario, kicker: str, replications: int, confidence: float, seed: int
) -> TitleBlock:
    """The header of a report on experiments with one scenario as the base."""
    names = DisplayNames.of(scenario)
    return TitleBlock(
        kicker=kicker,
        title=names.title,
        client=names.client,
        dates=names.date_range(),
        description=scenario.description,
        meta=run_meta(scenario.horizon_days, replications, confidence, seed)
        + f" · money in {scenario.currency}",
    )


def run_meta(horizon_days: int, replications: int, confidence: float, seed: int) -> str:
    """'730 days simulated · 10 replications, 95% intervals · seed 0'."""
    if replications < 2:
        reps = f"{replications} replication (no intervals)"
    else:
        reps = f"{replications} replications, {confidence:.0%} intervals"
    return f"{horizon_days} days simulated · {reps} · seed {seed}"


def page(block: TitleBlock, sections: list[Markup]) -> str:
    """The whole page around the sections, with a navigation link to each.

    Sections that are not ``Markup`` are escaped, like every text value of the header.
    """
    generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = Markup("\n").join(sections)
    client = Markup('<div class="client">{}</div>').format(block.client) if block.client else ""
    dates = Markup('<div class="dates">{}</div>').format(block.dates) if block.dates else ""
    return str(
        Markup(TEMPLATE).format(
            title=f"{block.kicker}: {block.title}",
            css=Markup(CSS),
            kicker=block.kicker,
            client=client,
            name=block.title,
            dates=dates,
            description=block.description,
            meta=f"{block.meta} · generated {generated}",
            nav=Markup("").join(
                # Titles are taken from the escaped headings, so they are markup already.
                Markup('<a href="#{}">{}</a>').format(anchor, Markup(title))
                for anchor, title in SECTION_RE.findall(body)
            ),
            body=body,
        )
    )


CSS = """
:root { --ink:#1F2933; --muted:#6B7785; --line:#E5E8EC; --accent:#1F3A4D; --bg:#F7F8FA; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font: 15px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background:var(--accent); color:#fff; padding:28px 0 24px; }
.wrap { max-width: 1040px; margin: 0 auto; padding: 0 28px; }
header .kicker { text-transform:uppercase; letter-spacing:.08em; font-size:12px; opacity:.75; }
header .client { font-size:15px; font-weight:600; margin-top:10px; opacity:.95; }
header h1 { margin:4px 0 4px; font-size:28px; font-weight:600; }
header .dates { font-size:14px; opacity:.9; margin-bottom:6px; }
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
.verdict { font-weight:600; }
.pair { display:grid; grid-template-columns: 1fr 1fr; gap:10px; align-items:start; }
figure { margin: 14px 0; text-align:center; break-inside: avoid; page-break-inside: avoid; }
figure img { max-width:100%; height:auto; }
table { border-collapse: collapse; width:100%; font-size:13.5px; margin: 10px 0 4px;
  break-inside: avoid; page-break-inside: avoid; }
caption { text-align:left; color:var(--muted); font-size:12.5px; padding-bottom:6px; }
th, td { padding:6px 10px; border-bottom:1px solid var(--line); text-align:left;
  vertical-align:top; }
th { font-weight:600; background:#F2F4F7; }
td.num, th.num { text-align:right; font-variant-numeric: tabular-nums; }
tr { break-inside: avoid; page-break-inside: avoid; }
tr.group td { background:#F7F8FA; font-weight:600; color:var(--accent); }
tr.assumption td { color:var(--muted); font-style:italic; }
.dot { display:inline-block; width:10px; height:10px; border-radius:2px; margin-right:6px; }
code { background:#F2F4F7; padding:1px 4px; border-radius:3px; font-size:.92em; }
footer { color:var(--muted); font-size:12px; text-align:center; padding: 0 0 30px; }
@page { size: A4; margin: 12mm 11mm; }
@media print {
  body { background:#fff; font-size:9.5pt; line-height:1.4; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  nav { display:none; }
  header { padding: 10px 0 8px; }
  header h1 { font-size:20pt; }
  .wrap { max-width:none; padding:0 2mm; }
  main { padding:0; }
  section { border:none; border-radius:0; padding:0; margin:4mm 0 0; }
  h2 { font-size:14pt; margin:0 0 2mm; break-after: avoid; page-break-after: avoid; }
  h3 { font-size:11pt; margin:3mm 0 1mm; break-after: avoid; page-break-after: avoid; }
  .cards { gap:6px; margin:2mm 0; grid-template-columns: repeat(4, 1fr); }
  .card { padding:6px 8px; }
  .card-value { font-size:13pt; }
  table { font-size:8.5pt; margin:2mm 0; }
  th, td { padding:2px 6px; }
  td.num { white-space: nowrap; }
  figure { margin: 2mm 0; }
  figure img { height: 52mm; width:auto; max-width:100%; object-fit: contain; }
  .pair figure img { height: 46mm; }
  #method ul { columns: 2; column-gap: 8mm; margin: 0; }
  #method li { break-inside: avoid; }
  .note, caption { font-size:8.5pt; }
  footer { display:none; }  /* the header already names funnelsim */
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
<div class="kicker">{kicker} · funnelsim</div>
{client}<h1>{name}</h1>{dates}
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
