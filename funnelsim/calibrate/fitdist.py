"""Censored maximum-likelihood fits of a duration or value: the family with the lowest AIC.

Families: lognormal, gamma, Weibull, exponential (scipy.stats, location 0). Events
contribute their log density, censored records their log survival; with a cure fraction
(a stage not everyone passes) a censored record contributes log(1 - p + p S(c)). Small
samples fall back to the empirical distribution of the observed values.

Tied values are fitted once with their count as weight (exports have day resolution, so
this is exact and keeps the cost per likelihood evaluation to the distinct values); more
than MAX_POINTS distinct values are represented by MAX_POINTS evenly spaced order
statistics, each weighing its share of the records (deterministic, bounded work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

MIN_PARAMETRIC = 30
FAMILIES = ("lognormal", "gamma", "weibull", "exponential")
_Z90 = float(special.ndtri(0.9))
MAX_EMPIRICAL = 200
MAX_POINTS = 4000


@dataclass(frozen=True)
class DistFit:
    """One fitted distribution: the chosen family, its scenario spec and the evidence."""

    family: str
    spec: dict[str, object]
    n_events: int
    n_censored: int
    aic: dict[str, float] = field(default_factory=dict)
    frozen: object | None = None
    events: np.ndarray = field(default_factory=lambda: np.empty(0))
    censored: np.ndarray = field(default_factory=lambda: np.empty(0))
    cure: float = 1.0
    note: str = ""

    @property
    def median(self) -> float:
        """The fitted median (the sample median for the empirical fallback)."""
        if self.frozen is None:
            return float(np.median(self.events)) if len(self.events) else float("nan")
        return float(self.frozen.ppf(0.5))

    def sf(self, x: np.ndarray) -> np.ndarray:
        """Fitted survival (empirical for the fallback)."""
        if self.frozen is None:
            return 1.0 - np.searchsorted(np.sort(self.events), x, side="right") / len(self.events)
        return self.frozen.sf(x)

    def ppf(self, q: np.ndarray) -> np.ndarray:
        """Fitted quantiles (empirical quantiles for the fallback)."""
        if self.frozen is None:
            return np.quantile(self.events, q)
        return self.frozen.ppf(q)


def _frozen(family: str, theta: np.ndarray):
    if family == "lognormal":
        return stats.lognorm(s=math.exp(theta[0]), scale=math.exp(theta[1]))
    if family == "gamma":
        return stats.gamma(a=math.exp(theta[0]), scale=math.exp(theta[1]))
    if family == "weibull":
        return stats.weibull_min(c=math.exp(theta[0]), scale=math.exp(theta[1]))
    return stats.expon(scale=math.exp(theta[0]))


def _start(family: str, x: np.ndarray, w: np.ndarray) -> np.ndarray:
    logs = np.log(x)
    mean = float(np.average(x, weights=w))
    if family == "lognormal":
        log_mean = float(np.average(logs, weights=w))
        log_sd = math.sqrt(float(np.average((logs - log_mean) ** 2, weights=w)))
        return np.array([math.log(max(log_sd, 0.05)), log_mean])
    if family == "exponential":
        return np.array([math.log(mean)])
    cv2 = max(float(np.average((x - mean) ** 2, weights=w)) / mean**2, 1e-3)
    if family == "gamma":
        shape = 1.0 / cv2
        return np.array([math.log(shape), math.log(mean / shape)])
    return np.array([math.log(max(cv2**-0.5, 0.1)), math.log(mean)])


def _log_pdf_sf(family: str, theta: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log density and log survival at ``x`` (closed forms: much faster than frozen scipy)."""
    logx = np.log(x)
    if family == "lognormal":
        sigma, mu = math.exp(theta[0]), theta[1]
        z = (logx - mu) / sigma
        return -logx - theta[0] - 0.5 * math.log(2 * math.pi) - 0.5 * z * z, special.log_ndtr(-z)
    if family == "gamma":
        shape, scale = math.exp(theta[0]), math.exp(theta[1])
        logpdf = (shape - 1) * logx - x / scale - special.gammaln(shape) - shape * theta[1]
        with np.errstate(divide="ignore"):
            return logpdf, np.log(special.gammaincc(shape, x / scale))
    if family == "weibull":
        shape = math.exp(theta[0])
        zc = np.exp(shape * (logx - theta[1]))
        return theta[0] - theta[1] + (shape - 1) * (logx - theta[1]) - zc, -zc
    scale = math.exp(theta[0])
    return -theta[0] - x / scale, -x / scale


@dataclass(frozen=True)
class _Weighted:
    """Distinct event values, censored ages with their cure shares, and the records' weights."""

    events: np.ndarray
    event_weights: np.ndarray
    censored: np.ndarray
    cure: np.ndarray
    censored_weights: np.ndarray


def _compress(values: np.ndarray, cure: np.ndarray | None = None):
    """Distinct values with counts (and the mean cure share of each), or MAX_POINTS evenly
    spaced order statistics weighing n / MAX_POINTS each when there are more."""
    if cure is None:
        cure = np.ones(len(values))
    inverse, unique = pd.factorize(values, sort=True)
    if len(unique) <= MAX_POINTS:
        counts = np.bincount(inverse, minlength=len(unique)).astype(float)
        return np.asarray(unique, dtype=float), np.bincount(inverse, cure) / counts, counts
    order = np.argsort(values, kind="stable")
    ranks = ((np.arange(MAX_POINTS) + 0.5) * len(values) / MAX_POINTS).astype(int)
    picked = order[ranks]
    return values[picked], cure[picked], np.full(MAX_POINTS, len(values) / MAX_POINTS)


