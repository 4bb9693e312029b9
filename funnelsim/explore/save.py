"""Saving from the explorer: an option as a scenario file, the pinned options' report.

Both go into the chosen output folder only, under names the explorer makes (never a
name from the browser), atomically, and never over an existing file: a taken name moves
on to the next number.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from funnelsim.atomic import OutputExistsError, write_text
from funnelsim.experiment.options import Decision
from funnelsim.explore.compute import Base
from funnelsim.report.html import report_from_decision, write_report
from funnelsim.scenario.safe_yaml import dump_yaml

MAX_NUMBER = 10_000


def option_document(
    base: Base, changes: Mapping[str, Any], folder: Path, name: str, label: str
) -> dict[str, Any]:
    """The option as a scenario mapping: ``extends:`` the base, then only the changed keys."""
    document: dict[str, Any] = {
        "extends": os.path.relpath(base.path, folder.resolve()),
        "name": name,
        "label": label,
    }
    for path, value in changes.items():
        node = document
        *parents, last = path.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[last] = value
    return document


def save_option(base: Base, changes: Mapping[str, Any], folder: Path, label: str) -> Path:
    """Write the option as ``<base>-option-N.yaml`` in ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{slug(base.scenario.name)}-option"
    for number in range(1, MAX_NUMBER):
        path = folder / f"{stem}-{number}.yaml"
        if path.exists():
            continue
        document = option_document(base, changes, folder, f"{stem}-{number}", label)
        header = "# Saved by funnelsim explore: the base it extends, then only what changed.\n"
        try:
            return write_text(path, header + dump_yaml(document))
        except OutputExistsError:
            continue
    raise OutputExistsError(f"{folder}: no free name for another option file")


def save_report(decision: Decision, folder: Path, labels: Mapping[str, str]) -> Path:
    """Write the client report of the pinned options as ``report-N.html`` in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    text = report_from_decision(decision, labels)
    for number in range(1, MAX_NUMBER):
        path = folder / f"report-{number}.html"
        if path.exists():
            continue
        try:
            return write_report(text, path)
        except OutputExistsError:
            continue
    raise OutputExistsError(f"{folder}: no free name for another report")


def slug(name: str) -> str:
    """A file-name-safe form of a scenario name."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "scenario"
