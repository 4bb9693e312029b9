"""The fit report: CSV tables, QQ plots (observed against fitted) and a markdown summary."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from funnelsim.calibrate.calibration import Calibration
from funnelsim.calibrate.fitdist import DistFit
from funnelsim.calibrate.salesfit import SalesStageFit
from funnelsim.calibrate.survival import km_quantiles
from funnelsim.safe_cells import write_csv

PROBS = np.linspace(0.05, 0.95, 19)


def tables(cal: Calibration) -> dict[str, pd.DataFrame]:
    """The report's tables: issues, arrivals, stages, cycles and win rates, deal values."""
    f = cal.fitted
    stages = pd.DataFrame(
        [
            (
                s.name,
                s.entered,
                s.converted,
                s.still_open,
                s.never,
                s.conversion,
                s.ci_low,
                s.ci_high,
                s.median_days,
                *_fit_cols(s.time),
            )
            for s in f.stages
        ],
        columns=[
            "stage",
            "entered",
            "converted",
            "open",
            "never",
            "conversion",
            "ci_low",
            "ci_high",
            "km_median_days",
            "family",
            "fitted_median",
            "aic",
        ],
    )
    cycles = pd.DataFrame(
        [
            (
                c.segment,
                c.won,
                c.lost,
                c.still_open,
                c.win_rate,
                *c.win_ci,
                c.stalled,
                c.median_days,
                *c.median_ci,
                *_fit_cols(c.time),
                c.won_median_days,
                *_fit_cols(c.won_time),
                c.lost_median_days,
                *_fit_cols(c.lost_time),
            )
            for c in f.cycles.values()
        ],
        columns=[
            "segment",
            "won",
            "lost",
            "open",
            "win_rate",
            "win_ci_low",
            "win_ci_high",
            "stalled",
            "km_median_days",
            "median_ci_low",
            "median_ci_high",
            "family",
            "fitted_median",
            "aic",
            "won_aj_median_days",
            "won_family",
            "won_fitted_median",
            "won_aic",
            "lost_aj_median_days",
            "lost_family",
            "lost_fitted_median",
            "lost_aic",
        ],
    )
    values = pd.DataFrame(
        [(k, d.n_events, *_fit_cols(d)) for k, d in f.deal_values.items()],
        columns=["segment", "won_amounts", "family", "fitted_median", "aic"],
    )
    sources = pd.DataFrame(
        sorted(f.source_rates.items()), columns=["source", "converted_to_gate_or_won"]
    )
    steps = pd.DataFrame(
        [(step, role) for step, role in cal.built.roles.items()], columns=["engine_step", "how"]
    )
    sales = f.sales
    weights = dict(zip(sales.names, sales.weights, strict=True)) if sales else {}
    fitted_stages = [
        (*_stage_row(s), weights[s.stage] if s.segment == "_pooled" else float("nan"))
        for s in (
            [*sales.pooled, *(x for v in sales.by_segment.values() for x in v)] if sales else []
        )
    ]
    sales_stages = pd.DataFrame(fitted_stages, columns=SALES_COLUMNS)
    return {
        "issues": cal.export.issues,
        "arrivals": f.arrivals,
        "stages": stages,
        "cycles": cycles,
        "sources": sources,
        "engine_steps": steps,
        "deal_values": values,
        "sales_stages": sales_stages,
    }


SALES_COLUMNS = [
    "stage",
    "segment",
    "entered",
    "moved_on",
    "lost",
    "open",
    "moved_on_share",
    "ci_low",
    "ci_high",
    "km_median_days",
    "median_ci_low",
    "median_ci_high",
    "family",
    "fitted_median",
    "aic",
    "weight",
]


def _stage_row(s: SalesStageFit) -> tuple:
    return (
        s.stage,
        s.segment,
        s.entered,
        s.moved_on,
        s.lost,
        s.still_open,
        s.conversion,
        *s.ci,
        s.median_days,
        *s.median_ci,
        *_fit_cols(s.time),
    )


def book_lines(cal: Calibration) -> list[str]:
    """The report's book section: what went into the starting book, or why nothing did."""
    book = cal.built.book
    if book is None:
        return ["Left out (--no-book): the scenario starts empty at the window's start."]
    if "book" not in cal.built.data:
        return [f"- {note}" for note in book.notes]
    lines = [
        f"Starts on {cal.built.data['start_date']}, the day after the export date, with "
        f"{book.customers} customers (ARR {book.arr:,.2f}) and {book.opportunities} open "
        f"deals ({book.valued} with an amount: pipeline {book.pipeline:,.2f}).",
    ]
    if not cal.fitted.mapping.book.subscriptions:
        lines.append(
            "Won deals are not customers: the mapping does not say deals are subscriptions "
            "(book.subscriptions)."
        )
    return lines + [f"- {note}" for note in book.notes]


