"""Click commands: ``funnelsim calibrate`` and ``funnelsim check-fit`` (registered in cli.py)."""

from __future__ import annotations

from pathlib import Path

import click

# The calibration modules (scipy, pandas) are imported inside the commands: see cli.common.


def _refuse(path: Path | None, force: bool) -> None:
    from funnelsim.calibrate.mapping import MappingError

    if path is not None and path.exists() and not force:
        raise MappingError(f"{path}: already exists; pass --force to replace it")


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
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Seed of the fitting's random draws (the same seed gives the same scenario).",
)
@click.option("--force", is_flag=True, help="Replace existing outputs.")
def calibrate_command(
    export: Path, mapping_path: Path, out: Path, report_dir: Path | None, seed: int, force: bool
) -> None:
    """Fit a scenario to a CRM EXPORT (CSV) read through a column mapping."""
    from funnelsim.atomic import OutputExistsError, write_folder, write_text
    from funnelsim.calibrate.calibration import calibrate
    from funnelsim.calibrate.fitreport import write_report
    from funnelsim.calibrate.mapping import MappingError, load_mapping

    _refuse(out, force)
    _refuse(report_dir, force)
    cal = calibrate(export, load_mapping(mapping_path), seed=seed)
    try:
        if report_dir is not None:
            write_folder(report_dir, lambda tmp: write_report(cal, tmp), force)
        write_text(out, cal.yaml_text, force)
    except OutputExistsError as exc:
        raise MappingError(str(exc)) from None
    f = cal.fitted
    click.echo(f"read {cal.export.n_rows} rows, {len(cal.export.records)} usable")
    for row in cal.export.issues.itertuples():
        click.echo(f"  {row.reason}: {row.rows} ({row.effect})")
    for row in f.arrivals.itertuples():
        click.echo(f"  {row.source}: {row.per_week:.4g} {f.chain[0]}s/week")
    if "all" in f.cycles:
        c = f.cycles["all"]
        click.echo(
            f"  win rate {c.win_rate:.3f}, cycle median {c.median_days:.0f} days "
            f"({c.time.family if c.time else '-'}), stalled {c.stalled:.1%}"
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
    scenario: Path, export: Path, mapping_path: Path, reps: int, seed: int
) -> None:
    """Simulate SCENARIO and compare it with EXPORT: a verdict per quantity."""
    from funnelsim.calibrate.checking import check_fit
    from funnelsim.calibrate.mapping import load_mapping
    from funnelsim.calibrate.reading import read_export
    from funnelsim.scenario.loading import load_scenario

    spec = load_scenario(scenario)
    mapping = load_mapping(mapping_path)
    data = read_export(export, mapping)
    table = check_fit(spec, data, mapping, reps=reps, seed=seed)
    for row in table.itertuples():
        if row.quantity.endswith("KS"):
            detail = (
                f"median {row.observed:.4g} vs {row.simulated_mean:.4g}, "
                f"D={row.ks_d:.3f} p={row.ks_p:.3g}"
            )
        else:
            detail = (
                f"observed {row.observed:.4g}, "
                f"simulated 95% range {row.sim_low:.4g}-{row.sim_high:.4g}"
            )
        click.echo(f"{row.verdict:8s} {row.quantity}: {detail}")
