"""Calibrate: export + mapping -> fitted quantities -> scenario YAML (+ fit report), atomically."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

from funnelsim.calibrate.building import Built, build_scenario
from funnelsim.calibrate.fitting import Fitted, fit_export
from funnelsim.calibrate.mapping import Mapping, load_mapping
from funnelsim.calibrate.reading import Export, read_export
from funnelsim.calibrate.yamlout import scenario_yaml
from funnelsim.scenario.loading import scenario_from_dict
from funnelsim.scenario.models import Scenario


@dataclass
class Calibration:
    """The result of calibrating: fitted quantities, the scenario and its YAML text."""

    export: Export
    fitted: Fitted
    built: Built
    yaml_text: str

    @property
    def scenario(self) -> Scenario:
        """The calibrated scenario, read back from its YAML text."""
        return scenario_from_dict(yaml.safe_load(self.yaml_text), source="calibrated scenario")


def calibrate(
    export_path: str | Path,
    mapping: Mapping | str | Path,
    seed: int = 0,
    replicates: int = 200,
    book: bool = True,
) -> Calibration:
    """Read, fit and build a scenario from a CRM export (starting from the export's book
    on the export date, unless ``book`` is false)."""
    if not isinstance(mapping, Mapping):
        mapping = load_mapping(mapping)
    export = read_export(export_path, mapping)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # optimiser steps through overflow
        fitted = fit_export(export, mapping, seed=seed, replicates=replicates)
        built = build_scenario(fitted, seed=seed, book=book)
    header = [
        f"{mapping.name}: calibrated by `funnelsim calibrate` from {Path(export_path).name}",
        f"{export.n_rows} rows read, {len(export.records)} usable; window "
        f"{export.start_date.date()} to {export.last_day.date()} (export date)",
        "Rows not used, by reason: "
        + (", ".join(f"{r.reason} {r.rows}" for r in export.issues.itertuples()) or "none"),
        "Each fitted value says what it rests on; 'default' marks what the export cannot tell.",
        *[f"WARNING: {warning}" for warning in fitted.warnings],
        "",
    ]
    text = scenario_yaml(built.data, built.provenance, header)
    calibration = Calibration(export, fitted, built, text)
    calibration.scenario  # noqa: B018 - validate the written text now
    return calibration
