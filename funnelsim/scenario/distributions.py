"""Distributions a scenario can name, each with an analytic mean and variance.

Every distribution is sampled through its inverse CDF (``ppf``) from uniforms the engine
draws per lead. That keeps draws coupled: the same lead sits at the same quantile of a
delay in a baseline and in a variant, which is what makes comparisons paired.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from scipy import special

from funnelsim.scenario.base import NonNegative, Number
from funnelsim.scenario.beta_quantile import beta_ppf

_Z90 = float(special.ndtri(0.9))
# Parameter ranges that keep every quantile and moment finite in float64.
MAX_LOGNORMAL_SPREAD = 1e4  # p90 / median
MAX_GAMMA_CV = 1e3  # sd / mean, and its inverse
MIN_WEIBULL_SHAPE = 0.05
# Halvings of [0, 1] that pin a quantile far below float64 resolution of a uniform.
BISECTION_STEPS = 52
# The largest probability the bisection can return: analytic CDFs are capped here too, so a
# remaining-time draw above a far-out value stays finite, as with the bisection.
MAX_CDF = 1.0 - 2.0**-BISECTION_STEPS


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """Inverse CDF evaluated at uniforms ``u`` in [0, 1)."""
        raise NotImplementedError

    def mean(self) -> float:
        raise NotImplementedError

    def variance(self) -> float:
        raise NotImplementedError

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` values from ``rng`` (through the inverse CDF)."""
        return self.ppf(rng.random(size))

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """P(X <= x): analytic where the distribution has a closed form, else bisection."""
        x = np.asarray(x, dtype=float)
        exact = self._exact_cdf(np.maximum(x, 0.0))
        if exact is not None:
            return np.clip(exact, 0.0, MAX_CDF)
        return self.bisected_cdf(x)

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray | None:
        """The closed-form CDF at non-negative ``x``, or None where there is none."""
        return None

    def bisected_cdf(self, x: np.ndarray) -> np.ndarray:
        """P(X <= x) by bisection on ``ppf``: works for every distribution."""
        x = np.asarray(x, dtype=float)
        low = np.zeros(x.shape)
        high = np.ones(x.shape)
        for _ in range(BISECTION_STEPS):
            middle = 0.5 * (low + high)
            below = self.ppf(middle) <= x
            low = np.where(below, middle, low)
            high = np.where(below, high, middle)
        return low

    def ppf_above(self, u: np.ndarray, above: np.ndarray) -> np.ndarray:
        """Inverse CDF of X given X > ``above``, at uniforms ``u`` (remaining-time draws)."""
        start = self.cdf(above)
        level = np.minimum(start + np.asarray(u) * (1.0 - start), MAX_CDF)
        return np.maximum(self.ppf(level), above)


class Fixed(_Dist):
    """A constant: every draw is ``value``."""

    dist: Literal["fixed"] = "fixed"
    value: NonNegative

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.full(np.shape(u), self.value, dtype=float)

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray:
        return (x >= self.value).astype(float)

    def mean(self) -> float:
        return self.value

    def variance(self) -> float:
        return 0.0


class Exponential(_Dist):
    """Exponential with the given mean (memoryless waits and work times)."""

    dist: Literal["exponential"] = "exponential"
    mean_: Number = Field(gt=0, alias="mean")

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return -self.mean_ * np.log1p(-np.asarray(u, dtype=float))

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-x / self.mean_)

    def mean(self) -> float:
        return self.mean_

    def variance(self) -> float:
        return self.mean_**2


class Lognormal(_Dist):
    """Lognormal given by its median and 90th percentile, the way people quote delays."""

    dist: Literal["lognormal"] = "lognormal"
    median: Number = Field(gt=0)
    p90: Number = Field(gt=0)

    @model_validator(mode="after")
    def _p90_above_median(self) -> Lognormal:
        if self.p90 <= self.median:
            raise ValueError(f"p90 ({self.p90}) must be greater than median ({self.median})")
        if self.p90 > MAX_LOGNORMAL_SPREAD * self.median:
            raise ValueError(
                f"p90 ({self.p90:g}) may be at most {MAX_LOGNORMAL_SPREAD:,.0f} times "
                f"the median ({self.median:g})"
            )
        return self

    @property
    def mu(self) -> float:
        return math.log(self.median)

    @property
    def sigma(self) -> float:
        return (math.log(self.p90) - math.log(self.median)) / _Z90

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return np.exp(self.mu + self.sigma * special.ndtri(np.asarray(u, dtype=float)))

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return special.ndtr((np.log(x) - self.mu) / self.sigma)

    def mean(self) -> float:
        return math.exp(self.mu + self.sigma**2 / 2)

    def variance(self) -> float:
        return (math.exp(self.sigma**2) - 1) * math.exp(2 * self.mu + self.sigma**2)


