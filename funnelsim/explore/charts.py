"""The explorer's charts: the report's own chart functions, drawn as inline PNG markup.

Each returns ``markupsafe.Markup`` from ``report.html.markup.chart`` (text in it is
escaped there), so the page shows exactly the charts the client report prints.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from markupsafe import Markup

from funnelsim.experiment.changes import acts_on
from funnelsim.experiment.options import Decision
from funnelsim.explore.compute import OPTION
from funnelsim.report.charts.leakage import seam_fixes
from funnelsim.report.charts.options import response_overlay, team_load_overlay
from funnelsim.report.data import team_colors
from funnelsim.report.html.markup import chart
from funnelsim.report.labels import DisplayNames
from funnelsim.results import Results
from funnelsim.scenario.models import Scenario

WIDE = (9.0, 4.6)
HALF = (6.4, 4.0)


def waterfall(scenario: Scenario, seed: int, runs: list[Any]) -> Markup:
    """The leakage waterfall of a scenario's replications (potential down to realised)."""
    results = Results(scenario=scenario, seed=seed, replications=runs)
    return chart(lambda ax: results.plot.waterfall(ax=ax), WIDE, "Leakage waterfall")


def fixes(table: pd.DataFrame, currency: str) -> Markup:
    """The value of fixing each seam (``funnelsim.api.leaks``), with intervals."""
    return chart(lambda ax: seam_fixes(table, currency, ax=ax), HALF, "Value of fixing each seam")


def before_after(decision: Decision) -> list[Markup]:
    """Speed to lead and team load, base against the option, from the decision's views."""
    base, option = decision.baseline, decision.options[OPTION]
    before = [getattr(run, "views", {}) for run in decision.baseline_runs]
    after = [getattr(run, "views", {}) for run in decision.option_runs[OPTION]]
    if not all(before) or not all(after):
        return []
    names = ("base", "option")
    sla = (base.seam1.sla_hours, option.seam1.sla_hours)
    teams = acts_on(base, option).teams or [base.seam1.team]
    labels = {**DisplayNames.of(base).teams, **DisplayNames.of(option).teams}
    colors = team_colors(option, teams)
    return [
        chart(
            lambda ax: response_overlay(
                [v["response_hours"] for v in before],
                [v["response_hours"] for v in after],
                names,
                sla,
                ax=ax,
            ),
            HALF,
            "Speed to lead before and after",
        ),
        chart(
            lambda ax: team_load_overlay(
                [v["team_load"] for v in before],
                [v["team_load"] for v in after],
                teams,
                base.start_date,
                labels,
                colors,
                ax=ax,
            ),
            HALF,
            "Team load before and after",
        ),
    ]
