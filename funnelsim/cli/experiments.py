"""Commands that compare scenarios: compare, plan, leaks, sweep, sensitivity.

Heavy imports happen inside the commands (see ``cli.common``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TYPE_CHECKING

import click

from funnelsim.experiment.defaults import DEFAULT_MAX_REPLICATIONS, DEFAULT_REPLICATIONS

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

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
    xlsx_option,
)


@click.command()
@click.argument("baseline", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("options", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
@set_option
@execution_options(DEFAULT_REPLICATIONS, 2)
@click.option(
    "--until-resolved",
    is_flag=True,
    help="Add --reps replications at a time until the options' ranking is resolved.",
)
@click.option(
    "--max-reps",
    default=DEFAULT_MAX_REPLICATIONS,
    show_default=True,
    type=click.IntRange(min=2),
    help="The most replications --until-resolved runs per scenario.",
)
@csv_option
@force_option
@report_option
@xlsx_option
@json_option
def compare(
    baseline: Path,
    options: tuple[Path, ...],
    overrides: tuple[str, ...],
    execution: Execution,
    until_resolved: bool,
    max_reps: int,
    out: Path | None,
    force: bool,
    report_path: Path | None,
    xlsx_path: Path | None,
    as_json: bool,
) -> None:
    """Rank OPTIONS (or BASELINE with --set changes) against BASELINE by net value.

    Every option runs on the base's random numbers (paired); --set changes apply to every
    option. One option prints its paired differences per metric; several print the
    decision table: extra cost, revenue gain, net value (gross profit − cost), payback, and
    whether the ranking is resolved at this replication count.
    """
    import pandas as pd
    from rich.markup import escape

    from funnelsim.api import compare as compare_scenarios
    from funnelsim.excel import decision_sheets, write_xlsx
    from funnelsim.experiment.options import option_names
    from funnelsim.experiment.sizes import options_size
    from funnelsim.experiment.stats import CONFIDENCE
    from funnelsim.output import check_writable, write_table
    from funnelsim.report.html import (
        report_from_decision,
        write_report,
    )
    from funnelsim.report.labels import DisplayNames
    from funnelsim.report.progress import progress_bar
    from funnelsim.report.terminal import print_comparison, print_decision, print_warnings
    from funnelsim.scenario.loading import ScenarioError, load_scenario

    if not options and not overrides:
        raise ScenarioError("compare: give OPTION scenario files or --set changes")
    base_spec = load_scenario(baseline)
    specs = [load_scenario(path, overrides) for path in options or (baseline,)]
    named = option_names(base_spec, specs)
    if not options:
        named = {f"{DisplayNames.of(base_spec).title} with --set": specs[0]}
    most = max(execution.reps, max_reps) if until_resolved else execution.reps
    options_size(base_spec, specs, most, execution.allow_large)
    check_outputs(out, report_path, force)
    if xlsx_path is not None:
        check_writable(xlsx_path, force)
    console = console_for(as_json)
    total = None if until_resolved else (1 + len(named)) * execution.reps
    with progress_bar(console, total, "comparing") as advance:
        decision = compare_scenarios(
            base_spec,
            named,
            **execution.api_kwargs(),
            on_done=advance,
            until_resolved=until_resolved,
            max_replications=max_reps,
        )
    single = len(named) == 1
    decision_table = decision.summary()
    summaries = {name: comparison.summary() for name, comparison in decision.comparisons.items()}
    table = next(iter(summaries.values())) if single else decision_table
    if out is not None:
        write_table(table, out, force=force)
    if report_path is not None:
        labels = None if options else {next(iter(named)): f"--set {' '.join(overrides)}"}
        write_report(report_from_decision(decision, labels), report_path, force=force)
    if xlsx_path is not None:
        write_xlsx(decision_sheets(decision), xlsx_path, force=force)
    if as_json:
        document = table if single else _decision_document(decision_table, summaries)
        click.echo(
            document.to_json(orient="records", indent=2)
            if isinstance(document, pd.DataFrame)
            else json.dumps(document, indent=2, default=str)
        )
        return
    first = next(iter(named))
    if single:  # one option: its paired differences per metric, as compare always printed
        titles = (DisplayNames.of(base_spec).title, first)
        print_comparison(table, titles, base_spec.currency, console, CONFIDENCE)
    print_decision(decision_table, base_spec.currency, console, decision.confidence)
    print_warnings(
        decision.comparison(first).warnings() if single else decision.warnings(), console
    )
    report_written(report_path, console)
    if xlsx_path is not None:
        console.print(f"Workbook written to [bold]{escape(str(xlsx_path))}[/bold]")


def check_outputs(out: Path | None, report_path: Path | None, force: bool) -> None:
    """Refuse a bad --out table or --report file before any simulation."""
    from funnelsim.output import check_writable
    from funnelsim.report.html import check_report_path

    if out is not None:
        check_writable(out, force)
    if report_path is not None:
        check_report_path(report_path, force)


def report_written(report_path: Path | None, console: Console) -> None:
    """Say where the report went (paths are printed as text, never as markup)."""
    from rich.markup import escape

    if report_path is not None:
        console.print(f"Report written to [bold]{escape(str(report_path))}[/bold]")


def _decision_document(
    decision_table: pd.DataFrame, summaries: dict[str, pd.DataFrame]
) -> dict[str, object]:
    """--json of several options: the decision table and each option's paired summary."""

    return {
        "decision": json.loads(decision_table.to_json(orient="records")),
        "comparisons": {
            name: json.loads(summary.to_json(orient="records"))
            for name, summary in summaries.items()
        },
    }


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
@execution_options(DEFAULT_REPLICATIONS, 2)
@csv_option
@force_option
@report_option
@json_option
def plan(
    scenario: Path | None,
    overrides: tuple[str, ...],
    hires: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    force: bool,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """Paired difference of SCENARIO with a hiring plan against SCENARIO as it is."""
    from funnelsim.api import plan as compare_plan
    from funnelsim.experiment.plans import parse_hire
    from funnelsim.experiment.sizes import plan_size
    from funnelsim.output import write_table
    from funnelsim.report.html import report_from_plan, write_report
    from funnelsim.report.labels import DisplayNames, hires_label
    from funnelsim.report.progress import progress_bar
    from funnelsim.report.terminal import print_comparison, print_headcount
    from funnelsim.scenario.loading import load_scenario

    spec = load_scenario(scenario or default_scenario(), overrides)
    parsed = [parse_hire(text) for text in hires]
    plan_size(spec, parsed, execution.reps, execution.allow_large)
    check_outputs(out, report_path, force)
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
    if report_path is not None:
        write_report(report_from_plan(result), report_path, force=force)
    if as_json:
        click.echo(summary.to_json(orient="records", indent=2))
        return
    labels = DisplayNames.of(spec)
    names = (labels.title, hires_label(parsed, labels))
    print_comparison(summary, names, spec.currency, console, result.comparison.confidence)
    print_headcount(result.headcount(), console, labels)
    report_written(report_path, console)


@click.command()
@scenario_argument
@set_option
@execution_options(DEFAULT_REPLICATIONS, 2)
@csv_option
@force_option
@report_option
@json_option
def leaks(
    scenario: Path | None,
    overrides: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    force: bool,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """Per seam: what fixing it is worth (counterfactual) beside attributed leakage.

    With --report the scenario also runs once more keeping its ledgers, for the charts.
    """
    from funnelsim.api import run as run_scenario
    from funnelsim.experiment.sizes import run_size
    from funnelsim.experiment.stats import CONFIDENCE
    from funnelsim.report.html import report_from_results, write_report
    from funnelsim.report.labels import DisplayNames
    from funnelsim.report.progress import progress_bar
    from funnelsim.report.terminal import print_leaks
    from funnelsim.scenario.loading import load_scenario

    spec = load_scenario(scenario or default_scenario(), overrides)
    if report_path is not None:
        run_size(spec, execution.reps, True, execution.allow_large)
    check_outputs(out, report_path, force)
    console = console_for(as_json)
    table = seam_fixes_with_progress(spec, execution, console)
    if report_path is not None:
        with progress_bar(console, execution.reps, "running the scenario for the report") as go:
            results = run_scenario(spec, **execution.api_kwargs(), on_done=go)
        write_report(report_from_results(results, leaks=table), report_path, force=force)
    emit_table(table, out, force, as_json)
    if not as_json:
        print_leaks(table, spec.currency, console, CONFIDENCE, DisplayNames.of(spec))
        report_written(report_path, console)


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
@execution_options(DEFAULT_REPLICATIONS, 2)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Sweep directory: each point is saved as it finishes; rerun to resume.",
)
@force_option
@report_option
@json_option
def sweep(
    scenario: Path | None,
    overrides: tuple[str, ...],
    grid_specs: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    force: bool,
    report_path: Path | None,
    as_json: bool,
) -> None:
    """Every point of a parameter grid with intervals; the best net value gain is starred.

    Net value is gross profit (horizon revenue x gross margin) minus total cost.
    """
    from funnelsim.api import sweep as grid_sweep
    from funnelsim.experiment.sizes import sweep_size
    from funnelsim.experiment.stats import CONFIDENCE
    from funnelsim.experiment.variants import parse_grid
    from funnelsim.report.html import report_from_sweep, write_report
    from funnelsim.report.labels import DisplayNames
    from funnelsim.report.progress import progress_bar
    from funnelsim.report.terminal import print_sweep
    from funnelsim.scenario.loading import load_scenario

    spec = load_scenario(scenario or default_scenario(), overrides)
    grid = parse_grid(grid_specs)
    sweep_size(spec, grid, execution.reps, execution.allow_large)
    check_outputs(None, report_path, force)
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
    if report_path is not None:
        report = report_from_sweep(
            table, spec, list(grid), execution.reps, execution.seed, CONFIDENCE
        )
        write_report(report, report_path, force=force)
    if not as_json:
        print_sweep(table, list(grid), spec.currency, console, CONFIDENCE, DisplayNames.of(spec))
        report_written(report_path, console)


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
@execution_options(DEFAULT_REPLICATIONS, 2)
@csv_option
@force_option
@report_option
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
    report_path: Path | None,
    as_json: bool,
) -> None:
    """One-at-a-time tornado: which inputs move the metric most, with intervals."""
    from funnelsim.api import sensitivity as one_at_a_time
    from funnelsim.experiment.sizes import sensitivity_size
    from funnelsim.experiment.stats import CONFIDENCE
    from funnelsim.report.html import report_from_sensitivity, write_report
    from funnelsim.report.labels import DisplayNames
    from funnelsim.report.progress import progress_bar
    from funnelsim.report.terminal import print_sensitivity
    from funnelsim.scenario.loading import load_scenario

    spec = load_scenario(scenario or default_scenario(), overrides)
    sensitivity_size(spec, params or None, execution.reps, execution.allow_large)
    check_outputs(out, report_path, force)
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
    if report_path is not None:
        report = report_from_sensitivity(table, spec, execution.reps, execution.seed, CONFIDENCE)
        write_report(report, report_path, force=force)
    if not as_json:
        print_sensitivity(table, spec.currency, console, CONFIDENCE, DisplayNames.of(spec))
        report_written(report_path, console)
