"""Fuzzing the command line: mutated scenarios and argument combinations, run in-process.

Every case must end with exit 0 (valid input, correct output) or exit 2 (one line naming
what is wrong), never exit 1, never a traceback, within a watchdog time budget and a memory
budget. Three kinds of scenario: wild mutations (types, non-finite and extreme numbers,
bad dates, unknown names, deep nesting, aliases), which mostly test the refusals; and
valid mutations (numbers scaled, distributions, routings, calendars, SLAs, staffing and
outbound switched, durations and hours set to tiny or huge values), which mostly simulate
and so test the engine. Examples are derandomised so CI sees the same cases every time
(``FUNNELSIM_FUZZ_EXAMPLES`` per test, 60 by default); the outcome counts, in total and
per kind, are written to ``fuzz-outcomes.json`` in pytest's cache folder for the record.
"""

from __future__ import annotations

import collections
import contextlib
import datetime as dt
import json
import math
import os
import resource
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funnelsim.cli import main
from funnelsim.scenario.loading import dump_scenario, scenario_from_dict

BASE = {
    "name": "fuzz",
    "horizon_days": 45,
    "sources": {"inbound": {"leads_per_week": 15, "cost_per_lead": 40}},
}
CASE_SECONDS = 60
MEMORY_BUDGET_MB = 3000
EXAMPLES = int(os.environ.get("FUNNELSIM_FUZZ_EXAMPLES", "60"))
OUTCOMES: collections.Counter[str] = collections.Counter()
BY_MODE: collections.defaultdict[str, collections.Counter[str]] = collections.defaultdict(
    collections.Counter
)
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class CaseTimedOut(BaseException):
    """Raised by the watchdog; a BaseException so the CLI's error handler cannot absorb it."""


