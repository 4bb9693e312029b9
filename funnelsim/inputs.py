"""The files a command read as inputs (scenarios and the files they extend, CRM exports,
mappings), which none of its outputs may replace, not even with --force: a slip such as
``--report my_scenario.yaml --force`` must not overwrite the scenario the run was read
from. Kept only inside ``guarding_inputs()`` (each command line's run): in a notebook,
the API may still save over a file it read earlier."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

# (device, inode) of each input file read -> its path as given and what it is.
_read: ContextVar[dict[tuple[int, int], tuple[str, str]] | None] = ContextVar(
    "funnelsim_inputs_read", default=None
)


@contextmanager
def guarding_inputs() -> Iterator[None]:
    """Within the block, the files read as inputs are remembered (``note_input``)."""
    token = _read.set({})
    try:
        yield
    finally:
        _read.reset(token)


def note_input(path: Path, kind: str) -> None:
    """Remember ``path``, a file just read, as an input (``kind``: e.g. "a scenario file")."""
    read = _read.get()
    if read is None:
        return
    try:
        info = os.stat(path)
    except OSError:
        return
    read[(info.st_dev, info.st_ino)] = (str(path), kind)


def input_at(target: Path) -> tuple[str, str] | None:
    """The path and kind of the input file ``target`` is, or None when it is none."""
    read = _read.get()
    if not read:
        return None
    try:
        info = os.stat(target)
    except OSError:
        return None
    found = read.get((info.st_dev, info.st_ino))
    if found is None:
        return None
    try:  # not a new file that took a freed inode
        return found if os.path.samefile(found[0], target) else None
    except OSError:
        return None
