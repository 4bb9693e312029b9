"""Independent replications of one scenario, with seeds spawned from one root seed.

Replication r of root seed s always gets the same seed, whatever the number of
replications, workers or the executor, so results are reproducible bit for bit and two
scenarios run with the same root seed meet the same fate draws (common random numbers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from funnelsim.analysis._common import shared_per_ledger
from funnelsim.analysis.capacity import peak_occupancy, team_occupancy
from funnelsim.analysis.cashflow import cash_metric_rows, cashflow
from funnelsim.analysis.forecast import ForecastPart, forecast_part
from funnelsim.analysis.headline import headline_rows, metric_table
from funnelsim.analysis.leakage import attributed_leakage
from funnelsim.analysis.revenue import costs
from funnelsim.analysis.saturation import quarterly_load
from funnelsim.budget import check_replications
from funnelsim.engine import Ledger, simulate
from funnelsim.experiment.executors import DaskScheduler, execute
from funnelsim.scenario.models import Scenario

CASH_HEADLINE = (
    "net_burn_per_month",
    "peak_cash_need",
    "months_to_break_even",
    "cac_payback_cash_months",
)


@dataclass
class Replication:
    """What one replication sends back: its metrics, and its ledger only if asked.

    ``load`` is each team's quarterly occupancy and queue, for saturation warnings.
    ``team_load`` has one row per team: occupancy over the horizon and its highest
    quarterly value (peak_occupancy), to name a team that saturates. ``tables`` holds the
    results folder's per-replication tables when asked (``output_tables``), computed where
    the replication ran so that a pool of workers shares that work too.
    """

    index: int
    seed: int
    headline: pd.DataFrame
    leakage: pd.DataFrame
    ledger: Ledger | None
    load: pd.DataFrame | None = None
    team_load: pd.DataFrame | None = None
    tables: dict[str, Any] | None = None

    def __repr__(self) -> str:
        ledger = "kept" if self.ledger is not None else "not kept"
        return f"Replication(index={self.index}, seed={self.seed}, ledger {ledger})"

    def metrics(self, currency: str) -> pd.DataFrame:
        """Headline metrics plus total cost and per-seam losses: what comparisons diff."""
        by_seam = self.leakage.groupby("seam", sort=True)[["leads_lost", "arr_lost"]].sum()
        rows = []
        for seam, row in by_seam.iterrows():
            rows.append((f"seam{seam}_leads_lost", row["leads_lost"], "leads"))
            rows.append((f"seam{seam}_arr_lost", row["arr_lost"], currency))
        extra = pd.DataFrame(rows, columns=["metric", "value", "unit"])
        return pd.concat([self.headline, extra], ignore_index=True)


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Per-replication seeds spawned from the root seed with numpy's SeedSequence.

    A count above the hard limit is refused first: spawning 1e9 children would
    exhaust memory before anything ran.
    """
    check_replications(replications)
    children = np.random.SeedSequence(int(seed)).spawn(int(replications))
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in children]


def run_replication(
    scenario: Scenario,
    index: int,
    seed: int,
    perfect_seams: tuple[int, ...] = (),
    keep_ledger: bool = True,
    tables: bool = False,
) -> Replication:
    """Simulate one replication and reduce it to headline metrics and leakage (and, with
    ``tables``, the per-replication tables a results folder holds)."""
    ledger = simulate(scenario, seed, perfect_seams=perfect_seams)
    with shared_per_ledger():  # tables several reductions read are made once
        return _reduced(ledger, scenario, index, seed, keep_ledger, tables)


def _reduced(
    ledger: Ledger, scenario: Scenario, index: int, seed: int, keep_ledger: bool, tables: bool
) -> Replication:
    # The cash flow and the forecast's share are made once and reused by the headline,
    # the cash metrics and the tables.
    flow = cashflow(ledger, scenario)
    part = forecast_part(ledger, scenario) if tables else None
    rows = (
        headline_rows(ledger, scenario)
        if part is None
        else headline_rows(ledger, scenario, part.pipeline, part.weighted)
    )
    revenue = next(value for metric, value, _ in rows if metric == "horizon_revenue")
    rows += _net_value(ledger, scenario, revenue)
    rows += [row for row in cash_metric_rows(ledger, scenario, flow) if row[0] in CASH_HEADLINE]
    # One table of every row: the frame the concatenated tables of each part would make.
    return Replication(
        index=index,
        seed=seed,
        headline=metric_table(rows),
        leakage=attributed_leakage(ledger, scenario),
        ledger=ledger if keep_ledger else None,
        load=quarterly_load(ledger),
        team_load=team_load(ledger),
        tables=output_tables(ledger, scenario, index, flow, part) if tables else None,
    )


