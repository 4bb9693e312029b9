"""Sales stages in the ledger: which stage each open opportunity is in at a given time."""

from __future__ import annotations

import numpy as np

from funnelsim.analysis._common import observed
from funnelsim.engine.ledger import Ledger


def open_at(ledger: Ledger, times: np.ndarray) -> np.ndarray:
    """(times x leads) mask: the opportunity was open at each time (opened, not closed)."""
    c = ledger.columns
    opened = np.where(c["opportunity"].astype(bool), observed(ledger, "opp_time"), np.nan)
    closed = observed(ledger, "close_time")
    until = np.where(np.isfinite(closed), closed, np.inf)
    times = np.asarray(times, dtype=float)[:, None]
    with np.errstate(invalid="ignore"):
        return (opened[None, :] <= times) & (until[None, :] > times)


def open_pipeline_by_stage(ledger: Ledger, times: np.ndarray) -> np.ndarray:
    """(times x stages) deal value of the opportunities open at each time, by stage."""
    value = np.asarray(ledger.columns["deal_value"], dtype=float)
    is_open = open_at(ledger, times)
    out = np.zeros((len(times), len(ledger.stage_names)))
    out[:, 0] = (is_open * value[None, :]).sum(axis=1)
    return out
