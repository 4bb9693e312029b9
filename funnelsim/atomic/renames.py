"""Atomic renames the standard library lacks: swap two paths, or rename without replacing.

Linux's ``renameat2`` (glibc 2.28+, called through ctypes) does both in one system call.
Where it is missing (other systems, old C libraries, file systems that refuse the flags)
the functions return False and the caller takes its recoverable fallback.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Callable
from pathlib import Path

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
_UNSUPPORTED = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP}


def _renameat2() -> Callable[..., int] | None:
    """The C library's ``renameat2``, or None where there is none."""
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return None
    path, folder = ctypes.c_char_p, ctypes.c_int
    function.argtypes = [folder, path, folder, path, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_RENAMEAT2 = _renameat2()


def _call(source: Path, target: Path, flags: int) -> bool:
    """Run renameat2; False when unsupported here, OSError for any real failure."""
    if _RENAMEAT2 is None:
        return False
    if _RENAMEAT2(AT_FDCWD, os.fsencode(source), AT_FDCWD, os.fsencode(target), flags) == 0:
        return True
    code = ctypes.get_errno()
    if code in _UNSUPPORTED:
        return False
    raise OSError(code, os.strerror(code), str(source), None, str(target))


def exchange(first: Path, second: Path) -> bool:
    """Swap two existing paths atomically; False when the system cannot."""
    return _call(first, second, RENAME_EXCHANGE)


def rename_noreplace(source: Path, target: Path) -> bool:
    """Rename ``source`` to ``target`` only if ``target`` does not exist (FileExistsError if
    it does); False when the system cannot do this atomically."""
    return _call(source, target, RENAME_NOREPLACE)
