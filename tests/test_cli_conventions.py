"""Command-line conventions: light imports for --help, -o/--out, help and examples for
every command and option, --json writes nothing, bundled scenarios by name."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from funnelsim.cli import main
from funnelsim.cli.examples import EXAMPLES

HEAVY = (
    "scipy.stats",
    "matplotlib",
    "pandas",
    "numpy",
    "simpy",
    "dask",
    "funnelsim.report",
    "asyncio",
)
# Never needed to simulate, print or write a run's results (only charts, reports, fitting;
# asyncio only to check a Dask scheduler).
NOT_FOR_A_RUN = (
    "scipy.stats",
    "matplotlib",
    "funnelsim.report.html",
    "funnelsim.report.charts",
    "asyncio",
)
WRITERS = ("run", "compare", "plan", "leaks", "sweep", "sensitivity", "report", "calibrate")
TINY = """\
name: tiny
horizon_days: 150
sources:
  inbound: {leads_per_week: 40, cost_per_lead: 50}
teams:
  sdr: {headcount: 2, work_time: 0.5}
seam4: {term_months: 3}
"""


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return path


def test_the_cli_and_every_help_page_load_no_heavy_module() -> None:
    names = sorted(main.commands)
    script = textwrap.dedent(
        f"""
        import sys
        import funnelsim.cli
        loaded_by_import = [m for m in {HEAVY!r} if m in sys.modules]
        from funnelsim.cli import main
        for args in [["--help"]] + [[name, "--help"] for name in {names!r}]:
            try:
                main(args, standalone_mode=False)
            except SystemExit:
                pass
        loaded_by_help = [m for m in {HEAVY!r} if m in sys.modules]
        print(loaded_by_import, loaded_by_help, file=sys.stderr)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert result.stderr.strip() == "[] []"
    assert "Examples:" in result.stdout


def _loaded_after(code: str, prefixes: tuple[str, ...], cwd: Path | None = None) -> list[str]:
    """The modules under ``prefixes`` that running ``code`` in a fresh interpreter loads."""
    script = code + textwrap.dedent(
        f"""
        import sys
        print(sorted({{m.split(".")[0] if m.startswith(("scipy", "matplotlib")) else m
                       for m in sys.modules if m.startswith({prefixes!r})}}), file=sys.stderr)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        cwd=cwd,
    )
    return json.loads(result.stderr.strip().splitlines()[-1].replace("'", '"'))


def test_import_funnelsim_and_its_api_load_no_stats_charts_or_report() -> None:
    assert _loaded_after("import funnelsim\n", HEAVY) == []
    api = "import funnelsim as fs\nfs.run, fs.simulate, fs.load_scenario, fs.sweep\n"
    assert _loaded_after(api, NOT_FOR_A_RUN) == []


def test_a_run_without_report_loads_no_stats_charts_or_report(tiny: Path, tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        from funnelsim.cli import main
        main(["run", {str(tiny)!r}, "--reps", "2", "-o", "out"], standalone_mode=False)
        """
    )
    assert _loaded_after(code, NOT_FOR_A_RUN, cwd=tmp_path) == []
    assert (tmp_path / "out" / "ledger.parquet").is_file()


def test_the_console_script_exits_with_mains_code_and_the_objects_frozen(tmp_path: Path) -> None:
    """``funnelsim`` is ``cli.entry``: main's exit code (2 for bad input, one line), and by
    the time the interpreter exits every object is out of the collector's scans."""
    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert scripts["project"]["scripts"]["funnelsim"] == "funnelsim.cli:entry"
    code = textwrap.dedent(
        """
        import atexit, gc, sys
        from funnelsim.cli import entry
        atexit.register(lambda: print("tracked", len(gc.get_objects()), file=sys.stderr))
        sys.argv = ["funnelsim", *sys.argv[1:]]
        entry()
        """
    )
    for args, code_expected in (["validate", "baseline"], 0), (["validate", "missing.yaml"], 2):
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode == code_expected, done.stderr
        assert done.stderr.strip().splitlines()[-1] == "tracked 0"
        assert len(done.stderr.strip().splitlines()) == 1 + (code_expected == 2)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads listed by /proc")
