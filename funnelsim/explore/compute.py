"""The explorer's work apart from the page: checking levers, comparing, answering, ranking.

Every comparison is the library's (``funnelsim.api.compare``, the paired decision of
``experiment.options``); this module only decides what to run and reads the decision
table. A ``CancelToken`` passed as the per-replication ``on_done`` stops a comparison
after the replication in flight when a newer change supersedes it.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from funnelsim import api
from funnelsim.bundled import resolve_scenario
from funnelsim.experiment.changes import changes as field_changes
from funnelsim.experiment.options import Decision
from funnelsim.experiment.stats import CONFIDENCE
from funnelsim.explore.levers import Lever, lever_of, overrides, set_options
from funnelsim.report.charts.parameters import parameter_label
from funnelsim.report.formatting import money
from funnelsim.scenario.errors import ScenarioError
from funnelsim.scenario.loading import load_scenario
from funnelsim.scenario.models import Scenario

OPTION = "explored option"
FIRST_REPLICATIONS = 3
MAX_REPLICATIONS = 200
WHOLE = ""  # the key of an error that belongs to no single control


class SupersededError(Exception):
    """A comparison stopped because a newer change superseded it."""


class CancelToken:
    """A flag a comparison checks after every replication (its ``on_done``)."""

    def __init__(self, progress: Callable[[], None] | None = None) -> None:
        self._event = threading.Event()
        self._progress = progress

    def cancel(self) -> None:
        """Ask the comparison to stop after the replication in flight."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancel() was called."""
        return self._event.is_set()

    def check(self, *_: object) -> None:
        """Raise ``SupersededError`` once cancelled, else report progress: the
        per-replication callback."""
        if self._event.is_set():
            raise SupersededError
        if self._progress is not None:
            self._progress()


@dataclass(frozen=True)
class Base:
    """The base scenario and the file it came from (what a saved option extends)."""

    path: Path
    scenario: Scenario

    @classmethod
    def load(cls, path: str | Path) -> Base:
        """Load the base as ``funnelsim compare`` would (a bare name is a bundled one)."""
        resolved = resolve_scenario(path)
        return cls(resolved, load_scenario(resolved))

    def option(self, changes: Mapping[str, Any]) -> Scenario:
        """The base with the ``--set`` overrides, validated by the scenario model."""
        return load_scenario(self.path, set_options(changes))

    def short(self, exc: ScenarioError) -> str:
        """A scenario error without the file name (or ``--set``) in front: the field's line."""
        return str(exc).removeprefix(f"{self.path}: ").removeprefix("--set: ")


@dataclass(frozen=True)
class Checked:
    """Lever values checked: the option (None when invalid), its overrides, errors by lever."""

    option: Scenario | None
    changes: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


def check(base: Base, levers: list[Lever], values: Mapping[str, Any]) -> Checked:
    """Validate the levers' overrides over the base; put each field's error by its control.

    The overrides are checked together first; when that fails each is checked alone, so
    the error shows next to the control that caused it (else above all controls).
    """
    changes = overrides(base.scenario, levers, values)
    try:
        return Checked(base.option(changes), changes)
    except ScenarioError as whole:
        errors: dict[str, str] = {}
        for path, value in changes.items():
            try:
                base.option({path: value})
            except ScenarioError as exc:
                errors.setdefault(lever_of(path), base.short(exc))
        return Checked(None, changes, errors or {WHOLE: base.short(whole)})


def check_run(replications: Any, seed: Any) -> dict[str, str]:
    """Errors of the run settings: replications (2 to 200) and seed (a whole number >= 0)."""
    errors = {}
    if not _whole_number(replications) or not 2 <= replications <= MAX_REPLICATIONS:
        errors["replications"] = (
            f"replications: expected a whole number from 2 to {MAX_REPLICATIONS}"
        )
    if not _whole_number(seed) or seed < 0:
        errors["seed"] = "seed: expected a whole number, 0 or more"
    return errors


def compare(
    base: Scenario,
    options: Mapping[str, Scenario],
    replications: int,
    seed: int,
    workers: int,
    token: CancelToken,
) -> Decision:
    """The library's paired comparison (``funnelsim.api.compare``), cancellable."""
    return api.compare(
        base,
        dict(options),
        replications=replications,
        seed=seed,
        workers=workers,
        on_done=token.check,
    )


