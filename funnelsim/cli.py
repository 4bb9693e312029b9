"""The ``funnelsim`` command line: thin over the Python API. Exit 0 ok, 1 failure, 2 bad input."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd
from rich.console import Console

from funnelsim.api import compare as compare_scenarios
from funnelsim.api import leaks as seam_leaks
from funnelsim.api import plan as compare_plan
from funnelsim.api import run as run_scenario
from funnelsim.api import sensitivity as one_at_a_time
from funnelsim.api import sweep as grid_sweep
from funnelsim.atomic import write_text
from funnelsim.experiment.plans import parse_hire
from funnelsim.experiment.stats import CONFIDENCE
from funnelsim.experiment.variants import parse_grid
from funnelsim.output import (
    OutputExistsError,
    check_writable,
    summary_document,
    write_results,
    write_table,
)
from funnelsim.report.data import ReportInputError
from funnelsim.report.html import (
    check_report_path,
    report_from_comparison,
    report_from_directory,
    report_from_results,
    write_report,
)
from funnelsim.report.progress import progress_bar
from funnelsim.report.terminal import (
    print_comparison,
    print_headcount,
    print_leaks,
    print_results,
    print_sensitivity,
    print_sweep,
)
from funnelsim.scenario.loading import ScenarioError, dump_scenario, load_scenario

BAD_INPUT = 2
MIN_WIDTH = 110
FAILURE = 1


class _Group(click.Group):
    """Turns bad input into one line on stderr and exit code 2; other errors into exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ScenarioError, OutputExistsError, ReportInputError) as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(BAD_INPUT)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if os.environ.get("FUNNELSIM_DEBUG"):
                raise
            click.echo(
                f"error: {type(exc).__name__}: {exc} (set FUNNELSIM_DEBUG=1 for details)", err=True
            )
            ctx.exit(FAILURE)
        return None


def default_scenario() -> Path:
    """The bundled baseline: ./scenarios/baseline.yaml, else the one beside the package."""
    candidates = [
        Path("scenarios") / "baseline.yaml",
        Path(__file__).resolve().parents[1] / "scenarios" / "baseline.yaml",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ScenarioError("no scenario given and no bundled scenarios/baseline.yaml found")


scenario_argument = click.argument(
    "scenario", required=False, type=click.Path(path_type=Path, dir_okay=False)
)
set_option = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a scenario field, e.g. --set seam1.sla_hours=1 (YAML scalar).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
report_option = click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a self-contained HTML report to this file (replaced only with --force).",
)
force_option = click.option("--force", is_flag=True, help="Replace existing output.")
csv_option = click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), help="Also write the table as CSV."
)


@dataclass(frozen=True)
class Execution:
    """How a command runs its replications: how many, from which seed, and where."""

    reps: int
    seed: int
    workers: int
    scheduler: str | None

    def api_kwargs(self) -> dict[str, object]:
        """The keyword arguments every experiment function of the API takes."""
        return {
            "replications": self.reps,
            "seed": self.seed,
            "workers": self.workers,
            "scheduler": self.scheduler,
        }


