"""Products (ramp, monthly churn), the monthly cash-flow table, and the outbound motion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import funnelsim as fs
from funnelsim.analysis.cashflow import HOURS_PER_MONTH, cash_metrics, cashflow
from funnelsim.analysis.revenue import by_source, costs
from funnelsim.output import write_results
from funnelsim.scenario import scenario_from_dict

BASE = {
    "horizon_days": 400,
    "sources": {"paid": {"leads_per_week": 80, "cost_per_lead": 50}},
    "seam1": {"sla_hours": 8, "fallback_team": "backup"},
    "teams": {"backup": {"headcount": 1, "work_time": {"dist": "exponential", "mean": 0.5}}},
}
# Many customers, renewals out of the way (a five-year term): what is left is the product.
RICH = {
    "horizon_days": 730,
    "sources": {"good": {"leads_per_week": 150, "fit": {"dist": "beta", "a": 8, "b": 1}}},
    "teams": {
        "ae": {"headcount": 20, "capacity_per_head": 40},
        "sdr": {"headcount": 8, "work_time": 0.5},
    },
    "sales": {"win_rate": {"smb": 0.6, "mid_market": 0.6, "enterprise": 0.6}},
    "seam4": {"term_months": 60},
}


def _with(base: dict, **extra: object) -> fs.Scenario:
    return scenario_from_dict({**base, **extra})


def _ci_contains(values: list[float], expected: float, level: float = 0.99) -> None:
    """``expected`` lies in the Student-t interval of the replications' values."""
    values_arr = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + level / 2, len(values_arr) - 1) * stats.sem(values_arr)
    mean = float(values_arr.mean())
    assert mean - half <= expected <= mean + half, (mean, half, expected)


# --- cash flow -------------------------------------------------------------------------


def test_cash_flow_identities() -> None:
    scenario = _with(
        BASE,
        costs={
            "collection_days": {"dist": "lognormal", "median": 35, "p90": 90},
            "payment_fee_rate": 0.029,
            "tools_per_year": 24_000,
        },
    )
    ledger = fs.simulate(scenario, 5)
    table = cashflow(ledger, scenario)
    terms = ledger.terms
    horizon = ledger.meta["horizon_hours"]
    # Collected + outstanding receivables = invoiced, at every month end.
    np.testing.assert_allclose(
        table["collected"].cumsum() + table["receivables"], table["invoiced"].cumsum()
    )
    # Monthly totals add up to the run's totals.
    assert table["invoiced"].sum() == pytest.approx(ledger.columns["invoiced_revenue"].sum())
    assert table["invoiced"].sum() == pytest.approx(terms["invoiced"].sum())
    unpaid = terms.loc[terms["paid_time"] >= horizon, "invoiced"].sum()
    assert table["receivables"].iloc[-1] == pytest.approx(unpaid)
    assert table["receivables"].iloc[-1] > 0
    assert table["cash_out"].sum() == pytest.approx(costs(ledger, scenario)["cost"].sum())
    won = ledger.columns["won_time"] <= horizon
    assert table["bookings"].sum() == pytest.approx(ledger.columns["booked_arr"][won].sum())
    assert table["fees"].sum() == pytest.approx(0.029 * table["collected"].sum())
    np.testing.assert_allclose(table["net_cash"].cumsum(), table["cumulative_cash"])
    np.testing.assert_allclose(table["cash_in"] - table["cash_out"], table["net_cash"])
    assert table["days"].sum() == pytest.approx(scenario.horizon_days)
    # Cash is never collected before it is invoiced.
    assert np.all(terms["paid_time"] >= terms["start"])
    metrics = cash_metrics(ledger, scenario).set_index("metric")["value"]
    assert metrics["collected"] + metrics["receivables_at_horizon"] == pytest.approx(
        metrics["invoiced"]
    )
    assert metrics["peak_cash_need"] >= 0


