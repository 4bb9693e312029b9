"""Result tables of ``fs.leaks``, ``fs.sweep`` and ``fs.sensitivity``: DataFrames that know
their chart, like ``fs.compare``'s ``Comparison``.

Each is a ``pandas.DataFrame`` (every caller that reads it as one keeps working; a slice
or a computation on it is a plain DataFrame) with ``.summary()`` (the columns a person
reads first), ``.plot(ax=...)`` (its chart; ``.plot.bar()`` and the other pandas plots
still work) and a short repr: the summary, then how to see the rest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from funnelsim.report.labels import DisplayNames


class _Plot:
    """``table.plot(...)`` draws the table's own chart; ``table.plot.bar(...)`` is pandas'."""

    def __init__(self, table: ResultTable) -> None:
        self._table = table

    def __call__(self, *args: Any, **kwargs: Any) -> Axes:
        return self._table.chart(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(pd.DataFrame(self._table).plot, name)


class ResultTable(pd.DataFrame):
    """A result DataFrame with ``summary()``, ``plot()`` and a short repr."""

    _metadata: ClassVar[list[str]] = ["currency", "confidence", "names"]
    SUMMARY: ClassVar[tuple[str, ...]] = ()
    KIND: ClassVar[str] = "result"

    def __init__(
        self,
        data: Any = None,
        *args: Any,
        currency: str = "USD",
        confidence: float = 0.95,
        names: DisplayNames | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data, *args, **kwargs)
        self.currency = currency
        self.confidence = confidence
        self.names = names  # the scenario's display names, for the chart's labels

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        return pd.DataFrame

    @property
    def plot(self) -> _Plot:  # type: ignore[override]
        """This table's chart: ``table.plot(ax=...)``; pandas' plots as ``table.plot.bar()``."""
        return _Plot(self)

    def chart(self, ax: Axes | None = None) -> Axes:
        """The chart of this table (each kind of result draws its own)."""
        raise NotImplementedError

    def summary(self) -> pd.DataFrame:
        """The columns a person reads first, as a plain DataFrame."""
        return pd.DataFrame(self)[[c for c in self.summary_columns() if c in self.columns]]

    def summary_columns(self) -> list[str]:
        return list(self.SUMMARY)

    def _footer(self) -> str:
        return (
            f"{self.KIND}: {len(self)} rows; the summary of {len(self.columns)} columns "
            "(all of them: pd.DataFrame(table)); chart: table.plot()"
        )

    def __repr__(self) -> str:
        return f"{self.summary()!r}\n[{self._footer()}]"

    def _repr_html_(self) -> str | None:
        html = self.summary()._repr_html_()
        return None if html is None else f"{html}<p><small>{self._footer()}</small></p>"


class SeamFixes(ResultTable):
    """``fs.leaks``: per seam, what fixing it is worth (counterfactual) beside attributed
    leakage, then all four together, the sum of single fixes and their interaction."""

    KIND = "seam fixes"
    SUMMARY = (
        "kind",
        "rank",
        "seam",
        "seam_name",
        "counterfactual_horizon_revenue",
        "counterfactual_horizon_revenue_ci_low",
        "counterfactual_horizon_revenue_ci_high",
        "attributed_horizon_revenue_lost",
        "saturated_teams",
    )

    def chart(self, ax: Axes | None = None) -> Axes:
        """Counterfactual gain of fixing each seam with its interval (attributed as diamonds)."""
        from funnelsim.report.charts import seam_fixes

        return seam_fixes(pd.DataFrame(self), self.currency, ax=ax)


class SweepTable(ResultTable):
    """``fs.sweep``: one row per grid point (the base first, with its own values)."""

    KIND = "sweep"
    _metadata: ClassVar[list[str]] = ["currency", "confidence", "names", "parameters"]
    SUMMARY = (
        "point",
        "is_base",
        "horizon_revenue",
        "total_cost",
        "net_gain",
        "net_gain_ci_low",
        "net_gain_ci_high",
        "best",
    )

    def __init__(self, data: Any = None, *args: Any, parameters: tuple[str, ...] = (), **kwargs):
        super().__init__(data, *args, **kwargs)
        self.parameters = tuple(parameters)

    def summary_columns(self) -> list[str]:
        return [*self.SUMMARY[:2], *self.parameters, *self.SUMMARY[2:]]

    def chart(
        self,
        parameter: str | None = None,
        metric: str = "net_gain",
        by: str | None = None,
        ax: Axes | None = None,
    ) -> Axes:
        """The metric against a grid parameter (default: the first), one line per value of
        ``by`` (default: the second parameter, when there is one)."""
        from funnelsim.report.charts import sweep

        parameter = parameter or self.parameters[0]
        if by is None:
            others = [p for p in self.parameters if p != parameter]
            by = others[0] if others else None
        return sweep(
            pd.DataFrame(self), parameter, metric, self.currency, by=by, ax=ax, names=self.names
        )


class SensitivityTable(ResultTable):
    """``fs.sensitivity``: each parameter moved down and up, widest swing first."""

    KIND = "sensitivity"
    SUMMARY = (
        "parameter",
        "metric",
        "low_value",
        "base_value",
        "high_value",
        "low_effect",
        "high_effect",
        "swing",
    )

    def chart(self, ax: Axes | None = None) -> Axes:
        """Tornado: each parameter's effect moved down and up, widest swing on top."""
        from funnelsim.report.charts import tornado

        return tornado(pd.DataFrame(self), self.currency, ax=ax, names=self.names)
