"""Who is writing an output name right now (a lock), and what a killed write left behind.

A write to NAME holds ``.NAME.funnelsim-lock`` beside it from its first check to its
final rename. Under that lock nobody else is writing NAME, so any hidden ``.NAME.XXXXXXXX``
folder carrying a funnelsim marker, ``.NAME.XXXXXXXX.funnelsim-part`` file or
``.NAME.funnelsim-journal`` is a leftover of a killed write and may be cleaned or, for an
interrupted two-step replace, undone.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from filelock import FileLock, Timeout

from funnelsim.atomic.errors import OutputBusyError, OutputRefusedError
from funnelsim.atomic.markers import MARKER, STAGING_MARKER, has_marker

LOCK_SUFFIX = ".funnelsim-lock"
JOURNAL_SUFFIX = ".funnelsim-journal"
PART_SUFFIX = ".funnelsim-part"
_RANDOM = r"[a-z0-9_]{8}"  # tempfile's random part


class NameLock:
    """An exclusive, non-blocking lock on one output name, held by one process."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        self.path = self.target.parent / f".{self.target.name}{LOCK_SUFFIX}"
        self._lock = FileLock(self.path, timeout=0)

    def acquire(self) -> None:
        """Take the lock or raise OutputBusyError naming the conflict at once."""
        try:
            self._lock.acquire()
        except Timeout:
            raise OutputBusyError(
                f"{self.target}: another funnelsim run is writing {self.target}; "
                "wait for it to finish or choose another output"
            ) from None
        except OSError as exc:
            raise OutputRefusedError(
                f"{self.target}: cannot write in {self.target.parent} ({exc.strerror})"
            ) from None

    def release(self) -> None:
        """Remove the lock file while still holding it, then let go (a process that opened
        the removed file sees it unlinked once locked, and filelock makes it try again)."""
        if not self._lock.is_locked:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            self._lock.release()


def journal_path(target: Path) -> Path:
    """Where a two-step replace of ``target`` records what it is doing."""
    return target.parent / f".{target.name}{JOURNAL_SUFFIX}"


def write_journal(target: Path, staging: Path, retired: Path, state: str) -> None:
    """Record (durably, atomically) a two-step replace of ``target`` and its step."""
    document = {"target": target.name, "staging": staging.name, "retired": retired.name}
    document["state"] = state
    path = journal_path(target)
    part = path.with_name(path.name + ".new")  # cleaned by clean_leftovers if killed here
    with open(part, "w", encoding="utf-8") as stream:
        stream.write(json.dumps(document))
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(part, path)
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make renames in ``folder`` durable where the system allows it."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def discard(path: Path) -> None:
    """Delete a folder of ours, its markers last, so a kill midway leaves it still marked."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
        return
    for entry in sorted(path.iterdir()):
        if entry.name not in (MARKER, STAGING_MARKER):
            remove_entry(entry)
    for name in (STAGING_MARKER, MARKER):
        (path / name).unlink(missing_ok=True)
    path.rmdir()


def remove_entry(entry: Path) -> None:
    """Delete one file or folder inside a folder being discarded."""
    if entry.is_dir() and not entry.is_symlink():
        shutil.rmtree(entry)
    else:
        entry.unlink(missing_ok=True)


def _recover_journal(target: Path) -> str | None:
    """Undo or finish an interrupted two-step replace of ``target``; one line on what."""
    path = journal_path(target)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        document = None
    names = _journal_names(document, target)
    if names is None:
        path.unlink(missing_ok=True)
        return f"removed an unreadable journal of an interrupted write to {target}"
    staging, retired = (target.parent / name for name in names)
    restored = False
    if not os.path.lexists(target) and (retired / target.name).is_dir():
        os.rename(retired / target.name, target)
        restored = True
    for leftover in (staging, retired):
        if leftover.is_dir() and not leftover.is_symlink():
            discard(leftover)
    path.unlink(missing_ok=True)
    if restored:
        return f"restored the previous {target} after an interrupted replace"
    return f"finished cleaning up an interrupted replace of {target}"


def _journal_names(document: object, target: Path) -> tuple[str, str] | None:
    """The staging and retired names a journal gives, if they are ours for ``target``."""
    if not isinstance(document, dict) or document.get("target") != target.name:
        return None
    staging, retired = document.get("staging"), document.get("retired")
    name = re.escape(target.name)
    if not (
        isinstance(staging, str)
        and isinstance(retired, str)
        and re.fullmatch(rf"\.{name}\.{_RANDOM}", staging)
        and re.fullmatch(rf"\.{name}\.old\.{_RANDOM}", retired)
    ):
        return None
    return staging, retired


def clean_leftovers(target: Path) -> list[str]:
    """Clean what killed writes to ``target`` left beside it (the caller holds its lock)."""
    notes = []
    if journal_path(target).exists():
        notes.append(_recover_journal(target))
    half_written = journal_path(target).with_name(journal_path(target).name + ".new")
    half_written.unlink(missing_ok=True)
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return notes
    removed = sum(_remove_leftover(entry, target) for entry in entries)
    if removed:
        notes.append(
            f"removed {removed} leftover{'s' if removed > 1 else ''} of an interrupted "
            f"funnelsim write to {target}"
        )
    return [note for note in notes if note]


def _remove_leftover(entry: Path, target: Path) -> bool:
    """Remove ``entry`` if it is a leftover of a write to ``target``; whether it was."""
    name = re.escape(target.name)
    if entry.is_symlink():
        return False
    if re.fullmatch(rf"\.{name}\.{_RANDOM}", entry.name) and entry.is_dir() and _ours(entry):
        discard(entry)
        return True
    if re.fullmatch(rf"\.{name}\.old\.{_RANDOM}", entry.name) and entry.is_dir():
        if any(entry.iterdir()):
            return False  # holds a previous folder: only its journal may say what to do
        entry.rmdir()  # made for a two-step replace killed before its journal was written
        return True
    if re.fullmatch(rf"\.{name}\.{_RANDOM}{re.escape(PART_SUFFIX)}", entry.name):
        entry.unlink()
        return True
    return False


def _ours(folder: Path) -> bool:
    """A hidden staging-named folder is ours when marked, or empty (killed at creation)."""
    return has_marker(folder) or not any(folder.iterdir())


def recover_parent(parent: Path, skip: Path) -> list[str]:
    """Recover interrupted replaces of other names in ``parent`` not being written now."""
    notes = []
    try:
        journals = [p for p in parent.iterdir() if p.name.endswith(JOURNAL_SUFFIX)]
    except OSError:
        return notes
    for journal in journals:
        name = journal.name[1 : -len(JOURNAL_SUFFIX)]
        target = parent / name
        if not journal.name.startswith(".") or not name or target == skip:
            continue
        lock = NameLock(target)
        try:
            lock.acquire()
        except (OutputBusyError, OutputRefusedError):
            continue
        try:
            notes += clean_leftovers(target)
        finally:
            lock.release()
    return notes
