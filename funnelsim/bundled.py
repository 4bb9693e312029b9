"""The scenarios that ship inside the package, found by name from any directory.

A wheel carries them as package data (``funnelsim/data/scenarios``); a source checkout
reads the repository's ``scenarios/`` folder. A scenario argument or an ``extends:`` that
is a bare name (``baseline`` or ``baseline.yaml``) and names no file on disk means the
bundled scenario of that name. Imports nothing heavy: the command line's ``--help`` uses it.
"""

from __future__ import annotations

import difflib
from importlib.resources import files
from pathlib import Path

SUFFIX = ".yaml"
DEFAULT = "baseline"


def bundled_dir() -> Path | None:
    """The folder of bundled scenario files, or None when the install has none."""
    candidates = [
        Path(str(files("funnelsim"))) / "data" / "scenarios",
        Path(__file__).resolve().parents[1] / "scenarios",  # a checkout without symlinks
    ]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return None


def bundled_names() -> list[str]:
    """The names of the bundled scenarios (file names without ``.yaml``), sorted."""
    folder = bundled_dir()
    if folder is None:
        return []
    return sorted(path.stem for path in folder.glob(f"*{SUFFIX}") if path.is_file())


def is_bare_name(text: str | Path) -> bool:
    """True for a name with no folder part (``baseline``, ``baseline.yaml``)."""
    path = Path(text)
    return len(path.parts) == 1 and path.name not in {"", ".", ".."}


def bundled_path(name: str | Path) -> Path | None:
    """The bundled file a bare name means (with or without ``.yaml``), or None."""
    if not is_bare_name(name):
        return None
    stem = Path(name).name.removesuffix(SUFFIX)
    folder = bundled_dir()
    if folder is None or stem not in bundled_names():
        return None
    return folder / f"{stem}{SUFFIX}"


def resolve_scenario(path: str | Path) -> Path:
    """A file on disk as it is; else the bundled scenario a bare name means; else unchanged."""
    path = Path(path)
    if path.exists():
        return path
    return bundled_path(path) or path


def default_scenario() -> Path:
    """The bundled baseline, which commands use when no scenario is given."""
    path = bundled_path(DEFAULT)
    if path is None:
        from funnelsim.scenario.errors import ScenarioError

        raise ScenarioError("no scenario given and this install has no bundled baseline")
    return path


def missing_hint(name: str | Path) -> str:
    """What to say after 'no such scenario file': the closest bundled name, or the list."""
    names = bundled_names()
    if not names or not is_bare_name(name):
        return ""
    stem = Path(name).name.removesuffix(SUFFIX)
    close = [name for name in names if name.startswith(stem)]
    close = close or difflib.get_close_matches(stem, names, n=1)
    if close:
        return f"; did you mean the bundled scenario '{close[0]}'?"
    return f"; bundled scenarios: {', '.join(names)}"


def summary_line(path: Path) -> str:
    """A scenario file's one-line summary: its first comment line, without the '#'."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            text = line.strip()
            if not text:
                continue
            if text.startswith("#"):
                return text.lstrip("#").strip()
            break
    return ""