def test_cash_break_even_and_payback() -> None:
    """A company that only earns breaks even at once; an expensive one never pays back."""
    free = _with(RICH, teams={k: {"headcount": 20, "capacity_per_head": 40} for k in ("ae",)})
    free = free.model_copy(
        update={
            "teams": {k: t.model_copy(update={"cost_per_year": 0.0}) for k, t in free.teams.items()}
        }
    )
    metrics = cash_metrics(fs.simulate(free, 2), free).set_index("metric")["value"]
    assert metrics["months_to_break_even"] == 0
    assert metrics["cac_payback_cash_months"] == 1  # nothing spent: paid back at once
    dear = _with(BASE, costs={"tools_per_year": 1e9})
    metrics = cash_metrics(fs.simulate(dear, 2), dear).set_index("metric")["value"]
    assert np.isnan(metrics["months_to_break_even"])
    assert np.isnan(metrics["cac_payback_cash_months"])
    assert metrics["net_burn_per_month"] > 0


def test_results_cashflow_and_results_directory(tmp_path) -> None:
    scenario = _with(BASE, horizon_days=200)
    results = fs.run(scenario, replications=2, seed=3)
    table = results.cashflow()
    assert sorted(table["replication"].unique()) == [0, 1]
    assert len(results.cash_metrics()) == 2 * 10
    out = write_results(results, tmp_path / "run")
    written = pd.read_csv(out / "cashflow.csv")
    np.testing.assert_allclose(written["collected"], table["collected"])


# --- products --------------------------------------------------------------------------


def test_no_products_same_ledger_as_a_neutral_product() -> None:
    """A single product with no ramp, churn or price of its own changes no number."""
    plain = _with(BASE)
    neutral = _with(BASE, products={"core": {"share": 1.0}})
    a, b = fs.simulate(plain, 9), fs.simulate(neutral, 9)
    assert np.all(a.columns["product"] == -1)
    assert np.all(b.columns["product"] == 0)
    for name in a.columns:
        if name != "product":
            np.testing.assert_array_equal(a.columns[name], b.columns[name], err_msg=name)
    pd.testing.assert_frame_equal(a.terms, b.terms)
    pd.testing.assert_frame_equal(a.team_levels, b.team_levels)
    assert a.meta == b.meta
    assert a.leads["product"].isna().all()
    assert (b.leads["product"] == "core").all()


def test_product_mix_and_deal_value() -> None:
    scenario = _with(
        BASE,
        horizon_days=730,
        products={
            "core": {"mix": {"smb": 0.2, "mid_market": 0.5, "enterprise": 1.0}},
            "lite": {"mix": {"smb": 0.8, "mid_market": 0.5, "enterprise": 0.0}, "deal_value": 777},
        },
    )
    leads = fs.simulate(scenario, 4).leads
    assert (leads.loc[leads["segment"] == "enterprise", "product"] == "core").all()
    smb = leads[leads["segment"] == "smb"]
    share = (smb["product"] == "lite").mean()
    half = 3 * np.sqrt(0.8 * 0.2 / len(smb))
    assert abs(share - 0.8) < half
    assert (leads.loc[leads["product"] == "lite", "deal_value"] == 777).all()
    assert (leads.loc[leads["product"] == "core", "deal_value"] != 777).all()


