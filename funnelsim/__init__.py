"""funnelsim: a discrete-event simulator of a B2B revenue engine.

The public names are imported on first use (PEP 562), so that ``import funnelsim`` (and
the command line's ``--help``) stays fast: numpy, pandas and SimPy load only when a name
that needs them is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funnelsim.api import Comparison, Decision, compare, leaks, plan, run, sensitivity, sweep
    from funnelsim.engine import Ledger, simulate
    from funnelsim.results import Results
    from funnelsim.scenario import Scenario, ScenarioError, load_scenario

# Public name -> the module it lives in.
_EXPORTS = {
    "Comparison": "funnelsim.api",
    "Decision": "funnelsim.api",
    "compare": "funnelsim.api",
    "leaks": "funnelsim.api",
    "plan": "funnelsim.api",
    "run": "funnelsim.api",
    "sensitivity": "funnelsim.api",
    "sweep": "funnelsim.api",
    "Ledger": "funnelsim.engine",
    "simulate": "funnelsim.engine",
    "Results": "funnelsim.results",
    "Scenario": "funnelsim.scenario",
    "ScenarioError": "funnelsim.scenario",
    "load_scenario": "funnelsim.scenario",
}

__all__ = [
    "Comparison",
    "Decision",
    "Ledger",
    "Results",
    "Scenario",
    "ScenarioError",
    "compare",
    "leaks",
    "load_scenario",
    "plan",
    "run",
    "sensitivity",
    "simulate",
    "sweep",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'funnelsim' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
