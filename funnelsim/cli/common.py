"""Shared pieces of the command line: error handling, options, consoles, output."""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
import pandas as pd
from rich.console import Console

from funnelsim.api import leaks as seam_leaks
from funnelsim.atomic import OutputError
from funnelsim.output import write_table
from funnelsim.report.data import ReportInputError
from funnelsim.report.progress import progress_bar
from funnelsim.scenario.loading import ScenarioError
from funnelsim.scenario.models import Scenario

BAD_INPUT = 2
FAILURE = 1
MIN_WIDTH = 110


class Group(click.Group):
    """Turns bad input into one line on stderr and exit code 2; other errors into exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ScenarioError, OutputError, ReportInputError) as exc:
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
        Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml",
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


def emit_table(table: pd.DataFrame, out: Path | None, force: bool, as_json: bool) -> None:
    """Write the table as CSV when asked, and print it as JSON when asked."""
    if out is not None:
        write_table(table, out, force=force)
    if as_json:
        click.echo(table.to_json(orient="records", indent=2))


def console_for(to_stderr: bool) -> Console:
    """A console at least wide enough for the leakage table, even when piped."""
    width = max(shutil.get_terminal_size((120, 40)).columns, MIN_WIDTH)
    return Console(stderr=to_stderr, width=width)


def slug(name: str) -> str:
    """A file-name-safe form of a scenario name."""
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "run"


def seam_fixes_with_progress(
    spec: Scenario, execution: Execution, console: Console
) -> pd.DataFrame:
    """Value fixing each seam (``fs.leaks``) with a progress bar: shared by leaks and run."""
    with progress_bar(console, 5 * execution.reps, "fixing each seam in turn") as advance:
        return seam_leaks(spec, **execution.api_kwargs(), on_done=advance)