@contextlib.contextmanager
def watchdog(seconds: int) -> Iterator[None]:
    """Fail a case that runs longer than ``seconds`` instead of letting the suite hang."""

    def expire(signum: int, frame: object) -> None:
        raise CaseTimedOut(f"case still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def resolved_base() -> dict[str, Any]:
    """The fuzz base scenario with every default filled in: every field is a target."""
    return yaml.safe_load(dump_scenario(scenario_from_dict(BASE)))


def leaf_paths(node: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every path to a scalar, list or mapping in the resolved scenario."""
    paths = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            paths.extend(leaf_paths(value, (*prefix, str(key))))
    return paths


PATHS = leaf_paths(resolved_base())

NASTY_TEXT = st.sampled_from(
    [
        "",
        "[/bold]",
        "[red]x[/]",
        "<svg/onload=alert(1)>",
        "=1+2",
        "@SUM(A1)",
        "-2+3",
        "2027-02-30",
        "2027-13-01",
        "9999-12-31",
        "0001-01-01",
        "next tuesday",
        "NO",
        "1e5",
        "ünï cødé 📈",
        "a" * 300,
        "../../etc/passwd",
    ]
)
NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.sampled_from([0, -1, 1, 0.5, 1.5, 1e-300, 1e308, 10**9, 3650, 3651]),
)
SCALARS = st.one_of(NUMBERS, st.booleans(), st.none(), NASTY_TEXT, st.text(max_size=12))
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["dist", "median", "p90", "mean", "sd", "x"]), inner),
    ),
    max_leaves=8,
)


def set_path(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    """Replace the value at ``path`` (which exists in the resolved scenario)."""
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


def delete_path(data: dict[str, Any], path: tuple[str, ...]) -> None:
    """Remove the key at ``path``."""
    node = data
    for key in path[:-1]:
        node = node[key]
    node.pop(path[-1], None)


@st.composite
def mutated_scenarios(draw: st.DrawFn) -> str:
    """YAML text of the resolved base scenario with one to three mutations."""
    data = resolved_base()
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "unknown"]))
        try:
            if action == "replace":
                set_path(data, path, draw(VALUES))
            elif action == "delete":
                delete_path(data, path)
            else:
                set_path(data, (*path[:-1], draw(st.sampled_from(["bogus", "teems", "x1"]))), 1)
        except (KeyError, TypeError):
            continue
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    shape = draw(st.sampled_from(["plain", "plain", "dup", "bomb", "deep", "anchor"]))
    if shape == "dup":
        text += "horizon_days: 30\n"
    elif shape == "bomb":
        text = bomb_text(draw(st.integers(3, 12)))
    elif shape == "deep":
        depth = draw(st.integers(50, 6000))
        text = "name: " + "[" * depth + "]" * depth + "\n"
    elif shape == "anchor":
        text = "name: fuzz\nnotes: &a [*a]\n"
    return text


def bomb_text(levels: int) -> str:
    """A 'billion laughs' document: ``levels`` levels of nine aliases each."""
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels):
        refs = ",".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append(f"name: *a{levels - 1}")
    return "\n".join(lines) + "\n"


def invoke(args: list[str], cwd: Path, mode: str = "other") -> Any:
    """Run the CLI in-process in ``cwd`` under the watchdog; check exit code and output.

    ``mode`` names the kind of case for the outcome counts (one counter per mode).
    """
    runner = CliRunner()
    here = Path.cwd()
    os.chdir(cwd)
    try:
        with watchdog(CASE_SECONDS):
            result = runner.invoke(main, args, catch_exceptions=True)
    finally:
        os.chdir(here)
    outcome = f"exit {result.exit_code}"
    OUTCOMES[outcome] += 1
    BY_MODE[mode][outcome] += 1
    shown = f"args={args!r}\n{result.output}"
    assert "Traceback" not in result.output, shown
    assert result.exit_code in (0, 2), shown
    if result.exit_code == 2 and result.output.startswith("error:"):
        assert len([line for line in result.output.splitlines() if line.strip()]) == 1, shown
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert peak_mb < MEMORY_BUDGET_MB, f"peak memory {peak_mb:.0f} MB\n{shown}"
    return result


@pytest.fixture(scope="module", autouse=True)
def record_outcomes(request: pytest.FixtureRequest) -> Iterator[None]:
    """Write the outcome counts of this module's cases for the closing note."""
    yield
    cache = Path(str(request.config.cache.mkdir("funnelsim-fuzz")))
    total = sum(OUTCOMES.values())
    by_mode = {mode: dict(counts) for mode, counts in sorted(BY_MODE.items())}
    document = {"cases": total, **OUTCOMES, "by_mode": by_mode}
    (cache / "fuzz-outcomes.json").write_text(json.dumps(document, indent=2))


@FUZZ_SETTINGS
@given(text=mutated_scenarios())
def test_mutated_scenarios_validate_cleanly(
    text: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("validate")
    (folder / "s.yaml").write_text(text, encoding="utf-8")
    invoke(["validate", "s.yaml"], folder, "validate mutated")


@FUZZ_SETTINGS
@given(text=mutated_scenarios())
def test_mutated_scenarios_run_cleanly(text: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    folder = tmp_path_factory.mktemp("run")
    (folder / "s.yaml").write_text(text, encoding="utf-8")
    args = ["run", "s.yaml", "--no-ledger", "--json", "--out", "out"]
    result = invoke(args, folder, "run mutated")
    if result.exit_code == 0:
        assert (folder / "out" / "summary.json").is_file()
    else:
        assert not (folder / "out").exists(), "a refused run must not leave results behind"


def value_at(data: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a nested mapping."""
    for key in path:
        data = data[key]
    return data


RESOLVED = resolved_base()
NUMERIC_PATHS = [
    path
    for path in PATHS
    if isinstance(value := value_at(RESOLVED, path), int | float) and not isinstance(value, bool)
]
DISTRIBUTION_PATHS = [
    path
    for path in PATHS
    if isinstance(value := value_at(RESOLVED, path), dict) and "dist" in value
]
WEEK = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
CALENDARS = [
    {"weekdays": WEEK[:5], "hours": [9, 17]},
    {"weekdays": WEEK, "hours": [0, 24]},
    {"weekdays": WEEK[:6], "hours": [7, 21]},
    {"weekdays": ["tue", "thu"], "hours": [10, 14], "holidays": ["2027-01-05", "2027-01-12"]},
    {"weekdays": WEEK[:5], "hours": [8.5, 17.25], "holidays": ["2027-01-04"]},
]
TEAMS = ["sdr", "ae", "deal_desk", "csm"]


SCALED_TOGETHER = {"median", "p90", "mean", "sd", "value", "scale", "low", "mode", "high"}


def scale(data: dict[str, Any], path: tuple[str, ...], factor: float) -> None:
    """Scale the number at ``path`` by ``factor``, keeping what validation ties together.

    A distribution's location and spread move together (its median stays below its p90);
    a count stays a whole number of at least 1 when it was; a value in [0, 1] is raised
    to the power ``factor``, so probabilities stay probabilities; segment shares, which
    must add up to 1, are left alone.
    """
    parent, key = value_at(data, path[:-1]), path[-1]
    value = parent[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or key == "share":
        return
    if "dist" in parent and key in SCALED_TOGETHER:
        for name in SCALED_TOGETHER & set(parent):
            parent[name] = parent[name] * factor
    elif isinstance(value, int):
        parent[key] = max(round(value * factor), min(value, 1))
    elif 0 <= value <= 1:
        parent[key] = value**factor
    else:
        parent[key] = value * factor


EXTREMES = [1e-300, 5e-324, 1e-12, 1e6, 1e12]
EXTREME_PATHS = DISTRIBUTION_PATHS + [
    path
    for path in NUMERIC_PATHS
    if type(value_at(RESOLVED, path)) is float
    and value_at(RESOLVED, path) > 1
    and "dist" not in value_at(RESOLVED, path[:-1])
]


def extreme(data: dict[str, Any], path: tuple[str, ...], value: float) -> None:
    """Set a whole distribution (fixed at ``value``) or a real number (when ``value`` is
    tiny) to an extreme that is still valid: durations of nearly nothing or of ages,
    hours and costs of nearly nothing."""
    with contextlib.suppress(KeyError, TypeError):
        parent, key = value_at(data, path[:-1]), path[-1]
        if isinstance(parent[key], dict):
            parent[key] = {"dist": "fixed", "value": value}
        elif value < 1:
            parent[key] = value


def _typical(spec: dict[str, Any]) -> float:
    """A typical value of a distribution spec, to swap in another family around it."""
    for key in ("median", "mean", "value", "scale", "mode"):
        if isinstance(spec.get(key), int | float):
            return max(float(spec[key]), 1e-3)
    return 1.0


def _family(name: str, m: float) -> dict[str, Any]:
    return {
        "fixed": {"dist": "fixed", "value": m},
        "exponential": {"dist": "exponential", "mean": m},
        "lognormal": {"dist": "lognormal", "median": m, "p90": 4 * m},
        "gamma": {"dist": "gamma", "mean": m, "sd": m / 2},
        "weibull": {"dist": "weibull", "shape": 1.5, "scale": m},
        "triangular": {"dist": "triangular", "low": 0, "mode": m, "high": 3 * m},
        "uniform": {"dist": "uniform", "low": 0, "high": 2 * m},
        "empirical": {"dist": "empirical", "samples": [m / 2, m, 2 * m]},
        "beta": {"dist": "beta", "a": 2, "b": 3},
    }[name]


@st.composite
def valid_mutations(draw: st.DrawFn) -> dict[str, Any]:
    """The resolved base with one to four changes that mostly keep it valid.

    Numbers are scaled by a factor in [0.1, 10] (a value in [0, 1] is raised to that
    power, so probabilities stay probabilities); distributions change family around the
    same typical value; routings, calendars, SLAs, staffing (plans, ramps, attrition,
    vacations) and an outbound source are switched on. Most cases therefore simulate.
    """
    data = resolved_base()
    start = dt.date.fromisoformat(data["start_date"])
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(
            st.sampled_from(
                [
                    "scale",
                    "scale",
                    "scale",
                    "dist",
                    "routing",
                    "calendar",
                    "sla",
                    "staffing",
                    "outbound",
                    "extreme",
                    "extreme",
                ]
            )
        )
        if kind == "scale":
            path = draw(st.sampled_from(NUMERIC_PATHS))
            factor = draw(st.floats(0.1, 10))
            with contextlib.suppress(KeyError, TypeError):  # unless an earlier change removed it
                scale(data, path, factor)
        elif kind == "extreme":
            extreme(
                data,
                draw(st.sampled_from(EXTREME_PATHS)),
                draw(st.sampled_from(EXTREMES)),
            )
        elif kind == "dist":
            path = draw(st.sampled_from(DISTRIBUTION_PATHS))
            family = draw(
                st.sampled_from(
                    [
                        "fixed",
                        "exponential",
                        "lognormal",
                        "gamma",
                        "weibull",
                        "triangular",
                        "uniform",
                        "empirical",
                        "beta",
                    ]
                )
            )
            set_path(data, path, _family(family, _typical(value_at(data, path))))
        elif kind == "routing":
            stage = draw(st.sampled_from(["seam1", "sales"]))
            routing = draw(st.sampled_from(["round_robin", "least_loaded", "pooled"]))
            data[stage]["routing"] = routing
        elif kind == "calendar":
            where = draw(st.sampled_from([None, *TEAMS]))
            calendar = draw(st.sampled_from(CALENDARS))
            if where is None:
                data["calendar"] = calendar
            else:
                data["teams"][where]["calendar"] = calendar
        elif kind == "sla":
            data["seam1"]["sla_hours"] = draw(st.sampled_from([0.5, 1, 4, 24]))
            data["seam1"]["sla_clock"] = draw(st.sampled_from(["business", "wall"]))
            data["seam1"]["fallback_team"] = draw(st.sampled_from([None, "sdr", "deal_desk"]))
        elif kind == "staffing":
            team = data["teams"][draw(st.sampled_from(TEAMS))]
            day = start + dt.timedelta(days=draw(st.integers(1, data["horizon_days"] - 1)))
            team["plan"] = [{"date": day.isoformat(), "change": draw(st.integers(-1, 3)) or 1}]
            team["ramp"] = draw(st.sampled_from([None, [0.5, 1.0], [0.25, 0.5, 0.75]]))
            team["vacation_days_per_year"] = draw(st.sampled_from([0, 10, 25]))
            if draw(st.booleans()):
                team["attrition"] = {
                    "tenure_months": {"dist": "lognormal", "median": 6, "p90": 18},
                    "hiring_delay_days": {"dist": "fixed", "value": 20},
                }
        else:
            data["sources"]["outbound"] = {
                "kind": "outbound",
                "accounts": draw(st.sampled_from([10, 200, 5000])),
                "attempts_per_week": draw(st.sampled_from([5, 50, 400])),
                "connect_prob": draw(st.sampled_from([0.05, 0.3, 1.0])),
            }
    return data


def finite_numbers(node: Any) -> bool:
    """Whether every number in a JSON document is finite."""
    if isinstance(node, dict):
        return all(finite_numbers(value) for value in node.values())
    if isinstance(node, list):
        return all(finite_numbers(value) for value in node)
    return not isinstance(node, float) or math.isfinite(node)


@FUZZ_SETTINGS
@given(data=valid_mutations(), seed=st.integers(0, 2**32 - 1))
def test_valid_mutations_simulate_cleanly(
    data: dict[str, Any], seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("valid")
    text = yaml.safe_dump(data, sort_keys=False)
    (folder / "s.yaml").write_text(text, encoding="utf-8")
    args = ["run", "s.yaml", "--no-ledger", "--json", "--out", "out", "--seed", str(seed)]
    result = invoke(args, folder, "run valid-mutated")
    if result.exit_code == 0:
        summary = json.loads((folder / "out" / "summary.json").read_text(encoding="utf-8"))
        assert finite_numbers(summary), text
        assert summary["seed"] == seed
    else:
        assert not (folder / "out").exists(), "a refused run must not leave results behind"


SET_PATHS = st.one_of(
    st.sampled_from([".".join(p) for p in PATHS]),
    st.sampled_from(
        ["sources.paid_serch.leads_per_week", "teams.sdrs.headcount", "a..b", "=", "x.y.z"]
    ),
)
OVERRIDE_VALUES = st.sampled_from(
    [
        "",
        "1",
        "-1",
        "0",
        "2",
        ".nan",
        ".inf",
        "1e5",
        "1e400",
        "true",
        "yes",
        "[1, 2]",
        "{a: 1}",
        "2027-02-30",
        "[/bold]",
        "&a [*a]",
        "{",
        "1000000000",
        "0.5",
    ]
)


@st.composite
def argument_lists(draw: st.DrawFn) -> list[str]:
    """A command with random --set, --grid, --hire, --reps, --workers and output options."""
    command = draw(st.sampled_from(["validate", "run", "compare", "plan", "sweep"]))
    args = [command, "s.yaml"]
    for _ in range(draw(st.integers(0, 2))):
        args += ["--set", f"{draw(SET_PATHS)}={draw(OVERRIDE_VALUES)}"]
    if command == "validate":
        return args
    if command == "sweep":
        path = draw(SET_PATHS)
        args += ["--grid", f"{path}={draw(OVERRIDE_VALUES)},{draw(OVERRIDE_VALUES)}"]
    if command == "plan":
        team = draw(st.sampled_from(["sdr", "ae", "sdrs", "", "csm"]))
        size = draw(st.sampled_from(["+1", "-1", "+999999999999", "+0", "x", "+1000000"]))
        when = draw(st.sampled_from(["2027-03-01", "2027-02-30", "1999-01-01", "", "soon"]))
        args += ["--hire", f"{team}={size}@{when}"]
    reps = draw(st.sampled_from(["2", "3", "0", "-1", "abc", "1000000000"]))
    args += ["--reps", reps, "--workers", draw(st.sampled_from(["1", "2", "64", "0"]))]
    out = draw(st.sampled_from(["out", "out/[/bold]", "", ".", "s.yaml/x", "a b/ü"]))
    if out:
        args += ["--out", out]
    if command == "run":
        args += ["--no-ledger", "--json"]
    return args


@FUZZ_SETTINGS
@given(args=argument_lists())
def test_argument_combinations_end_cleanly(
    args: list[str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    folder = tmp_path_factory.mktemp("args")
    (folder / "s.yaml").write_text(yaml.safe_dump(BASE), encoding="utf-8")
    (folder / "keep.txt").write_text("user data")
    invoke(args, folder, "arguments")
    assert (folder / "keep.txt").read_text() == "user data"
    assert yaml.safe_load((folder / "s.yaml").read_text()) == BASE