def _fit_cols(fit: DistFit | None) -> tuple[str, float, str]:
    if fit is None:
        return ("", float("nan"), "")
    aic = ", ".join(f"{k} {v:.1f}" for k, v in sorted(fit.aic.items(), key=lambda kv: kv[1]))
    if fit.note:
        aic = f"{aic} ({fit.note})"
    return (fit.family, fit.median, aic)


def _qq(fit: DistFit, observed: np.ndarray, title: str, path: Path) -> None:
    fitted = fit.ppf(PROBS)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot(fitted, observed, "o", ms=4)
    ok = np.isfinite(observed)
    top = np.nanmax(np.concatenate([fitted, observed[ok]])) if ok.any() else 1.0
    ax.plot([0, top], [0, top], "--", color="grey", lw=1)
    ax.set_xlabel(f"fitted quantile ({fit.family})")
    ax.set_ylabel("observed quantile (Kaplan-Meier where censored)")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _observed_quantiles(fit: DistFit) -> np.ndarray:
    """Observed quantiles: Kaplan-Meier with the censored records (cure-aware)."""
    events, censored = fit.events, fit.censored
    if len(censored) == 0:
        return np.quantile(events, PROBS)
    durations = np.concatenate([events, censored])
    flags = np.concatenate([np.ones(len(events), bool), np.zeros(len(censored), bool)])
    return km_quantiles(durations, flags, PROBS, cure=fit.cure < 1.0)


def write_report(cal: Calibration, folder: Path) -> None:
    """Write tables, QQ plots and summary.md into ``folder`` (which exists)."""
    folder = Path(folder)
    parts = tables(cal)
    for name, frame in parts.items():
        write_csv(frame, folder / f"{name}.csv")
    plots = []
    fits = [(f"stage {s.name}", s.time) for s in cal.fitted.stages]
    if cal.fitted.sales is not None:
        fits += [(f"days in {s.stage}", s.time) for s in cal.fitted.sales.pooled]
    fits += [(f"cycle days, {k}", c.time) for k, c in cal.fitted.cycles.items()]
    fits += [(f"deal value, {k}", d) for k, d in cal.fitted.deal_values.items()]
    for title, fit in fits:
        if fit is None or fit.family == "empirical":
            continue
        name = "qq_" + "".join(ch if ch.isalnum() else "_" for ch in title).strip("_") + ".png"
        _qq(fit, _observed_quantiles(fit), title, folder / name)
        plots.append((title, name))
    window = cal.fitted.window
    lines = [
        f"# Fit report: {cal.fitted.mapping.name}",
        "",
        f"Rows read: {cal.export.n_rows}; usable: {len(cal.export.records)}; window "
        f"{cal.export.start_date.date()} to {cal.export.last_day.date()} (export date).",
        f"Seasonality: {cal.fitted.seasonality_note}.",
        f"Recording window of the outcomes: records created {window.start.date()} to "
        f"{(window.end - pd.Timedelta(days=1)).date()}, followed up to the end of that day.",
        "Engine steps: fitted (an export step ends there), through (an export step passes "
        "it at once), upstream (before the export's first stage; passes through unless "
        "upstream: defaults), default (after the last informed stage).",
        "",
        *[f"**Warning:** {warning}\n" for warning in cal.fitted.warnings],
    ]
    for name, frame in parts.items():
        lines += [f"## {name.replace('_', ' ')}", ""]
        if name == "sales_stages" and cal.fitted.sales is None:
            lines += [f"Sales stages {cal.fitted.sales_note}.", ""]
            continue
        lines += [_markdown(frame), ""]
    lines += ["## starting book", "", *book_lines(cal), ""]
    if cal.fitted.notes:
        lines += ["## notes", "", *[f"- {n}" for n in cal.fitted.notes], ""]
    lines += ["## QQ plots (observed against fitted)", ""]
    lines += [f"![{title}]({name})" for title, name in plots]
    (folder / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _markdown(frame: pd.DataFrame) -> str:
    """A pipe table (no optional dependency)."""
    if frame.empty:
        return "(none)"

    def cell(v: object) -> str:
        if isinstance(v, float):
            return "" if np.isnan(v) else f"{v:.4g}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "|" + "---|" * len(frame.columns)
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, rule, *body])
