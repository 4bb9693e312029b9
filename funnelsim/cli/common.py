"""Shared pieces of the command line: error handling, options, consoles, output.

Importing this module (and every command module) loads only click and light parts of
funnelsim, so that ``--help`` is instant; each command imports the heavy parts (numpy,
pandas, matplotlib, the engine) when it runs.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from funnelsim.bundled import default_scenario as default_scenario
from funnelsim.experiment.defaults import DEFAULT_REPLICATIONS
from funnelsim.experiment.executors import (
    DASK_CONNECT_SECONDS,
    DaskScheduler,
    available_cpus,
    check_scheduler,
)

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import Console

    from funnelsim.scenario.models import Scenario

BAD_INPUT = 2
FAILURE = 1
MIN_WIDTH = 110
REPS_FOR_INTERVALS = DEFAULT_REPLICATIONS
# Errors that are bad input (exit 2), as (module, class): looked up only in modules that
# are already imported, since an exception of a class never imported cannot occur.
BAD_INPUT_ERRORS = (
    ("funnelsim.scenario.errors", "ScenarioError"),
    ("funnelsim.atomic.errors", "OutputError"),
    ("funnelsim.report.data", "ReportInputError"),
    ("funnelsim.experiment.executors", "SchedulerError"),
)


def bad_input_errors() -> tuple[type[BaseException], ...]:
    """The exception classes that mean bad input, among the modules loaded so far."""
    return tuple(
        getattr(sys.modules[module], name)
        for module, name in BAD_INPUT_ERRORS
        if module in sys.modules
    )


class Group(click.Group):
    """Turns bad input into one line on stderr and exit code 2; other errors into exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        from funnelsim.inputs import guarding_inputs

        try:
            with guarding_inputs():
                return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:
            if isinstance(exc, bad_input_errors()):
                click.echo(f"error: {exc}", err=True)
                ctx.exit(BAD_INPUT)
            if os.environ.get("FUNNELSIM_DEBUG"):
                raise
            click.echo(
                f"error: {type(exc).__name__}: {exc} (set FUNNELSIM_DEBUG=1 for details)", err=True
            )
            ctx.exit(FAILURE)
        return None


class FiniteFloatRange(click.FloatRange):
    """click's FloatRange that also refuses nan (which passes every range comparison)."""

    name = "finite float range"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        number = super().convert(value, param, ctx)
        if math.isnan(number):
            self.fail(f"{value!r} is not a number.", param, ctx)
        return number


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
json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the results as JSON on stdout; files are written only with -o/--out.",
)
report_option = click.option(
    "--report",
    "report_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write a self-contained HTML report to this file (replaced only with --force).",
)
force_option = click.option("--force", is_flag=True, help="Replace existing output.")
xlsx_option = click.option(
    "--xlsx",
    "xlsx_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the tables as an Excel workbook, one sheet each (replaced only with --force).",
)
csv_option = click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the table to this CSV file (replaced only with --force).",
)


@dataclass(frozen=True)
class Execution:
    """How a command runs its replications: how many, from which seed, where, how large."""

    reps: int
    seed: int
    workers: int
    scheduler: str | None
    scheduler_timeout: float = DASK_CONNECT_SECONDS
    allow_large: bool = False

    def api_kwargs(self) -> dict[str, object]:
        """The keyword arguments every experiment function of the API takes."""
        scheduler = (
            DaskScheduler(self.scheduler, self.scheduler_timeout) if self.scheduler else None
        )
        return {
            "replications": self.reps,
            "seed": self.seed,
            "workers": self.workers,
            "scheduler": scheduler,
            "allow_large": self.allow_large,
        }


def usable_workers(workers: int, scheduler: str | None, given: bool) -> int:
    """``--workers`` capped to the CPUs available, with a note on stderr when it changes.

    With ``--scheduler`` the Dask cluster's own workers run the jobs; an explicit
    ``--workers`` is then ignored, with a note.
    """
    if scheduler:
        if given:
            click.echo(
                "note: --workers is ignored with --scheduler (the cluster's workers run the jobs)",
                err=True,
            )
        return workers
    available = available_cpus()
    if workers > available:
        click.echo(f"note: --workers {workers} capped to the {available} CPUs available", err=True)
        return available
    return workers


