"""What a person reads instead of code names: metric labels, display names, better/worse.

Every place a person reads a metric (report tables and charts, the decision table, Excel
sheets) takes its label from :data:`METRIC_LABELS`; teams, sources and segments show their
scenario ``label:`` when they have one. :data:`METRIC_DIRECTIONS` says which way a metric
is better, so a chart colours a change by whether it helps (lower cost is better, more
revenue is better), never by its sign.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funnelsim.scenario.models import Scenario

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
    "deferred_revenue": "Revenue deferred past the horizon by quote-to-cash (not lost)",
    "deferred_cash": "Cash deferred past the horizon by quote-to-cash (not lost)",
    "nrr": "Net revenue retention (trailing 12 months, whole book)",
    "grr": "Gross revenue retention (trailing 12 months, whole book)",
    "cac": "Customer acquisition cost (CAC)",
    "cac_payback_months": "CAC payback",
    "forecast_mape": "Stage-weighted forecast error (MAPE, CRM weights)",
    "renewal_nrr": "Net retention over the terms decided in the run",
    "renewal_grr": "Gross retention over the terms decided in the run",
    "arr_at_start": "ARR at the start (the starting book)",
    "customers_at_horizon": "Customers at the horizon (the book's included)",
    "forecast_mape_fitted": "Stage-weighted forecast error (MAPE, weights fitted on the run)",
    "lead_to_customer": "Lead-to-customer conversion",
    "gross_profit": "Gross profit (revenue × gross margin)",
    "total_cost": "Total cost over the horizon",
    "net_value": "Net value (gross profit − cost)",
    "net_burn_per_month": "Net cash burn per month (negative: cash grows)",
    "peak_cash_need": "Peak cash need",
    "months_to_break_even": "Months to cash break-even",
    "cac_payback_cash_months": "CAC payback on cash collected",
    "seam1_leads_lost": "Leads lost at marketing → sales",
    "seam2_leads_lost": "Deals lost at sales → finance",
    "seam3_leads_lost": "Customers lost at finance → customer success",
    "seam4_leads_lost": "Customers lost at renewal",
    "seam1_arr_lost": "ARR lost at marketing → sales (attributed)",
    "seam2_arr_lost": "ARR lost at sales → finance (attributed)",
    "seam3_arr_lost": "ARR lost at finance → customer success (attributed)",
    "seam4_arr_lost": "ARR lost at renewal (attributed)",
    "net_gain": "Net value gain (gross profit − cost)",
}

# Loss reasons as a person reads them.
REASON_LABELS: dict[str, str] = {
    "scored_out": "scored out",
    "unrouted": "unrouted",
    "stale_contact": "stale contact",
    "went_cold": "went cold",
    "rejected": "rejected by SDR",
    "not_followed_up": "not followed up by an AE",
    "fell_through": "fell through",
    "contract_error": "contract errors",
    "slow_quote_to_cash": "slow quote-to-cash",
    "missing_context": "missing context",
    "slow_onboarding": "slow onboarding",
    "late_renewal": "late renewal",
}
# Units as a heading reads them; counts say their unit in the label already.
UNIT_WORDS: dict[str, str] = {"share": "%", "days": "days", "hours": "hours", "months": "months"}
COUNT_UNITS = frozenset({"leads", "deals", "customers", "opportunities", "count", ""})

# +1: more is better; -1: less is better. Metrics absent here are not judged (grey).
METRIC_DIRECTIONS: dict[str, int] = {
    **dict.fromkeys(
        (
            "leads",
            "mqls",
            "sqls",
            "opportunities",
            "won_deals",
            "active_customers",
            "booked_arr",
            "arr_at_horizon",
            "horizon_revenue",
            "invoiced_revenue",
            "win_rate",
            "sla_compliance",
            "nrr",
            "grr",
            "lead_to_customer",
            "gross_profit",
            "net_value",
            "net_gain",
        ),
        1,
    ),
    **dict.fromkeys(
        (
            "median_sales_cycle_days",
            "median_first_response_hours",
            "median_quote_to_cash_days",
            "deferred_revenue",
            "deferred_cash",
            "cac",
            "cac_payback_months",
            "forecast_mape",
            "total_cost",
            "net_burn_per_month",
            "peak_cash_need",
            "months_to_break_even",
            "cac_payback_cash_months",
            *(f"seam{seam}_{what}" for seam in (1, 2, 3, 4) for what in ("leads_lost", "arr_lost")),
        ),
        -1,
    ),
}

# Loss reasons that rest on modelling assumptions (a latent fit against a noisy score),
# not on an observed hand-off: reports show them apart from hand-off losses.
ASSUMPTION_REASONS: frozenset[str] = frozenset({"scored_out"})


def metric_label(metric: str) -> str:
    """A metric's label for a person to read (its code name made readable otherwise)."""
    return METRIC_LABELS.get(metric, metric.replace("_", " ").capitalize())


