"""Atomic, locked writes of every output funnelsim writes; funnelsim's own folders carry a
marker, and only those are ever replaced (see ``staged`` for the guarantees)."""

from funnelsim.atomic.errors import (
    OutputBusyError,
    OutputError,
    OutputExistsError,
    OutputRefusedError,
)
from funnelsim.atomic.markers import MARKER, marker_kind
from funnelsim.atomic.staged import (
    ClaimedFolder,
    StagedFile,
    StagedFolder,
    check_parents,
    default_mode,
    probe_writable,
    refuse_existing,
    refuse_input,
    write_folder,
    write_text,
)

__all__ = [
    "MARKER",
    "ClaimedFolder",
    "OutputBusyError",
    "OutputError",
    "OutputExistsError",
    "OutputRefusedError",
    "StagedFile",
    "StagedFolder",
    "check_parents",
    "default_mode",
    "marker_kind",
    "probe_writable",
    "refuse_existing",
    "refuse_input",
    "write_folder",
    "write_text",
]
