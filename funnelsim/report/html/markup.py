"""HTML building blocks: inline charts, tables, sections and interval formatting."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from html import escape

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from funnelsim.report.data import ReportData
from funnelsim.report.formatting import number

DPI = 150
Interval = tuple[float, float, float]


def section(anchor: str, title: str, *parts: str) -> str:
    """A report section: its anchor and heading (what the page's navigation lists), then parts."""
    return f'<section id="{anchor}"><h2>{title}</h2>' + "".join(parts) + "</section>"


def chart(draw: Callable[[Axes], Axes], size: tuple[float, float], alt: str) -> str:
    """Draw on a fresh Agg figure and return an <img> with the PNG inline (base64)."""
    figure = Figure(figsize=size, layout="constrained")
    draw(figure.add_subplot())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{encoded}"></figure>'


def formatter(replications: int, currency: str) -> Callable[..., str]:
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


def table(
    header: list[str],
    rows: list[tuple[str, ...]],
    numeric: tuple[int, ...] = (),
    raw: bool = False,
    caption: str | None = None,
) -> str:
    """A table; cells are escaped unless ``raw``, ``numeric`` columns right-aligned."""

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


def interval_header(data: ReportData) -> str:
    """The heading of a column of figures: mean and interval, or a single run's value."""
    return f"mean [{data.confidence:.0%} CI]" if data.n_replications >= 2 else "single run"