def test_product_ramp_revenue() -> None:
    """With no churn, revenue over the first months is ARR/12 x the ramp factors."""
    ramp = [0.3, 0.6, 1.0]
    scenario = _with(RICH, products={"core": {"share": 1.0, "ramp_months": ramp}})
    ledger = fs.simulate(scenario, 1)
    c = ledger.columns
    horizon = ledger.meta["horizon_hours"]
    customers = np.flatnonzero(np.isfinite(c["invoice_time"]))
    assert len(customers) > 100
    months = (horizon - c["invoice_time"][customers]) / HOURS_PER_MONTH
    factors = np.array([*ramp, 1.0])
    earned = sum(factors[m] * np.clip(months - m, 0, 1) for m in range(3))
    earned = earned + np.maximum(months - 3, 0)
    arr = c["booked_arr"][customers]
    # The ledger's times are float32 (rounded down): months read off them are that close.
    month_error = float(np.spacing(np.float32(horizon))) / HOURS_PER_MONTH
    np.testing.assert_allclose(
        c["horizon_revenue"][customers],
        arr / 12 * earned,
        rtol=1e-9,
        atol=arr.max() / 12 * month_error,
    )
    # The whole five-year term is invoiced upfront, ramp included.
    np.testing.assert_allclose(c["invoiced_revenue"][customers], arr / 12 * (60 - 0.7 - 0.4))
    # A month-by-month check for one customer: months 1..3 bring 0.3, 0.6 and 1.0 x MRR.
    lead = customers[np.argmax(months)]
    assert months.max() > 3
    plain = _with(RICH)
    base = fs.simulate(plain, 1).columns
    assert base["booked_arr"][lead] == c["booked_arr"][lead]
    gap = base["horizon_revenue"][lead] - c["horizon_revenue"][lead]
    assert gap == pytest.approx(c["booked_arr"][lead] / 12 * (0.7 + 0.4))


def test_monthly_churn_survival_and_revenue() -> None:
    """Monthly churn p: P(still a customer m months after go-live) = (1 - p)^m (CI)."""
    p, m = 0.05, 6
    churny = _with(RICH, products={"core": {"share": 1.0, "monthly_churn": p}})
    steady = _with(RICH, products={"core": {"share": 1.0}})
    survival = []
    for seed in range(8):
        ledger = fs.simulate(churny, seed)
        c = ledger.columns
        horizon = ledger.meta["horizon_hours"]
        start = c["invoice_time"]
        observed = np.isfinite(start) & (start + m * HOURS_PER_MONTH <= horizon)
        gone = c["churn_time"][observed] <= start[observed] + m * HOURS_PER_MONTH
        survival.append(1.0 - float(np.mean(gone)))
        # Churn strikes at month ends after go-live.
        churned = np.isfinite(c["churn_time"])
        months = (c["churn_time"][churned] - start[churned]) / HOURS_PER_MONTH
        # Both times are float32 (rounded down), each within one spacing at the horizon.
        month_error = 2 * float(np.spacing(np.float32(horizon))) / HOURS_PER_MONTH
        np.testing.assert_allclose(months, np.round(months), atol=month_error)
        if seed == 0:
            base = fs.simulate(steady, seed).columns
            assert np.all(c["horizon_revenue"] <= base["horizon_revenue"] + 1e-9)
            assert c["horizon_revenue"].sum() < base["horizon_revenue"].sum()
            assert churned.sum() > 0
    _ci_contains(survival, (1 - p) ** m)


# --- outbound --------------------------------------------------------------------------

OUTBOUND = {
    "kind": "outbound",
    "accounts": 400,
    "attempts_per_week": 300,
    "connect_prob": 0.15,
    "accept_prob": 0.5,
    "retry_days": {"dist": "exponential", "mean": 4},
    "max_attempts": 3,
    "cooling_off_days": 45,
    "cost_per_attempt": 2.0,
    "cost_per_lead": 10.0,
    "fit": {"dist": "beta", "a": 3, "b": 3},
}


