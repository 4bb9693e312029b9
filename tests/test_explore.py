"""The explorer's logic without a browser: levers from the scenario, overrides the scenario
model validates (errors by their control), the library's comparison, cancellation, saves."""

from __future__ import annotations

import multiprocessing
import socket
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import funnelsim.api
from funnelsim.cli import main
from funnelsim.experiment.executors import execute
from funnelsim.explore.compute import (
    OPTION,
    Base,
    CancelToken,
    SupersededError,
    answers,
    check,
    check_run,
    pinned_decision,
)
from funnelsim.explore.levers import NO_TEAM, base_values, levers_for, overrides
from funnelsim.explore.save import save_option
from funnelsim.scenario.loading import load_scenario

ROOT = Path(__file__).resolve().parents[1]
FALLBACK = ROOT / "scenarios" / "sla_1h_fallback.yaml"
GO = multiprocessing.get_context("fork").Event()


@pytest.fixture(scope="module")
def base() -> Base:
    return Base.load(FALLBACK)


@pytest.fixture(scope="module")
def short(tmp_path_factory: pytest.TempPathFactory) -> Base:
    """The fallback scenario over 90 days: a comparison in a moment."""
    folder = tmp_path_factory.mktemp("short")
    path = folder / "short.yaml"
    path.write_text(f"extends: {FALLBACK}\nname: short\nhorizon_days: 90\n")
    return Base.load(path)


def test_levers_name_the_scenarios_own_teams_and_sources(base: Base) -> None:
    levers = {lever.key: lever for lever in levers_for(base.scenario)}
    for team in base.scenario.teams:
        assert f"teams.{team}.headcount" in levers
        assert f"teams.{team}.cost_per_year" in levers
    for source in base.scenario.sources:
        assert f"sources.{source}.leads_per_week" in levers
    assert "sdr_backup" in levers["seam1.fallback_team"].options
    assert levers["seam1.fallback_team"].value == "sdr_backup"
    assert levers["seam1.sla_hours"].value == base.scenario.seam1.sla_hours
    for key in (
        "seam1.sla_clock",
        "response_delay.median",
        "seam1.routing",
        "marketing.scoring.mql_threshold",
        "q2c.automated",
        "seam4.trigger_days_before_end",
        "seam3.context_transfer_prob",
    ):
        assert key in levers


def test_untouched_levers_are_the_base(base: Base) -> None:
    levers = levers_for(base.scenario)
    assert overrides(base.scenario, levers, base_values(levers)) == {}
    assert check(base, levers, base_values(levers)).option == base.scenario


def test_levers_make_the_overrides_compare_set_would(base: Base) -> None:
    levers = levers_for(base.scenario)
    values = {
        **base_values(levers),
        "seam1.sla_hours": 4.0,
        "teams.sdr.headcount": 5.0,
        "seam1.fallback_team": NO_TEAM,
        "q2c.automated": True,
    }
    checked = check(base, levers, values)
    assert checked.errors == {}
    assert checked.changes["teams.sdr.headcount"] == 5  # a whole number stays a count
    assert checked.changes["seam1.fallback_team"] is None
    assert checked.changes["costs.tools_per_year"] == base.scenario.costs.tools_per_year + 75000
    by_set = load_scenario(
        FALLBACK,
        [
            "seam1.sla_hours=4",
            "teams.sdr.headcount=5",
            "seam1.fallback_team=null",
            "seam2.nonstandard_share=0.12",
            "seam2.approval_delay_days={dist: lognormal, median: 1, p90: 4}",
            "seam2.contract_error_prob=0.02",
            "seam2.invoice_delay_days={dist: lognormal, median: 2, p90: 6}",
            "teams.deal_desk.work_time={dist: gamma, mean: 1.5, sd: 1}",
            f"costs.tools_per_year={base.scenario.costs.tools_per_year + 75000}",
        ],
    )
    assert checked.option == by_set


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("seam1.sla_hours", -2.0, "seam1.sla_hours"),
        ("teams.sdr.headcount", 4.5, "teams.sdr.headcount"),
        ("marketing.scoring.mql_threshold", 1.5, "marketing.scoring.mql_threshold"),
        ("response_delay.median", 0.0, "seam1.response_delay"),
        ("seam1.fallback_team", "sdr", "seam1"),
    ],
)
def test_an_invalid_value_is_its_fields_one_line_error_by_its_control(
    base: Base, key: str, value: object, field: str
) -> None:
    levers = levers_for(base.scenario)
    values = {**base_values(levers), "seam1.sla_hours": 2.0, key: value}
    checked = check(base, levers, values)
    assert checked.option is None
    assert set(checked.errors) == {key}
    message = checked.errors[key]
    assert message.startswith(f"{field}")
    assert "\n" not in message and "Traceback" not in message
    assert str(base.path) not in message


def test_run_settings_are_checked() -> None:
    assert check_run(10, 0) == {}
    assert set(check_run(1, 0)) == {"replications"}
    assert set(check_run(3.5, -1)) == {"replications", "seed"}
    assert set(check_run(None, None)) == {"replications", "seed"}


