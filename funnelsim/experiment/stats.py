"""Confidence intervals over independent replications (Student t).

The t quantile comes from ``scipy.special.stdtrit`` (the same numbers as
``scipy.stats.t.ppf``) so that importing this module never loads ``scipy.stats``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import special

CONFIDENCE = 0.95


def t_interval(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and the Student-t confidence interval of independent replication values.

    NaN values (a metric undefined in one replication) are left out; fewer than two
    values give a NaN interval, never a pretend one.
    """
    data = np.asarray(values, dtype=float)
    data = data[~np.isnan(data)]
    if len(data) == 0:
        return np.nan, np.nan, np.nan
    mean = float(data.mean())
    if len(data) < 2:
        return mean, np.nan, np.nan
    half = float(special.stdtrit(len(data) - 1, 0.5 + confidence / 2) * data.std(ddof=1))
    half /= np.sqrt(len(data))
    return mean, mean - half, mean + half


def summarise(
    frame: pd.DataFrame, by: list[str], value: str, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Mean and CI of ``value`` per group of ``by`` over the ``replication`` column.

    Groups in order of first appearance (rows with a missing key left out), as
    ``groupby(by, sort=False)`` gives them, each group's values split off one array
    rather than a frame made per group.
    """
    numbers = frame.groupby(by, sort=False, observed=True).ngroup().to_numpy(dtype=float)
    kept = np.flatnonzero(numbers >= 0)  # a missing key: NaN (or -1)
    codes = numbers[kept].astype(np.int64)
    order = kept[np.argsort(codes, kind="stable")]
    sizes = np.bincount(codes) if len(kept) else np.zeros(0, dtype=np.int64)
    firsts = order[np.concatenate([[0], np.cumsum(sizes)[:-1]])] if len(sizes) else order
    keys = [frame[name].iloc[firsts].tolist() for name in by]
    values = frame[value].to_numpy(dtype=float)
    rows = []
    parts = np.split(values[order], np.cumsum(sizes)[:-1]) if len(sizes) else []
    for index, part in enumerate(parts):
        mean, low, high = t_interval(part, confidence)
        rows.append(
            {
                **{name: column[index] for name, column in zip(by, keys, strict=True)},
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "replications": int((~np.isnan(part)).sum()),
            }
        )
    return pd.DataFrame(rows)


def paired_difference(
    baseline: np.ndarray, variant: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Mean of variant - baseline per replication and its t interval (common random numbers)."""
    return t_interval(np.asarray(variant, float) - np.asarray(baseline, float), confidence)


def unpaired_difference(
    baseline: np.ndarray, variant: np.ndarray, confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """Difference of means with a Welch interval, as if the runs were independent."""
    a = np.asarray(baseline, float)
    b = np.asarray(variant, float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) < 2 or len(b) < 2:
        return float(b.mean() - a.mean()) if len(a) and len(b) else np.nan, np.nan, np.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(b.mean() - a.mean())
    se = np.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(special.stdtrit(dof, 0.5 + confidence / 2) * se)
    return diff, diff - half, diff + half


# Differences whose spread is below this share of the values compared are rounding, not
# variation: a cost the variant adds in every replication differs by a few ulps per run.
ROUNDING_SHARE = 1e-9


def narrowing(
    baseline: np.ndarray,
    variant: np.ndarray,
    paired: tuple[float, float],
    unpaired: tuple[float, float],
) -> float:
    """How many times narrower the paired interval is than the unpaired one.

    NaN when the paired interval has no width beyond floating-point rounding (the same
    difference in every replication): a ratio to rounding noise would print as a huge,
    meaningless number.
    """
    paired_half = (paired[1] - paired[0]) / 2
    unpaired_half = (unpaired[1] - unpaired[0]) / 2
    values = np.abs(np.concatenate([np.asarray(baseline, float), np.asarray(variant, float)]))
    values = values[~np.isnan(values)]
    scale = float(values.max()) if len(values) else 0.0
    if not paired_half > ROUNDING_SHARE * scale:
        return np.nan
    return float(unpaired_half / paired_half)
