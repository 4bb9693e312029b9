"""One replication default for the CLI and the Python API (issue 14: fs.run used to run 1)."""

from __future__ import annotations

import inspect

import pytest

import funnelsim.api as fs
from funnelsim.cli import main
from funnelsim.experiment.defaults import DEFAULT_REPLICATIONS

API = ("run", "compare", "plan", "leaks", "sweep", "sensitivity")
COMMANDS = ("run", "compare", "plan", "leaks", "sweep", "sensitivity")


def test_the_shared_default_gives_intervals() -> None:
    assert DEFAULT_REPLICATIONS >= 10


@pytest.mark.parametrize("name", API)
def test_every_api_function_defaults_to_the_shared_count(name: str) -> None:
    default = inspect.signature(getattr(fs, name)).parameters["replications"].default
    assert default == DEFAULT_REPLICATIONS


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_defaults_to_the_shared_count(name: str) -> None:
    command = main.commands[name]
    reps = next(p for p in command.params if p.name == "reps")
    assert reps.default == DEFAULT_REPLICATIONS
