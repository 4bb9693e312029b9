"""Readable names and units for scenario parameters given as dotted paths, for chart axes.

``teams.sdr.headcount`` reads "sdr headcount (people)", ``seam1.response_delay.median``
"seam 1 response delay median (hours)", ``seam1.decay.half_life_hours`` "seam 1 decay
half life (hours)": section words that only group fields are dropped, a unit in a field's
name moves into the parentheses, and fields whose unit the name does not say get it from
a short table.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from funnelsim.report.labels import DisplayNames

# A unit at the end of a field's name: the suffix and the unit it reads as.
UNIT_SUFFIXES = (
    ("_per_week", "per week"),
    ("_per_year", "per year"),
    ("_hours", "hours"),
    ("_days", "days"),
    ("_months", "months"),
)
# Fields whose name does not say their unit.
FIELD_UNITS = {
    "headcount": "people",
    "capacity_per_head": "items at once",
    "response_delay": "hours",
    "fallback_response_delay": "hours",
    "work_time": "working hours",
    "sla_hours": "hours",
}
# Top-level sections that only group named entries (the entry's name says enough).
GROUPS = {"teams", "sources", "segments", "products"}
MONEY_WORDS = ("cost", "deal_value", "price", "per_lead", "per_attempt", "tools_per_year")


def parameter_label(
    path: str, currency: str | None = None, names: DisplayNames | None = None
) -> str:
    """A dotted scenario path as words with its unit, e.g. 'sdr headcount (people)'; with
    the scenario's ``names`` a team, source or segment reads as its label ('SDRs
    headcount (people)')."""
    parts = path.split(".")
    words: list[str] = []
    unit = ""
    for index, part in enumerate(parts):
        if index == 0 and part in GROUPS and len(parts) > 2:
            continue
        if index == 1 and parts[0] in GROUPS and len(parts) > 2 and names is not None:
            words.append(names.entry(parts[0], part))
            continue
        seam = re.fullmatch(r"seam(\d)", part)
        if seam:
            words.append(f"seam {seam.group(1)}")
            continue
        name = part
        for suffix, reads in UNIT_SUFFIXES:
            if name.endswith(suffix) and name != suffix[1:]:
                name, unit = name.removesuffix(suffix), reads
                break
        unit = FIELD_UNITS.get(part, unit)
        if currency and any(word in part for word in MONEY_WORDS):
            unit = f"{currency} {unit}".strip() if unit.startswith("per") else currency
        words.append(name.replace("_", " "))
    label = " ".join(words)
    return f"{label} ({unit})" if unit else label
