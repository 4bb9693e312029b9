"""funnelsim: a discrete-event simulator of a B2B revenue engine."""

from funnelsim.engine import Ledger, simulate
from funnelsim.scenario import Scenario, ScenarioError, load_scenario

__all__ = ["Ledger", "Scenario", "ScenarioError", "load_scenario", "simulate"]
__version__ = "0.1.0"
