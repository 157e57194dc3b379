"""Validation: the model against outside facts that no calibration used (no I/O but the
shipped fact list and the scenarios it names).

Each fact in ``sim/data/validation.yaml`` names a scenario of the baseline's folder, a
summary metric, the fact and a band for its uncertainty. The scenario runs on seeds from
:data:`VALIDATION_SEED` (a root no fit or lever uses); the check passes when the mean over
replications falls in the band. Verification asks whether the code computes the model;
validation asks whether the model matches the world, so a failure here is a finding about
the model, reported with its error, never a reason to retune it to the fact.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from sim.accounting.runner import run_replications
from sim.experiments.calibration import cut_horizon
from sim.experiments.statics import metric_value
from sim.model.rng import replication_seeds
from sim.model.statistics import Interval, mean_interval
from sim.scenario import load_scenario

__all__ = ["VALIDATION_SEED", "Fact", "Validation", "facts", "validate_all"]

#: Root seed of the validation runs: used by no fit (calibration), held-out check
#: (:data:`sim.experiments.calibration.HOLDOUT_SEED`) or lever
#: (:data:`sim.experiments.statics.STATICS_SEED`).
VALIDATION_SEED = 271828182


class Fact(BaseModel):
    """One outside fact and the model metric checked against it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    scenario: str = Field(description="Scenario file in the baseline's folder.")
    metric: str = Field(description="Dotted summary key compared with the fact.")
    fact: float
    low: float
    high: float
    replications: int = Field(default=4, ge=2)
    reduced_replications: int = Field(default=2, ge=2)
    horizon_end: dt.date | None = None
    source: str
    note: str = ""


class _FactFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    facts: list[Fact]


@cache
def facts() -> tuple[Fact, ...]:
    """The shipped validation facts."""
    text = (resources.files("sim") / "data" / "validation.yaml").read_text(encoding="utf-8")
    return tuple(_FactFile.model_validate(yaml.safe_load(text)).facts)


@dataclass(frozen=True)
class Validation:
    """A fact and the model's value of its metric (mean and 95% interval over seeds)."""

    fact: Fact
    model: Interval
    problem: str = ""

    @property
    def passed(self) -> bool:
        """The model's mean lies in the fact's band."""
        m = self.model.mean
        return not self.problem and math.isfinite(m) and self.fact.low <= m <= self.fact.high


_RunsCache = dict[tuple[str, dt.date | None, int], list[Mapping[str, Any]]]
"""Summaries of a scenario's runs by (scenario file, horizon end, replications)."""


def validate(
    fact: Fact,
    folder: Path,
    *,
    reduced: bool = False,
    runs_cache: _RunsCache | None = None,
) -> Validation:
    """Run the fact's scenario on the validation seeds and measure its metric.

    Facts that name the same scenario, horizon and replication count share one set of runs
    through ``runs_cache``.
    """
    path = folder / fact.scenario
    if not path.is_file():
        return Validation(fact, mean_interval([math.nan]), f"{path} not found")
    reps = fact.reduced_replications if reduced else fact.replications
    key = (fact.scenario, fact.horizon_end, reps)
    summaries = None if runs_cache is None else runs_cache.get(key)
    if summaries is None:
        loaded = load_scenario(path)
        if fact.horizon_end is not None:
            loaded = cut_horizon(loaded, fact.horizon_end)
        runs = run_replications(loaded.scenario, replication_seeds(VALIDATION_SEED, reps), None)
        summaries = [r.summary for r in runs]
        if runs_cache is not None:
            runs_cache[key] = summaries
    values = [metric_value(s, fact.metric) for s in summaries]
    if any(v is None for v in values):
        return Validation(fact, mean_interval([math.nan]), f"{fact.metric} missing")
    return Validation(fact, mean_interval([float(v) for v in values if v is not None]))


def validate_all(baseline: Path, *, reduced: bool = False) -> Iterator[Validation]:
    """Every shipped fact, its scenario taken from the baseline's folder (facts on the same
    scenario and horizon share their runs)."""
    cache: _RunsCache = {}
    for fact in facts():
        yield validate(fact, baseline.parent, reduced=reduced, runs_cache=cache)