@dataclass(frozen=True)
class Answer:
    """One comparison's answer: the decision, the option's row of its table, final or not."""

    decision: Decision
    row: dict[str, Any]
    final: bool

    @property
    def replications(self) -> int:
        """Replications per scenario behind this answer."""
        return self.decision.replications


def answers(
    base: Scenario,
    option: Scenario,
    replications: int,
    seed: int,
    workers: int,
    token: CancelToken,
    first: int = FIRST_REPLICATIONS,
) -> Iterator[Answer]:
    """A first answer at a few replications, then the answer at ``replications``.

    The first runs in this process (no pool to start for a few runs); the refined one runs
    only the missing replications (``Decision.extended_to``) on ``workers`` processes, and
    equals a comparison run at ``replications`` from the start.
    """
    if replications <= first:
        decision = compare(base, {OPTION: option}, int(replications), int(seed), workers, token)
        yield Answer(decision, option_row(decision.summary(), OPTION), True)
        return
    decision = compare(base, {OPTION: option}, int(first), int(seed), 1, token)
    yield Answer(decision, option_row(decision.summary(), OPTION), False)
    decision = decision.extended_to(int(replications), workers, on_done=token.check)
    yield Answer(decision, option_row(decision.summary(), OPTION), True)


def option_row(table: pd.DataFrame, name: str) -> dict[str, Any]:
    """One option's row of a decision table, as a dict."""
    return table[table["option"] == name].iloc[0].to_dict()


def ranked(pins: Mapping[str, Decision], token: CancelToken, workers: int) -> pd.DataFrame:
    """The decision table of the pinned options, best first.

    Pins run on the same seed and replication count share the base's runs, so their
    decision is assembled from the runs at hand; otherwise they are compared again.
    """
    return pinned_decision(pins, token, workers).summary()


def pinned_decision(pins: Mapping[str, Decision], token: CancelToken, workers: int) -> Decision:
    """One decision of every pinned option against the base (see :func:`ranked`)."""
    decisions = list(pins.values())
    first = decisions[0]
    alike = all(d.seed == first.seed and d.replications == first.replications for d in decisions)
    options = {name: d.options[OPTION] for name, d in pins.items()}
    if not alike:
        return compare(first.baseline, options, first.replications, first.seed, workers, token)
    return Decision(
        first.baseline,
        options,
        first.seed,
        first.baseline_runs,
        {name: d.option_runs[OPTION] for name, d in pins.items()},
        first.confidence,
    )


def sentence(
    base: Scenario, option: Scenario, answer: Answer, labels: Mapping[str, str] | None = None
) -> str:
    """What changed and what it is worth, in one plain sentence with how sure it is.

    ``labels`` name fields by path (the controls' labels); others read as their path.
    """
    found = field_changes(base, option)
    if not found:
        return "Nothing changed yet: move a control to compare an option with the base."
    currency = base.currency
    shown = [
        f"{_label(change.path, currency, labels or {})} from {_value(change.before)} "
        f"to {_value(change.after)}"
        for change in found
    ]
    what = "; ".join(shown[:4]) + (f" and {len(shown) - 4} more" if len(shown) > 4 else "")
    row = answer.row
    value = money(row["net_value"], currency)
    value = value if row["net_value"] < 0 else f"+{value}"
    low, high = row["net_value_ci_low"], row["net_value_ci_high"]
    years = base.horizon_days / 365
    interval = (
        f" ({CONFIDENCE:.0%} CI {money(low, currency)} to {money(high, currency)})"
        if math.isfinite(low) and math.isfinite(high)
        else ""
    )
    n = answer.replications
    if row["net_value"] == 0 and low == high:
        verdict = "the same as the base in every replication"
    elif math.isfinite(low) and low > 0:
        verdict = f"better than the base beyond doubt at {n} replications"
    elif math.isfinite(high) and high < 0:
        verdict = f"worse than the base beyond doubt at {n} replications"
    else:
        verdict = f"not yet told apart from the base at {n} replications (add replications)"
    return f"Changing {what} is worth {value} net over {years:.1f} years{interval}: {verdict}."


def _label(path: str, currency: str, labels: Mapping[str, str]) -> str:
    label = labels.get(path) or parameter_label(path, currency)
    return label.split(" (")[0]


def _value(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, dict) and "dist" in value:
        return (
            value["dist"]
            + " ("
            + ", ".join(f"{k} {_value(v)}" for k, v in value.items() if k != "dist")
            + ")"
        )
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _whole_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return math.isfinite(value) and float(value).is_integer()
