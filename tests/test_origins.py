"""Where new business comes from (issue 14): per source and per segment, leads, won deals,
new ARR and conversion with intervals, as DataFrames, charts and a report section."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import funnelsim as fs
from funnelsim.analysis.origins import ORIGIN_MEASURES, origins
from funnelsim.report.html import report_from_results

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def baseline() -> fs.Results:
    """The bundled baseline: four labelled sources, three segments and a starting book."""
    return fs.run(fs.load_scenario(ROOT / "scenarios" / "baseline.yaml"), replications=3, seed=2)


def test_by_source_adds_up_to_the_run_and_leaves_the_book_out(baseline: fs.Results) -> None:
    scenario = baseline.scenario
    assert scenario.book is not None and baseline.ledger["from_book"].any()
    headline = baseline.per_replication().set_index(["replication", "metric"])["value"]
    for rep in baseline.replications:
        for by in ("source", "segment"):
            table = origins(rep.ledger, scenario, by)
            assert table["leads"].sum() == headline[(rep.index, "leads")]
            assert table["won_deals"].sum() == headline[(rep.index, "won_deals")]
        by_source = origins(rep.ledger, scenario, "source")["booked_arr"].sum()
        by_segment = origins(rep.ledger, scenario, "segment")["booked_arr"].sum()
        assert by_source == pytest.approx(by_segment)


def test_results_views_are_tidy_labelled_and_carry_intervals(baseline: fs.Results) -> None:
    scenario = baseline.scenario
    for by, entries in (("source", scenario.sources), ("segment", scenario.segments)):
        table = getattr(baseline, f"by_{by}")()
        assert list(table.columns) == [
            by,
            "label",
            "measure",
            "unit",
            "mean",
            "ci_low",
            "ci_high",
            "replications",
        ]
        assert list(dict.fromkeys(table[by])) == list(entries)
        labels = dict(zip(table[by], table["label"], strict=True))
        assert labels == {key: entry.label or key for key, entry in entries.items()}
        assert set(table["measure"]) == set(ORIGIN_MEASURES)
        money = table[table["measure"] == "booked_arr"]
        assert (money["unit"] == scenario.currency).all()
        assert (money["ci_low"] <= money["mean"]).all() and (
            money["mean"] <= money["ci_high"]
        ).all()
        share = table[table["measure"] == "conversion"]["mean"]
        assert ((share >= 0) & (share <= 1)).all()
        leads = table[table["measure"] == "leads"].set_index(by)["mean"]
        won = table[table["measure"] == "won_deals"].set_index(by)["mean"]
        assert np.all(won <= leads)


@pytest.mark.parametrize("by", ["source", "segment"])
def test_charts_show_labels_and_units(baseline: fs.Results, by: str) -> None:
    ax = getattr(baseline.plot, f"by_{by}")()
    entries = getattr(baseline.scenario, f"{by}s")
    ticks = {tick.get_text() for tick in ax.get_yticklabels()}
    assert ticks == {entry.label or key for key, entry in entries.items()}
    assert f"({baseline.scenario.currency})" in ax.get_xlabel()
    notes = [text.get_text() for text in ax.texts]
    assert len(notes) == len(entries) and all("leads" in n and "convert" in n for n in notes)
    shares = getattr(baseline.plot, f"by_{by}")(measure="conversion")
    assert "(%)" in shares.get_xlabel()
    with pytest.raises(ValueError, match="measure"):
        getattr(baseline.plot, f"by_{by}")(measure="nonsense")


def test_the_report_has_a_section_on_where_business_comes_from(baseline: fs.Results) -> None:
    html = report_from_results(baseline)
    assert '<section id="origins"><h2>Where new business comes from</h2>' in html
    for entry in baseline.scenario.sources.values():
        assert entry.label in html


def test_without_ledgers_the_views_say_how_to_get_them() -> None:
    scenario = fs.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    results = fs.run(scenario, replications=2, seed=0, keep_ledgers=False)
    with pytest.raises(ValueError, match="keep_ledgers"):
        results.by_source()
    assert '<section id="origins">' not in report_from_results(results)
