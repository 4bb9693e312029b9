"""Staged writes: an output is built under a hidden name beside its target and renamed into
place only when complete, under a lock on the target's name.

* A folder replaced with ``force`` must be funnelsim's own (its marker, same kind); the
  current directory, its parents, home and the filesystem root are never replaced.
* The replace is one atomic exchange where the system has one (Linux ``renameat2``), so
  the target holds the old or the new output at every instant; elsewhere it is two
  renames recorded in a journal that the next write beside it undoes or finishes.
* Whether the target exists is checked again under the lock right before the rename, so
  a write without ``force`` never replaces what appeared in the meantime.
"""

from __future__ import annotations

import errno
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from funnelsim.atomic.errors import OutputError, OutputExistsError, OutputRefusedError
from funnelsim.atomic.leftovers import (
    PART_SUFFIX,
    NameLock,
    clean_leftovers,
    discard,
    journal_path,
    recover_parent,
    write_journal,
)
from funnelsim.atomic.markers import (
    STAGING_MARKER,
    check_replaceable,
    marker_kind,
    refuse_protected,
    write_marker,
    write_staging_marker,
)
from funnelsim.atomic.renames import exchange, rename_noreplace
from funnelsim.inputs import input_at

Note = Callable[[str], None]


def print_note(message: str) -> None:
    """Tell the user, on one stderr line, what was found and done about a leftover."""
    print(f"note: {message}", file=sys.stderr)


