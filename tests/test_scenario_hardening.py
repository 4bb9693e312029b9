"""Scenario input hardening: every bad input is one line naming the field, exit 2.

The cases come from the reliability review of 2026-11-29 (ids kept: A = files, B = values,
C = overrides, R = values that reached the run): YAML limits (alias bombs, recursive
anchors, deep nesting, duplicate keys, bad dates, file size), ``extends:`` limits,
finite and bounded numbers, ``--set`` merging into defaults, did-you-mean for misspelt
names, and results that do not depend on the order a file lists things in.
"""

from __future__ import annotations

import datetime as dt
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import funnelsim as fs
from funnelsim.cli import main
from funnelsim.engine.calendar import WorkCalendar
from funnelsim.scenario import apply_overrides, dump_scenario, load_scenario, scenario_from_dict
from funnelsim.scenario.models import Calendar, Team
from funnelsim.scenario.safe_yaml import MAX_ALIAS_NODES, dump_yaml, load_yaml
from funnelsim.scenario.teams_spec import MIN_SHIFT_HOURS

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
TINY = "name: tiny\nhorizon_days: 60\n"


def _bomb(indent: str = "") -> str:
    """Ten levels of nine aliases each: ~400 bytes naming 9**10 leaves ("billion laughs")."""
    lines = [f"{indent}a: &a [{', '.join(['lol'] * 9)}]"]
    for prev, name in zip("abcdefghi", "bcdefghij", strict=True):
        lines.append(f"{indent}{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _fan_out(copies: int) -> str:
    """One 100-item list referenced ``copies`` times: ~100 x copies nodes through aliases."""
    items = ", ".join(["x"] * 100)
    return f"a: &a [{items}]\nb: [{', '.join(['*a'] * copies)}]\n"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


@pytest.fixture
def base60(tmp_path: Path) -> Path:
    path = tmp_path / "base60.yaml"
    path.write_text(f"extends: {BASELINE}\nname: base60\nhorizon_days: 60\n")
    return path


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


def _validate(runner: CliRunner, path: Path, *overrides: str):
    args = ["validate", str(path)]
    for override in overrides:
        args += ["--set", override]
    return runner.invoke(main, args)


# --- YAML files: bombs, recursion, depth, duplicates, dates, quirks --------------------

FILES = {
    "A07": (TINY + _bomb(), "aliases would expand"),
    "A08": (TINY + "bogus:\n" + _bomb("  "), "aliases would expand"),
    "A09": ("name: x\ndescription: " + "[" * 5000 + "]" * 5000 + "\n", "deeper than 64"),
    "A09b": ("name: x\n" + "".join(f"{' ' * i}k{i}:\n" for i in range(100)) + "\n", "deeper"),
    "A43": ("name: x\ndescription: &a [*a]\n", "recursive anchor"),
    "A44": ("name: x\nbogus: &a {k: *a}\n", "bogus.k: an alias refers to a node"),
    "A29": ("name: x\nstart_date: 2027-02-30\n", "line 2: start_date: '2027-02-30'"),
    "A35": ("name: x\ncalendar:\n  holidays: [2027-13-01]\n", "calendar.holidays.0: '2027-13-01'"),
    "A32": ("name: x\nstart_date: 9999-12-31\n", "start_date: expected a date from"),
    "A63": (
        "name: x\nhorizon_days: 60\nseam1: {sla_hours: 1}\nhorizon_days: 3650\n",
        "line 4: duplicate key 'horizon_days' (first given at line 2)",
    ),
    "A63b": ("seam1: {sla_hours: 1}\nseam1: {sla_hours: 2}\n", "duplicate key 'seam1'"),
    "A63c": ("teams:\n  sdr: {headcount: 1, headcount: 2}\n", "duplicate key 'headcount'"),
    "tag-float": ("name: x\nhorizon_days: !!float nope\n", "horizon_days: 'nope' is not a valid"),
    "tag-date": ("name: x\nstart_date: !!timestamp nope\n", "start_date: 'nope' is not a valid"),
}


@pytest.mark.parametrize("case", sorted(FILES))
def test_bad_yaml_file_is_one_line(runner: CliRunner, tmp_path: Path, case: str) -> None:
    text, expected = FILES[case]
    path = tmp_path / f"{case}.yaml"
    path.write_text(text)
    tracemalloc.start()
    try:
        line = _one_line_error(_validate(runner, path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert expected in line and path.name in line
    assert peak < 50 * 2**20  # bombs are refused before anything expands them


def test_alias_bomb_is_refused_before_expansion(tmp_path: Path) -> None:
    """A bomb just under the limit loads; one just over is refused (the limit is counted)."""
    assert len(load_yaml(_fan_out(900))["b"]) == 900  # ~90k nodes through aliases: allowed
    with pytest.raises(yaml.YAMLError, match=f"{MAX_ALIAS_NODES:,}"):
        load_yaml(_fan_out(1100))


def test_aliases_that_nest_too_deep_are_refused() -> None:
    levels = ["l0: &l0 [" + "[" * 40 + "x" + "]" * 40 + "]"]
    levels += [f"l{i}: &l{i} [" + "[" * 40 + f"*l{i - 1}" + "]" * 40 + "]" for i in range(1, 4)]
    with pytest.raises(yaml.YAMLError, match="deeper than 64"):
        load_yaml("\n".join(levels))


def test_shared_aliases_and_merge_keys_still_load(tmp_path: Path) -> None:
    path = tmp_path / "alias.yaml"
    path.write_text(
        "name: x\nhorizon_days: 60\ncalendar: &cal {hours: [8, 18]}\n"
        "teams:\n  sdr: &sdr {headcount: 3, work_time: 0.5, calendar: *cal}\n"
        "  csm: {<<: *sdr, headcount: 2}\n"
    )
    scenario = load_scenario(path, ["teams.sdr.headcount=5"])
    assert scenario.teams["sdr"].headcount == 5
    assert scenario.teams["csm"].headcount == 2
    assert scenario.teams["csm"].calendar == scenario.calendar
    assert scenario.calendar.hours == (8.0, 18.0)


def test_yaml_12_numbers_and_booleans() -> None:
    data = load_yaml("a: 1e5\nb: -2.5E-3\nc: NO\nd: yes\ne: true\nf: 0x10\ng: .inf\nh: 7")
    assert data == {"a": 1e5, "b": -2.5e-3, "c": "NO", "d": "yes", "e": True, "f": 16,
                    "g": float("inf"), "h": 7}  # fmt: skip
    assert isinstance(data["a"], float)
    for text in ("1e5", "no", "yes", "NO", "on"):
        assert load_yaml(dump_yaml({"s": text})) == {"s": text}


def test_currency_no_stays_a_string(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "nok.yaml"
    path.write_text("name: norway\ncurrency: NO\nhorizon_days: 60\n")
    assert load_scenario(path).currency == "NO"
    assert yaml.safe_load(dump_scenario(load_scenario(path)))["currency"] == "NO"


def test_file_over_the_size_limit(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text("name: huge\n" + "# padding\n" * 1_100_000)
    line = _one_line_error(_validate(runner, path))
    assert "huge.yaml" in line and "10 MB limit" in line


# --- extends: depth, loops, missing files -----------------------------------------------


def test_extends_chain_deeper_than_the_limit(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "f0.yaml").write_text(TINY)
    for i in range(1, 100):
        (tmp_path / f"f{i}.yaml").write_text(f"extends: f{i - 1}.yaml\n")
    line = _one_line_error(_validate(runner, tmp_path / "f99.yaml"))
    assert "f99.yaml: extends: more than 32 files deep" in line
    (tmp_path / "ok.yaml").write_text("extends: f30.yaml\nhorizon_days: 61\n")
    assert load_scenario(tmp_path / "ok.yaml").horizon_days == 61


def test_extends_symlink_loop(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "a.yaml").symlink_to(tmp_path / "b.yaml")
    (tmp_path / "b.yaml").symlink_to(tmp_path / "a.yaml")
    child = tmp_path / "child.yaml"
    child.write_text("extends: a.yaml\n")
    line = _one_line_error(_validate(runner, child))
    assert "child.yaml: extends: a.yaml" in line


def test_extends_missing_file_names_both(runner: CliRunner, tmp_path: Path) -> None:
    child = tmp_path / "child.yaml"
    child.write_text("extends: gone.yaml\n")
    line = _one_line_error(_validate(runner, child))
    assert "child.yaml: extends: gone.yaml: no such scenario file" in line


# --- values: finite, in range, not booleans --------------------------------------------

VALUES = {
    # id: (file fixture, override, field named in the message)
    "B01": ("tiny", "sales.win_rate.smb=5", "sales.win_rate.smb"),
    "B02": ("tiny", "sales.win_rate.smb=-1", "sales.win_rate.smb"),
    "B03": ("tiny", "sales.qualify_prob.smb=2", "sales.qualify_prob.smb"),
    "B04": ("tiny", "sales.qualify_prob.smb=.nan", "sales.qualify_prob.smb"),
    "B01b": ("base60", "sales.win_rate.smb=5", "sales.win_rate.smb"),
    "B02b": ("base60", "sales.win_rate.smb=-1", "sales.win_rate.smb"),
    "B03b": ("base60", "sales.qualify_prob.smb=2", "sales.qualify_prob.smb"),
    "B04b": ("base60", "sales.qualify_prob.smb=.nan", "sales.qualify_prob.smb"),
    "B71": ("base60", "sales.win_rate.smb=1.0000001", "sales.win_rate.smb"),
    "B05": ("tiny", "seam1.acceptance.p_accept_fit=1.5", "seam1.acceptance.p_accept_fit"),
    "B06": ("tiny", "seam1.acceptance.p_accept_fit=.nan", "seam1.acceptance.p_accept_fit"),
    "B07": (
        "tiny",
        "sources.inbound.segment_mix={smb: -0.5, mid_market: 1.5, enterprise: 0}",
        "sources.inbound.segment_mix.smb",
    ),
    "B07b": (
        "base60",
        "sources.paid_search.segment_mix={smb: -0.5, mid_market: 1.5, enterprise: 0}",
        "sources.paid_search.segment_mix.smb",
    ),
    "B09": ("tiny", "sales.lost_reasons={no_decision: -1, price: 2}", "sales.lost_reasons"),
    "B10": ("tiny", "seam4.renew_prob={-30: 0.5}", "seam4.renew_prob"),
    "B11": ("tiny", "seam4.renew_prob.30=.nan", "seam4.renew_prob.30"),
    "B12": ("tiny", "sources.inbound.leads_per_week=.inf", "sources.inbound.leads_per_week"),
    "B13": ("tiny", "sources.inbound.leads_per_week=1e308", "sources.inbound.leads_per_week"),
    "B17": ("tiny", "teams.sdr.headcount=1000000000", "teams.sdr.headcount"),
    "B17b": ("base60", "teams.sdr.headcount=1000000000", "teams.sdr.headcount"),
    "B18": ("tiny", "seam1.response_delay={dist: fixed, value: .inf}", "seam1.response_delay"),
    "B19": (
        "tiny",
        "seam1.response_delay={dist: lognormal, median: 1, p90: .inf}",
        "seam1.response_delay.p90",
    ),
    "B23": ("tiny", "seam1.sla_hours=.inf", "seam1.sla_hours"),
    "B25": ("tiny", "marketing.scoring.noise_sd=.inf", "marketing.scoring.noise_sd"),
    "B29": ("tiny", "teams.sdr.cost_per_year=.inf", "teams.sdr.cost_per_year"),
    "B29b": ("base60", "teams.sdr.cost_per_year=.inf", "teams.sdr.cost_per_year"),
    "B31b": (
        "base60",
        "sources.paid_search.seasonality=[.nan,.nan,.nan,.nan,.nan,.nan,.nan,.nan,.nan,.nan,.nan,.nan]",
        "sources.paid_search.seasonality",
    ),
    "B32b": (
        "base60",
        "sources.paid_search.seasonality=[.inf,1,1,1,1,1,1,1,1,1,1,1]",
        "sources.paid_search.seasonality",
    ),
    "B33": (
        "tiny",
        "sources.inbound.business_hours_share=.nan",
        "sources.inbound.business_hours_share",
    ),
    "B35": ("tiny", "teams.sdr.vacation_days_per_year=121", "teams.sdr.vacation_days_per_year"),
    "B38": (
        "tiny",
        "seam1.response_delay={dist: empirical, samples: [-5, .nan]}",
        "seam1.response_delay.samples",
    ),
    "B38b": (
        "tiny",
        "seam1.response_delay={dist: empirical, samples: [5, .nan]}",
        "seam1.response_delay.samples.1",
    ),
    "B42": (
        "tiny",
        "seam1.response_delay={dist: weibull, shape: 1e-300, scale: 1}",
        "seam1.response_delay.shape",
    ),
    "B43": ("tiny", "seam1.response_delay={dist: gamma, mean: 1, sd: 1e-300}", "sd (1e-300)"),
    "B48": (
        "tiny",
        "sources.ob={kind: outbound, accounts: 1000000000, attempts_per_week: 10, "
        "connect_prob: 0.1}",
        "sources.ob.accounts",
    ),
    "B54": ("tiny", "teams.ae.capacity_per_head=0", "teams.ae.capacity_per_head"),
    "B57": ("tiny", "teams.sdr.ramp=[0, 1]", "teams.sdr"),
    "B58": ("tiny", "teams.ae.comp.commission_rate=2", "teams.ae.comp.commission_rate"),
    "B61": ("tiny", "horizon_days=true", "horizon_days: expected a number, not true"),
    "B62": ("tiny", "teams.sdr.headcount=yes", "teams.sdr.headcount"),
    "B62b": ("base60", "teams.sdr.headcount=yes", "teams.sdr.headcount"),
    "B62c": ("tiny", "teams.sdr.headcount=true", "teams.sdr.headcount: expected a number"),
    "B70": (
        "tiny",
        "seam2.fallthrough_per_week_waiting=.inf",
        "seam2.fallthrough_per_week_waiting",
    ),
    "T04": (
        "base60",
        "sources.ob={kind: outbound, accounts: 1000, attempts_per_week: 1000000000, "
        "connect_prob: 0.1}",
        "sources.ob.attempts_per_week",
    ),
    "uniform-negative": (
        "tiny",
        "seam1.response_delay={dist: uniform, low: -5, high: 1}",
        "seam1.response_delay.low",
    ),
    "seasonal-peak": (
        "tiny",
        "sources.inbound.seasonality=[1,1,1,1,1,1,1,1,1,1,1,100000]",
        "sources.inbound: seasonality: the peak month",
    ),
    "plan-huge": (
        "base60",
        "teams.ae.plan=[{date: 2027-01-20, change: 999999999999}]",
        "teams.ae.plan.0.change",
    ),
    "lognormal-spread": (
        "tiny",
        "seam1.response_delay={dist: lognormal, median: 1e-9, p90: 1e9}",
        "seam1.response_delay: p90",
    ),
    "shift-bool": (
        "tiny",
        "teams.sdr.shift_hours_per_week=true",
        "teams.sdr.shift_hours_per_week: expected a number",
    ),
    "shift-tiny": (
        "tiny",
        "teams.sdr.shift_hours_per_week=1e-300",
        "teams.sdr.shift_hours_per_week: Input should be greater than or equal to 1",
    ),
    "overtime-bool": (
        "tiny",
        "teams.sdr.overtime_hours_per_week=true",
        "teams.sdr.overtime_hours_per_week: expected a number",
    ),
    "overtime-pay-huge": (
        "tiny",
        "teams.sdr.overtime_cost_multiplier=1e308",
        "teams.sdr.overtime_cost_multiplier",
    ),
    "C12": ("base60", "start_date=!!timestamp nope", "--set start_date: 'nope' is not a valid"),
    "C19": ("base60", "start_date=2027-02-30", "--set start_date: '2027-02-30' is not a valid"),
    "C20": ("base60", "start_date=2027-13-01", "month must be in 1..12"),
    "A32": ("tiny", "start_date=9999-12-31", "start_date: expected a date from"),
}


@pytest.mark.parametrize("case", sorted(VALUES))
def test_bad_value_names_its_field(runner: CliRunner, request, case: str) -> None:
    fixture, override, expected = VALUES[case]
    path = request.getfixturevalue(fixture)
    line = _one_line_error(_validate(runner, path, override))
    assert expected in line


RUNS = {
    "R01": "sales.win_rate.smb=5",
    "R03": "sales.qualify_prob.smb=.nan",
    "R04": "sources.paid_search.segment_mix={smb: -0.5, mid_market: 1.5, enterprise: 0}",
    "R05": "sources.paid_search.seasonality=[.nan,1,1,1,1,1,1,1,1,1,1,1]",
    "R07": "sources.paid_search.leads_per_week=.inf",
    "R08": "sources.paid_search.leads_per_week=1e308",
    "R10": "teams.sdr.headcount=1000000000",
    "R11": "teams.sdr.cost_per_year=.inf",
    "R13": "seam1.response_delay={dist: empirical, samples: [-5, .nan]}",
    "R14": "sources.ob={kind: outbound, accounts: 1000000000, attempts_per_week: 10, "
    "connect_prob: 0.1}",
    "R15": "sales.lost_reasons={no_decision: -1, price: 2}",
    "R16": "marketing.scoring.noise_sd=.inf",
    "R17": "seam2.fallthrough_per_week_waiting=.inf",
    "R20": "horizon_days=true",
    "R21": "seam1.response_delay={dist: weibull, shape: 1e-300, scale: 1}",
    "R22": "seam1.response_delay={dist: gamma, mean: 1, sd: 1e-300}",
    "R23": "seam4.renew_prob={-30: 0.5}",
    "R25": "segments.smb.deal_value=1e308",
}


@pytest.mark.parametrize("case", sorted(RUNS))
def test_run_refuses_before_simulating(
    runner: CliRunner, base60: Path, tmp_path: Path, case: str
) -> None:
    out = tmp_path / "out"
    field = RUNS[case].split("=")[0]
    result = runner.invoke(main, ["run", str(base60), "--out", str(out), "--set", RUNS[case]])
    line = _one_line_error(result)
    assert field.split(".")[0] in line
    assert not out.exists()


def test_c27_exponent_without_dot_is_a_number(base60: Path) -> None:
    scenario = load_scenario(base60, ["segments.smb.deal_value=1e5"])
    assert scenario.segments["smb"].deal_value.mean() == 100_000


def test_numbers_stay_finite_through_a_run(runner: CliRunner, base60: Path, tmp_path: Path) -> None:
    """The largest money the model accepts still gives finite results that can be saved."""
    big = ["segments.smb.deal_value=1e15", "teams.ae.cost_per_year=1e15"]
    out = tmp_path / "out"
    args = ["run", str(base60), "--reps", "2", "--no-ledger", "--out", str(out)]
    result = runner.invoke(main, args + [a for o in big for a in ("--set", o)])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    assert not np.isinf(summary.select_dtypes("number").to_numpy()).any()
    assert summary.set_index("metric").loc["booked_arr", "mean"] > 1e15


def test_shortest_shift_and_dearest_overtime_stay_finite(
    runner: CliRunner, tiny: Path, tmp_path: Path
) -> None:
    """The shortest shift with the most overtime at the highest pay the model accepts still
    costs a finite amount (a near-zero shift once made overtime pay infinite)."""
    sets = [
        "teams.ae.calendar={weekdays: [mon, tue, wed, thu, fri, sat, sun], hours: [0, 24]}",
        f"teams.ae.shift_hours_per_week={MIN_SHIFT_HOURS}",
        "teams.ae.overtime_hours_per_week=167",
        "teams.ae.overtime_cost_multiplier=1e15",
        "teams.ae.cost_per_year=1e15",
    ]
    out = tmp_path / "out"
    args = ["run", str(tiny), "--no-ledger", "--out", str(out)]
    result = runner.invoke(main, args + [a for s in sets for a in ("--set", s)])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv").set_index("metric")
    assert not np.isinf(summary.select_dtypes("number").to_numpy()).any()
    assert summary.loc["total_cost", "mean"] > 1e30


@pytest.mark.parametrize(
    "sets",
    [
        ["teams.sdr.work_time=1e-300"],
        ["teams.deal_desk.work_time=5e-324"],
        ["teams.sdr.work_time=1e-300", "teams.sdr.plan=[{date: 2027-01-20, change: 1}]"],
        ["seam1.sla_hours=1e-300", "seam1.fallback_team=deal_desk"],
    ],
)
def test_work_too_small_to_register_runs(
    runner: CliRunner, tiny: Path, tmp_path: Path, sets: list[str]
) -> None:
    """Work of a few hundred-thousandths of a femtosecond, started at an opening, once
    'ended' at the previous closing: SimPy refused the negative delay (exit 1)."""
    out = tmp_path / "out"
    args = ["run", str(tiny), "--no-ledger", "--out", str(out)]
    result = runner.invoke(main, args + [a for s in sets for a in ("--set", s)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("work", [1e-300, 5e-324, 1e-15])
def test_working_hours_never_end_before_they_start(work: float) -> None:
    calendar = WorkCalendar(Calendar(), dt.date(2027, 1, 4), 24 * 30)
    times = [
        *calendar.opens,
        *calendar.closes,
        *(o + 0.5 for o in calendar.opens),
        *(c + 3.0 for c in calendar.closes),
    ]
    for t in times:
        assert calendar.add_working_hours(t, work) >= t
    done = calendar.add_working_hours_array(np.array(times), np.full(len(times), work))
    assert (done >= np.array(times)).all()
    assert (done == [calendar.add_working_hours(t, work) for t in times]).all()


# --- --set merges into the defaults ------------------------------------------------------


def test_set_changes_one_field_of_a_default_team(runner: CliRunner, tiny: Path) -> None:
    result = _validate(runner, tiny, "teams.sdr.headcount=2")
    assert result.exit_code == 0, result.output
    default = _default_team("sdr")
    sdr = load_scenario(tiny, ["teams.sdr.headcount=2"]).teams["sdr"]
    assert sdr == default.model_copy(update={"headcount": 2})
    cost = load_scenario(tiny, ["teams.sdr.cost_per_year=1"]).teams["sdr"]
    assert cost == default.model_copy(update={"cost_per_year": 1.0})


def _default_team(name: str) -> Team:
    return scenario_from_dict({}).teams[name]


def test_set_merges_into_default_mappings(tiny: Path) -> None:
    default = scenario_from_dict({})
    scenario = load_scenario(
        tiny,
        [
            "sales.win_rate.smb=0.5",
            "sources.inbound.business_hours_share=0.8",
            "seam1.response_delay.p90=100",
            "sources.inbound.fit.a=3",
        ],
    )
    assert scenario.sales.win_rate == {**default.sales.win_rate, "smb": 0.5}
    assert scenario.sales.qualify_prob == default.sales.qualify_prob
    inbound = default.sources["inbound"]
    assert scenario.sources["inbound"] == inbound.model_copy(
        update={"business_hours_share": 0.8, "fit": inbound.fit.model_copy(update={"a": 3.0})}
    )
    assert scenario.seam1.response_delay.median == default.seam1.response_delay.median
    assert scenario.seam1.response_delay.p90 == 100


def test_set_fills_a_missing_team_when_the_file_names_others(tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text(TINY + "teams:\n  ae: {headcount: 3, capacity_per_head: 20}\n")
    scenario = load_scenario(path, ["teams.sdr.headcount=7"])
    assert scenario.teams["sdr"] == _default_team("sdr").model_copy(update={"headcount": 7})
    assert scenario.teams["ae"].headcount == 3


def test_set_does_not_bring_back_segments_a_file_replaced(tmp_path: Path) -> None:
    path = tmp_path / "segments.yaml"
    path.write_text(
        TINY + "segments:\n  solo: {share: 1, deal_value: 1000}\n"
        "sales: {qualify_prob: {solo: 0.5}, cycle_days: {solo: 20}, win_rate: {solo: 0.3}}\n"
    )
    scenario = load_scenario(path, ["segments.solo.share=1.0"])
    assert list(scenario.segments) == ["solo"]


def test_overrides_leave_the_input_and_its_aliases_alone() -> None:
    shared = {"headcount": 3, "work_time": 0.5}
    data = {"teams": {"sdr": shared, "deal_desk": shared}}
    merged = apply_overrides(data, ["teams.sdr.headcount=9"])
    assert merged["teams"]["sdr"]["headcount"] == 9
    assert merged["teams"]["deal_desk"]["headcount"] == 3
    assert data == {"teams": {"sdr": shared, "deal_desk": shared}} and shared["headcount"] == 3


# --- did you mean, for names of sources, teams, segments and products ---------------------


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("sources.paid_serch.leads_per_week=100", "did you mean 'paid_search'?"),
        ("teams.sdrr.headcount=3", "did you mean 'sdr'?"),
        ("segments.mid_markt.share=0.3", "did you mean 'mid_market'?"),
    ],
)
def test_set_typo_in_a_name(runner: CliRunner, base60: Path, override: str, expected: str) -> None:
    line = _one_line_error(_validate(runner, base60, override))
    assert expected in line and override.split("=")[0] in line


def test_set_can_still_add_new_entries(base60: Path) -> None:
    added = load_scenario(base60, ["teams.newteam.headcount=3"])
    assert added.teams["newteam"].headcount == 3
    whole = load_scenario(base60, ["sources.paid_serch={leads_per_week: 5}"])
    assert whole.sources["paid_serch"].leads_per_week == 5


def test_grid_typo_in_a_name(runner: CliRunner, base60: Path) -> None:
    args = ["sweep", str(base60), "--reps", "2", "--grid", "sources.paid_serch.leads_per_week=1,2"]
    line = _one_line_error(runner.invoke(main, args))
    assert line.startswith("error: --grid sources.paid_serch") and "'paid_search'" in line


def test_grid_bad_date_is_one_line(runner: CliRunner, base60: Path) -> None:
    args = ["sweep", str(base60), "--reps", "2", "--grid", "start_date=2027-01-05,2027-02-30"]
    line = _one_line_error(runner.invoke(main, args))
    assert "--grid start_date" in line and "2027-02-30" in line


# --- order independence (H06) ---------------------------------------------------------------


def _reversed(data: dict, *path: str) -> dict:
    """``data`` with the mapping at ``path`` listed in reverse order."""
    if len(path) == 1:
        return {**data, path[0]: dict(reversed(list(data[path[0]].items())))}
    return {**data, path[0]: _reversed(data[path[0]], *path[1:])}


def _by_name(ledger) -> pd.DataFrame:
    leads = ledger.leads
    for column in leads.columns:
        if isinstance(leads[column].dtype, pd.CategoricalDtype):
            leads[column] = leads[column].astype(str)
    return leads.sort_values(["created", "source"]).reset_index(drop=True)


@pytest.mark.parametrize(
    "path",
    [("segments",), ("sources",), ("teams",), ("products",), ("sales", "lost_reasons")],
    ids=lambda p: ".".join(p),
)
def test_listing_order_does_not_change_results(path: tuple[str, ...]) -> None:
    spec = load_scenario(ROOT / "scenarios" / "outbound_motion.yaml", ["horizon_days=90"])
    data = yaml.safe_load(dump_scenario(spec))
    assert len(_reversed(data, *path)) == len(data)
    first = fs.simulate(scenario_from_dict(data), 5)
    second = fs.simulate(scenario_from_dict(_reversed(data, *path)), 5)
    assert first.n_leads == second.n_leads > 0
    pd.testing.assert_frame_equal(_by_name(first), _by_name(second))
    one = fs.run(scenario_from_dict(data), replications=2, seed=5, keep_ledgers=False)
    two = fs.run(scenario_from_dict(_reversed(data, *path)), replications=2, seed=5)
    pd.testing.assert_frame_equal(one.summary(), two.summary())
