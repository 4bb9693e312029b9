"""``results.plot``: the charts of one run, each returning its matplotlib Axes."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING

from matplotlib.axes import Axes

from funnelsim.report import charts
from funnelsim.report.data import (
    ReportData,
    flow_table,
    funnel_table,
    pipeline_table,
    response_hours,
    team_colors,
)
from funnelsim.report.labels import DisplayNames

if TYPE_CHECKING:
    import datetime as dt

    from funnelsim.results import Results


class PlotAccessor:
    """Charts of a run: ``results.plot.funnel(ax=...)``, ``.waterfall()``, ``.flow()``, ..."""

    def __init__(self, source: Results | ReportData) -> None:
        self._source = source

    @cached_property
    def data(self) -> ReportData:
        """The run's tables as the charts read them."""
        if isinstance(self._source, ReportData):
            return self._source
        return ReportData.from_results(self._source)

    def funnel(self, ax: Axes | None = None) -> Axes:
        """Leads reaching each stage, with stage-to-stage conversion."""
        return charts.funnel(funnel_table(self.data.summary), ax=ax)

    def waterfall(self, ax: Axes | None = None) -> Axes:
        """Potential horizon revenue down to realised, one bar per seam and reason."""
        data = self.data
        return charts.waterfall(
            data.leakage_summary, data.metric("horizon_revenue"), data.currency, ax=ax
        )

    def flow(self, ax: Axes | None = None) -> Axes:
        """Sankey-style flow of leads across stages to their outcomes."""
        return charts.flow(flow_table(self._ledgers()), ax=ax)

    def first_response(self, ax: Axes | None = None) -> Axes:
        """Time from MQL to first response against the SLA."""
        scenario = self.data.scenario
        sla = scenario.seam1.sla_hours if scenario is not None else None
        return charts.first_response(response_hours(self._ledgers()), sla, ax=ax)

    def teams(self, measure: str = "occupancy", ax: Axes | None = None) -> Axes:
        """Weekly team occupancy (or ``measure="queue_length"``) over time."""
        self._ledgers()
        levels = self.data.team_levels
        colors = team_colors(self.data.scenario, list(dict.fromkeys(levels["team"])))
        return charts.teams(
            levels,
            measure=measure,
            colors=colors,
            confidence=self.data.confidence,
            ax=ax,
            labels=DisplayNames.of(self.data.scenario).teams,
            start_date=self._start_date(),
        )

    def pipeline(self, ax: Axes | None = None) -> Axes:
        """Open pipeline and value won per quarter."""
        return charts.pipeline(
            pipeline_table(self._ledgers()),
            self.data.currency,
            confidence=self.data.confidence,
            ax=ax,
            start_date=self._start_date(),
        )

    def _start_date(self) -> dt.date | None:
        """The scenario's start date, which puts weeks and quarters on the calendar."""
        scenario = self.data.scenario
        return scenario.start_date if scenario is not None else None

    def timeseries(self, metrics: Sequence[str] = ("arr_end",), ax: Axes | None = None) -> Axes:
        """Monthly metrics on the calendar (any column of ``results.timeseries()``) as fan
        charts: mean, its interval and the 10th-90th percentile band over replications."""
        bands = self.data.timeseries_bands
        if bands is None:
            raise ValueError("this run kept no ledgers; run with keep_ledgers=True")
        return charts.timeseries(bands, metrics, self.data.currency, ax=ax)

    def forecast(self, ax: Axes | None = None) -> Axes:
        """Each calendar quarter's forecasts (Monte Carlo band, stage-weighted) and actuals."""
        table = self.data.forecast
        if table is None:
            raise ValueError("this run kept no ledgers; run with keep_ledgers=True")
        return charts.forecast(table, self.data.currency, ax=ax)

    def by_source(self, measure: str = "booked_arr", ax: Axes | None = None) -> Axes:
        """New ARR booked per source (or ``measure``: leads, won_deals, conversion) with its
        interval, each bar noting its leads and conversion; sources by their labels."""
        return charts.origins(
            self.data.origins("source"), "source", self.data.currency, measure, ax
        )

    def by_segment(self, measure: str = "booked_arr", ax: Axes | None = None) -> Axes:
        """As :meth:`by_source`, per customer segment."""
        return charts.origins(
            self.data.origins("segment"), "segment", self.data.currency, measure, ax
        )

    def _ledgers(self) -> list:
        ledgers = self.data.ledgers
        if ledgers is None:
            raise ValueError("this run kept no ledgers; run with keep_ledgers=True")
        return ledgers