def metric_heading(metric: str, unit: str, currency: str) -> str:
    """A metric's label with its unit, e.g. 'Revenue within the horizon (USD)',
    'Median first response (hours)'; counts and ratios need no unit."""
    label = metric_label(metric)
    word = currency if unit == currency else UNIT_WORDS.get(unit, "")
    if not word or unit in COUNT_UNITS:
        return label
    if label.endswith(")"):  # 'Win rate (won / closed opportunities; %)'
        return f"{label[:-1]}; {word})"
    return f"{label} ({word})"


def reason_label(reason: str) -> str:
    """A loss reason as a person reads it."""
    return REASON_LABELS.get(reason, reason.replace("_", " "))


def direction(metric: str) -> int:
    """+1 when more of ``metric`` is better, -1 when less is, 0 when not judged."""
    return METRIC_DIRECTIONS.get(metric, 0)


def judgement(metric: str, low: float, high: float) -> str:
    """'better', 'worse' or 'unclear' for a change whose interval is [low, high]."""
    sign = direction(metric)
    if sign == 0 or not (low == low and high == high):  # NaN bounds: no judgement
        return "unclear"
    if low > 0 or high < 0:
        return "better" if (low > 0) == (sign > 0) else "worse"
    return "unclear"


@dataclass(frozen=True)
class DisplayNames:
    """The names a person reads for one scenario: its title, client, teams, sources, segments."""

    title: str
    client: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    teams: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    segments: dict[str, str] = field(default_factory=dict)

    GROUPS = ("teams", "sources", "segments")

    @classmethod
    def of(cls, scenario: Scenario | None, fallback_title: str = "") -> DisplayNames:
        """The scenario's labels (its name and keys where it has none)."""
        if scenario is None:
            return cls(title=fallback_title)
        return cls(
            title=scenario.label or scenario.name,
            client=scenario.client,
            start=scenario.start_date,
            end=scenario.start_date + dt.timedelta(days=scenario.horizon_days - 1),
            teams={name: team.label or name for name, team in scenario.teams.items()},
            sources={name: source.label or name for name, source in scenario.sources.items()},
            segments={name: segment.label or name for name, segment in scenario.segments.items()},
        )

    def team(self, name: str) -> str:
        """A team's display name."""
        return self.teams.get(name, name)

    def source(self, name: str) -> str:
        """A source's display name."""
        return self.sources.get(name, name)

    def segment(self, name: str) -> str:
        """A segment's display name."""
        return self.segments.get(name, name)

    def entry(self, group: str, name: str) -> str:
        """The display name of ``name`` in a named section (teams, sources, segments)."""
        names = getattr(self, group) if group in self.GROUPS else {}
        return names.get(name, name)

    def team_list(self, text: str) -> str:
        """'csm (99%), ae (95%)' (team keys, as CSV columns keep them) with display names."""
        parts = []
        for part in filter(None, (p.strip() for p in text.split(", "))):
            key, bracket, rest = part.partition(" (")
            parts.append(f"{self.team(key)}{bracket}{rest}")
        return ", ".join(parts)

    def date_range(self) -> str:
        """'4 Jan 2027 – 3 Jan 2029' (empty when the dates are unknown)."""
        if self.start is None or self.end is None:
            return ""
        return f"{_day(self.start)} – {_day(self.end)}"


def hires_label(hires: Iterable[Any], names: DisplayNames) -> str:
    """'with SDRs +1 from 1 Mar 2027, ...': a hiring plan by team labels and dates."""
    return "with " + ", ".join(
        f"{names.team(hire.team)} {hire.change:+d} from {_day(hire.date)}" for hire in hires
    )


def _day(day: dt.date) -> str:
    return f"{day.day} {day.strftime('%b %Y')}"
