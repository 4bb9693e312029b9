"""The report page: its HTML template and CSS (screen and print), header and navigation."""

from __future__ import annotations

import datetime as dt
import re

from markupsafe import Markup

from funnelsim.report.data import ReportData

SECTION_RE = re.compile(r'<section id="([a-z]+)"><h2>(.*?)</h2>')


def page(data: ReportData, sections: list[Markup]) -> str:
    """The whole page around the sections, with a navigation link to each.

    Sections that are not ``Markup`` are escaped, like every text value of the header.
    """
    generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = Markup("\n").join(sections)
    return str(
        Markup(TEMPLATE).format(
            title=f"Revenue leakage report: {data.name}",
            css=Markup(CSS),
            name=data.name,
            description=data.description,
            meta=f"{data.horizon_days} days simulated · {_reps_text(data)} · seed {data.seed} · "
            f"money in {data.currency} · generated {generated}",
            nav=Markup("").join(
                # Titles are taken from the escaped headings, so they are markup already.
                Markup('<a href="#{}">{}</a>').format(anchor, Markup(title))
                for anchor, title in SECTION_RE.findall(body)
            ),
            body=body,
        )
    )


def _reps_text(data: ReportData) -> str:
    """The replications and interval level, for the header."""
    n = data.n_replications
    if n < 2:
        return "1 replication (no intervals)"
    return f"{n} replications, {data.confidence:.0%} intervals"


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
