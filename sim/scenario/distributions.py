"""Uncertain numbers in scenarios: ``{dist: triangular, low: 1, mode: 2, high: 4}`` and friends.

A scenario may give any number as a distribution instead of a value. A plain load replaces
it by its :meth:`central` value (and records it in ``LoadedScenario.distributions``), so a
scenario with distributions still runs deterministically. Sampling is the caller's business:
it draws uniform numbers ``u`` from its own seeded generator and maps them through
:meth:`ppf` (inverse CDF), so that every source of randomness stays explicit (no global
random state) and Latin-hypercube or Sobol designs work unchanged (see
:func:`sim.experiments.design.sample_values`).

>>> d = Triangular(dist="triangular", low=1.0, mode=2.0, high=4.0)
>>> d.central()
2.0
>>> d.bounds()
(1.0, 4.0)
>>> d.ppf(np.array([0.0, 1.0])).tolist()
[1.0, 4.0]
>>> Choice(dist="choice", values=["fifo", "backfill"], weights=[0.2, 0.8]).central()
'backfill'
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, model_validator

Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
FloatArray = npt.NDArray[np.float64]

#: Tail probabilities used as the swing of unbounded distributions in tornado plots.
TAIL = 0.05


class BaseDistribution(BaseModel):
    """Common base of the distributions: immutable, unknown keys rejected, optional source
    and note."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    source: str = Field(default="", description="Where the range comes from.")
    note: str = Field(default="", description="Why this range.")

    def _frozen(self) -> Any:  # pragma: no cover - overridden
        raise NotImplementedError

    def central(self) -> Any:
        """The value a deterministic run uses."""
        raise NotImplementedError  # pragma: no cover

    def ppf(self, u: npt.ArrayLike) -> npt.NDArray[Any]:
        """Inverse CDF: maps uniform numbers in [0, 1] to values of this distribution."""
        q = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        return np.asarray(self._frozen().ppf(q), dtype=float)

    def bounds(self) -> tuple[Any, Any]:
        """Low and high swing for a tornado plot: the support, or the 5th/95th percentiles."""
        lo, hi = self.ppf(np.array([TAIL, 1.0 - TAIL]))
        return float(lo), float(hi)