def _negloglik(theta: np.ndarray, family: str, data: _Weighted) -> float:
    if np.any(np.abs(theta) > 50):
        return 1e300
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        total = float(np.dot(data.event_weights, _log_pdf_sf(family, theta, data.events)[0]))
        if len(data.censored):
            logsf = _log_pdf_sf(family, theta, data.censored)[1]
            cure = data.cure
            if np.all(cure >= 1.0):
                total += float(np.dot(data.censored_weights, logsf))
            else:
                mixed = np.log(1.0 - cure + cure * np.exp(logsf))
                total += float(np.dot(data.censored_weights, mixed))
    return -total if np.isfinite(total) else 1e300


def fit_duration(
    events: np.ndarray,
    censored: np.ndarray | None = None,
    cure: float | np.ndarray = 1.0,
    families: tuple[str, ...] = FAMILIES,
    min_parametric: int = MIN_PARAMETRIC,
    floor: float = 0.5,
) -> DistFit:
    """Fit observed values (``events``) with right-censored ages (``censored``) by AIC.

    Values below ``floor`` (e.g. same-day closes in date-only data) are set to ``floor``.
    ``cure`` is the share that ever converts, from Kaplan-Meier; only censored records
    that may still convert weigh on the fitted shape. It may be one value per censored
    record (the chance that this record, still open at its age, will still convert).
    """
    events = np.maximum(np.asarray(events, dtype=float), floor)
    censored = np.asarray(censored if censored is not None else [], dtype=float)
    keep = np.isfinite(censored)
    if np.ndim(cure):
        cure = np.clip(np.broadcast_to(np.asarray(cure, dtype=float), censored.shape)[keep], 0, 1)
    censored = np.maximum(censored[keep], floor)
    if len(events) < min_parametric:
        return _empirical(events, censored)
    cure_each = np.broadcast_to(np.asarray(cure, dtype=float), censored.shape)
    event_values, _, event_weights = _compress(events)
    data = _Weighted(event_values, event_weights, *_compress(censored, cure_each))
    aics: dict[str, float] = {}
    fits = {}
    for family in families:
        theta0 = _start(family, event_values, event_weights)
        result = optimize.minimize(
            _negloglik,
            theta0,
            args=(family, data),
            method="Nelder-Mead",
            options={"xatol": 1e-6, "fatol": 1e-6, "maxiter": 800},
        )
        if not np.isfinite(result.fun) or result.fun >= 1e299:
            continue
        aics[family] = 2 * len(theta0) + 2 * float(result.fun)
        fits[family] = result.x
    if not aics:
        return _empirical(events, censored)
    best = min(aics, key=aics.get)
    frozen = _frozen(best, fits[best])
    return DistFit(
        family=best,
        spec=_spec(best, fits[best]),
        n_events=len(events),
        n_censored=len(censored),
        aic={k: round(v, 1) for k, v in aics.items()},
        frozen=frozen,
        events=events,
        censored=censored,
        cure=float(np.mean(cure)) if np.ndim(cure) else float(cure),
    )


def _empirical(events: np.ndarray, censored: np.ndarray) -> DistFit:
    if len(events) == 0:
        raise ValueError("no observed values to fit")
    values = np.sort(events)
    if len(values) > MAX_EMPIRICAL:
        values = np.quantile(values, (np.arange(MAX_EMPIRICAL) + 0.5) / MAX_EMPIRICAL)
    spec = {"dist": "empirical", "samples": [_round(v) for v in values]}
    return DistFit("empirical", spec, len(events), len(censored), {}, None, events, censored)


def _round(value: float, digits: int = 4) -> float:
    """Round to ``digits`` significant digits (readable YAML)."""
    if value == 0 or not np.isfinite(value):
        return float(value)
    return float(round(value, digits - 1 - math.floor(math.log10(abs(value)))))


def _spec(family: str, theta: np.ndarray) -> dict[str, object]:
    """The scenario's parameterisation of a fitted family."""
    if family == "lognormal":
        sigma, mu = math.exp(theta[0]), theta[1]
        return {
            "dist": "lognormal",
            "median": _round(math.exp(mu)),
            "p90": _round(math.exp(mu + _Z90 * max(sigma, 1e-3))),
        }
    if family == "gamma":
        shape, scale = math.exp(theta[0]), math.exp(theta[1])
        return {
            "dist": "gamma",
            "mean": _round(shape * scale),
            "sd": _round(math.sqrt(shape) * scale),
        }
    if family == "weibull":
        return {
            "dist": "weibull",
            "shape": _round(math.exp(theta[0])),
            "scale": _round(math.exp(theta[1])),
        }
    return {"dist": "exponential", "mean": _round(math.exp(theta[0]))}


def scale_spec(spec: dict[str, object], factor: float) -> dict[str, object]:
    """The same distribution in other units (e.g. days to hours)."""
    out = dict(spec)
    for key in ("median", "p90", "mean", "sd", "scale"):
        if key in out:
            out[key] = _round(float(out[key]) * factor)
    if "samples" in out:
        out["samples"] = [_round(float(v) * factor) for v in out["samples"]]
    return out
