"""Commands that simulate one scenario or look at its results: run, report, validate, init."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from funnelsim.api import run as run_scenario
from funnelsim.atomic import write_text
from funnelsim.cli.common import (
    Execution,
    check_run_size,
    console_for,
    default_scenario,
    execution_options,
    force_option,
    json_option,
    report_option,
    scenario_argument,
    seam_fixes_with_progress,
    set_option,
    slug,
)
from funnelsim.output import (
    check_writable,
    summary_document,
    write_results,
    write_table,
)
from funnelsim.report.html import (
    check_report_path,
    report_from_directory,
    report_from_results,
    write_report,
)
from funnelsim.report.progress import progress_bar
from funnelsim.report.terminal import (
    print_leaks,
    print_results,
)
from funnelsim.scenario.loading import ScenarioError, dump_scenario, load_scenario


@click.command()
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
@click.option(
    "--leaks",
    "with_leaks",
    is_flag=True,
    help="Also value fixing each seam (counterfactual, paired) for the tables and report.",
)
@json_option
def run(
    scenario: Path | None,
    overrides: tuple[str, ...],
    execution: Execution,
    out: Path | None,
    force: bool,
    no_ledger: bool,
    report_path: Path | None,
    with_leaks: bool,
    as_json: bool,
) -> None:
    """Simulate SCENARIO (default: the bundled baseline) and show where revenue leaks."""
    spec = load_scenario(scenario or default_scenario(), overrides)
    check_run_size(spec, execution, keep_ledgers=not no_ledger, leaks=with_leaks)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = out or Path("results") / f"{slug(spec.name)}-{stamp}"
    check_writable(out_dir, force)
    if report_path is not None:
        check_report_path(report_path, force)
    console = console_for(as_json)
    with progress_bar(console, execution.reps, f"simulating {spec.name}") as advance:
        results = run_scenario(
            spec,
            **execution.api_kwargs(),
            keep_ledgers=not no_ledger,
            on_done=advance,
        )
    seam_fixes = None
    if with_leaks:
        seam_fixes = seam_fixes_with_progress(spec, execution, console)
    write_results(results, out_dir, force=force)
    if seam_fixes is not None:
        write_table(seam_fixes, out_dir / "seam_fixes.csv")
    if report_path is not None:
        write_report(report_from_results(results, leaks=seam_fixes), report_path, force=force)
    if as_json:
        document = summary_document(results)
        document["results_dir"] = str(out_dir)
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        print_results(results, console)
        if seam_fixes is not None:
            print_leaks(seam_fixes, spec.currency, console, results.confidence)
        console.print(f"Results written to [bold]{out_dir}[/bold]")
        if report_path is not None:
            console.print(f"Report written to [bold]{report_path}[/bold]")


@click.command()
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


@click.command()
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


@click.command()
@click.argument("path", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init(path: Path, force: bool) -> None:
    """Write a starter scenario to PATH (a copy of the bundled baseline) to edit."""
    if path.suffix not in {".yaml", ".yml"}:
        raise ScenarioError(f"{path}: expected a .yaml file name")
    write_text(path, default_scenario().read_text(encoding="utf-8"), force)
    click.echo(f"wrote {path}; edit it, then: funnelsim run {path}")
