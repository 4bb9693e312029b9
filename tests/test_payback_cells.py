"""The decision table read as a sceptical client would: an option with no modelled cost
has no payback to show, and a payback month whose cash margin is noise says so."""

from __future__ import annotations

import numpy as np
import pandas as pd

import funnelsim as fs
from funnelsim.experiment.options import NO_CHANGE, Decision, OptionReplication
from funnelsim.report.decisions import decision_rows


def _stub(index: int, cost: float, net: float, margins: list[float]) -> OptionReplication:
    headline = pd.DataFrame(
        {
            "metric": ["net_value", "total_cost", "horizon_revenue"],
            "value": [net, cost, net + cost],
            "unit": "USD",
        }
    )
    return OptionReplication(
        index=index,
        seed=index,
        headline=headline,
        leakage=pd.DataFrame(),
        ledger=None,
        cash_margin=np.array(margins, dtype=float),
    )


def _rows(option_runs: dict[str, list[OptionReplication]]) -> dict[str, tuple[str, ...]]:
    n = len(next(iter(option_runs.values())))
    base = [_stub(i, 100.0, 0.0, [0.0, 0.0, 0.0, 0.0]) for i in range(n)]
    options = {name: fs.Scenario() for name in option_runs}
    decision = Decision(fs.Scenario(), options, 0, base, option_runs)
    return {row[1]: row for row in decision_rows(decision.summary(), "USD")}


def test_an_option_without_cost_has_no_payback_to_show() -> None:
    free = [_stub(i, 100.0, 50.0 + i, [5.0, 5.0, 5.0, 5.0 + i]) for i in range(4)]
    rows = _rows({"free": free})
    assert rows["free"][2] == "$0 (none modelled)"
    assert rows["free"][5] == "no outlay to pay back"
    assert rows[NO_CHANGE][2] == "$0" and rows[NO_CHANGE][5] == "–"


def test_a_payback_on_a_noisy_cash_margin_is_unclear() -> None:
    # Mean cumulative margin -10, -5, +1, +2: a month-3 payback on the mean, but the
    # replications' totals straddle zero.
    noisy = [
        _stub(0, 150.0, -5.0, [-10, 5, 6, 51]),
        _stub(1, 150.0, 5.0, [-10, 5, 6, -49]),
        _stub(2, 150.0, -5.0, [-10, 5, 6, 41]),
        _stub(3, 150.0, 5.0, [-10, 5, 6, -39]),
    ]
    clear = [_stub(i, 150.0, 30.0, [-10, 5, 8 + i, 20]) for i in range(4)]
    rows = _rows({"noisy": noisy, "clear": clear})
    assert rows["noisy"][5].startswith("unclear")
    assert rows["clear"][2] == "+$50" and rows["clear"][5] == "3 months"
