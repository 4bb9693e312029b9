"""Human-readable numbers: money, counts, shares and durations with their intervals."""

from __future__ import annotations

import math

MONEY_UNITS = {"USD": "$", "EUR": "€", "GBP": "£"}
COUNT_UNITS = {"leads", "deals", "customers", "opportunities"}


def money(value: float, currency: str) -> str:
    """12,345 -> '$12.3k'; other currencies keep their code as a suffix."""
    if value is None or math.isnan(value):
        return "–"
    symbol = MONEY_UNITS.get(currency)
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    for threshold, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if magnitude >= threshold:
            text = f"{magnitude / threshold:.1f}{suffix}"
            break
    else:
        text = f"{magnitude:.0f}"
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def number(value: float, unit: str, currency: str) -> str:
    """Format a metric by its unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit == currency:
        return money(value, currency)
    if unit == "share":
        return f"{100 * value:.1f}%"
    if unit in {"days", "hours", "months"}:
        return f"{value:,.1f} {unit}"
    if unit in COUNT_UNITS:
        return f"{value:,.0f}" if abs(value) >= 10 or float(value).is_integer() else f"{value:.1f}"
    if unit == "ratio":
        return f"{value:.2f}"
    if abs(value) >= 100 or float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def with_interval(mean: float, low: float, high: float, unit: str, currency: str) -> str:
    """'mean [low, high]' when the interval exists, else the mean alone."""
    text = number(mean, unit, currency)
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return text
    return f"{text} [{number(low, unit, currency)}, {number(high, unit, currency)}]"