class Triangular(BaseDistribution):
    """Triangular distribution between ``low`` and ``high`` peaking at ``mode``."""

    dist: Literal["triangular"]
    low: Finite
    mode: Finite
    high: Finite

    @model_validator(mode="after")
    def _ordered(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(
                f"needs low <= mode <= high and low < high, found low={self.low:g}, "
                f"mode={self.mode:g}, high={self.high:g}"
            )
        return self

    def _frozen(self) -> Any:
        from scipy import stats  # imported late: scipy is slow to import

        width = self.high - self.low
        return stats.triang(c=(self.mode - self.low) / width, loc=self.low, scale=width)

    def central(self) -> float:
        return self.mode

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high


class Uniform(BaseDistribution):
    """Uniform distribution on [low, high]."""

    dist: Literal["uniform"]
    low: Finite
    high: Finite

    @model_validator(mode="after")
    def _ordered(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError(f"needs low < high, found low={self.low:g}, high={self.high:g}")
        return self

    def _frozen(self) -> Any:
        from scipy import stats  # imported late: scipy is slow to import

        return stats.uniform(loc=self.low, scale=self.high - self.low)

    def central(self) -> float:
        return (self.low + self.high) / 2.0

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high


class Normal(BaseDistribution):
    """Normal distribution, truncated to [low, high] when bounds are given."""

    dist: Literal["normal"]
    mean: Finite
    sd: Positive
    low: Finite | None = None
    high: Finite | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Normal:
        lo = -math.inf if self.low is None else self.low
        hi = math.inf if self.high is None else self.high
        if not (lo <= self.mean <= hi and lo < hi):
            raise ValueError(
                f"needs low <= mean <= high, found low={lo:g}, mean={self.mean:g}, high={hi:g}"
            )
        return self

    def _frozen(self) -> Any:
        from scipy import stats  # imported late: scipy is slow to import

        if self.low is None and self.high is None:
            return stats.norm(loc=self.mean, scale=self.sd)
        a = -np.inf if self.low is None else (self.low - self.mean) / self.sd
        b = np.inf if self.high is None else (self.high - self.mean) / self.sd
        return stats.truncnorm(a, b, loc=self.mean, scale=self.sd)

    def central(self) -> float:
        return self.mean

    def bounds(self) -> tuple[float, float]:
        lo, hi = super().bounds()
        return (
            lo if self.low is None else self.low,
            hi if self.high is None else self.high,
        )


class LogNormal(BaseDistribution):
    """Log-normal distribution given by its median and the sd of its logarithm."""

    dist: Literal["lognormal"]
    median: Positive
    sigma: Positive

    def _frozen(self) -> Any:
        from scipy import stats  # imported late: scipy is slow to import

        return stats.lognorm(s=self.sigma, scale=self.median)

    def central(self) -> float:
        return self.median


class Beta(BaseDistribution):
    """Beta distribution rescaled from [0, 1] to [low, high]."""

    dist: Literal["beta"]
    alpha: Positive
    beta: Positive
    low: Finite
    high: Finite

    @model_validator(mode="after")
    def _ordered(self) -> Beta:
        if not self.low < self.high:
            raise ValueError(f"needs low < high, found low={self.low:g}, high={self.high:g}")
        return self

    def _frozen(self) -> Any:
        from scipy import stats  # imported late: scipy is slow to import

        return stats.beta(self.alpha, self.beta, loc=self.low, scale=self.high - self.low)

    def central(self) -> float:
        return self.low + (self.high - self.low) * self.alpha / (self.alpha + self.beta)

    def bounds(self) -> tuple[float, float]:
        return self.low, self.high


class Choice(BaseDistribution):
    """A discrete choice among values (numbers or words), optionally weighted."""

    dist: Literal["choice"]
    values: list[Any] = Field(min_length=1, max_length=10_000)
    weights: list[Annotated[float, Field(ge=0, allow_inf_nan=False)]] | None = None

    @model_validator(mode="after")
    def _weights(self) -> Choice:
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(
                    f"needs one weight per value: {len(self.values)} values, "
                    f"found {len(self.weights)} weights"
                )
            if sum(self.weights) <= 0:
                raise ValueError("weights sum to zero")
        return self

    def _probabilities(self) -> FloatArray:
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights)
        return np.asarray(w / w.sum(), dtype=np.float64)

    def central(self) -> Any:
        if self.weights is None:
            return self.values[0]
        return self.values[int(np.argmax(self.weights))]  # first of equal maxima

    def ppf(self, u: npt.ArrayLike) -> npt.NDArray[Any]:
        q = np.clip(np.asarray(u, dtype=float), 0.0, 1.0)
        cum = np.cumsum(self._probabilities())
        idx = np.minimum(np.searchsorted(cum, q, side="right"), len(self.values) - 1)
        table = np.empty(len(self.values), dtype=object)
        table[:] = self.values
        if all(_is_number(v) for v in self.values):
            table = np.asarray(self.values, dtype=float)
        result: npt.NDArray[Any] = table[idx]
        return result

    def bounds(self) -> tuple[Any, Any]:
        if all(_is_number(v) for v in self.values):
            return min(self.values), max(self.values)
        return self.values[0], self.values[-1]


Distribution = Annotated[
    Triangular | Uniform | Normal | LogNormal | Beta | Choice, Field(discriminator="dist")
]
DISTRIBUTIONS: dict[str, type[BaseDistribution]] = {
    "triangular": Triangular,
    "uniform": Uniform,
    "normal": Normal,
    "lognormal": LogNormal,
    "beta": Beta,
    "choice": Choice,
}
"""Every distribution by the name its ``dist:`` key gives."""
DISTRIBUTION_ADAPTER: TypeAdapter[Triangular | Uniform | Normal | LogNormal | Beta | Choice] = (
    TypeAdapter(Distribution)
)


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def parse_distribution(
    data: Mapping[str, Any],
) -> Triangular | Uniform | Normal | LogNormal | Beta | Choice:
    """Validate a ``{dist: ...}`` mapping; raises pydantic's ``ValidationError``."""
    return DISTRIBUTION_ADAPTER.validate_python(dict(data))
