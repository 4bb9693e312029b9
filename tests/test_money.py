"""Money that adds up: deferral is not leakage, fall-through is not won, net value is gross
profit minus cost, and the report's summary leads with seam fixes without overclaiming."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import busy_scenario

import funnelsim as fs
from funnelsim.analysis.deferral import deferral
from funnelsim.analysis.leakage import attributed_leakage, reconciliation
from funnelsim.experiment.variants import with_overrides
from funnelsim.report.data import ReportData
from funnelsim.report.html import summary_facts
from funnelsim.report.html.sections import summary_cards
from funnelsim.scenario import scenario_from_dict

BASELINE = Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml"
BUSY = scenario_from_dict(busy_scenario())
# A small company whose two AEs are nearly full: fixing seam 1 floods them.
TIGHT_AE: dict[str, Any] = {
    "horizon_days": 240,
    "sources": {"inbound": {"leads_per_week": 60, "fit": {"dist": "beta", "a": 3, "b": 3}}},
    "teams": {
        "sdr": {
            "headcount": 2,
            "capacity_per_head": 1,
            "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5},
        },
        "ae": {"headcount": 2, "capacity_per_head": 8},
    },
    "seam1": {
        "response_delay": {"dist": "lognormal", "median": 12, "p90": 48},
        "decay": {"half_life_hours": 6, "floor": 0.1},
    },
}


@pytest.fixture(scope="module")
def busy() -> fs.Results:
    return fs.run(BUSY, replications=3, seed=4)


def _headline(rep: Any) -> dict[str, float]:
    return rep.headline.set_index("metric")["value"].to_dict()


def test_fall_through_deals_are_not_won(busy: fs.Results) -> None:
    fell_total = 0
    for rep in busy.replications:
        leads = rep.ledger.leads
        fell = (leads["outcome"] == "lost_at_seam") & (leads["loss_reason"] == "fell_through")
        fell_total += int(fell.sum())
        booked = leads["won"] & ~fell
        values = _headline(rep)
        assert values["won_deals"] == booked.sum() == (leads["booked_arr"] > 0).sum()
        assert values["won_deals"] == leads["won"].sum() - fell.sum()
        assert values["opportunities"] >= values["won_deals"] >= values["active_customers"]
    assert fell_total > 0, "the busy company loses deals in contract review"


def test_deferred_quote_to_cash_is_its_own_measure_not_leakage(busy: fs.Results) -> None:
    for rep in busy.replications:
        ledger = rep.ledger
        values = _headline(rep)
        deferred = deferral(ledger).set_index("metric")["value"]
        assert values["deferred_revenue"] == pytest.approx(deferred["deferred_revenue"])
        assert values["deferred_cash"] == pytest.approx(deferred["deferred_cash"])
        assert deferred["deferred_revenue"] > 0 and deferred["deferred_cash"] >= 0
        table = attributed_leakage(ledger, BUSY)
        assert "slow_quote_to_cash" not in set(table["reason"])
        totals = reconciliation(ledger, BUSY).set_index("metric")["value"]
        assert totals["attributed_revenue_lost"] == pytest.approx(
            table["horizon_revenue_lost"].sum()
        )
        metrics = rep.metrics(BUSY.currency).set_index("metric")["value"]
        seam2 = table[table["seam"] == 2]
        assert metrics["seam2_arr_lost"] == pytest.approx(seam2["arr_lost"].sum())
    leakage = busy.leakage_summary()
    assert "slow_quote_to_cash" not in set(leakage["reason"])


def test_net_value_is_gross_profit_minus_cost() -> None:
    base = scenario_from_dict(busy_scenario(), ["horizon_days=180"])
    thin = with_overrides(base, {"costs.gross_margin": 0.5})
    comparison = fs.compare(base, thin, replications=3, seed=2)
    table = comparison.per_replication()
    for _, group in table.groupby("replication"):
        rows = group.set_index("metric")
        revenue, cost = rows.loc["horizon_revenue"], rows.loc["total_cost"]
        net = rows.loc["net_value"]
        margin = base.costs.gross_margin
        assert net["baseline"] == pytest.approx(revenue["baseline"] * margin - cost["baseline"])
        assert net["variant"] == pytest.approx(revenue["variant"] * 0.5 - cost["variant"])
        assert rows.at["gross_profit", "baseline"] == pytest.approx(revenue["baseline"] * margin)
        # The margin changes nothing but the money kept from each dollar of revenue.
        assert revenue["difference"] == 0 and cost["difference"] == 0
        assert net["difference"] == pytest.approx((0.5 - margin) * revenue["baseline"])
    summary = comparison.summary().set_index("metric")
    nets = table[table["metric"] == "net_value"]["difference"]
    assert (nets < 0).all()
    assert summary.at["net_value", "difference"] == pytest.approx(nets.mean())


def test_sweep_and_sensitivity_use_the_same_net_value() -> None:
    base = scenario_from_dict(busy_scenario(), ["horizon_days=120"])
    grid = fs.sweep(base, {"costs.gross_margin": [0.5]}, replications=2, seed=1)
    rows = grid.set_index("is_base")
    for is_base in (True, False):
        row = rows.loc[is_base]
        margin = 0.5 if not is_base else base.costs.gross_margin
        expected = row["horizon_revenue"] * margin - row["total_cost"]
        assert row["net_value"] == pytest.approx(expected)
    tornado = fs.sensitivity(
        base, parameters=["costs.gross_margin"], metric="net_value", replications=2, seed=1
    )
    effect = tornado.iloc[0]
    assert effect["high_effect"] > 0 > effect["low_effect"]


def test_summary_leads_with_seam_fixes_and_names_the_saturated_team() -> None:
    scenario = scenario_from_dict(TIGHT_AE)
    leaks = fs.leaks(scenario, replications=3, seed=1)
    seam1 = leaks[(leaks["kind"] == "seam") & (leaks["seam"] == 1)].iloc[0]
    assert seam1["saturated_team"] == "ae"
    assert seam1["saturated_occupancy"] > 0.9
    data = ReportData.from_results(fs.run(scenario, replications=3, seed=1))
    facts = summary_facts(data, leaks=leaks)
    assert facts.sentences[0].startswith("Fixing <b>seam")
    assert facts.saturated[1][0] == "ae"
    assert any("would saturate the <b>ae</b> team" in s for s in facts.sentences)
    assert facts.all_fixes_value is not None and facts.interaction_value is not None
    cards = summary_cards(data, facts)
    assert cards[0][0].startswith(f"Fixing seam {facts.best_fix_seam} is worth")


def test_summary_never_claims_more_than_the_company_could_earn() -> None:
    scenario = fs.load_scenario(BASELINE)
    results = fs.run(scenario, replications=3, seed=0, keep_ledgers=False)
    data = ReportData.from_results(results)
    facts = summary_facts(data)
    realised = facts.headline["horizon_revenue"][0]
    assert facts.worst_seam == 1
    assert facts.worst_seam_revenue[0] <= facts.potential_revenue - realised + 1e-6
    # Seam 1 loses less ARR than the company has (the capacity-blind measure said 1.8x).
    assert facts.worst_seam_arr[0] < facts.headline["arr_at_horizon"][0]
    for label, _ in summary_cards(data, facts):
        assert "ARR lost" not in label
    cards = summary_cards(data, facts)
    leak_card = next(label for label, _ in cards if "Biggest hand-off leak" in label)
    share = facts.worst_seam_revenue[0] / facts.potential_revenue
    assert f"({share:.0%} of the potential)" in leak_card
    assert np.isfinite(facts.potential_revenue)
