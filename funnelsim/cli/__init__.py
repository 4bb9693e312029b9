"""The ``funnelsim`` command line: thin over the Python API. Exit 0 ok, 1 failure, 2 bad input.

Importing it loads click and the command definitions only (no numpy, pandas, scipy or
matplotlib), so ``--help`` answers at once; each command imports what it needs.
"""

from __future__ import annotations

import gc
import os

import click

# OpenBLAS (numpy's and scipy's each) runs on one thread unless the environment says
# otherwise: set before either is loaded (the commands load them, never this module). No
# command does linear algebra worth a thread, and each library's threads, started when
# it loads, spin ~0.1 s of CPU before they sleep.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from funnelsim.calibrate.commands import calibrate_command, check_fit_command
from funnelsim.cli.common import Group
from funnelsim.cli.examples import add_examples
from funnelsim.cli.experiments import compare, leaks, plan, sensitivity, sweep
from funnelsim.cli.explore import explore
from funnelsim.cli.runs import init, list_scenarios, report, run, validate


@click.group(cls=Group)
@click.version_option(package_name="funnelsim")
def main() -> None:
    """funnelsim: where a B2B revenue engine leaks, seam by seam, and what a change is worth."""


for command in (run, compare, plan, leaks, sweep, sensitivity, report, validate, init):
    main.add_command(command)
main.add_command(list_scenarios)
main.add_command(explore)
main.add_command(calibrate_command)
main.add_command(check_fit_command)
add_examples(main)


def entry() -> None:
    """The ``funnelsim`` console script: ``main``, then the objects left are frozen out of
    the garbage collector, so that the interpreter's collections at exit do not scan every
    object the imports made (~0.15 s); the command has committed and closed its outputs
    by then, and the OS frees the memory. (OpenBLAS on one thread: see above.)"""
    try:
        main()
    finally:
        gc.freeze()


__all__ = ["entry", "main"]
