"""How long things take: stage times, first response and SLA, sales cycle, quote-to-cash.

Pure functions: a ledger (and, where a rule is needed, its scenario) in, a tidy DataFrame
out. Durations are wall-clock (buyers wait on weekends too) and count only leads that
reached both ends of a step within the horizon; SLA compliance alone runs on the SLA's
own clock (``seam1.sla_clock``: the seam 1 team's open hours, or wall-clock).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from funnelsim.analysis._common import (
    HOURS_PER_DAY,
    ROUNDING_HOURS,
    closed_won,
    durations,
    horizon_hours,
    observed,
    ratio,
    summary,
)
from funnelsim.engine.calendar import WorkCalendar
from funnelsim.engine.ledger import Ledger
from funnelsim.scenario.models import Scenario

# (stage, from time, to time): consecutive steps of a lead's life.
STAGE_STEPS: tuple[tuple[str, str, str], ...] = (
    ("mql_to_first_response", "mql_time", "first_response"),
    ("first_response_to_sql", "first_response", "sql_time"),
    ("sql_to_opportunity", "sql_time", "opp_time"),
    ("opportunity_to_close", "opp_time", "close_time"),
    ("won_to_invoice", "won_time", "invoice_time"),
    ("invoice_to_onboarded", "invoice_time", "onboarded_time"),
)
QUOTE_TO_CASH_STEPS: tuple[tuple[str, str, str], ...] = (
    ("won_to_contract_done", "won_time", "contract_done"),
    ("contract_done_to_invoice", "contract_done", "invoice_time"),
    ("won_to_invoice", "won_time", "invoice_time"),
)
DURATION_COLUMNS: tuple[str, ...] = ("n", "mean_days", "median_days", "p90_days")
# First-response buckets of the speed-to-lead studies: upper bounds in hours (inclusive).
RESPONSE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<=5 min", 5 / 60),
    ("5-30 min", 0.5),
    ("30-60 min", 1.0),
    ("1-4 h", 4.0),
    ("4-24 h", 24.0),
    ("24-48 h", 48.0),
    (">48 h", np.inf),
)


def stage_times(ledger: Ledger) -> pd.DataFrame:
    """Days spent in each step of the lifecycle (n, mean, median, p90), to find slow stages."""
    return _step_table(ledger, STAGE_STEPS)


def quote_to_cash(ledger: Ledger) -> pd.DataFrame:
    """Days from closed-won to contract done and to invoice (seam 2's delay), per step."""
    return _step_table(ledger, QUOTE_TO_CASH_STEPS)


def first_response(ledger: Ledger, scenario: Scenario) -> pd.DataFrame:
    """Speed to lead at seam 1 in one row: response hours, SLA compliance, re-routed share.

    Columns n (leads answered within the horizon), median_hours, p90_hours, sla_hours,
    sla_compliance (share of answered leads answered within ``seam1.sla_hours`` counted on
    the SLA's clock; NaN when the scenario sets no SLA) and rerouted_share (re-routed leads
    over MQLs that reached seam 1 within the horizon).
    """
    values = first_response_values(ledger, scenario)
    return pd.DataFrame({name: [value] for name, value in values.items()}).astype({"n": np.int64})


def first_response_values(ledger: Ledger, scenario: Scenario) -> dict[str, float]:
    """:func:`first_response`'s one row as a dict, for callers that read one value."""
    wait = _response_hours(ledger)
    n, _, median, p90 = summary(wait)
    sla = scenario.seam1.sla_hours
    compliance = np.nan
    if sla is not None and n > 0:
        compliance = float((sla_clock_hours(ledger, scenario) <= sla + ROUNDING_HOURS).mean())
    mql = observed(ledger, "mql_time")
    reached = np.isfinite(mql)
    rerouted = ratio(int((ledger.columns["rerouted"] & reached).sum()), int(reached.sum()))
    return {
        "n": n,
        "median_hours": median,
        "p90_hours": p90,
        "sla_hours": np.nan if sla is None else float(sla),
        "sla_compliance": compliance,
        "rerouted_share": rerouted,
    }


def response_buckets(ledger: Ledger) -> pd.DataFrame:
    """Answered MQLs by first-response bucket and how many qualified: the studies' view.

    Columns bucket, n (MQLs answered within the horizon, by hours from MQL to first
    response), qualified (of them, those that became SQLs) and qualified_share. Counts add
    up over replications; :func:`speed_to_lead_ratios` reads the published ratios off them.
    """
    mql = observed(ledger, "mql_time")
    response = observed(ledger, "first_response")
    answered = np.isfinite(mql) & np.isfinite(response)
    wait = np.maximum(response[answered] - mql[answered], 0.0)
    qualified = np.isfinite(observed(ledger, "sql_time"))[answered]
    edges = [upper for _, upper in RESPONSE_BUCKETS[:-1]]
    index = np.searchsorted(edges, wait, side="left")
    n = np.bincount(index, minlength=len(RESPONSE_BUCKETS))
    qualified_n = np.bincount(index, weights=qualified, minlength=len(RESPONSE_BUCKETS))
    table = pd.DataFrame(
        {
            "bucket": [name for name, _ in RESPONSE_BUCKETS],
            "n": n.astype(np.int64),
            "qualified": qualified_n.astype(np.int64),
        }
    )
    table["qualified_share"] = [ratio(q, m) for q, m in zip(table["qualified"], n, strict=True)]
    return table


def speed_to_lead_ratios(buckets: pd.DataFrame) -> pd.Series:
    """The published speed-to-lead ratios, measured observationally from bucket counts.

    ``buckets`` is :func:`response_buckets`'s table, or several stacked (counts are summed
    by bucket). odds_5_vs_30_min: odds of qualifying within 5 minutes over 5-30 minutes
    (MIT/InsideSales 2007: ~21); within_hour_vs_later: P(qualify | <= 1 h) / P(qualify |
    > 1 h) (HBR 2011: ~7); within_hour_vs_day: P(qualify | <= 1 h) / P(qualify | >= 24 h)
    (HBR 2011: ~60).
    """
    counts = buckets.groupby("bucket", sort=False)[["n", "qualified"]].sum()
    names = [name for name, _ in RESPONSE_BUCKETS]
    counts = counts.reindex(names, fill_value=0)

    def share(rows: list[str]) -> float:
        return ratio(counts.loc[rows, "qualified"].sum(), counts.loc[rows, "n"].sum())

    def odds(p: float) -> float:
        return p / (1.0 - p) if p < 1 else np.inf

    hour, later, day = names[:3], names[3:], names[5:]
    return pd.Series(
        {
            "odds_5_vs_30_min": ratio(odds(share(names[:1])), odds(share(names[1:2]))),
            "within_hour_vs_later": ratio(share(hour), share(later)),
            "within_hour_vs_day": ratio(share(hour), share(day)),
        }
    )


def sales_cycle(ledger: Ledger) -> pd.DataFrame:
    """Per segment: closed opportunities, days from opportunity to close, and win rate.

    Columns segment, n (opportunities closed within the horizon), won, median_days,
    mean_days, win_rate (won / closed opportunities; NaN when none closed). Every segment
    of the scenario appears.
    """
    closed, won, days = closed_opportunities(ledger)
    segment = ledger.columns["segment"]
    rows = []
    for code, name in enumerate(ledger.segment_names):
        mine = closed & (segment == code)
        n, mean, median, _ = summary(days[mine])
        n_won = int((won & mine).sum())
        rows.append((name, n, n_won, median, mean, ratio(n_won, n)))
    table = pd.DataFrame(
        rows, columns=["segment", "n", "won", "median_days", "mean_days", "win_rate"]
    )
    table["segment"] = pd.Categorical(table["segment"], categories=list(ledger.segment_names))
    return table.astype({"n": np.int64, "won": np.int64})


def sla_clock_hours(ledger: Ledger, scenario: Scenario) -> np.ndarray:
    """Hours from MQL to first response on the SLA's clock, for leads answered in the horizon.

    On the business clock only the hours the seam 1 team's calendar is open count, so a
    lead arriving on Friday evening has used none of its SLA by Monday morning.
    """
    mql = observed(ledger, "mql_time")
    response = observed(ledger, "first_response")
    answered = np.isfinite(mql) & np.isfinite(response)
    mql, response = mql[answered], response[answered]
    if scenario.seam1.sla_clock == "wall":
        return durations(mql, response)
    calendar = WorkCalendar(
        scenario.team_calendar(scenario.seam1.team),
        scenario.start_date,
        horizon_hours(ledger) + 7 * 24.0,
    )
    hours = calendar.open_hours_between(mql, response)
    return np.where((hours < 0) & (hours > -ROUNDING_HOURS), 0.0, hours)


def _response_hours(ledger: Ledger) -> np.ndarray:
    """Hours from MQL to first response, for leads answered within the horizon."""
    return durations(observed(ledger, "mql_time"), observed(ledger, "first_response"))


def closed_opportunities(ledger: Ledger) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per lead: closed-within-horizon opportunity mask, won mask and cycle days (for rates).

    Won means booked: a deal that fell through in contract review closed but was not won.
    """
    opp_time = observed(ledger, "opp_time")
    close_time = observed(ledger, "close_time")
    closed = ledger.columns["opportunity"].astype(bool) & np.isfinite(opp_time)
    closed &= np.isfinite(close_time)
    won = closed & closed_won(ledger)
    return closed, won, (close_time - opp_time) / HOURS_PER_DAY


def _step_table(ledger: Ledger, steps: tuple[tuple[str, str, str], ...]) -> pd.DataFrame:
    """Duration statistics in days for each (stage, from, to) step."""
    rows = []
    for stage, start, end in steps:
        days = durations(observed(ledger, start), observed(ledger, end)) / HOURS_PER_DAY
        rows.append((stage, *summary(days)))
    table = pd.DataFrame(rows, columns=["stage", *DURATION_COLUMNS])
    return table.astype({"n": np.int64})