def team_load(ledger: Ledger) -> pd.DataFrame:
    """One row per team: its occupancy over the horizon and its peak quarterly occupancy
    (columns team, occupancy, peak_occupancy)."""
    occupancy, peak = team_occupancy(ledger), peak_occupancy(ledger)
    if not occupancy.index.equals(peak.index):
        load = pd.concat([occupancy, peak], axis=1)
        return load.rename_axis("team").reset_index()
    # The same teams in the same order: the frame the aligned concatenation makes.
    return pd.DataFrame(
        {
            "team": occupancy.index,
            "occupancy": occupancy.to_numpy(),
            "peak_occupancy": peak.to_numpy(),
        }
    )


def load_worker_modules(tables: bool) -> None:
    """Import what ``run_replication`` loads on first use, so that workers forked after
    this inherit it rather than each importing it again."""
    if tables:
        import funnelsim.analysis.timeseries
        import funnelsim.ledger_files  # noqa: F401


def output_tables(
    ledger: Ledger,
    scenario: Scenario,
    index: int,
    flow: pd.DataFrame | None = None,
    part: ForecastPart | None = None,
) -> dict[str, Any]:
    """One replication's monthly cash flow, calendar months, share of the forecasts
    (``Results.cashflow``, ``timeseries`` and ``forecast`` read them instead of
    recomputing from the ledger) and Parquet tables as Arrow tables (``ledger_files``);
    ``flow`` and ``part``: its cash flow and forecast share, when already made."""
    from funnelsim.analysis.timeseries import timeseries
    from funnelsim.ledger_files import arrow_tables

    return {
        "cashflow": cashflow(ledger, scenario) if flow is None else flow,
        "timeseries": timeseries(ledger, scenario),
        "forecast": forecast_part(ledger, scenario) if part is None else part,
        "parquet": arrow_tables(ledger, index),
    }


def net_value_rows(ledger: Ledger, scenario: Scenario, figures: pd.DataFrame) -> pd.DataFrame:
    """total_cost, gross_profit (horizon revenue x the scenario's gross margin) and
    net_value = gross_profit - total_cost: what a change is judged by."""
    revenue = float(figures.set_index("metric").at["horizon_revenue", "value"])
    return pd.DataFrame(_net_value(ledger, scenario, revenue), columns=["metric", "value", "unit"])


def _net_value(ledger: Ledger, scenario: Scenario, revenue: float) -> list[tuple[str, float, str]]:
    """:func:`net_value_rows` as row tuples, from the horizon revenue."""
    total_cost = float(costs(ledger, scenario)["cost"].sum())
    gross_profit = float(revenue) * scenario.costs.gross_margin
    currency = scenario.currency
    return [
        ("total_cost", total_cost, currency),
        ("gross_profit", gross_profit, currency),
        ("net_value", gross_profit - total_cost, currency),
    ]


def replication_jobs(
    scenario: Scenario,
    replications: int,
    seed: int,
    perfect_seams: Iterable[int] = (),
    keep_ledgers: bool = True,
    tables: bool = False,
) -> list[tuple]:
    """The job tuples (arguments of ``run_replication``) for one scenario's replications."""
    if replications < 1:
        raise ValueError("replications: expected at least 1")
    perfect = tuple(sorted(set(perfect_seams)))
    seeds = replication_seeds(seed, replications)
    return [(scenario, i, s, perfect, keep_ledgers, tables) for i, s in enumerate(seeds)]


def run_replications(
    scenario: Scenario,
    replications: int,
    seed: int,
    workers: int = 1,
    scheduler: str | DaskScheduler | None = None,
    perfect_seams: Iterable[int] = (),
    keep_ledgers: bool = True,
    on_done: Callable[[Replication], None] | None = None,
    output_tables: bool = False,
) -> list[Replication]:
    """Run replications locally or on a Dask cluster; results in replication order.

    ``output_tables``: each replication also computes its results-folder tables (see
    ``Replication.tables``), in parallel with the others.
    """
    jobs = replication_jobs(
        scenario, replications, seed, perfect_seams, keep_ledgers, tables=output_tables
    )
    return execute(
        run_replication,
        jobs,
        workers=workers,
        scheduler=scheduler,
        on_done=(lambda _i, rep: on_done(rep)) if on_done else None,
    )
