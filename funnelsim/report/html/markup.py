"""HTML building blocks: inline charts, tables, sections and interval formatting.

Escaping is the default: every helper escapes the text it is given, and only
``markupsafe.Markup`` (markup the report builds itself) passes through unchanged. User text
(names, descriptions, currency, loss reasons, labels) therefore never reaches the page as
markup, whichever helper it goes through.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable

import numpy as np
from markupsafe import Markup, escape
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from funnelsim.report.data import ReportData
from funnelsim.report.formatting import number

DPI = 200  # print-sharp (the review asked for SVG or at least 200 dpi)
Interval = tuple[float, float, float]


def section(anchor: str, title: str, *parts: str) -> Markup:
    """A report section: its anchor and heading (what the page's navigation lists), then parts.

    ``parts`` that are not ``Markup`` are escaped.
    """
    return Markup('<section id="{}"><h2>{}</h2>{}</section>').format(
        anchor, title, Markup("").join(parts)
    )


def chart(draw: Callable[[Axes], Axes], size: tuple[float, float], alt: str) -> Markup:
    """Draw on a fresh Agg figure and return an <img> with the PNG inline (base64).

    Text is drawn as written (no mathtext), so a ``$`` in a name or currency cannot break
    the chart or turn into formula markup.
    """
    buffer = io.BytesIO()
    with rc_context({"text.parse_math": False}):
        figure = Figure(figsize=size, layout="constrained")
        draw(figure.add_subplot())
        figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Markup('<figure><img alt="{}" src="data:image/png;base64,{}"></figure>').format(
        alt, encoded
    )


def figure_chart(draw: Callable[[Figure], object], size: tuple[float, float], alt: str) -> Markup:
    """As :func:`chart`, for a drawing of several panels on one figure."""
    buffer = io.BytesIO()
    with rc_context({"text.parse_math": False}):
        figure = Figure(figsize=size, layout="constrained")
        draw(figure)
        figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return Markup('<figure><img alt="{}" src="data:image/png;base64,{}"></figure>').format(
        alt, encoded
    )


def pair(*figures: Markup) -> Markup:
    """Charts side by side (two to a row), each still one figure."""
    return Markup('<div class="pair">{}</div>').format(Markup("").join(figures))


def formatter(replications: int, currency: str) -> Callable[..., Markup]:
    """Format (mean, low, high) as 'mean [low – high]'; a lone mean with one replication."""

    def fmt(value: Interval, unit: str, signed: bool = False) -> Markup:
        mean, low, high = value
        text = number(mean, unit, currency)
        if signed and np.isfinite(mean) and mean > 0:
            text = "+" + text
        html = escape(text)
        if replications >= 2 and np.isfinite(low) and np.isfinite(high):
            html += Markup(' <span class="ci">[{} – {}]</span>').format(
                number(low, unit, currency), number(high, unit, currency)
            )
        return html

    return fmt


def table(
    header: list[str] | tuple[str, ...],
    rows: list[tuple[str, ...]],
    numeric: tuple[int, ...] = (),
    caption: str | None = None,
    row_classes: list[str | None] | None = None,
) -> Markup:
    """A table; cells are escaped unless ``Markup``, ``numeric`` columns right-aligned.

    ``row_classes`` gives each body row a CSS class ("group" for a heading row spanning
    the table, "assumption" for a muted row), or None.
    """

    def cell(tag: str, i: int, value: str) -> Markup:
        css = Markup(' class="num"') if i in numeric else ""
        return Markup("<{0}{1}>{2}</{0}>").format(Markup(tag), css, value)

    def line(tag: str, values: tuple[str, ...] | list[str], kind: str | None = None) -> Markup:
        css = Markup(' class="{}"').format(kind) if kind else ""
        if kind == "group":  # a heading row: its title, then empty cells
            values = (values[0], *[""] * (len(header) - 1))
        return Markup("<tr{}>{}</tr>").format(
            css, Markup("").join(cell(tag, i, v) for i, v in enumerate(values))
        )

    kinds = row_classes or [None] * len(rows)
    cap = Markup("<caption>{}</caption>").format(caption) if caption else ""
    return Markup("<table>{}<thead>{}</thead><tbody>{}</tbody></table>").format(
        cap,
        line("th", header),
        Markup("").join(line("td", row, kind) for row, kind in zip(rows, kinds, strict=True)),
    )


def interval_header(data: ReportData) -> str:
    """The heading of a column of figures: mean and interval, or a single run's value."""
    return f"mean [{data.confidence:.0%} CI]" if data.n_replications >= 2 else "single run"
