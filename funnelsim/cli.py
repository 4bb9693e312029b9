"""The ``funnelsim`` command line: thin over the Python API. Exit 0 ok, 1 failure, 2 bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path

import click
from rich.console import Console

from funnelsim.api import run as run_scenario
from funnelsim.output import OutputExistsError, check_writable, summary_document, write_results
from funnelsim.report.terminal import print_results
from funnelsim.scenario.loading import ScenarioError, dump_scenario, load_scenario

BAD_INPUT = 2
FAILURE = 1


class _Group(click.Group):
    """Turns bad input into one line on stderr and exit code 2; other errors into exit 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (ScenarioError, OutputExistsError) as exc:
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


@click.group(cls=_Group)
@click.version_option(package_name="funnelsim")
def main() -> None:
    """funnelsim: where a B2B revenue engine leaks, seam by seam, and what a change is worth."""


@main.command()
@scenario_argument
@set_option
@click.option(
    "--reps",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Independent replications.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Root seed; replication seeds are spawned from it.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Local worker processes.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    help="Results directory (default: results/NAME-TIMESTAMP).",
)
@click.option("--force", is_flag=True, help="Replace an existing results directory.")
@click.option("--no-ledger", is_flag=True, help="Keep only summaries (no Parquet ledger).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run(
    scenario: Path | None,
    overrides: tuple[str, ...],
    reps: int,
    seed: int,
    workers: int,
    out: Path | None,
    force: bool,
    no_ledger: bool,
    as_json: bool,
) -> None:
    """Simulate SCENARIO (default: the bundled baseline) and show where revenue leaks."""
    spec = load_scenario(scenario or default_scenario(), overrides)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_dir = out or Path("results") / f"{_slug(spec.name)}-{stamp}"
    check_writable(out_dir, force)
    console = Console(stderr=as_json)
    with console.status(f"simulating {spec.name}…", spinner="dots"):
        results = run_scenario(
            spec, replications=reps, seed=seed, workers=workers, keep_ledgers=not no_ledger
        )
    write_results(results, out_dir, force=force)
    if as_json:
        document = summary_document(results)
        document["results_dir"] = str(out_dir)
        click.echo(json.dumps(document, indent=2, default=str))
    else:
        print_results(results, console)
        console.print(f"Results written to [bold]{out_dir}[/bold]")


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
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists; pass --force to replace it")
    source = default_scenario()
    text = source.read_text(encoding="utf-8")
    if path.suffix not in {".yaml", ".yml"}:
        raise ScenarioError(f"{path}: expected a .yaml file name")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    click.echo(f"wrote {path}; edit it, then: funnelsim run {path}")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "run"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
