"""Which folders funnelsim may replace or write into: the marker files it leaves in its own
folders, and the places it never replaces whatever they hold."""

from __future__ import annotations

import datetime as dt
import json
import os
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from funnelsim.atomic.errors import OutputRefusedError

MARKER = ".funnelsim-results"
STAGING_MARKER = ".funnelsim-staging"


def _funnelsim_version() -> str:
    try:
        return version("funnelsim")
    except PackageNotFoundError:
        return "unknown"


def write_marker(folder: Path, kind: str) -> None:
    """Mark ``folder`` as funnelsim's own output of ``kind`` (run, sweep, ...)."""
    document = {
        "funnelsim": _funnelsim_version(),
        "kind": kind,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    (Path(folder) / MARKER).write_text(json.dumps(document) + "\n", encoding="utf-8")


def write_staging_marker(folder: Path, target: Path) -> None:
    """Mark a hidden folder as work in progress for ``target``, so a later run may clean it."""
    document = {"target": Path(target).name, "pid": os.getpid()}
    (Path(folder) / STAGING_MARKER).write_text(json.dumps(document) + "\n", encoding="utf-8")


def _read_json(path: Path) -> dict[str, Any] | None:
    if path.is_symlink() or not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def marker_kind(folder: Path) -> str | None:
    """The kind recorded in ``folder``'s marker; None when it carries no valid marker."""
    document = _read_json(Path(folder) / MARKER)
    kind = document.get("kind") if document else None
    return kind if isinstance(kind, str) else None


def is_staging_for(folder: Path, target: Path) -> bool:
    """Whether ``folder`` carries funnelsim's staging marker naming ``target``."""
    document = _read_json(Path(folder) / STAGING_MARKER)
    return document is not None and document.get("target") == Path(target).name


def has_marker(folder: Path) -> bool:
    """Whether ``folder`` carries either of funnelsim's markers."""
    return (Path(folder) / MARKER).exists() or (Path(folder) / STAGING_MARKER).exists()


def protected_reason(path: Path) -> str | None:
    """Why ``path`` may never be replaced (symlinks resolved), or None when it may."""
    resolved = Path(path).resolve()
    if resolved == Path(resolved.anchor):
        return "is the filesystem root"
    cwd = Path.cwd().resolve()
    if resolved == cwd:
        return "is the current directory"
    if resolved in cwd.parents:
        return "is a parent of the current directory"
    try:
        home = Path.home().resolve()
    except (KeyError, RuntimeError):
        home = None
    if resolved == home:
        return "is your home directory"
    return None


def refuse_protected(path: Path) -> None:
    """Raise OutputRefusedError when ``path`` is the cwd, a parent of it, home or root."""
    reason = protected_reason(path)
    if reason is not None:
        raise OutputRefusedError(f"{path}: {reason}; funnelsim never writes its output over it")


def check_replaceable(folder: Path, kind: str) -> None:
    """Raise OutputRefusedError unless ``folder`` is funnelsim's own ``kind`` output folder."""
    folder = Path(folder)
    refuse_protected(folder)
    if folder.is_symlink():
        raise OutputRefusedError(
            f"{folder}: is a symbolic link; it will not be replaced (give the folder itself)"
        )
    if not folder.is_dir():
        raise OutputRefusedError(f"{folder}: exists and is not a folder; it will not be replaced")
    found = marker_kind(folder)
    if found is None:
        raise OutputRefusedError(
            f"{folder}: not a funnelsim results folder (no {MARKER} marker); "
            "it will not be replaced"
        )
    if found != kind:
        raise OutputRefusedError(
            f"{folder}: holds funnelsim {found} output, not {kind} output; "
            "it will not be replaced (choose another --out)"
        )
