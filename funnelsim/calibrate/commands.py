"""Click commands: ``funnelsim calibrate`` and ``funnelsim check-fit`` (registered in cli.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from funnelsim.calibrate.mapping import Mapping

# The calibration modules (scipy, pandas) are imported inside the commands: see cli.common.

AS_OF_HELP = (
    "Snapshot date: the export as it stood that day (later records and dates unseen). "
    "Default: the mapping's export_date, else the last date in the export."
)


def _refuse(path: Path | None, force: bool) -> None:
    from funnelsim.calibrate.mapping import MappingError

    if path is not None and path.exists() and not force:
        raise MappingError(f"{path}: already exists; pass --force to replace it")


def _not_an_input(out: Path, export: Path, mapping: Path) -> None:
    """Refuse ``-o`` naming a file the command reads, before calibrating: even ``--force``
    must not replace the export or the mapping with the fitted scenario (the inputs are
    noted as every command's are, ``funnelsim.inputs``)."""
    from funnelsim.calibrate.mapping import MappingError
    from funnelsim.inputs import input_at, note_input

    note_input(export, "the export")
    note_input(mapping, "the mapping")
    found = input_at(out)
    if found is not None:
        raise MappingError(f"-o {out}: is {found[1]} being read; write the scenario elsewhere")


def _date(text: str, option: str) -> dt.date:
    from funnelsim.calibrate.mapping import MappingError

    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise MappingError(f"{option}: expected a date YYYY-MM-DD (got {text!r})") from None


def _mapping(path: Path, as_of: str | None) -> Mapping:
    from funnelsim.calibrate.mapping import load_mapping

    mapping = load_mapping(path)
    if as_of is not None:
        mapping = mapping.with_export_date(_date(as_of, "--as-of"), "--as-of")
    return mapping


def _period(text: str | None) -> tuple[dt.date, dt.date] | None:
    """``FROM..TO`` as two dates (either side may be left out)."""
    from funnelsim.calibrate.mapping import MappingError

    if text is None:
        return None
    if ".." not in text:
        raise MappingError(
            f"--period: expected FROM..TO, e.g. 2017-09-01..2017-12-31 (got {text!r})"
        )
    first, last = text.split("..", 1)
    low = _date(first, "--period") if first.strip() else dt.date.min
    high = _date(last, "--period") if last.strip() else dt.date.max
    if high < low:
        raise MappingError(f"--period: {high} is before {low}")
    return low, high


@click.command("calibrate")
@click.argument("export", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--mapping",
    "mapping_path",
    required=True,
    type=click.Path(path_type=Path),
    help="YAML mapping of the export's columns to funnel stages (see docs/calibration.md).",
)
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The fitted scenario YAML to write.",
)
@click.option(
    "--report-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Also write the fit report here: tables of every fit and QQ plots.",
)
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", default=None, help=AS_OF_HELP)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seed of the fitting's random draws (the same seed gives the same scenario).",
)
@click.option(
    "--no-book",
    "no_book",
    is_flag=True,
    help="Leave the starting book out: the scenario starts at the window's start, empty.",
)
@click.option("--force", is_flag=True, help="Replace existing outputs.")
def calibrate_command(
    export: Path,
    mapping_path: Path,
    out: Path,
    report_dir: Path | None,
    as_of: str | None,
    seed: int,
    no_book: bool,
    force: bool,
) -> None:
    """Fit a scenario to a CRM EXPORT (CSV) read through a column mapping."""
    from funnelsim.atomic import OutputExistsError, write_folder, write_text
    from funnelsim.calibrate.calibration import calibrate
    from funnelsim.calibrate.fitreport import write_report
    from funnelsim.calibrate.mapping import PLURAL, POOLED, MappingError

    _not_an_input(out, export, mapping_path)
    _refuse(out, force)
    _refuse(report_dir, force)
    cal = calibrate(export, _mapping(mapping_path, as_of), seed=seed, book=not no_book)
    try:
        if report_dir is not None:
            write_folder(report_dir, lambda tmp: write_report(cal, tmp), force)
        write_text(out, cal.yaml_text, force)
    except OutputExistsError as exc:
        raise MappingError(str(exc)) from None
    f = cal.fitted
    for warning in f.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"read {cal.export.n_rows} rows, {len(cal.export.records)} usable")
    for row in cal.export.issues.itertuples():
        click.echo(f"  {row.reason}: {row.rows} ({row.effect})")
    entry = PLURAL[f.chain[0]]
    for row in f.arrivals.itertuples():
        click.echo(f"  {row.source}: {row.per_week:.4g} {entry}/week")
    for stage in f.stages:
        click.echo(f"  {stage.name}: {stage.conversion:.3f}")
    if POOLED in f.cycles:
        c = f.cycles[POOLED]
        if c.time is None:
            click.echo("  win rate and cycle: not estimable (no closed record)")
        elif c.won_only:
            click.echo(
                f"  {f.last_stage} -> won: {c.win_rate:.3f} (no losses recorded), "
                f"median {c.median_days:.0f} days ({c.time.family})"
            )
        else:
            click.echo(
                f"  win rate {c.win_rate:.3f}, cycle median {c.median_days:.0f} days "
                f"({c.time.family}), stalled {c.stalled:.1%}"
            )
    for source, rate in f.source_rates.items():
        click.echo(f"  {source}: {rate:.3f} converted")
    if f.sales is not None:
        for stage in f.sales.pooled:
            click.echo(
                f"  stage {stage.stage}: {stage.conversion:.3f} move on, median "
                f"{stage.median_days:.1f} days in it"
            )
    book = cal.built.book
    if book is not None and "book" in cal.built.data:
        click.echo(
            f"  book: {book.customers} customers (ARR {book.arr:,.0f}), "
            f"{book.opportunities} open deals (pipeline {book.pipeline:,.0f})"
        )
    click.echo(f"wrote {out}" + (f" and {report_dir}/" if report_dir else ""))


@click.command("check-fit")
@click.argument("scenario", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("export", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--mapping",
    "mapping_path",
    required=True,
    type=click.Path(path_type=Path),
    help="YAML mapping of the export's columns to funnel stages (as for calibrate).",
)
@click.option(
    "--period",
    metavar="FROM..TO",
    default=None,
    help="Compare only records created in this period (e.g. a hold-out after the fit).",
)
@click.option("--as-of", "as_of", metavar="YYYY-MM-DD", default=None, help=AS_OF_HELP)
@click.option(
    "--reps",
    default=10,
    show_default=True,
    type=click.IntRange(min=2),
    help="Replications to simulate; the verdicts use their 95% range.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Root seed; replication seeds are spawned from it.",
)
def check_fit_command(
    scenario: Path,
    export: Path,
    mapping_path: Path,
    period: str | None,
    as_of: str | None,
    reps: int,
    seed: int,
) -> None:
    """Simulate SCENARIO and compare it with EXPORT: a verdict per quantity."""
    from funnelsim.calibrate.checking import check_fit, mismatches
    from funnelsim.calibrate.reading import read_export
    from funnelsim.scenario.loading import load_scenario

    spec = load_scenario(scenario)
    mapping = _mapping(mapping_path, as_of)
    data = read_export(export, mapping)
    for warning in mismatches(spec, data):
        click.echo(f"warning: {warning}", err=True)
    table = check_fit(spec, data, mapping, reps=reps, seed=seed, period=_period(period))
    for row in table.itertuples():
        if row.verdict == "skipped":
            detail = f"skipped ({row.note})"
        elif row.quantity.endswith("KS"):
            detail = (
                f"median {row.observed:.4g} vs {row.simulated_mean:.4g}, "
                f"D={row.ks_d:.3f} p={row.ks_p:.3g}"
            )
        else:
            detail = (
                f"observed {row.observed:.4g}, "
                f"simulated 95% range {row.sim_low:.4g}-{row.sim_high:.4g}"
            )
        label = "-" if row.verdict == "skipped" else row.verdict
        click.echo(f"{label:8s} {row.quantity}: {detail}")