def test_the_app_compares_through_the_library(short: Base, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = funnelsim.api.compare

    def spy(baseline, options, **kwargs):
        calls.append((baseline, dict(options), kwargs))
        return real(baseline, options, **kwargs)

    monkeypatch.setattr(funnelsim.api, "compare", spy)
    levers = levers_for(short.scenario)
    option = check(short, levers, {**base_values(levers), "teams.sdr.headcount": 6}).option
    steps = list(answers(short.scenario, option, 4, 3, 1, CancelToken(), first=2))
    # the first answer is the library's comparison; the refined one runs it on to 4
    # replications (Decision.extended_to) and equals the library's comparison at 4
    assert [c[2]["replications"] for c in calls] == [2]
    assert calls[0][0] is short.scenario and calls[0][1] == {OPTION: option}
    assert calls[0][2]["seed"] == 3
    assert [s.final for s in steps] == [False, True]
    assert [s.replications for s in steps] == [2, 4]
    table = steps[-1].decision.summary()
    whole = real(short.scenario, {OPTION: option}, replications=4, seed=3).summary()
    pd.testing.assert_frame_equal(table, whole)
    row = table[table["option"] == OPTION].iloc[0]
    assert steps[-1].row["net_value"] == row["net_value"]
    pins = {"a": steps[-1].decision, "b": steps[-1].decision}
    ranked = pinned_decision(pins, CancelToken(), 1).summary()
    assert set(ranked["option"]) >= {"a", "b"}
    assert len(calls) == 1  # pins on the same seed and count share the runs at hand
    pins["c"] = steps[0].decision
    pinned_decision(pins, CancelToken(), 1)
    assert len(calls) == 2  # another count: compared again, by the library


def test_a_newer_change_stops_a_comparison_after_the_replication_in_flight(
    short: Base, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = CancelToken()
    done = []
    check_replication = token.check

    def counting(*args: object) -> None:
        done.append(args)
        token.cancel()  # a newer change arrives while the first replication finishes
        check_replication(*args)

    monkeypatch.setattr(token, "check", counting)
    levers = levers_for(short.scenario)
    option = check(short, levers, {**base_values(levers), "teams.sdr.headcount": 6}).option
    with pytest.raises(SupersededError):
        next(answers(short.scenario, option, 5, 0, 1, token))
    assert len(done) == 1


def _wait_then_mark(folder: str, index: int) -> int:
    if index > 0:
        GO.wait(60)
    Path(folder, f"{index}.done").touch()
    return index


def test_a_raising_callback_drops_the_queued_jobs_of_a_process_pool(tmp_path: Path) -> None:
    GO.clear()
    jobs = [(str(tmp_path), i) for i in range(20)]

    def stop(index: int, result: object) -> None:
        GO.set()
        raise SupersededError

    with pytest.raises(SupersededError):
        execute(_wait_then_mark, jobs, workers=2, on_done=stop)
    assert len(list(tmp_path.glob("*.done"))) < len(jobs) // 2


def test_a_saved_option_extends_the_base_with_only_its_changes(base: Base, tmp_path: Path) -> None:
    levers = levers_for(base.scenario)
    values = {**base_values(levers), "seam1.sla_hours": 3.0, "teams.sdr_backup.headcount": 3}
    checked = check(base, levers, values)
    folder = tmp_path / "out"
    first = save_option(base, checked.changes, folder, "SLA 3 hours, a third backup rep")
    second = save_option(base, checked.changes, folder, "again")
    assert first.parent == folder and second.parent == folder
    assert first.name != second.name
    document = yaml.safe_load(first.read_text())
    assert set(document) == {"extends", "name", "label", "seam1", "teams"}
    assert document["seam1"] == {"sla_hours": 3.0}
    assert document["teams"] == {"sdr_backup": {"headcount": 3}}
    saved = load_scenario(first)
    assert saved.model_copy(update={"name": base.scenario.name, "label": None}) == (
        checked.option.model_copy(update={"label": None})
    )
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == sorted(
        [first.name, second.name]
    )


def test_explore_refuses_bad_input_in_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["explore", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "missing.yaml" in result.output
    file = tmp_path / "a-file"
    file.write_text("x")
    result = runner.invoke(main, ["explore", "--out", str(file)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_explore_refuses_a_port_in_use(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(
            main, ["explore", "--port", str(port), "-o", str(tmp_path / "out")]
        )
    assert result.exit_code == 2
    assert f"cannot serve on 127.0.0.1:{port}" in result.output
    assert not (tmp_path / "out").exists()


def test_explore_names_the_host_option_for_an_address_it_cannot_serve_on(tmp_path: Path) -> None:
    for host in ("not a host!", "203.0.113.7"):
        result = CliRunner().invoke(main, ["explore", "--host", host, "-o", str(tmp_path / "o")])
        assert result.exit_code == 2, result.output
        assert "--host" in result.output and "--port" not in result.output
        assert "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_explore_refuses_an_out_folder_it_cannot_write_before_serving() -> None:
    """/proc takes no files, not even from root: an existing folder and a new one in it."""
    for out in ("/proc", "/proc/funnelsim-explore-output"):
        result = CliRunner().invoke(main, ["explore", "-o", out])
        assert result.exit_code == 2, result.output
        assert "cannot write in" in result.output
        assert result.output.count("\n") == 1