def default_mode() -> int:
    """0o666 less the process umask: what a plain open() would have given a file."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def refuse_existing(path: Path, force: bool) -> None:
    """Raise OutputExistsError when ``path`` exists and ``force`` is off."""
    if os.path.lexists(path) and not force:
        raise OutputExistsError(f"{path}: already exists; pass --force to replace it")


def refuse_input(path: Path) -> None:
    """Refuse an output ``path`` that is a file the command read as input, even with force
    (``funnelsim.inputs``)."""
    found = input_at(path)
    if found is not None:
        read, kind = found
        named = "" if read == str(path) else f" ({read})"
        raise OutputRefusedError(
            f"{path}: is {kind} read as input{named}; write the output elsewhere"
        )


def nearest_existing(path: Path) -> Path:
    """The closest ancestor of ``path`` that exists (``path``'s parent or above)."""
    for ancestor in Path(path).parents:
        if os.path.lexists(ancestor):
            return ancestor
    return Path(".")


def check_parents(path: Path) -> None:
    """Refuse a path that cannot exist: its nearest existing ancestor is not a folder."""
    ancestor = nearest_existing(path)
    if not ancestor.is_dir():
        raise OutputRefusedError(f"{path}: {ancestor} is not a folder, so it cannot hold {path}")


def probe_writable(path: Path) -> None:
    """Refuse early, creating nothing that stays, when ``path`` could not be written."""
    check_parents(path)
    ancestor = nearest_existing(path)
    try:
        with tempfile.TemporaryFile(dir=ancestor):
            pass
    except OSError as exc:
        raise OutputRefusedError(f"{path}: cannot write in {ancestor} ({exc.strerror})") from None


def _make_folders(folder: Path) -> list[Path]:
    """Create ``folder`` and missing ancestors; return those created, outermost first."""
    missing = []
    current = Path(folder)
    while not os.path.lexists(current) and current != current.parent:
        missing.append(current)
        current = current.parent
    created: list[Path] = []
    try:
        for path in reversed(missing):
            path.mkdir()
            created.append(path)
    except OSError as exc:
        _remove_empty(created)
        raise OutputRefusedError(f"{folder}: cannot create it ({exc.strerror})") from None
    return created


def _remove_empty(folders: list[Path]) -> None:
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            return


class _Staged:
    """What every staged write shares: parents, the name lock, leftovers, the rename."""

    def __init__(self, target: Path, force: bool = False, note: Note | None = None) -> None:
        self.target = Path(target)
        if self.target.name in {"", ".."}:  # "." or "..": name it by its absolute path
            self.target = Path(os.path.abspath(self.target))
        self.force = force
        self.path: Path | None = None
        self._note = note or print_note
        self._lock = NameLock(self.target)
        self._created: list[Path] = []
        self._done = False

    def __enter__(self) -> _Staged:
        self.prepare()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self._done:
            self.abort()

    def prepare(self) -> Path:
        """Check the target, take its lock and create the staging; refuse with one line."""
        try:
            return self._prepare()
        except OutputError:
            self.abort()
            raise
        except OSError as exc:
            self.abort()
            raise OutputRefusedError(
                f"{self.target}: cannot write in {self.target.parent} ({exc.strerror})"
            ) from None
        except BaseException:
            self.abort()
            raise

    def _prepare(self) -> Path:
        raise NotImplementedError

    def _claim(self) -> None:
        """Parents, then the lock, then clean what killed writes left beside the target."""
        check_parents(self.target)
        self._created = _make_folders(self.target.parent)
        probe_writable(self.target)
        self._lock.acquire()
        for note in recover_parent(self.target.parent, skip=self.target):
            self._note(note)
        for note in clean_leftovers(self.target):
            self._note(note)

    def _place(self) -> None:
        """Rename the staging to the free target name, never replacing anything there."""
        assert self.path is not None
        try:
            placed = rename_noreplace(self.path, self.target)
            if not placed:
                refuse_existing(self.target, False)
                os.rename(self.path, self.target)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise OutputExistsError(
                    f"{self.target}: appeared while funnelsim was writing it; left as it is"
                ) from None
            raise
        self.path = None

    def abort(self) -> None:
        """Remove the staging, release the lock and any folder created for the target."""
        self._done = True
        try:
            if self.path is not None and os.path.lexists(self.path):
                discard(self.path)
        finally:
            self.path = None
            self._lock.release()
            _remove_empty(self._created)

    def _finish(self) -> None:
        self._done = True
        self._lock.release()


class StagedFolder(_Staged):
    """A results folder of ``kind`` built in ``path`` and swapped into place by commit()."""

    def __init__(
        self, target: Path, kind: str, force: bool = False, note: Note | None = None
    ) -> None:
        super().__init__(target, force, note)
        self.kind = kind

    def __enter__(self) -> StagedFolder:
        self.prepare()
        return self

    def _prepare(self) -> Path:
        refuse_protected(self.target)
        self._claim()
        self._check_target()
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        write_staging_marker(self.path, self.target)
        return self.path

    def _check_target(self) -> None:
        if os.path.lexists(self.target):
            refuse_existing(self.target, self.force)
            check_replaceable(self.target, self.kind)

    def commit(self) -> Path:
        """Mark the finished folder and rename it into place (swap it with the old one)."""
        try:
            assert self.path is not None, "commit() before prepare()"
            write_marker(self.path, self.kind)
            os.chmod(self.path, default_mode() | 0o111)
            (self.path / STAGING_MARKER).unlink()
            self._check_target()
            if os.path.lexists(self.target):
                self._replace()
            else:
                self._place()
        except BaseException:
            self.abort()
            raise
        self._finish()
        return self.target

    def _replace(self) -> None:
        assert self.path is not None
        staging = self.path
        if exchange(staging, self.target):
            try:
                discard(staging)  # the old folder, now at the staging name
            except OSError as exc:
                self._note(f"could not remove the previous {self.target} at {staging}: {exc}")
        else:
            self._replace_in_two_steps(staging)
        self.path = None

    def _replace_in_two_steps(self, staging: Path) -> None:
        """Old folder aside, new one in, both steps journaled for the next write to undo."""
        name = self.target.name
        retired = Path(tempfile.mkdtemp(prefix=f".{name}.old.", dir=self.target.parent))
        write_journal(self.target, staging, retired, "swapping")
        os.rename(self.target, retired / name)
        os.rename(staging, self.target)
        write_journal(self.target, staging, retired, "discarding")
        discard(retired)
        journal_path(self.target).unlink()


class StagedFile(_Staged):
    """A file written to a hidden part file and renamed into place by commit()."""

    def __enter__(self) -> StagedFile:
        self.prepare()
        return self

    def _prepare(self) -> Path:
        self._refuse_folder()
        self._claim()
        self._check_target()
        handle, name = tempfile.mkstemp(
            prefix=f".{self.target.name}.", suffix=PART_SUFFIX, dir=self.target.parent
        )
        os.close(handle)
        self.path = Path(name)
        return self.path

    def _refuse_folder(self) -> None:
        if self.target.is_dir():
            raise OutputRefusedError(
                f"{self.target}: is a directory; give a file name such as report.html"
            )

    def _check_target(self) -> None:
        self._refuse_folder()
        refuse_input(self.target)
        refuse_existing(self.target, self.force)

    def write(self, text: str) -> None:
        """Write the file's whole content (to the hidden part file)."""
        assert self.path is not None, "write() before prepare()"
        with open(self.path, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)

    def commit(self) -> Path:
        """Rename the part file into place: replacing only with ``force``."""
        try:
            assert self.path is not None, "commit() before prepare()"
            os.chmod(self.path, default_mode())
            self._check_target()
            if os.path.lexists(self.target):
                os.replace(self.path, self.target)
                self.path = None
            else:
                self._place()
        except BaseException:
            self.abort()
            raise
        self._finish()
        return self.target


class ClaimedFolder(_Staged):
    """A folder of ``kind`` written into over time (a sweep), held under its lock.

    It is created atomically with its marker when missing; an existing one must carry the
    same kind's marker, or pass ``adopt`` (a folder from before markers existed).
    """

    def __init__(
        self,
        target: Path,
        kind: str,
        adopt: Callable[[Path], bool] = lambda _folder: False,
        note: Note | None = None,
    ) -> None:
        super().__init__(target, False, note)
        self.kind = kind
        self._adopt = adopt

    def __enter__(self) -> ClaimedFolder:
        self.prepare()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._finish()

    def _prepare(self) -> Path:
        self._claim()
        if os.path.lexists(self.target):
            self._check_existing()
            return self.target
        self.path = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        write_staging_marker(self.path, self.target)
        write_marker(self.path, self.kind)
        os.chmod(self.path, default_mode() | 0o111)
        (self.path / STAGING_MARKER).unlink()
        self._place()
        return self.target

    def _check_existing(self) -> None:
        if self.target.is_symlink() or not self.target.is_dir():
            raise OutputRefusedError(f"{self.target}: exists and is not a folder")
        found = marker_kind(self.target)
        if found is None:
            if not self._adopt(self.target):
                raise OutputRefusedError(
                    f"{self.target}: not a funnelsim {self.kind} folder (no marker); "
                    "it will not be written into (choose another --out)"
                )
            write_marker(self.target, self.kind)
        elif found != self.kind:
            raise OutputRefusedError(
                f"{self.target}: holds funnelsim {found} output, not a {self.kind}; "
                "it will not be written into (choose another --out)"
            )


def write_text(path: Path, text: str, force: bool = False, note: Note | None = None) -> Path:
    """Write ``text`` to ``path`` atomically; an existing file is replaced only with force."""
    with StagedFile(Path(path), force, note) as staged:
        staged.write(text)
        return staged.commit()


def write_folder(
    folder: Path,
    fill: Callable[[Path], None],
    force: bool = False,
    kind: str = "folder",
    note: Note | None = None,
) -> Path:
    """Build a folder with ``fill(staging)``, then move it into place atomically."""
    with StagedFolder(Path(folder), kind, force, note) as staged:
        assert staged.path is not None
        fill(staged.path)
        return staged.commit()
