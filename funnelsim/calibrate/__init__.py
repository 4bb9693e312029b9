"""Calibration: a CRM export and a column mapping in, a fitted scenario and a fit report out."""

from funnelsim.calibrate.calibration import Calibration, calibrate
from funnelsim.calibrate.checking import check_fit
from funnelsim.calibrate.mapping import Mapping, MappingError, load_mapping
from funnelsim.calibrate.reading import Export, read_export

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