def execution_options(default_reps: int, min_reps: int) -> Callable:
    """--reps, --seed, --workers and --scheduler, passed on as one ``execution`` argument."""
    options = [
        click.option(
            "--reps",
            default=default_reps,
            show_default=True,
            type=click.IntRange(min=min_reps),
            help="Independent replications (paired across scenarios).",
        ),
        click.option(
            "--seed",
            default=0,
            show_default=True,
            type=click.IntRange(min=0),
            help="Root seed; replication seeds are spawned from it.",
        ),
        click.option(
            "--workers",
            default=1,
            show_default=True,
            type=click.IntRange(min=1),
            help="Local worker processes.",
        ),
        click.option(
            "--scheduler",
            metavar="tcp://HOST:PORT",
            default=None,
            help="Run on an existing Dask cluster instead of local processes.",
        ),
    ]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(reps: int, seed: int, workers: int, scheduler: str | None, **kwargs: object):
            return command(execution=Execution(reps, seed, workers, scheduler), **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


@click.group(cls=_Group)
@click.version_option(package_name="funnelsim")
def main() -> None:
    """funnelsim: where a B2B revenue engine leaks, seam by seam, and what a change is worth."""


@main.command()
@scenario_argument
@set_option
@execution_options(1, 1)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Results directory (default: results/NAME-TIMESTAMP).",
)
@force_option
@click.option("--no-ledger", is_flag=True, help="Keep only summaries (no Parquet ledger).")
@report_option
@json_option
def run(
    scenario: Path | None,
    overrides: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    force: bool,
    no_ledger: bool,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """Simulate SCENARIO (default: the bundled baseline) and show where revenue leaks."""
    spec = load_scenario(scenario or default_scenario(), overrides)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = out or Path("results") / f"{_slug(spec.name)}-{stamp}"
    check_writable(out_dir, force)
    if report_path is not None:
        check_report_path(report_path, force)
    console = _console(as_json)
    with progress_bar(console, execution.reps, f"simulating {spec.name}") as advance:
        results = run_scenario(
            spec,
            **execution.api_kwargs(),
            keep_ledgers=not no_ledger,
            on_done=lambda _rep: advance(),
        )
    write_results(results, out_dir, force=force)
    if report_path is not None:
        write_report(report_from_results(results), report_path, force=force)
    if as_json:
        document = summary_document(results)
        document["results_dir"] = str(out_dir)
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        print_results(results, console)
        console.print(f"Results written to [bold]{out_dir}[/bold]")
        if report_path is not None:
            console.print(f"Report written to [bold]{report_path}[/bold]")


@main.command()
@click.argument("baseline", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("variant", required=False, type=click.Path(path_type=Path, dir_okay=False))
@set_option
@execution_options(10, 2)
@csv_option
@force_option
@report_option
@json_option
def compare(
    baseline: Path,
    variant: Path | None,
    overrides: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    force: bool,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """Paired difference of VARIANT (or BASELINE with --set changes) against BASELINE."""
    if variant is None and not overrides:
        raise ScenarioError("compare: give a VARIANT scenario file or --set changes")
    base_spec = load_scenario(baseline)
    variant_spec = load_scenario(variant or baseline, overrides)
    if out is not None:
        check_writable(out, force)
    if report_path is not None:
        check_report_path(report_path, force)
    console = _console(as_json)
    with progress_bar(console, 2 * execution.reps, "comparing") as advance:
        result = compare_scenarios(
            base_spec,
            variant_spec,
            **execution.api_kwargs(),
            on_done=lambda _i, _r: advance(),
        )
    summary = result.summary()
    names = (base_spec.name, variant_spec.name if variant else f"{base_spec.name} with --set")
    if out is not None:
        write_table(summary, out, force=force)
    if report_path is not None:
        label = names[1] if variant else f"--set {' '.join(overrides)}"
        write_report(report_from_comparison(result, label), report_path, force=force)
    if as_json:
        click.echo(summary.to_json(orient="records", indent=2))
        return
    print_comparison(summary, names, base_spec.currency, console, result.confidence)
    if report_path is not None:
        console.print(f"Report written to [bold]{report_path}[/bold]")


@main.command()
@scenario_argument
@set_option
@click.option(
    "--hire",
    "hires",
    multiple=True,
    required=True,
    metavar="TEAM=+N@YYYY-MM-DD",
    help="Add (or with -N cut) heads on a date, e.g. --hire ae=+2@2027-04-01; repeatable.",
)
@execution_options(10, 2)
@csv_option
@force_option
@json_option
def plan(
    scenario: Path | None,
    overrides: tuple[str, ...],
    hires: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Paired difference of SCENARIO with a hiring plan against SCENARIO as it is."""
    spec = load_scenario(scenario or default_scenario(), overrides)
    parsed = [parse_hire(text) for text in hires]
    if out is not None:
        check_writable(out, force)
    console = _console(as_json)
    with progress_bar(console, 2 * execution.reps, "comparing hiring plans") as advance:
        result = compare_plan(
            spec,
            parsed,
            **execution.api_kwargs(),
            on_done=lambda _i, _r: advance(),
        )
    summary = result.comparison.summary()
    if out is not None:
        write_table(summary, out, force=force)
    if as_json:
        click.echo(summary.to_json(orient="records", indent=2))
        return
    names = (spec.name, f"with {' '.join(hires)}")
    print_comparison(summary, names, spec.currency, console, result.comparison.confidence)
    print_headcount(result.headcount(), console)


@main.command()
@scenario_argument
@set_option
@execution_options(10, 2)
@csv_option
@force_option
@json_option
def leaks(
    scenario: Path | None,
    overrides: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """Per seam: what fixing it is worth (counterfactual) beside attributed leakage."""
    spec = load_scenario(scenario or default_scenario(), overrides)
    if out is not None:
        check_writable(out, force)
    console = _console(as_json)
    with progress_bar(console, 5 * execution.reps, "fixing each seam in turn") as advance:
        table = seam_leaks(
            spec,
            **execution.api_kwargs(),
            on_done=lambda _i, _r: advance(),
        )
    _emit(table, out, force, as_json)
    if not as_json:
        print_leaks(table, spec.currency, console, CONFIDENCE)


@main.command()
@scenario_argument
@set_option
@click.option(
    "--grid",
    "grid_specs",
    multiple=True,
    required=True,
    metavar="PATH=V1,V2,...",
    help="A parameter and its values; repeat for a full grid.",
)
@execution_options(10, 2)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Sweep directory: each point is saved as it finishes; rerun to resume.",
)
@json_option
def sweep(
    scenario: Path | None,
    overrides: tuple[str, ...],
    grid_specs: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    as_json: bool,
) -> None:
    """Every point of a parameter grid with intervals; the best net gain is starred."""
    spec = load_scenario(scenario or default_scenario(), overrides)
    grid = parse_grid(grid_specs)
    n_points = math.prod(len(values) for values in grid.values())
    console = _console(as_json)
    with progress_bar(console, (n_points + 1) * execution.reps, "sweeping") as advance:
        table = grid_sweep(
            spec,
            grid,
            **execution.api_kwargs(),
            out_dir=out,
            on_done=lambda _i, _r: advance(),
        )
    _emit(table, out / "sweep.csv" if out else None, True, as_json)
    if not as_json:
        print_sweep(table, list(grid), spec.currency, console, CONFIDENCE)


@main.command()
@scenario_argument
@set_option
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="PATH",
    help="A numeric parameter to vary (repeatable; * matches one level; 'all').",
)
@click.option(
    "--step",
    default=0.2,
    show_default=True,
    type=click.FloatRange(0.01, 0.9),
    help="Relative change down and up.",
)
@click.option(
    "--metric",
    default="horizon_revenue",
    show_default=True,
    help="The headline metric to explain (or net_value).",
)
@execution_options(5, 2)
@csv_option
@force_option
@json_option
def sensitivity(
    scenario: Path | None,
    overrides: tuple[str, ...],
    params: tuple[str, ...],
    step: float,
    metric: str,
    execution: Execution,
    out: Path | None,
    force: bool,
    as_json: bool,
) -> None:
    """One-at-a-time tornado: which inputs move the metric most, with intervals."""
    spec = load_scenario(scenario or default_scenario(), overrides)
    if out is not None:
        check_writable(out, force)
    console = _console(as_json)
    with progress_bar(console, None, "varying parameters one at a time") as advance:
        table = one_at_a_time(
            spec,
            parameters=params or None,
            step=step,
            metric=metric,
            **execution.api_kwargs(),
            on_done=lambda _i, _r: advance(),
        )
    _emit(table, out, force, as_json)
    if not as_json:
        print_sensitivity(table, spec.currency, console, CONFIDENCE)


def _emit(table: pd.DataFrame, out: Path | None, force: bool, as_json: bool) -> None:
    """Write the table as CSV when asked, and print it as JSON when asked."""
    if out is not None:
        write_table(table, out, force=force)
    if as_json:
        click.echo(table.to_json(orient="records", indent=2))


@main.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The HTML file to write (default: RESULTS_DIR/report.html).",
)
@click.option("--force", is_flag=True, help="Replace an existing report file.")
def report(results_dir: Path, output: Path | None, force: bool) -> None:
    """Write a self-contained HTML report (one file to e-mail) of a results directory."""
    target = output or results_dir / "report.html"
    check_report_path(target, force)
    write_report(report_from_directory(results_dir), target, force=force)
    click.echo(f"wrote {target}")


@main.command()
@scenario_argument
@set_option
@click.option("--show", is_flag=True, help="Print the scenario with every default filled in.")
def validate(scenario: Path | None, overrides: tuple[str, ...], show: bool) -> None:
    """Check that SCENARIO is valid; exit 2 with the field at fault if not."""
    path = scenario or default_scenario()
    spec = load_scenario(path, overrides)
    if show:
        click.echo(dump_scenario(spec), nl=False)
    else:
        click.echo(
            f"{path}: valid ({spec.name}, {len(spec.sources)} sources, "
            f"{len(spec.teams)} teams, {spec.horizon_days} days)"
        )


@main.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a starter scenario to PATH (a copy of the bundled baseline) to edit."""
    if path.suffix not in {".yaml", ".yml"}:
        raise ScenarioError(f"{path}: expected a .yaml file name")
    write_text(path, default_scenario().read_text(encoding="utf-8"), force)
    click.echo(f"wrote {path}; edit it, then: funnelsim run {path}")


def _console(to_stderr: bool) -> Console:
    """A console at least wide enough for the leakage table, even when piped."""
    width = max(shutil.get_terminal_size((120, 40)).columns, MIN_WIDTH)
    return Console(stderr=to_stderr, width=width)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "run"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

from funnelsim.calibrate.commands import calibrate_command, check_fit_command  # noqa: E402

main.add_command(calibrate_command)
main.add_command(check_fit_command)
