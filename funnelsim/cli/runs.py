"""Commands that simulate one scenario or look at its results: run, report, validate, init,
scenarios. Heavy imports happen inside the commands (see ``cli.common``)."""

from __future__ import annotations

import datetime as dt
import json
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import click

from funnelsim.bundled import bundled_dir, bundled_names, resolve_scenario, summary_line
from funnelsim.cli.common import (
    REPS_FOR_INTERVALS,
    Execution,
    check_run_size,
    console_for,
    default_scenario,
    execution_options,
    force_option,
    json_option,
    note_single_replication,
    report_option,
    scenario_argument,
    seam_fixes_with_progress,
    set_option,
    slug,
    xlsx_option,
)

if TYPE_CHECKING:
    from funnelsim.experiment.replications import Replication


@click.command()
@scenario_argument
@set_option
@execution_options(REPS_FOR_INTERVALS, 1, paired=False, all_cpus=True)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Results directory (default: results/NAME-TIMESTAMP, none with --json); --force "
    "replaces only funnelsim's own results.",
)
@force_option
@click.option("--no-ledger", is_flag=True, help="Keep only summaries (no Parquet ledger).")
@report_option
@xlsx_option
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
    xlsx_path: Path | None,
    with_leaks: bool,
    as_json: bool,
) -> None:
    """Simulate SCENARIO (a file or a bundled name; default: the bundled baseline) and show
    where revenue leaks."""
    from funnelsim.experiment.executors import prestarted_pool, submit_ahead
    from funnelsim.experiment.replications import (
        load_worker_modules,
        replication_jobs,
        run_replication,
    )
    from funnelsim.scenario.loading import load_scenario

    spec = load_scenario(scenario or default_scenario(), overrides)
    out_dir = out if out is not None or as_json else default_results_dir(spec.name)
    # The results folder's tables are made in the replications (output_tables); ledgers
    # travel back only for the report's charts and the workbook's monthly sheets.
    output_tables = not no_ledger and out_dir is not None
    keep_ledgers = (
        not no_ledger
        and (out_dir is not None or report_path is not None)
        and (report_path is not None or xlsx_path is not None)
    )
    check_run_size(spec, execution, keep_ledgers=keep_ledgers or output_tables, leaks=with_leaks)
    for path in (report_path, xlsx_path):
        if path is not None and out_dir is not None:
            refuse_report_in_results(path, out_dir)
    with ExitStack() as outputs:
        # The workers start (forked, with what they need loaded) before the progress bar's
        # thread exists, and, once the outputs are staged (a bad target refused before any
        # simulation), work on the run's jobs while this process loads what only it needs.
        load_worker_modules(output_tables)
        if not execution.scheduler:
            outputs.enter_context(prestarted_pool(execution.workers))
        from funnelsim.output import stage_results

        staged = parts = None
        if out_dir is not None:
            staged = outputs.enter_context(stage_results(out_dir, force))
            if output_tables:  # each replication's Parquet part written as it comes
                from funnelsim.ledger_files import PartWriter

                assert staged.path is not None
                parts = outputs.enter_context(PartWriter(staged.path, execution.reps))
        report_file = workbook = None
        if report_path is not None:  # the HTML report (and matplotlib) only when asked
            from funnelsim.report.html.files import stage_report

            report_file = outputs.enter_context(stage_report(report_path, force))
        if xlsx_path is not None:
            from funnelsim.excel import fill_xlsx, results_sheets, stage_xlsx

            workbook = outputs.enter_context(stage_xlsx(xlsx_path, force))
        if not execution.scheduler and execution.workers > 1:  # the jobs the run makes
            jobs = replication_jobs(
                spec, execution.reps, execution.seed, (), keep_ledgers, tables=output_tables
            )
            submit_ahead(run_replication, jobs, execution.workers)
        from rich.markup import escape

        from funnelsim.api import run as run_scenario
        from funnelsim.output import fill_results, summary_document
        from funnelsim.report.labels import DisplayNames
        from funnelsim.report.progress import progress_bar
        from funnelsim.report.terminal import print_leaks, print_results, print_warnings

        console = console_for(as_json)
        description = f"simulating {DisplayNames.of(spec).title}"
        with progress_bar(console, execution.reps, description) as advance:

            def done(replication: Replication) -> None:
                if parts is not None and replication.tables is not None:
                    # Handed over, not kept: written, then let go.
                    parts.add(replication.index, replication.tables.pop("parquet"))
                advance(replication)

            results = run_scenario(
                spec,
                **execution.api_kwargs(),
                keep_ledgers=keep_ledgers,
                on_done=done,
                output_tables=output_tables,
            )
        seam_fixes = None
        if with_leaks:
            if parts is not None:
                parts.wait()  # no writing thread left when the seam fixes' pool forks
            seam_fixes = seam_fixes_with_progress(spec, execution, console)
        tables = {"seam_fixes.csv": seam_fixes} if seam_fixes is not None else None
        if staged is not None:
            assert staged.path is not None
            fill_results(results, staged.path, tables, parts)
        if report_file is not None:
            from funnelsim.report.html import report_from_results

            report_file.write(report_from_results(results, leaks=seam_fixes))
        if workbook is not None:
            sheets = results_sheets(results)
            if seam_fixes is not None:
                sheets["seam fixes"] = seam_fixes
            fill_xlsx(workbook, sheets)
        for finished in (staged, report_file, workbook):
            if finished is not None:
                finished.commit()
    if as_json:
        document = summary_document(results)
        document["results_dir"] = None if out_dir is None else str(out_dir)
        document["warnings"] = results.warnings()
        click.echo(json.dumps(document, indent=2, default=str))
        note_single_replication(execution.reps)
    else:
        print_results(results, console)
        print_warnings(results.warnings(), console)
        if seam_fixes is not None:
            names = DisplayNames.of(spec)
            print_leaks(seam_fixes, spec.currency, console, results.confidence, names)
        note_single_replication(execution.reps)
        console.print(f"Results written to [bold]{escape(str(out_dir))}[/bold]")
        if report_path is not None:
            console.print(f"Report written to [bold]{escape(str(report_path))}[/bold]")
        if xlsx_path is not None:
            console.print(f"Workbook written to [bold]{escape(str(xlsx_path))}[/bold]")


