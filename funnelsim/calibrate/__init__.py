"""Calibration: a CRM export and a column mapping in, a fitted scenario and a fit report out.

The public names are imported on first use (PEP 562), so that the command line can load
``calibrate.commands`` without scipy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from funnelsim.calibrate.calibration import Calibration, calibrate
    from funnelsim.calibrate.checking import check_fit
    from funnelsim.calibrate.mapping import Mapping, MappingError, load_mapping
    from funnelsim.calibrate.reading import Export, read_export

_EXPORTS = {
    "Calibration": "funnelsim.calibrate.calibration",
    "calibrate": "funnelsim.calibrate.calibration",
    "check_fit": "funnelsim.calibrate.checking",
    "Mapping": "funnelsim.calibrate.mapping",
    "MappingError": "funnelsim.calibrate.mapping",
    "load_mapping": "funnelsim.calibrate.mapping",
    "Export": "funnelsim.calibrate.reading",
    "read_export": "funnelsim.calibrate.reading",
}

__all__ = [
    "Calibration",
    "Export",
    "Mapping",
    "MappingError",
    "calibrate",
    "check_fit",
    "load_mapping",
    "read_export",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module the first time it is used."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'funnelsim.calibrate' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
