"""Writing the report file atomically, refusing to replace one unless forced."""

from __future__ import annotations

from pathlib import Path

from funnelsim.atomic import (
    OutputRefusedError,
    StagedFile,
    probe_writable,
    refuse_existing,
    refuse_input,
)


def write_report(text: str, path: str | Path, force: bool = False) -> Path:
    """Write the report atomically; refuse to replace an existing file unless ``force``."""
    check_report_path(path, force)
    with stage_report(path, force) as staged:
        staged.write(text)
        return staged.commit()


def stage_report(path: str | Path, force: bool = False) -> StagedFile:
    """The report's staging, to open before simulating: its place is claimed and checked
    (exists, a directory, not writable) before any work, and it appears only on commit."""
    return StagedFile(Path(path), force)


def check_report_path(path: str | Path, force: bool) -> None:
    """Refuse early when the report file exists (without ``force``), is a directory, is a
    file the command read as input, or could not be written there; creates nothing."""
    path = Path(path)
    if path.is_dir():
        raise OutputRefusedError(f"{path}: is a directory; give a file name such as report.html")
    refuse_input(path)
    refuse_existing(path, force)
    probe_writable(path)