def execution_options(
    default_reps: int, min_reps: int, paired: bool = True, all_cpus: bool = False
) -> Callable:
    """--reps, --seed, --workers, --scheduler(-timeout) and --allow-large, as ``execution``.

    ``paired``: the command runs several scenarios on the same replication seeds (its
    ``--reps`` help says so). ``all_cpus``: ``--workers`` defaults to the CPUs available
    (at most one per replication) instead of 1.
    """
    reps_help = "Independent replications, each with its own seed"
    reps_help += (
        "; every scenario runs on the same ones (paired)." if paired else " (10 give intervals)."
    )
    options = [
        click.option(
            "--reps",
            default=default_reps,
            show_default=True,
            type=click.IntRange(min=min_reps),
            help=reps_help,
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
            default=None if all_cpus else 1,
            show_default="the CPUs available, at most one per replication" if all_cpus else True,
            type=click.IntRange(min=1),
            help="Local worker processes (results are the same on any number).",
        ),
        click.option(
            "--scheduler",
            metavar="tcp://HOST:PORT",
            default=None,
            help="Run on an existing Dask cluster instead of local processes.",
        ),
        click.option(
            "--scheduler-timeout",
            default=DASK_CONNECT_SECONDS,
            show_default=True,
            type=FiniteFloatRange(min=0.1, max=3600),
            metavar="SECONDS",
            help="How long to wait for the Dask scheduler to answer.",
        ),
        click.option(
            "--allow-large",
            is_flag=True,
            help="Run even above the soft size limits (see README: Limits).",
        ),
    ]

    def decorate(command: Callable) -> Callable:
        @functools.wraps(command)
        def wrapper(
            reps: int,
            seed: int,
            workers: int | None,
            scheduler: str | None,
            scheduler_timeout: float,
            allow_large: bool,
            **kwargs: object,
        ):
            source = click.get_current_context().get_parameter_source("workers")
            given = source is not click.core.ParameterSource.DEFAULT
            if workers is None:
                workers = 1 if scheduler else min(available_cpus(), reps)
            workers = usable_workers(workers, scheduler, given)
            if scheduler:  # before any work: an unusable address is one line, exit 2
                check_scheduler(DaskScheduler(scheduler, scheduler_timeout))
            execution = Execution(reps, seed, workers, scheduler, scheduler_timeout, allow_large)
            return command(execution=execution, **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


def note_single_replication(reps: int) -> None:
    """One line on stderr when a run has one replication: its figures carry no interval."""
    if reps == 1:
        click.echo(
            "note: 1 replication: no confidence intervals, and one run can be 20% or more off "
            f"the mean; use --reps {REPS_FOR_INTERVALS} or more",
            err=True,
        )


def emit_table(table: pd.DataFrame, out: Path | None, force: bool, as_json: bool) -> None:
    """Write the table as CSV when asked, and print it as JSON when asked."""
    from funnelsim.output import write_table

    if out is not None:
        write_table(table, out, force=force)
    if as_json:
        click.echo(table.to_json(orient="records", indent=2))


def console_for(to_stderr: bool) -> Console:
    """A console at least wide enough for the leakage table, even when piped."""
    from rich.console import Console

    width = max(shutil.get_terminal_size((120, 40)).columns, MIN_WIDTH)
    return Console(stderr=to_stderr, width=width)


def slug(name: str) -> str:
    """A file-name-safe form of a scenario name."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "run"


def check_run_size(spec: Scenario, execution: Execution, keep_ledgers: bool, leaks: bool) -> None:
    """Refuse ``run`` (with its ``--leaks`` runs) above the size limits, before any work."""
    from funnelsim.experiment.sizes import leaks_size, run_size

    run_size(spec, execution.reps, keep_ledgers, execution.allow_large)
    if leaks:
        leaks_size(spec, execution.reps, execution.allow_large)


def seam_fixes_with_progress(
    spec: Scenario, execution: Execution, console: Console
) -> pd.DataFrame:
    """Value fixing each seam (``fs.leaks``) with a progress bar: shared by leaks and run."""
    from funnelsim.api import leaks as seam_leaks
    from funnelsim.experiment.sizes import leaks_size
    from funnelsim.report.progress import progress_bar

    leaks_size(spec, execution.reps, execution.allow_large)
    with progress_bar(console, 5 * execution.reps, "fixing each seam in turn") as advance:
        return seam_leaks(spec, **execution.api_kwargs(), on_done=advance)