class Gamma(_Dist):
    """Gamma given by mean and standard deviation."""

    dist: Literal["gamma"] = "gamma"
    mean_: Number = Field(gt=0, alias="mean")
    sd: Number = Field(gt=0)

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )

    @model_validator(mode="after")
    def _sane_spread(self) -> Gamma:
        if not 1 / MAX_GAMMA_CV <= self.sd / self.mean_ <= MAX_GAMMA_CV:
            raise ValueError(
                f"sd ({self.sd:g}) must lie between mean/{MAX_GAMMA_CV:g} and "
                f"{MAX_GAMMA_CV:g} x mean (mean {self.mean_:g}; use dist: fixed for a constant)"
            )
        return self

    @property
    def shape(self) -> float:
        return (self.mean_ / self.sd) ** 2

    @property
    def scale(self) -> float:
        return self.sd**2 / self.mean_

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.scale * special.gammaincinv(self.shape, np.asarray(u, dtype=float))

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray:
        return special.gammainc(self.shape, x / self.scale)

    def mean(self) -> float:
        return self.mean_

    def variance(self) -> float:
        return self.sd**2


class Weibull(_Dist):
    """Weibull with ``shape`` k and ``scale`` lambda."""

    dist: Literal["weibull"] = "weibull"
    shape: Number = Field(ge=MIN_WEIBULL_SHAPE)
    scale: Number = Field(gt=0)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.scale * (-np.log1p(-np.asarray(u, dtype=float))) ** (1 / self.shape)

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray:
        return -np.expm1(-((x / self.scale) ** self.shape))

    def mean(self) -> float:
        return self.scale * math.gamma(1 + 1 / self.shape)

    def variance(self) -> float:
        g1 = math.gamma(1 + 1 / self.shape)
        g2 = math.gamma(1 + 2 / self.shape)
        return self.scale**2 * (g2 - g1**2)


class Triangular(_Dist):
    """Triangular on [low, high] with the given mode: a planner's three-point estimate."""

    dist: Literal["triangular"] = "triangular"
    low: NonNegative
    mode: NonNegative
    high: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high) or self.low == self.high:
            raise ValueError("expected low <= mode <= high with low < high")
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        u = np.asarray(u, dtype=float)
        a, c, b = self.low, self.mode, self.high
        cut = (c - a) / (b - a)
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1 - u) * (b - a) * (b - c))
        return np.where(u < cut, left, right)

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray:
        a, c, b = self.low, self.mode, self.high
        x = np.clip(x, a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            left = (x - a) ** 2 / ((b - a) * (c - a))
            right = 1.0 - (b - x) ** 2 / ((b - a) * (b - c))
        return np.where(x <= c, np.nan_to_num(left), np.nan_to_num(right, nan=1.0))

    def mean(self) -> float:
        return (self.low + self.mode + self.high) / 3

    def variance(self) -> float:
        a, c, b = self.low, self.mode, self.high
        return (a * a + b * b + c * c - a * b - a * c - b * c) / 18


class Beta(_Dist):
    """Beta(a, b) on [0, 1]: the usual shape for a lead's fit."""

    dist: Literal["beta"] = "beta"
    a: Number = Field(gt=0)
    b: Number = Field(gt=0)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        """``betaincinv`` to ~1e-15 at a third of its cost (``beta_quantile``)."""
        return beta_ppf(self.a, self.b, u)

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray:
        return special.betainc(self.a, self.b, np.minimum(x, 1.0))

    def mean(self) -> float:
        return self.a / (self.a + self.b)

    def variance(self) -> float:
        s = self.a + self.b
        return self.a * self.b / (s * s * (s + 1))


class Uniform(_Dist):
    """Uniform on [low, high] (non-negative, like every quantity a scenario draws)."""

    dist: Literal["uniform"] = "uniform"
    low: NonNegative
    high: NonNegative

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if self.high <= self.low:
            raise ValueError("expected low < high")
        return self

    def ppf(self, u: np.ndarray) -> np.ndarray:
        return self.low + (self.high - self.low) * np.asarray(u, dtype=float)

    def _exact_cdf(self, x: np.ndarray) -> np.ndarray:
        return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)

    def mean(self) -> float:
        return (self.low + self.high) / 2

    def variance(self) -> float:
        return (self.high - self.low) ** 2 / 12


class Empirical(_Dist):
    """Resample observed values (e.g. from a CRM export) with equal weight."""

    dist: Literal["empirical"] = "empirical"
    samples: tuple[NonNegative, ...] = Field(min_length=1)

    def ppf(self, u: np.ndarray) -> np.ndarray:
        ordered = np.sort(np.asarray(self.samples, dtype=float))
        index = np.minimum((np.asarray(u) * len(ordered)).astype(np.int64), len(ordered) - 1)
        return ordered[index]

    def mean(self) -> float:
        return float(np.mean(self.samples))

    def variance(self) -> float:
        return float(np.var(self.samples))


def _number_is_fixed(value: object) -> object:
    """Shorthand: a bare number where a distribution is expected means a fixed value."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"dist": "fixed", "value": value}
    return value


Distribution = Annotated[
    Fixed | Exponential | Lognormal | Gamma | Weibull | Triangular | Beta | Uniform | Empirical,
    Field(discriminator="dist"),
    BeforeValidator(_number_is_fixed),
]
