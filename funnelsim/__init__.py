"""funnelsim: a discrete-event simulator of a B2B revenue engine."""

from funnelsim.api import Comparison, Decision, compare, leaks, run, sensitivity, sweep
from funnelsim.engine import Ledger, simulate
from funnelsim.results import Results
from funnelsim.scenario import Scenario, ScenarioError, load_scenario

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
    "run",
    "sensitivity",
    "simulate",
    "sweep",
]
__version__ = "0.1.0"
