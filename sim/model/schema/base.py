"""Shared building blocks of the scenario schema: strict frozen models, bounded number types.

Every quantity names its unit (``_usd``, ``_w``, ``_hours``, ``_per_year`` ...). Models are
``extra="forbid"`` and strict, so a typo'd key or a wrong type is an error, never a silent
default. Building a model has no side effects.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Workload = Literal["training", "inference"]
WORKLOADS: tuple[Workload, ...] = ("training", "inference")
Family = Literal["nvidia_gpu", "amd_gpu", "trainium", "inferentia", "tpu", "maia"]
Vendor = Literal["nvidia", "amd", "aws", "google", "microsoft"]
MERCHANT_VENDORS: frozenset[str] = frozenset({"nvidia", "amd"})

# Bounds that reject absurd input (a fleet of 1e30 chips, a 1e9-year horizon) long before
# they could exhaust memory or time; they are sanity limits, not economic figures.
MAX_CHIPS = 100_000_000
MAX_USD = 1e15
MAX_REPLICATIONS = 10_000
#: Largest root seed (seeds run from 0 to 2**63 - 1). numpy's SeedSequence takes any
#: non-negative integer, but seeds are stored as signed 64-bit integers (runs.parquet's
#: ``seed``, result tables) and replication seeds are drawn below 2**63; a scenario's
#: ``seed`` and every ``--seed`` are checked against this one bound (re-exported by
#: :mod:`sim.model.rng`).
MAX_SEED = 2**63 - 1

NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
PosFraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Usd = Annotated[float, Field(ge=0, le=MAX_USD, allow_inf_nan=False)]
ChipCount = Annotated[int, Field(ge=0, le=MAX_CHIPS)]
GrowthPerYear = Annotated[float, Field(ge=-0.99, le=100, allow_inf_nan=False)]


class Frozen(BaseModel):
    """Base of every section: immutable, strict types, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True)


class CrossReferenceError(ValueError):
    """A cross-reference error that knows the key path it concerns."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message
