"""Scenario builders and checks shared by the test modules (plain functions: import them
from here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest


def per_segment(value: Any) -> dict[str, Any]:
    """The same value for every segment."""
    return {"smb": value, "mid_market": value, "enterprise": value}


def sdr_team(headcount: int) -> dict[str, Any]:
    """An SDR team of two leads a head, half an hour of work each (p90 1.5 hours)."""
    return {
        "headcount": headcount,
        "capacity_per_head": 2,
        "work_time": {"dist": "lognormal", "median": 0.5, "p90": 1.5},
    }


def sales(win_rate: float, cycle_median: float, cycle_p90: float) -> dict[str, Any]:
    """Sales alike in every segment: 70% qualify, a lognormal cycle in days."""
    return {
        "qualify_prob": per_segment(0.7),
        "win_rate": per_segment(win_rate),
        "cycle_days": per_segment({"dist": "lognormal", "median": cycle_median, "p90": cycle_p90}),
    }


def busy_scenario(**teams: dict[str, Any]) -> dict[str, Any]:
    """A small, leaky company with every kind of outcome and loss within a year.

    Short terms so that seams 3 and 4 act, generous sales so that there are customers,
    leaky quote-to-cash. ``teams`` are added after the SDR team.
    """
    return {
        "horizon_days": 365,
        "sources": {
            "inbound": {"leads_per_week": 40, "fit": {"dist": "beta", "a": 3, "b": 3}},
            "referral": {
                "leads_per_week": 10,
                "fit": {"dist": "beta", "a": 5, "b": 2},
                "segment_mix": {"smb": 0.2, "mid_market": 0.5, "enterprise": 0.3},
            },
        },
        "teams": {"sdr": sdr_team(6), **teams},
        "sales": sales(0.5, 10, 30),
        "seam2": {"fallthrough_per_week_waiting": 0.3, "contract_error_prob": 0.3},
        "seam3": {
            "context_transfer_prob": 0.3,
            "early_churn_prob": {"with_context": 0.05, "without_context": 0.3},
        },
        "seam4": {"term_months": 3},
    }


def chromium_binary() -> str:
    """The system Chromium (Debian's ``chromium``) for browser tests; skip where none exists."""
    binary = next(
        (shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None
    )
    if binary is None:
        pytest.skip("no chromium binary on PATH (Debian package 'chromium')")
    return binary


def headless_chromium(page: Path, profile: Path, *args: str, timeout: float = 180) -> str:
    """Run the system Chromium headless on ``page`` with ``args``; its standard output."""
    return subprocess.run(
        [
            chromium_binary(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={profile}",
            *args,
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        text=True,
        timeout=timeout,
    ).stdout


def assert_same_ledger(a: Any, b: Any) -> None:
    """Two ledgers identical: every column (NaN where NaN), the leads, terms, stages and
    team levels, and the run's meta."""
    assert a.columns.keys() == b.columns.keys()
    for name in a.columns:
        np.testing.assert_array_equal(a.columns[name], b.columns[name], err_msg=name)
    pd.testing.assert_frame_equal(a.leads, b.leads)
    pd.testing.assert_frame_equal(a.terms, b.terms)
    pd.testing.assert_frame_equal(a.stages, b.stages)
    pd.testing.assert_frame_equal(a.team_levels, b.team_levels)
    assert a.meta == b.meta
