"""Commands that compare scenarios: compare, plan, leaks, sweep, sensitivity."""

from __future__ import annotations

import math
from pathlib import Path

import click
from rich.markup import escape

from funnelsim.api import compare as compare_scenarios
from funnelsim.api import plan as compare_plan
from funnelsim.api import sensitivity as one_at_a_time
from funnelsim.api import sweep as grid_sweep
from funnelsim.cli.common import (
    Execution,
    FiniteFloatRange,
    console_for,
    csv_option,
    default_scenario,
    emit_table,
    execution_options,
    force_option,
    json_option,
    report_option,
    scenario_argument,
    seam_fixes_with_progress,
    set_option,
)
from funnelsim.experiment.plans import parse_hire
from funnelsim.experiment.sizes import compare_size, plan_size, sensitivity_size, sweep_size
from funnelsim.experiment.stats import CONFIDENCE
from funnelsim.experiment.variants import parse_grid
from funnelsim.output import (
    check_writable,
    write_table,
)
from funnelsim.report.html import (
    check_report_path,
    report_from_comparison,
    write_report,
)
from funnelsim.report.progress import progress_bar
from funnelsim.report.terminal import (
    print_comparison,
    print_headcount,
    print_leaks,
    print_sensitivity,
    print_sweep,
    print_warnings,
)
from funnelsim.scenario.loading import ScenarioError, load_scenario


@click.command()
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
    compare_size(base_spec, variant_spec, execution.reps, execution.allow_large)
    if out is not None:
        check_writable(out, force)
    if report_path is not None:
        check_report_path(report_path, force)
    console = console_for(as_json)
    with progress_bar(console, 2 * execution.reps, "comparing") as advance:
        result = compare_scenarios(
            base_spec,
            variant_spec,
            **execution.api_kwargs(),
            on_done=advance,
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
    print_warnings(result.warnings(), console)
    if report_path is not None:
        console.print(f"Report written to [bold]{escape(str(report_path))}[/bold]")


@click.command()
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
    plan_size(spec, parsed, execution.reps, execution.allow_large)
    if out is not None:
        check_writable(out, force)
    console = console_for(as_json)
    with progress_bar(console, 2 * execution.reps, "comparing hiring plans") as advance:
        result = compare_plan(
            spec,
            parsed,
            **execution.api_kwargs(),
            on_done=advance,
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


@click.command()
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
    console = console_for(as_json)
    table = seam_fixes_with_progress(spec, execution, console)
    emit_table(table, out, force, as_json)
    if not as_json:
        print_leaks(table, spec.currency, console, CONFIDENCE)


@click.command()
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
    """Every point of a parameter grid with intervals; the best net value gain is starred.

    Net value is gross profit (horizon revenue x gross margin) minus total cost.
    """
    spec = load_scenario(scenario or default_scenario(), overrides)
    grid = parse_grid(grid_specs)
    sweep_size(spec, grid, execution.reps, execution.allow_large)
    n_points = math.prod(len(values) for values in grid.values())
    console = console_for(as_json)
    with progress_bar(console, (n_points + 1) * execution.reps, "sweeping") as advance:
        table = grid_sweep(
            spec,
            grid,
            **execution.api_kwargs(),
            out_dir=out,
            on_done=advance,
            on_warning=lambda message: click.echo(f"warning: {message}", err=True),
        )
    emit_table(table, out / "sweep.csv" if out else None, True, as_json)
    if not as_json:
        print_sweep(table, list(grid), spec.currency, console, CONFIDENCE)


@click.command()
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
    type=FiniteFloatRange(0.01, 0.9),
    help="Relative change down and up.",
)
@click.option(
    "--metric",
    default="horizon_revenue",
    show_default=True,
    help="The headline metric to explain (e.g. net_value: gross profit − cost).",
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
    sensitivity_size(spec, params or None, execution.reps, execution.allow_large)
    if out is not None:
        check_writable(out, force)
    console = console_for(as_json)
    with progress_bar(console, None, "varying parameters one at a time") as advance:
        table = one_at_a_time(
            spec,
            parameters=params or None,
            step=step,
            metric=metric,
            **execution.api_kwargs(),
            on_done=advance,
        )
    emit_table(table, out, force, as_json)
    if not as_json:
        print_sensitivity(table, spec.currency, console, CONFIDENCE)
