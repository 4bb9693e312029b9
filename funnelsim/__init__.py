"""funnelsim: a discrete-event simulator of a B2B revenue engine."""

from funnelsim.api import run
from funnelsim.engine import Ledger, simulate
from funnelsim.results import Results
from funnelsim.scenario import Scenario, ScenarioError, load_scenario

__all__ = [
    "Ledger",
    "Results",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "run",
    "simulate",
]
__version__ = "0.1.0"
