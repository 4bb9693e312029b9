"""Atomic writes: a file or folder appears complete or not at all, and nothing is replaced
unless asked. Every output funnelsim writes goes through here."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


class OutputExistsError(FileExistsError):
    """The output exists and replacing it was not asked for."""


def refuse_existing(path: Path, force: bool) -> None:
    """Raise OutputExistsError when ``path`` exists and ``force`` is off."""
    if Path(path).exists() and not force:
        raise OutputExistsError(f"{path}: already exists; pass --force to replace it")


def write_text(path: Path, text: str, force: bool = False) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    refuse_existing(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.chmod(tmp, default_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_folder(folder: Path, fill: Callable[[Path], None], force: bool = False) -> Path:
    """Build a folder under a temporary name with ``fill(tmp)``, then swap it into place."""
    folder = Path(folder)
    refuse_existing(folder, force)
    if folder.exists() and not folder.is_dir():
        raise OutputExistsError(f"{folder}: exists and is not a directory")
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        fill(staging)
        os.chmod(staging, default_mode() | 0o111)
        if folder.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old.", dir=folder.parent))
            os.replace(folder, retired / folder.name)
            os.replace(staging, folder)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def default_mode() -> int:
    """0o666 less the process umask: what a plain open() would have given a file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask
