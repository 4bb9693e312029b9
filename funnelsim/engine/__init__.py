"""The SimPy engine: (scenario, seed) -> ledger."""

from funnelsim.engine.ledger import OUTCOMES, Ledger
from funnelsim.engine.simulate import simulate

__all__ = ["OUTCOMES", "Ledger", "simulate"]
