"""Writing the report file atomically, refusing to replace one unless forced."""

from __future__ import annotations

from pathlib import Path

from funnelsim.atomic import OutputExistsError, write_text


def write_report(text: str, path: str | Path, force: bool = False) -> Path:
    """Write the report atomically; refuse to replace an existing file unless ``force``."""
    check_report_path(path, force)
    return write_text(Path(path), text, force)


def check_report_path(path: str | Path, force: bool) -> None:
    """Refuse early when the report file exists (without ``force``) or is a directory."""
    path = Path(path)
    if path.is_dir():
        raise OutputExistsError(f"{path}: is a directory; give a file name such as report.html")
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists; pass --force to replace it")
