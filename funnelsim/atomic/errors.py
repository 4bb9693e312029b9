"""Why an output was not written: each is bad input (exit 2), never a crash."""

from __future__ import annotations


class OutputError(Exception):
    """An output cannot be written where it was asked for; nothing was changed."""


class OutputExistsError(OutputError, FileExistsError):
    """The output exists and replacing it was not asked for."""


class OutputRefusedError(OutputError):
    """The target may not be written: not funnelsim's own folder, a protected place, a path
    that cannot hold the output, or a place the process cannot write to."""


class OutputBusyError(OutputError):
    """Another funnelsim process is writing the same output right now."""
