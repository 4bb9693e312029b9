"""Sales stages from stage dates: simulate known stages, export their dates as a CRM
would ("date entered" columns or a stage-history file), calibrate, and find them again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from conftest import per_segment, sdr_team
from scipy import stats

from funnelsim.analysis.timeseries import timeseries
from funnelsim.calibrate import bookbuild, calibrate, read_export
from funnelsim.calibrate.checking import check_fit
from funnelsim.calibrate.export import (
    ledger_records,
    to_deals,
    to_stage_history,
    with_stage_dates,
)
from funnelsim.calibrate.fitreport import write_report
from funnelsim.calibrate.mapping import POOLED, mapping_from_dict
from funnelsim.calibrate.salesfit import fit_sales_stages
from funnelsim.cli import main
from funnelsim.engine import simulate
from funnelsim.scenario.loading import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
MAPPINGS = ROOT / "scenarios" / "mappings"
MAVEN = ROOT / "tests" / "data" / "maven-crm" / "sales_pipeline.csv.gz"
DAYS = {"discovery": (8, 20), "demo": (6, 15), "proposal": (12, 30), "commit": (5, 12)}
ADVANCE = {"discovery": 0.6, "demo": 0.7, "proposal": 0.55, "commit": 0.8}
NAMES = tuple(DAYS)
TRUTH: dict[str, Any] = {
    "horizon_days": 540,
    "sources": {"inbound": {"leads_per_week": 90, "fit": {"dist": "beta", "a": 5, "b": 2}}},
    "teams": {"sdr": sdr_team(10), "ae": {"headcount": 30, "capacity_per_head": 40}},
    "sales": {
        "qualify_prob": per_segment(0.7),
        "followup_decay": None,
        "stages": {
            name: {
                "advance": ADVANCE[name],
                "days": {"dist": "lognormal", "median": median, "p90": p90},
            }
            for name, (median, p90) in DAYS.items()
        },
    },
}
EXPORT_DAY = 450
MAPPING: dict[str, Any] = {
    "id": "Deal ID",
    "created": "Create Date",
    "created_stage": "opportunity",
    "stages": {"close": "Close Date"},
    "status": {
        "column": "Deal Stage",
        "won": ["Closed Won"],
        "lost": ["Closed Lost"],
        "open": list(NAMES),
    },
    "amount": "Amount",
    "segment": "Segment",
    "date_formats": ["%Y-%m-%d %H:%M"],
}


def export_deals(folder: Path, seed: int, history: bool = False) -> tuple[Path, dict[str, Any]]:
    """Simulate the truth and write its deals (and, with ``history``, a stage-history
    file instead of the date columns) as of the export day; the mapping to read them."""
    truth = scenario_from_dict(TRUTH)
    ledger = simulate(truth, seed=seed)
    hours = EXPORT_DAY * 24.0
    records = ledger_records(ledger.leads, truth.start_date, hours, "opportunity")
    records = with_stage_dates(records, ledger.stages, NAMES, truth.start_date, hours)
    deals = to_deals(records, NAMES)
    export_date = (pd.Timestamp(truth.start_date) + pd.Timedelta(days=EXPORT_DAY - 1)).date()
    mapping = {**MAPPING, "export_date": str(export_date)}
    if history:
        deals = deals.drop(columns=[f"Date entered {name}" for name in NAMES])
        to_stage_history(records, NAMES).to_csv(folder / "history.csv", index=False)
        mapping["sales_stages"] = list(NAMES)
        mapping["stage_history"] = {
            "file": "history.csv",
            "id": "OpportunityId",
            "stage": "StageName",
            "date": "CreatedDate",
        }
    else:
        mapping["sales_stages"] = {name: f"Date entered {name}" for name in NAMES}
    path = folder / "deals.csv"
    deals.to_csv(path, index=False)
    return path, mapping


def _true_median(name: str) -> float:
    return float(DAYS[name][0])


@pytest.mark.parametrize("history", [False, True], ids=["date-columns", "stage-history"])
def test_stages_round_trip(tmp_path, history):
    """Every stage's fitted chance of moving on (95% Wilson) and median days in it (95%
    Kaplan-Meier interval) cover the truth; the scenario walks the same stages. (Eight 95%
    intervals all cover with chance ~2/3 on any one seed: the seed is fixed, and the test
    across seeds below holds at the Bonferroni level.)"""
    path, mapping = export_deals(tmp_path, seed=2, history=history)
    cal = calibrate(path, mapping_from_dict(mapping), seed=1, replicates=50)
    fits = cal.fitted.sales.pooled
    assert [f.stage for f in fits] == list(NAMES)
    for fit in fits:
        assert fit.ci[0] <= ADVANCE[fit.stage] <= fit.ci[1], fit
        assert fit.median_ci[0] <= _true_median(fit.stage) <= fit.median_ci[1], fit
        assert fit.time is not None and fit.time.family == "lognormal"
        assert fit.entered == fit.moved_on + fit.lost + fit.still_open
    spec = cal.scenario.sales.stages
    assert tuple(spec) == NAMES
    chances = [fit.conversion for fit in fits]
    for k, name in enumerate(NAMES):
        assert spec[name].weight == pytest.approx(np.prod(chances[k:]), abs=1e-4)
        assert spec[name].stall.prob == 0.0


@pytest.mark.parametrize("seed", [3, 4, 6, 9])
def test_stage_intervals_cover_the_truth_across_seeds(tmp_path, seed):
    """Across seeds, 99.9% intervals (Bonferroni over the four stages' two quantities)
    still cover the true chance and median days of every stage."""
    path, mapping = export_deals(tmp_path, seed=seed)
    cal = calibrate(path, mapping_from_dict(mapping), seed=1, replicates=20)
    observed = cal.fitted.window.cohort(cal.export.cohort)
    fitted = fit_sales_stages(
        observed, cal.fitted.chain, cal.fitted.window.end, cal.fitted.mapping, confidence=0.999
    )
    for fit in fitted.pooled:
        assert fit.ci[0] <= ADVANCE[fit.stage] <= fit.ci[1], fit
        assert fit.median_ci[0] <= _true_median(fit.stage) <= fit.median_ci[1], fit
        days = stats.lognorm(*_lognormal(fit.stage))
        assert fit.time.frozen.ppf(0.5) == pytest.approx(days.ppf(0.5), rel=0.2)


def _lognormal(name: str) -> tuple[float, float, float]:
    median, p90 = DAYS[name]
    sigma = np.log(p90 / median) / stats.norm.ppf(0.9)
    return sigma, 0.0, median


def _cli(folder: Path, mapping: dict[str, Any], export: Path, *extra: str):
    mapping_path = folder / "mapping.yaml"
    mapping_path.write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    out = folder / "out.yaml"
    args = ["calibrate", str(export), "--mapping", str(mapping_path), "-o", str(out), *extra]
    return CliRunner().invoke(main, args), out


@pytest.fixture(scope="module")
def deals(tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    return export_deals(tmp_path_factory.mktemp("deals"), seed=2)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"sales_stages": {"discovery": "Date entered discovery", "demo": "Demo Date"}},
            "sales_stages.demo: column 'Demo Date' is not in the export",
        ),
        (
            {"sales_stages": {name: f"Date entered {name}" for name in reversed(NAMES)}},
            "sales_stages.proposal: dated before 'commit'",
        ),
        (
            {
                "sales_stages": list(NAMES),
                "stage_history": {"file": "nowhere.csv", "id": "a", "stage": "b", "date": "c"},
            },
            "stage_history.file: no such file 'nowhere.csv'",
        ),
        ({"sales_stages": list(NAMES)}, "sales_stages.discovery: no date column, and no "),
        (
            {
                "sales_stages": None,
                "stage_history": {"file": "h.csv", "id": "a", "stage": "b", "date": "c"},
            },
            "stage_history: needs sales_stages",
        ),
        ({"stages": {}}, "sales_stages: needs stages.close"),
    ],
    ids=["unknown-column", "unordered", "history-missing", "undated", "history-alone", "no-close"],
)
def test_bad_stage_mappings_give_one_line_exit_2(tmp_path, deals, change, expected):
    path, mapping = deals
    merged = {key: value for key, value in {**mapping, **change}.items() if value is not None}
    result, out = _cli(tmp_path, merged, path)
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "Traceback" not in result.output and not out.exists()


def test_history_stage_not_in_the_list_is_named(tmp_path, deals):
    path, mapping = deals
    history = pd.DataFrame(
        {
            "Opp": ["R0000001", "R0000001"],
            "Stage": ["discovery", "Pilot"],
            "When": ["2027-02-01 10:00"] * 2,
        }
    )
    history.to_csv(path.parent / "h.csv", index=False)
    spec = {"file": "h.csv", "id": "Opp", "stage": "Stage", "date": "When"}
    result, _ = _cli(tmp_path, {**mapping, "stage_history": spec}, path)
    assert result.exit_code == 2, result.output
    assert "stage_history.stage: 'Pilot' is in none of sales_stages" in result.output


def test_a_row_with_stage_dates_out_of_order_is_excluded(tmp_path, deals):
    """One deal entered 'demo' before 'discovery': counted as stages_out_of_order, as any
    other row whose dates run backwards."""
    path, mapping = deals
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = frame.index[frame["Date entered demo"] != ""][0]
    frame.loc[row, "Date entered demo"] = "2026-12-01 00:00"
    messy = tmp_path / "messy.csv"
    frame.to_csv(messy, index=False)
    export = read_export(messy, mapping_from_dict(mapping))
    assert export.issue_count("stages_out_of_order") == 1
    assert frame.loc[row, "Deal ID"] not in set(export.records["id"])


def test_book_from_the_export(tmp_path, deals):
    """Open deals and won subscriptions go into the book with the export's exact counts and
    sums; the scenario starts the day after the export date with that ARR at month 0."""
    path, mapping = deals
    mapping = {**mapping, "book": {"subscriptions": True, "term_months": 12}}
    cal = calibrate(path, mapping_from_dict(mapping), seed=1, replicates=20)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    amount = pd.to_numeric(frame["Amount"], errors="coerce")
    is_open = frame["Deal Stage"].isin(NAMES)
    won = frame["Deal Stage"] == "Closed Won"
    book = cal.scenario.book
    opps, customers = book.opportunities, book.customers
    assert sum(g.count for g in opps) == int(is_open.sum())
    assert sum(g.count * g.value.value for g in opps) == pytest.approx(amount[is_open].sum())
    assert sum(g.count for g in customers) == int(won.sum())
    arr = sum(g.count * g.arr.value for g in customers)
    assert arr == pytest.approx(amount[won].sum())
    current = frame.loc[is_open, "Deal Stage"].value_counts()
    for name in NAMES:
        assert sum(g.count for g in opps if g.stage == name) == current.get(name, 0)
    export_day = pd.Timestamp(mapping["export_date"])
    assert cal.scenario.start_date == (export_day + pd.Timedelta(days=1)).date()
    for group in customers:
        assert cal.scenario.start_date < group.term_end
    summary = cal.built.book
    assert (summary.customers, summary.opportunities) == (int(won.sum()), int(is_open.sum()))
    ledger = simulate(cal.scenario, seed=4)
    first = timeseries(ledger, cal.scenario).iloc[0]
    assert first["arr_start"] == pytest.approx(arr)


def test_no_book_keeps_the_window(tmp_path, deals):
    path, mapping = deals
    result, out = _cli(tmp_path, mapping, path, "--no-book")
    assert result.exit_code == 0, result.output
    scenario = load_scenario(out)
    assert scenario.book is None
    assert scenario.start_date < pd.Timestamp(mapping["export_date"]).date()


def test_report_lists_the_stages_and_the_book(tmp_path, deals):
    path, mapping = deals
    cal = calibrate(path, mapping_from_dict(mapping), seed=1, replicates=20)
    folder = tmp_path / "report"
    folder.mkdir()
    write_report(cal, folder)
    table = pd.read_csv(folder / "sales_stages.csv")
    pooled = table[table["segment"] == POOLED]
    assert list(pooled["stage"]) == list(NAMES)
    assert (pooled["ci_low"] <= pooled["moved_on_share"]).all()
    assert (pooled["moved_on_share"] <= pooled["ci_high"]).all()
    summary = (folder / "summary.md").read_text(encoding="utf-8")
    book = cal.built.book
    assert f"{book.opportunities} open deals" in summary
    assert "Won deals are not customers" in summary


def test_maven_stays_one_stage_and_says_why():
    cal = calibrate(MAVEN, MAPPINGS / "maven_crm.yaml", seed=0, replicates=20)
    assert cal.fitted.sales is None and cal.scenario.sales.stages is None
    assert "no sales-stage dates" in cal.fitted.sales_note
    opportunities = cal.scenario.book.opportunities
    engaging = cal.export.records["status"] == "open"
    assert sum(group.count for group in opportunities) == int(engaging.sum())


def test_check_fit_checks_the_flows_without_the_book(tmp_path, deals):
    """A calibrated scenario with a book gives check-fit's very table of the same
    calibration without one: the book is left out, the run starts at the window's start."""
    path, mapping = deals
    spec = mapping_from_dict(mapping)
    with_book = calibrate(path, spec, seed=1, replicates=20)
    without = calibrate(path, spec, seed=1, replicates=20, book=False)
    assert with_book.scenario.book is not None and without.scenario.book is None
    tables = [
        check_fit(cal.scenario, cal.export, spec, reps=3, seed=2) for cal in (with_book, without)
    ]
    pd.testing.assert_frame_equal(*tables)


def test_a_huge_book_is_written_compactly(tmp_path, deals, monkeypatch):
    """Past MAX_ENTRIES distinct records, one entry per segment (and stage) with empirical
    distributions: counts stay exact and the scenario stays valid."""
    monkeypatch.setattr(bookbuild, "MAX_ENTRIES", 5)
    path, mapping = deals
    mapping = {**mapping, "book": {"subscriptions": True}}
    cal = calibrate(path, mapping_from_dict(mapping), seed=1, replicates=20)
    book = cal.scenario.book
    segments = cal.export.records.loc[cal.export.records["status"] == "won", "segment"]
    assert len(book.customers) == segments.nunique()
    assert sum(g.count for g in book.customers) == cal.built.book.customers == len(segments)
    assert {g.arr.dist for g in book.customers} == {"empirical"}
    assert sum(g.count for g in book.opportunities) == cal.built.book.opportunities
    assert all(g.months_to_renewal.mean() <= 12.1 for g in book.customers)
    assert any("distinct entries" in note for note in cal.built.book.notes)
