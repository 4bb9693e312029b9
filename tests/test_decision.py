"""Several options ranked against one base: pairing, ranking, the resolved verdict, payback,
``--until-resolved`` and the charts each option's report section shows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import funnelsim as fs
from funnelsim.cli import main
from funnelsim.experiment.changes import (
    QUOTE_TO_CASH,
    RETENTION,
    SPEED_TO_LEAD,
    TEAM_LOAD,
    acts_on,
    changes,
)
from funnelsim.experiment.options import NO_CHANGE, Decision, OptionReplication
from funnelsim.report.html import report_from_decision

SMALL = {
    "name": "small",
    "horizon_days": 240,
    "sources": {"inbound": {"leads_per_week": 40, "cost_per_lead": 50}},
}
OPTIONS = {
    "faster": ["seam1.response_delay=1"],
    "costly": ["costs.tools_per_year=500000"],
    "q2c": ["seam2.invoice_delay_days=1"],
    "renewal": ["seam4.trigger_days_before_end=90"],
}


@pytest.fixture(scope="module")
def small_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("decision") / "small.yaml"
    path.write_text(yaml.safe_dump(SMALL))
    return path


@pytest.fixture(scope="module")
def base(small_path: Path) -> fs.Scenario:
    return fs.load_scenario(small_path)


def option(small_path: Path, name: str) -> fs.Scenario:
    return fs.load_scenario(small_path, OPTIONS[name])


@pytest.fixture(scope="module")
def decision(base: fs.Scenario, small_path: Path) -> Decision:
    options = {name: option(small_path, name) for name in ("faster", "costly")}
    return fs.compare(base, {**options, "same": base}, replications=3, seed=4)


def test_an_option_identical_to_the_base_gains_exactly_zero(decision: Decision) -> None:
    for metric in ("net_value", "total_cost", "horizon_revenue"):
        assert (decision.gains(metric)["same"] == 0).all()
    summary = decision.comparison("same").summary()
    assert (summary["difference"].fillna(0) == 0).all()
    row = decision.summary().set_index("option").loc["same"]
    assert row["net_value"] == 0 and row["net_value_ci_low"] == 0


def test_each_option_is_paired_as_its_own_comparison(
    decision: Decision, base: fs.Scenario, small_path: Path
) -> None:
    """Running several options together changes nothing for each: same seeds, same runs."""
    alone = fs.compare(base, option(small_path, "faster"), replications=3, seed=4)
    pd.testing.assert_frame_equal(
        decision.comparison("faster").per_replication(), alone.per_replication()
    )


def test_options_are_ranked_by_net_value_with_paired_gaps(decision: Decision) -> None:
    summary = decision.summary()
    assert list(summary["rank"]) == list(range(1, len(summary) + 1))
    assert set(summary["option"]) == {"faster", "costly", "same", NO_CHANGE}
    assert summary["net_value"].is_monotonic_decreasing
    net = decision.gains("net_value")
    for row in summary.iloc[:-1].itertuples():
        gap = (net[row.option] - net[row.next_option]).mean()
        assert row.gap == pytest.approx(gap)
        assert row.resolved == (row.gap_ci_low > 0 or row.gap_ci_high < 0)
    # A cost without any other change is worse than doing nothing in every replication.
    costly = summary.set_index("option").loc["costly"]
    assert costly["extra_cost"] == pytest.approx(500_000 * 240 / 365, rel=0.01)
    assert costly["net_value_ci_high"] < 0


def test_identical_options_are_never_resolved(decision: Decision) -> None:
    summary = decision.summary().set_index("option")
    pair = summary.loc[["same", NO_CHANGE]]
    upper = pair.loc[pair["rank"].idxmin()]
    assert not upper["resolved"] and upper["verdict"].startswith("identical")
    assert not decision.resolved


def test_until_resolved_adds_batches_up_to_the_cap(
    base: fs.Scenario, small_path: Path, decision: Decision
) -> None:
    tied = fs.compare(
        base, {"same": base}, replications=2, seed=4, until_resolved=True, max_replications=5
    )
    assert tied.replications == 5 and not tied.resolved
    # The batches are the replications a single run of that count would have made.
    straight = fs.compare(base, {"same": base}, replications=5, seed=4)
    np.testing.assert_array_equal(tied.gains("net_value").index, straight.gains("net_value").index)
    for ours, theirs in zip(tied.baseline_runs, straight.baseline_runs, strict=True):
        assert ours.seed == theirs.seed
        pd.testing.assert_frame_equal(ours.headline, theirs.headline)
    clear = fs.compare(
        base,
        {"costly": option(small_path, "costly")},
        replications=2,
        seed=4,
        until_resolved=True,
        max_replications=6,
    )
    assert clear.replications == 2 and clear.resolved


def test_the_single_variant_call_still_returns_a_comparison(base: fs.Scenario) -> None:
    comparison = fs.compare(base, base, replications=2, seed=1)
    assert isinstance(comparison, fs.Comparison)
    with pytest.raises(ValueError, match="until_resolved"):
        fs.compare(base, base, replications=2, until_resolved=True)


def _stub(index: int, net: float, margins: list[float]) -> OptionReplication:
    headline = pd.DataFrame(
        {
            "metric": ["net_value", "total_cost", "horizon_revenue"],
            "value": [net, 0.0, 0.0],
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


@pytest.mark.parametrize(
    "margins, months",
    [
        ([-10, -10, 5, 30, 0], 4.0),  # cumulative -10, -20, -15, 15, 15: even in month 4
        ([5, 5, -1, 1, 1], 0.0),  # never below zero
        ([-10, 5, 1, 1, 1], np.nan),  # still below at the horizon
        ([-1, 2, -3, 5, 0], 4.0),  # dips again in month 3; for good from month 4
    ],
)
def test_payback_is_the_month_the_extra_cash_margin_stays_positive(
    margins: list[float], months: float
) -> None:
    base = [_stub(i, 0.0, [0.0] * len(margins)) for i in range(2)]
    option_runs = [_stub(i, 1.0, margins) for i in range(2)]
    decision = Decision(fs.Scenario(), {"x": fs.Scenario()}, 0, base, {"x": option_runs})
    np.testing.assert_equal(decision.payback("x"), months)


@pytest.mark.parametrize(
    "name, views",
    [
        ("faster", [SPEED_TO_LEAD, TEAM_LOAD]),
        ("q2c", [QUOTE_TO_CASH]),
        ("renewal", [RETENTION]),
        ("costly", []),
    ],
)
def test_charts_follow_what_an_option_changes(
    base: fs.Scenario, small_path: Path, name: str, views: list[str]
) -> None:
    found = acts_on(base, option(small_path, name))
    assert found.views == views
    if TEAM_LOAD in views:
        assert found.teams == [base.seam1.team]


def test_a_new_team_is_one_change(base: fs.Scenario) -> None:
    team = {"headcount": 2, "work_time": {"dist": "fixed", "value": 1}}
    seam1 = {"fallback_team": "backup", "sla_hours": 2}
    option = fs.Scenario.model_validate({**SMALL, "teams": {"backup": team}, "seam1": seam1})
    paths = [change.path for change in changes(base, option)]
    assert paths == ["seam1.sla_hours", "seam1.fallback_team", "teams.backup"]
    assert acts_on(base, option).teams == [base.seam1.team, "backup"]


def test_the_report_opens_with_the_decision_and_draws_each_options_charts(
    base: fs.Scenario, small_path: Path
) -> None:
    options = {name: option(small_path, name) for name in ("faster", "q2c", "renewal")}
    decision = fs.compare(base, options, replications=2, seed=2)
    html = report_from_decision(decision)
    sections = [html.index(f'<section id="{anchor}">') for anchor in ("decision", "option-1")]
    assert sections == sorted(sections) and html.index("<section") == sections[0]
    for name in options:
        assert f"<td>{name}</td>" in html
    alts = {
        "Speed to lead before and after": 1,
        "Team load before and after": 1,
        "Quote-to-cash before and after": 1,
        "Retention before and after": 1,
    }
    for alt, count in alts.items():
        assert html.count(f'alt="{alt}"') == count, alt


def test_cli_compare_ranks_several_options(small_path: Path, tmp_path: Path) -> None:
    files = []
    for name in ("faster", "costly"):
        path = tmp_path / f"{name}.yaml"
        data = {**SMALL, "name": name}
        key, value = OPTIONS[name][0].split("=")
        section, field = key.split(".")
        data[section] = {field: float(value)}
        path.write_text(yaml.safe_dump(data))
        files.append(str(path))
    runner = CliRunner()
    result = runner.invoke(main, ["compare", str(small_path), *files, "--reps", "2", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    options = [row["option"] for row in document["decision"]]
    assert sorted(options) == sorted(["faster", "costly", NO_CHANGE])
    assert set(document["comparisons"]) == {"faster", "costly"}
    printed = runner.invoke(
        main, ["compare", str(small_path), *files, "--reps", "2"], terminal_width=200
    )
    assert printed.exit_code == 0, printed.output
    assert "Options ranked by net value" in printed.output
    verdict = [line for line in printed.output.splitlines() if "resolved at 2 replications" in line]
    assert len(verdict) == 1, printed.output


def test_payback_compares_the_months_both_scenarios_simulate() -> None:
    """An option that shortens or lengthens the horizon is judged on the common months."""
    base = [_stub(i, 0.0, [0.0] * 5) for i in range(2)]
    longer = [_stub(i, 1.0, [-4, 1, 5, -100, -100, -100, -100]) for i in range(2)]
    decision = Decision(fs.Scenario(), {"x": fs.Scenario()}, 0, base, {"x": longer})
    assert np.isnan(decision.payback("x"))  # -4, -3, 2, -98, -198 over the five common months
    shorter = [_stub(i, 1.0, [-4, 1, 5]) for i in range(2)]
    decision = Decision(fs.Scenario(), {"x": fs.Scenario()}, 0, base, {"x": shorter})
    assert decision.payback("x") == 3.0


def test_cli_until_resolved_stops_at_the_cap_for_identical_options(
    small_path: Path,
) -> None:
    args = ["compare", str(small_path), str(small_path), str(small_path), "--reps", "2"]
    result = CliRunner().invoke(main, [*args, "--until-resolved", "--max-reps", "4", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["decision"]
    assert {row["replications"] for row in rows} == {4}
    assert not all(row["resolved"] for row in rows)