def test_the_console_script_starts_no_blas_threads_unless_told(tmp_path: Path) -> None:
    """numpy's and scipy's OpenBLAS each start threads at import that spin ~0.1 s of CPU:
    the command line runs them on one thread, unless the environment sets their number."""
    code = textwrap.dedent(
        """
        import atexit, os, sys
        from funnelsim.cli import entry
        atexit.register(lambda: print(
            len(os.listdir("/proc/self/task")), "scipy.special" in sys.modules, file=sys.stderr
        ))
        sys.argv = ["funnelsim", "validate", "baseline"]
        entry()
        """
    )
    environ = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    threads = {}
    for told in (None, "2"):
        env = environ if told is None else {**environ, "OPENBLAS_NUM_THREADS": told}
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env
        )
        assert done.returncode == 0, done.stderr
        count, blas_loaded = done.stderr.split()
        assert blas_loaded == "True"
        threads[told] = int(count)
    assert threads[None] == 1
    assert threads["2"] > 1


def test_every_option_has_help_and_every_command_examples() -> None:
    for name, command in main.commands.items():
        assert command.help, name
        assert command.epilog and "Examples:" in command.epilog, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_parses(name: str) -> None:
    """Each example line is a whole, valid command (options and arguments as declared)."""
    text = " ".join(line.rstrip("\\ ") for line in EXAMPLES[name])
    used = set()
    for example in text.split("funnelsim ")[1:]:
        words = shlex.split(example.split("#")[0].split(">")[0].split("&&")[0])
        main.commands[words[0]].make_context(words[0], words[1:])
        used.add(words[0])
    assert name in used


@pytest.mark.parametrize("name", WRITERS)
def test_output_is_dash_o_or_dash_dash_out_everywhere(name: str) -> None:
    options = {opt for param in main.commands[name].params for opt in param.opts}
    assert {"-o", "--out"} <= options


def test_run_gives_intervals_by_default_and_warns_with_one_replication(tiny: Path) -> None:
    reps = next(p for p in main.commands["run"].params if p.name == "reps")
    assert reps.default >= 10
    result = CliRunner().invoke(main, ["run", str(tiny), "--reps", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert "note: 1 replication: no confidence intervals" in result.stderr
    json.loads(result.stdout)


def test_json_without_out_writes_nothing(
    tiny: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    result = CliRunner().invoke(main, ["run", str(tiny), "--reps", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["results_dir"] is None
    assert list(folder.iterdir()) == []
    sweep = ["sweep", str(tiny), "--grid", "teams.sdr.headcount=2,3", "--reps", "2", "--json"]
    assert CliRunner().invoke(main, sweep).exit_code == 0
    assert list(folder.iterdir()) == []


def test_report_takes_dash_o(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    runner = CliRunner()
    assert runner.invoke(main, ["run", str(tiny), "--reps", "2", "-o", str(out)]).exit_code == 0
    result = runner.invoke(main, ["report", str(out), "-o", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").is_file()


def test_bundled_scenarios_by_name_from_anywhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    listing = runner.invoke(main, ["scenarios"])
    assert listing.exit_code == 0
    names = {line.split()[0] for line in listing.stdout.splitlines()}
    assert {"baseline", "sla_1h_fallback"} <= names
    assert "valid (saas-80-extra-sdr" in runner.invoke(main, ["validate", "extra_sdr"]).stdout
    assert runner.invoke(main, ["init", "mine.yaml", "--from", "renewal_90d"]).exit_code == 0
    assert "extends: baseline.yaml" in (tmp_path / "mine.yaml").read_text()
    (tmp_path / "child.yaml").write_text("extends: baseline\nname: child\n")
    for path in ("mine.yaml", "child.yaml"):
        assert runner.invoke(main, ["validate", path]).exit_code == 0, path


def test_a_local_file_wins_over_a_bundled_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "baseline.yaml").write_text(TINY)
    (tmp_path / "child.yaml").write_text("extends: baseline.yaml\nname: child\n")
    result = CliRunner().invoke(main, ["validate", "child.yaml"])
    assert "150 days" in result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["validate", "basline"], "did you mean the bundled scenario 'baseline'?"),
        (["init", "x.yaml", "--from", "sla_1h"], "did you mean the bundled scenario"),
    ],
)
def test_a_misspelt_bundled_name_is_one_line_with_a_suggestion(
    args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and expected in result.output
    assert list(tmp_path.iterdir()) == []
