"""``funnelsim explore``: the live what-if explorer in the browser (the ``explore`` extra).

The web framework and the engine are imported only when the command runs.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import tempfile
from pathlib import Path

import click

from funnelsim.cli.common import default_scenario, scenario_argument, usable_workers

LOOPBACK = "127.0.0.1"


@click.command()
@scenario_argument
@click.option("--host", default=LOOPBACK, show_default=True, help="Address to serve on.")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="Port."
)
@click.option(
    "-o",
    "--out",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("explore-output"),
    show_default=True,
    help="The only folder the explorer writes to (saved options and reports).",
)
@click.option(
    "--reps",
    default=10,
    show_default=True,
    type=click.IntRange(2, 200),
    help="Replications of each answer (a first answer comes at 3).",
)
@click.option("--seed", default=0, show_default=True, type=click.IntRange(min=0), help="Root seed.")
@click.option(
    "--workers", default=2, show_default=True, type=click.IntRange(min=1), help="Processes."
)
def explore(
    scenario: Path | None, host: str, port: int, out: Path, reps: int, seed: int, workers: int
) -> None:
    """Explore what-ifs on SCENARIO live in the browser (default: the bundled baseline).

    Serves a local page: controls generated from the scenario, each change compared with
    the base on common random numbers (a first answer at 3 replications, then --reps),
    options pinned into a ranked table, saved as scenario files or a client report.
    """
    try:
        from funnelsim.explore.app import Settings, serve
    except ImportError as exc:
        raise click.ClickException(
            f"funnelsim explore needs the explore extra: pip install 'funnelsim[explore]' ({exc})"
        ) from None
    from funnelsim.explore.compute import Base

    base = Base.load(scenario or default_scenario())
    _check_out(out)
    if not _loopback(host):
        click.echo(f"note: --host {host} lets other machines run simulations on this one", err=True)
    _check_port(host, port)
    workers = usable_workers(workers, None, False)
    settings = Settings(base, out.resolve(), reps, seed, workers)
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"funnelsim explore: http://{shown}:{port}/ (Ctrl+C stops it)", err=True)
    serve(settings, host, port)


def _check_out(out: Path) -> None:
    """Refuse now, not at the first save minutes later, an --out that is not a folder or
    could not be written; creates nothing."""
    from funnelsim.atomic import OutputRefusedError, probe_writable

    if out.exists() and not out.is_dir():
        raise OutputRefusedError(f"--out {out}: exists and is not a folder")
    if not out.exists():
        probe_writable(out)
        return
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise OutputRefusedError(f"--out {out}: cannot write in it ({exc.strerror})") from None


def _check_port(host: str, port: int) -> None:
    """Refuse an address that cannot be served on, naming the option at fault: a host that
    does not resolve or is not of this machine (--host), a port in use (--port)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise click.BadParameter(
            f"cannot serve on {host}: not an address or host name ({exc.strerror or exc})",
            param_hint="--host",
        ) from None
    try:
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as exc:
        option = "--host" if exc.errno == errno.EADDRNOTAVAIL else "--port"
        raise click.BadParameter(
            f"cannot serve on {host}:{port} ({exc.strerror or exc})", param_hint=option
        ) from None


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
