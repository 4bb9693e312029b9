"""'Narrower by' (how much pairing narrows an interval) is a ratio of interval widths; a
difference that is the same in every replication up to floating-point rounding (a cost
the option adds, a hire's pay) has no paired width, so it reads "–", never a ratio to
rounding noise (the UX review's plan table printed 62622634894437.… for total cost)."""

from __future__ import annotations

import re

import numpy as np
from click.testing import CliRunner

from funnelsim.cli import main
from funnelsim.experiment.stats import narrowing, paired_difference, unpaired_difference


def _narrowing(a: np.ndarray, b: np.ndarray) -> float:
    _, low, high = paired_difference(a, b)
    _, u_low, u_high = unpaired_difference(a, b)
    return narrowing(a, b, (low, high), (u_low, u_high))


def test_a_constant_difference_up_to_rounding_has_no_narrowing() -> None:
    # The plan's extra pay, the same in all 20 replications: the mean of 20 equal floats
    # is not exactly that float, so the t interval gets a width of ~1e-10.
    baseline = np.linspace(7.38e6, 7.41e6, 20)
    variant = baseline + 803_287.67123288
    _, low, high = paired_difference(baseline, variant)
    assert 0 < high - low < 1e-6
    assert np.isnan(_narrowing(baseline, variant))
    # A few ulps apart, as sums taken in another order give.
    variant[1] = np.nextafter(variant[1], np.inf)
    assert np.isnan(_narrowing(baseline, variant))


def test_a_difference_that_varies_keeps_its_ratio() -> None:
    baseline = np.array([100.0, 120.0, 90.0, 110.0])
    variant = baseline + np.array([10.0, 11.0, 9.0, 10.5])
    ratio = _narrowing(baseline, variant)
    assert 1 < ratio < 100


def test_the_reviews_plan_prints_no_ratio_to_rounding() -> None:
    result = CliRunner().invoke(
        main,
        [
            "plan",
            "baseline",
            "--hire",
            "ae=+2@2027-04-01",
            "--hire",
            "sdr=+1@2027-06-01",
            "--reps",
            "20",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    cost = next(line for line in result.output.splitlines() if "Total cost" in line)
    last = cost.rstrip(" │").rsplit("│", 1)[-1].strip()
    assert last == "–", cost
    ratios = [float(r) for r in re.findall(r"│\s+([\d.]+)x\s+│", result.output)]
    assert ratios and all(r < 1000 for r in ratios)