def test_outbound_finite_market_and_cooling_off() -> None:
    scenario = _with(BASE, sources={"paid": {"leads_per_week": 20}, "cold": OUTBOUND})
    ledger = fs.simulate(scenario, 6)
    attempts = ledger.outbound_attempts
    assert (attempts["source"] == "cold").all()
    assert attempts["account"].nunique() <= OUTBOUND["accounts"]
    assert attempts["account"].nunique() == OUTBOUND["accounts"]  # the market is worked out
    cooling = OUTBOUND["cooling_off_days"] * 24.0
    checked = 0
    for _, tries in attempts.sort_values(["account", "time"]).groupby("account"):
        times = tries["time"].to_numpy()
        said_no = tries["outcome"].isin(["declined", "exhausted"]).to_numpy()[:-1]
        gaps = np.diff(times)
        assert np.all(gaps[said_no] >= cooling - 1e-9)
        checked += int(said_no.sum())
        assert tries["attempt"].max() <= OUTBOUND["max_attempts"]
        # An account that became a lead is never tried again.
        is_lead = (tries["outcome"] == "lead").to_numpy()
        assert is_lead.sum() <= 1 and (not is_lead.any() or is_lead[-1])
    assert checked > 0
    leads = ledger.leads
    cold = leads[leads["source"] == "cold"]
    assert len(cold) == int((attempts["outcome"] == "lead").sum())
    assert cold["account"].is_unique and (cold["account"] >= 0).all()
    assert (leads.loc[leads["source"] == "paid", "account"] == -1).all()
    # Outbound leads run the same funnel.
    assert cold["mql"].any() and set(cold["outcome"].unique()) - {"not_a_fit"}
    table = costs(ledger, scenario).set_index("item")["cost"]
    assert table["attempts:cold"] == pytest.approx(2.0 * len(attempts))
    assert table["leads:cold"] == pytest.approx(10.0 * len(cold))
    per_source = by_source(ledger, scenario).set_index("source")
    assert per_source.at["cold", "lead_cost"] == pytest.approx(
        table["leads:cold"] + table["attempts:cold"]
    )


def test_outbound_leads_per_week_match_attempts_times_connect_rate() -> None:
    """In a market too big to run dry: attempts/week as set, leads = attempts x p (CI)."""
    spec = {**OUTBOUND, "accounts": 1_000_000, "cooling_off_days": 0}
    scenario = _with(BASE, horizon_days=182, sources={"cold": spec})
    weeks = scenario.horizon_days / 7
    rate = spec["connect_prob"] * spec["accept_prob"]
    leads_per_week, attempts_per_week = [], []
    for seed in range(10):
        ledger = fs.simulate(scenario, seed)
        leads_per_week.append(ledger.n_leads / weeks)
        attempts_per_week.append(len(ledger.outbound_attempts) / weeks)
    _ci_contains(attempts_per_week, spec["attempts_per_week"])
    _ci_contains(leads_per_week, spec["attempts_per_week"] * rate)


def test_outbound_validation() -> None:
    with pytest.raises(Exception, match="connect_prob"):
        _with(BASE, sources={"cold": {**OUTBOUND, "connect_prob": 2}})
    with pytest.raises(Exception, match="products"):
        _with(BASE, products={"a": {"share": 0.5}})


def test_cash_salaries_follow_the_hiring_plan_and_commissions_their_payments() -> None:
    """Pay starts when hires start; commission is paid in the months after each win."""
    from funnelsim.experiment.variants import with_overrides

    base = fs.load_scenario(Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml")
    hired = with_overrides(
        base,
        {
            "horizon_days": 365,
            "teams.ae.plan": [{"date": "2027-07-01", "change": 4}],
            "teams.ae.comp": {
                "base_per_year": 150000,
                "commission_rate": 0.1,
                "commission_months": 3,
            },
        },
    )
    ledger = fs.simulate(hired, 2)
    table = cashflow(ledger, hired)
    cost = costs(ledger, hired)
    team_pay = cost.loc[cost["item"].str.startswith("team:"), "cost"].sum()
    commission = cost.loc[cost["item"].str.startswith("commission:"), "cost"].sum()
    assert np.isclose(table["salaries"].sum(), team_pay)
    assert np.isclose(table["commissions"].sum(), commission)
    start = (np.datetime64("2027-07-01") - np.datetime64(hired.start_date, "D")).astype(int)
    before = table.loc[table["start_day"] + table["days"] <= start, "salaries"]
    after = table.loc[table["start_day"] >= start, "salaries"]
    monthly_raise = 4 * 150000 / 12
    assert after.mean() - before.mean() > 0.9 * monthly_raise
    first_win = np.nanmin(ledger.columns["won_time"]) / 24.0
    assert table.loc[table["start_day"] + table["days"] <= first_win, "commissions"].sum() == 0