def default_results_dir(name: str) -> Path:
    """results/NAME-YYYYmmdd-HHMMSS-micro: sortable, readable, unique per run."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return Path("results") / f"{slug(name)}-{stamp}"


def refuse_report_in_results(report_path: Path, out_dir: Path) -> None:
    """A report or workbook is a file of its own: never the results folder nor inside it."""
    from funnelsim.atomic import OutputRefusedError

    report, results = report_path.resolve(), out_dir.resolve()
    if report == results or results in report.parents:
        raise OutputRefusedError(
            f"{report_path}: the --report or --xlsx file must not be the --out folder "
            f"({out_dir}) or inside it"
        )


@click.command()
@click.argument("results_dir", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "--output",
    "output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The HTML file to write (default: RESULTS_DIR/report.html).",
)
@click.option("--force", is_flag=True, help="Replace an existing report file.")
def report(results_dir: Path, output: Path | None, force: bool) -> None:
    """Write a self-contained HTML report (one file to e-mail) of a results directory."""
    from funnelsim.report.html import check_report_path, report_from_directory, write_report

    target = output or results_dir / "report.html"
    check_report_path(target, force)
    write_report(report_from_directory(results_dir), target, force=force)
    click.echo(f"wrote {target}")


@click.command()
@scenario_argument
@set_option
@click.option("--show", is_flag=True, help="Print the scenario with every default filled in.")
def validate(scenario: Path | None, overrides: tuple[str, ...], show: bool) -> None:
    """Check that SCENARIO (a file or a bundled name) is valid; exit 2 with the field at
    fault if not."""
    from funnelsim.scenario.loading import dump_scenario, load_scenario

    path = resolve_scenario(scenario or default_scenario())
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
@click.option(
    "--from",
    "source",
    metavar="NAME|FILE",
    default="baseline",
    show_default=True,
    help="The scenario to copy: a bundled name (see funnelsim scenarios) or a file.",
)
@click.option("--force", is_flag=True, help="Replace an existing file.")
def init(path: Path, source: str, force: bool) -> None:
    """Write a starter scenario to PATH (a copy of a bundled scenario) to edit."""
    from funnelsim.atomic import write_text
    from funnelsim.bundled import missing_hint
    from funnelsim.scenario.loading import ScenarioError, load_scenario

    if path.suffix not in {".yaml", ".yml"}:
        raise ScenarioError(f"{path}: expected a .yaml file name")
    origin = resolve_scenario(source)
    if not origin.is_file():
        raise ScenarioError(f"--from {source}: no such scenario file{missing_hint(source)}")
    load_scenario(origin)  # a starter that does not validate is no starter
    write_text(path, origin.read_text(encoding="utf-8"), force)
    click.echo(f"wrote {path}; edit it, then: funnelsim run {path}")


@click.command("scenarios")
def list_scenarios() -> None:
    """List the bundled scenarios: use a name wherever a scenario file goes."""
    folder = bundled_dir()
    names = bundled_names()
    if folder is None or not names:
        click.echo("this install has no bundled scenarios")
        return
    width = max(len(name) for name in names)
    for name in names:
        click.echo(f"{name:<{width}}  {summary_line(folder / f'{name}.yaml')}")
