"""The results of a run: replications' metrics, leakage and ledgers as tidy DataFrames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from funnelsim.analysis.saturation import LOAD_COLUMNS, saturation, saturation_warnings
from funnelsim.experiment.replications import Replication
from funnelsim.experiment.stats import CONFIDENCE, summarise
from funnelsim.scenario.models import Scenario

if TYPE_CHECKING:
    from funnelsim.report.plotting import PlotAccessor

LEAKAGE_MEASURES = ("leads_lost", "deals_affected", "arr_lost", "horizon_revenue_lost")


@dataclass(repr=False)
class Results:
    """One scenario run over independent replications."""

    scenario: Scenario
    seed: int
    replications: list[Replication]
    confidence: float = CONFIDENCE
    # Summaries already computed, keyed by what they depend on (see _memo).
    _memos: dict[tuple, pd.DataFrame] = field(default_factory=dict, init=False, compare=False)

    @property
    def plot(self) -> PlotAccessor:
        """Charts of this run: ``results.plot.funnel(ax=...)``, ``.waterfall()``, ``.flow()``."""
        from funnelsim.report.plotting import PlotAccessor

        return PlotAccessor(self)

    @property
    def n_replications(self) -> int:
        return len(self.replications)

    def __repr__(self) -> str:
        kept = all(rep.ledger is not None for rep in self.replications)
        return (
            f"Results(scenario={self.scenario.name!r}, replications={self.n_replications}, "
            f"seed={self.seed}, ledgers={'kept' if kept else 'not kept'})"
        )

    def with_dates(self, table: str = "ledger") -> pd.DataFrame:
        """``ledger``, ``terms``, ``team_levels`` or ``headcount`` with a datetime column
        beside each hours column (``created_date``, ``won_date``, ``week_start``, ...)."""
        from funnelsim.dates import with_dates

        if table not in {"ledger", "terms", "team_levels", "headcount"}:
            raise ValueError(
                f"table: expected ledger, terms, team_levels or headcount, not {table!r}"
            )
        return with_dates(getattr(self, table), self.scenario.start_date)

    def per_replication(self) -> pd.DataFrame:
        """Headline metrics, one row per replication and metric."""
        return _stack(self.replications, "headline")

    def summary(self) -> pd.DataFrame:
        """Each headline metric's mean and confidence interval over the replications."""
        return self._memo("summary", self._summary)

    def _summary(self) -> pd.DataFrame:
        return summarise(self.per_replication(), ["metric", "unit"], "value", self.confidence)

    def _memo(self, name: str, compute: Any) -> pd.DataFrame:
        """``compute()`` once per set of replications and confidence (a copy each time, so
        a caller that changes it changes nothing here)."""
        key = (name, self.confidence, tuple(id(rep) for rep in self.replications))
        if key not in self._memos:
            self._memos[key] = compute()
        return self._memos[key].copy()

    def saturation(self) -> pd.DataFrame:
        """Teams at >= 90% occupancy for a quarter (mean over replications); see analysis."""
        kept = [rep for rep in self.replications if rep.load is not None]
        return saturation(_stack(kept, "load") if kept else pd.DataFrame(columns=LOAD_COLUMNS))

    def warnings(self) -> list[str]:
        """One line per saturated team, naming the queue it builds (empty when none)."""
        return saturation_warnings(self.saturation(), self.scenario)

    def leakage(self) -> pd.DataFrame:
        """Attributed leakage by seam and reason, one row per replication."""
        return _stack(self.replications, "leakage")

    def leakage_summary(self) -> pd.DataFrame:
        """Attributed leakage by seam, reason and measure: mean and confidence interval."""
        return self._memo("leakage_summary", self._leakage_summary)

    def _leakage_summary(self) -> pd.DataFrame:
        long = self.leakage().melt(
            id_vars=["replication", "seam", "reason"],
            value_vars=list(LEAKAGE_MEASURES),
            var_name="measure",
            value_name="value",
        )
        return summarise(long, ["seam", "reason", "measure"], "value", self.confidence)

    @property
    def ledger(self) -> pd.DataFrame:
        """Every lead of every kept replication, with a ``replication`` column."""
        return self._ledger_frames(lambda ledger: ledger.leads)

    @property
    def terms(self) -> pd.DataFrame:
        """Every contract term of every kept replication."""
        return self._ledger_frames(lambda ledger: ledger.terms)

    @property
    def team_levels(self) -> pd.DataFrame:
        """Weekly team occupancy and queue length of every kept replication."""
        return self._ledger_frames(lambda ledger: ledger.team_levels)

    @property
    def headcount(self) -> pd.DataFrame:
        """Every team's headcount and effective capacity over time, per kept replication."""
        return self._ledger_frames(lambda ledger: ledger.headcount)

    def cashflow(self) -> pd.DataFrame:
        """The monthly cash-flow table of every kept replication (see analysis.cashflow)."""
        from funnelsim.analysis.cashflow import cashflow

        return self._ledger_frames(lambda ledger: cashflow(ledger, self.scenario), "cashflow")

    def cash_metrics(self) -> pd.DataFrame:
        """Burn, break-even and CAC payback on cash, one row per replication and metric."""
        from funnelsim.analysis.cashflow import cash_metrics

        return self._ledger_frames(lambda ledger: cash_metrics(ledger, self.scenario))

    def timeseries(self) -> pd.DataFrame:
        """Every kept replication per calendar month: bookings, the ARR bridge, revenue,
        pipeline by stage and coverage, customers, headcount and cash (see
        analysis.timeseries)."""
        from funnelsim.analysis.timeseries import timeseries

        return self._ledger_frames(lambda ledger: timeseries(ledger, self.scenario), "timeseries")

    def timeseries_bands(self, table: pd.DataFrame | None = None) -> pd.DataFrame:
        """Per calendar month and metric: the mean over replications with its confidence
        interval, and the 10th/50th/90th percentiles across replications (of ``table``,
        this run's ``timeseries()`` when not given)."""
        from funnelsim.analysis.timeseries import timeseries_bands

        return timeseries_bands(self.timeseries() if table is None else table, self.confidence)

    def by_source(self) -> pd.DataFrame:
        """Where new business comes from, per source: leads, won deals, new ARR booked and
        conversion (won deals / leads), each with its mean and interval over the kept
        replications, labelled with the sources' display names (see analysis.origins)."""
        return self._origins("source")

    def by_segment(self) -> pd.DataFrame:
        """As :meth:`by_source`, per customer segment."""
        return self._origins("segment")

    def _origins(self, by: str) -> pd.DataFrame:
        from funnelsim.analysis.origins import origin_summary, origins

        frames = self._ledger_frames(lambda ledger: origins(ledger, self.scenario, by))
        return origin_summary(frames, self.scenario, by, self.confidence)  # type: ignore[arg-type]

    @property
    def stages(self) -> pd.DataFrame:
        """Every opportunity's sales stages (entered, left, result) of every kept replication."""
        from funnelsim.analysis.stages import stage_rows

        return self._ledger_frames(stage_rows)

    def forecast(self, draws: int = 1000) -> pd.DataFrame:
        """Per replication and calendar quarter: the stage-weighted forecast (scenario and
        fitted weights), the Monte Carlo P10/P50/P90 and the actuals (analysis.forecast)."""
        from funnelsim.analysis.forecast import MC_DRAWS, forecasts

        parts = [(rep.tables or {}).get("forecast") for rep in self.replications]
        if draws == MC_DRAWS and all(part is not None for part in parts):
            table = forecasts([], self.scenario, seed=self.seed, draws=draws, parts=parts)
        else:
            ledgers = [rep.ledger for rep in self.replications]
            if any(ledger is None for ledger in ledgers):
                raise ValueError("this run kept no ledgers; run with keep_ledgers=True")
            table = forecasts(ledgers, self.scenario, seed=self.seed, draws=draws)
        table["replication"] = [self.replications[i].index for i in table["replication"]]
        return table

    def forecast_accuracy(self) -> pd.DataFrame:
        """Forecast errors per method and quarter with intervals, and the Monte Carlo band's
        coverage of the actuals."""
        from funnelsim.analysis.forecast import forecast_accuracy

        return forecast_accuracy(self.forecast(), self.confidence)

    def _ledger_frames(self, pick, table: str | None = None) -> pd.DataFrame:
        """``pick(ledger)`` of every replication stacked with a replication column; a
        ``table`` the replication computed already (``Replication.tables``) is reused."""
        frames = []
        for rep in self.replications:
            ready = rep.tables.get(table) if rep.tables and table else None
            if ready is None and rep.ledger is None:
                raise ValueError("this run kept no ledgers; run with keep_ledgers=True")
            frames.append(pick(rep.ledger) if ready is None else ready)
        return _with_replications(frames, self.replications)


def _stack(replications: list[Replication], attribute: str) -> pd.DataFrame:
    return _with_replications([getattr(rep, attribute) for rep in replications], replications)


def _with_replications(frames: list[pd.DataFrame], replications: list[Replication]) -> pd.DataFrame:
    """The replications' frames stacked (a copy), with a ``replication`` column first:
    one concatenation, rather than a copy and an insert per frame."""
    table = pd.concat(frames, ignore_index=True)
    index = np.repeat(
        np.array([rep.index for rep in replications], dtype=np.int64), [len(f) for f in frames]
    )
    table.insert(0, "replication", index)
    return table
