"""Funnel analysis: stage counts, conversion and outcomes agree with the ledger itself."""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import busy_scenario, per_segment

import funnelsim as fs
from funnelsim.analysis.funnel import STAGES, conversion, outcomes, stage_counts
from funnelsim.engine.ledger import OUTCOMES, SEAM_REASONS
from funnelsim.scenario import scenario_from_dict

# A small company with every kind of outcome within a year: short terms so that seams 3
# and 4 act, generous sales so that there are customers, leaky quote-to-cash.
BUSY: dict[str, Any] = busy_scenario()
DEFAULT_SMALL: dict[str, Any] = {
    "horizon_days": 180,
    "sources": {"inbound": {"leads_per_week": 40}},
}
CASES = [(BUSY, 3), (BUSY, 11), (DEFAULT_SMALL, 5)]


@pytest.fixture(scope="module", params=CASES, ids=["busy-3", "busy-11", "default-5"])
def ledger(request: pytest.FixtureRequest) -> fs.Ledger:
    data, seed = request.param
    return fs.simulate(scenario_from_dict(data), seed)


def _direct_masks(ledger: fs.Ledger) -> dict[str, np.ndarray]:
    """Each stage's members computed straight from the tidy leads table."""
    leads = ledger.leads
    horizon = ledger.meta["horizon_hours"]
    return {
        "leads": np.ones(len(leads), dtype=bool),
        "mql": (leads["mql_time"] < horizon).to_numpy(),
        "sql": leads["sql_time"].notna().to_numpy(),
        "opportunity": leads["opportunity"].to_numpy(dtype=bool),
        # A deal that fell through in contract review is not won.
        "won": (leads["won"] & (leads["loss_reason"] != "fell_through")).to_numpy(dtype=bool),
        "active_customer": (leads["outcome"] == "active").to_numpy(),
    }


def test_stage_counts_are_ordered_and_monotone(ledger: fs.Ledger) -> None:
    counts = stage_counts(ledger)
    assert list(counts.columns) == ["stage", "count"]
    assert tuple(counts["stage"]) == STAGES
    assert counts["count"].iloc[0] == ledger.n_leads
    assert (np.diff(counts["count"].to_numpy()) <= 0).all()


def test_stage_counts_equal_direct_counts(ledger: fs.Ledger) -> None:
    counts = stage_counts(ledger).set_index("stage")["count"]
    for stage, mask in _direct_masks(ledger).items():
        assert counts[stage] == mask.sum(), stage


def test_stages_are_nested(ledger: fs.Ledger) -> None:
    masks = _direct_masks(ledger)
    for outer, inner in pairwise(STAGES):
        assert not (masks[inner] & ~masks[outer]).any(), f"{inner} outside {outer}"


def test_conversion_chains_and_multiplies_to_end_to_end(ledger: fs.Ledger) -> None:
    table = conversion(ledger)
    assert list(table.columns) == ["from_stage", "to_stage", "entered", "converted", "rate"]
    assert tuple(table["from_stage"]) == STAGES[:-1]
    assert tuple(table["to_stage"]) == STAGES[1:]
    counts = stage_counts(ledger)["count"].to_numpy()
    assert (table["entered"].to_numpy() == counts[:-1]).all()
    assert (table["converted"].to_numpy() == counts[1:]).all()
    assert ((table["rate"] >= 0) & (table["rate"] <= 1)).all()
    end_to_end = counts[-1] / counts[0]
    assert np.prod(table["rate"].to_numpy()) == pytest.approx(end_to_end, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("by", ["source", "segment"])
def test_grouped_conversion_adds_up_to_overall(ledger: fs.Ledger, by: str) -> None:
    table = conversion(ledger, by=by)
    names = ledger.source_names if by == "source" else ledger.segment_names
    assert list(table.columns) == [by, "from_stage", "to_stage", "entered", "converted", "rate"]
    assert list(table[by].unique()) == list(names)
    overall = conversion(ledger)
    summed = table.groupby("from_stage", sort=False)[["entered", "converted"]].sum()
    assert (summed["entered"].to_numpy() == overall["entered"].to_numpy()).all()
    assert (summed["converted"].to_numpy() == overall["converted"].to_numpy()).all()
    leads = ledger.leads
    for name, group in table.groupby(by, observed=True):
        members = leads[by] == name
        assert group["entered"].iloc[0] == members.sum()
        if group["entered"].iloc[-1] > 0:
            end_to_end = (members & (leads["outcome"] == "active")).sum() / members.sum()
            assert np.prod(group["rate"].to_numpy()) == pytest.approx(end_to_end, rel=1e-12)


def test_conversion_rate_is_nan_when_nobody_entered() -> None:
    data = {**DEFAULT_SMALL, "sales": {"win_rate": per_segment(0.0)}}
    table = conversion(fs.simulate(scenario_from_dict(data), 1)).set_index("from_stage")
    assert table.loc["won", "entered"] == 0
    assert np.isnan(table.loc["won", "rate"])
    assert table.loc["opportunity", "rate"] == 0.0


def test_conversion_rejects_unknown_grouping(ledger: fs.Ledger) -> None:
    with pytest.raises(ValueError, match="by"):
        conversion(ledger, by="region")


def test_outcomes_count_each_lead_once(ledger: fs.Ledger) -> None:
    table = outcomes(ledger)
    assert list(table.columns) == ["outcome", "seam", "reason", "leads"]
    assert table["leads"].sum() == ledger.n_leads
    assert not table.duplicated(["outcome", "seam", "reason"]).any()
    assert set(table["outcome"]) == set(OUTCOMES)
    # Each lead's own key, built from the ledger: the table is exactly their tally.
    leads = ledger.leads
    lost = leads["outcome"] == "lost_at_seam"
    keys = pd.DataFrame(
        {
            "outcome": leads["outcome"].astype(str),
            "seam": np.where(lost, leads["seam"], 0),
            "reason": np.where(lost, leads["loss_reason"].astype(str), ""),
        }
    )
    tally = keys.value_counts().rename("direct")
    merged = table.set_index(["outcome", "seam", "reason"]).join(tally, how="outer")
    assert merged["leads"].notna().all(), "a lead's (outcome, seam, reason) is missing"
    assert (merged["leads"] == merged["direct"].fillna(0)).all()


def test_outcomes_list_every_losing_reason(ledger: fs.Ledger) -> None:
    lost = outcomes(ledger).query("outcome == 'lost_at_seam'")
    expected = [
        (seam, reason)
        for seam, reasons in SEAM_REASONS.items()
        for reason in reasons
        if reason not in ("contract_error", "slow_quote_to_cash")
    ]
    assert list(zip(lost["seam"], lost["reason"], strict=True)) == expected
    counts = outcomes(ledger).groupby("outcome")["leads"].sum()
    direct = ledger.leads["outcome"].value_counts()
    for name in OUTCOMES:
        assert counts[name] == direct[name], name
