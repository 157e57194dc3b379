"""Comparative statics: does a lever move an outcome the way the mechanism says it should?

A *lever* (``sim/data/levers.yaml``) changes one or more scenario values (a new value, or
``x3`` for three times the current one), names a summary metric and the direction the
mechanism predicts. The base and the changed scenario run on the same seeds (common random
numbers), so every random draw that the change does not affect is shared; the effect is the
mean of the per-seed differences with its 95% Student-t interval
(:func:`sim.model.statistics.paired_interval`). A lever passes when the whole interval lies
on the predicted side of zero: a lever whose interval straddles zero moves nothing
measurable, which is a bug or a finding, never a pass.

The seeds come from :data:`STATICS_SEED`, a root used by nothing that fits the model, so
these checks hold on seeds that no calibration has seen.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from sim.accounting.runner import run_replications
from sim.experiments.calibration import cut_horizon
from sim.model.rng import replication_seeds
from sim.model.statistics import Interval, paired_interval
from sim.scenario import LoadedScenario, substitute
from sim.scenario.paths import value_at

__all__ = [
    "STATICS_SEED",
    "Effect",
    "Lever",
    "lever_values",
    "levers",
    "measure",
    "measure_all",
    "metric_value",
]

#: Root seed of the comparative-statics replications: never used to fit anything (the
#: calibration records its own seeds), so the levers are checked on unseen seeds.
STATICS_SEED = 314159265

_MULTIPLIER = re.compile(r"^x(\d+(?:\.\d+)?)$")


class Lever(BaseModel):
    """One comparative-statics check, as declared in ``sim/data/levers.yaml``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="What is changed and what should follow, in words.")
    mechanism: str = Field(description="The article mechanism it tests (friction, energy ...).")
    changes: dict[str, Any] = Field(description="Dotted path -> new value, or 'xK' for K times.")
    base: dict[str, Any] = Field(
        default_factory=dict,
        description="Values set in both the base and the variant: the setting the lever is "
        "measured in (a pricing policy, say), as changes are written.",
    )
    metric: str = Field(description="Dotted summary key whose change is measured.")
    expect: Literal["increase", "decrease"] = Field(description="Predicted sign of the change.")
    horizon_end: dt.date | None = Field(
        default=None, description="Cut the horizon here (a metric of an earlier year needs less)."
    )
    replications: int = Field(default=8, ge=2, description="Paired replications (full mode).")
    reduced_replications: int = Field(default=4, ge=2, description="Replications in CI.")
    source: str = Field(default="", description="Where the predicted direction comes from.")


class _LeverFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    levers: list[Lever]


@cache
def levers() -> tuple[Lever, ...]:
    """The shipped levers, validated."""
    text = (resources.files("sim") / "data" / "levers.yaml").read_text(encoding="utf-8")
    return tuple(_LeverFile.model_validate(yaml.safe_load(text)).levers)


def lever_values(
    loaded: LoadedScenario, lever: Lever, changes: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The lever's changes (or ``changes``, written alike) as values for
    :func:`sim.scenario.substitute` (``xK`` resolved against the scenario's current value)."""
    out: dict[str, Any] = {}
    for path, value in (lever.changes if changes is None else changes).items():
        m = _MULTIPLIER.match(value) if isinstance(value, str) else None
        if m is None:
            out[path] = value
            continue
        current = value_at(loaded.data, path)
        if not isinstance(current, int | float) or isinstance(current, bool):
            raise ValueError(f"lever {lever.name!r}: {path} is not a number ({current!r})")
        out[path] = current * float(m.group(1))
    return out


def metric_value(summary: Mapping[str, Any], dotted: str) -> float | None:
    """A numeric summary leaf by dotted key (None when absent or not a number)."""
    node = value_at(summary, dotted)
    if isinstance(node, bool) or not isinstance(node, int | float):
        return None
    return float(node)


@dataclass(frozen=True)
class Effect:
    """A lever's measured effect: base and variant means and the paired difference."""

    lever: Lever
    base_mean: float
    variant_mean: float
    difference: Interval

    @property
    def relative(self) -> float | None:
        """The mean difference relative to the base mean (None when the base is 0)."""
        return self.difference.mean / abs(self.base_mean) if self.base_mean else None

    @property
    def passed(self) -> bool:
        """The whole interval lies on the predicted side of zero."""
        d = self.difference
        if not d.excludes_zero():
            return False
        return (d.mean > 0) == (self.lever.expect == "increase")


def measure(
    loaded: LoadedScenario,
    lever: Lever,
    *,
    reduced: bool = False,
    workers: int | None = None,
    base_runs: Callable[[LoadedScenario, Sequence[int]], list[dict[str, Any]]] | None = None,
) -> Effect:
    """Run the base and the lever's variant of ``loaded`` on the same seeds; the effect.

    ``base_runs`` may supply the base summaries (to share them between levers that cut the
    horizon alike); by default the base is run here.
    """
    reps = lever.reduced_replications if reduced else lever.replications
    seeds = replication_seeds(STATICS_SEED, reps)
    base = loaded if lever.horizon_end is None else cut_horizon(loaded, lever.horizon_end)
    if lever.base:
        base = substitute(base, lever_values(base, lever, lever.base))
    variant = substitute(base, lever_values(base, lever))
    if base_runs is None:
        base_summaries = [a.summary for a in run_replications(base.scenario, seeds, workers)]
    else:
        base_summaries = base_runs(base, seeds)
    var_summaries = [a.summary for a in run_replications(variant.scenario, seeds, workers)]
    b = [metric_value(s, lever.metric) for s in base_summaries]
    v = [metric_value(s, lever.metric) for s in var_summaries]
    diff = paired_interval(b, v)
    b_vals = [x for x in b if x is not None]
    v_vals = [x for x in v if x is not None]
    return Effect(
        lever,
        sum(b_vals) / len(b_vals) if b_vals else float("nan"),
        sum(v_vals) / len(v_vals) if v_vals else float("nan"),
        diff,
    )


def measure_all(
    loaded: LoadedScenario, *, reduced: bool = False, workers: int | None = None
) -> Iterator[Effect]:
    """Every shipped lever on ``loaded``, the base runs shared between levers alike."""
    cache_: dict[tuple[Any, ...], list[dict[str, Any]]] = {}

    def base_runs(base: LoadedScenario, seeds: Sequence[int]) -> list[dict[str, Any]]:
        key = (base.scenario.model_dump_json(), tuple(seeds))
        if key not in cache_:
            cache_[key] = [a.summary for a in run_replications(base.scenario, seeds, workers)]
        return cache_[key]

    for lever in levers():
        yield measure(loaded, lever, reduced=reduced, workers=workers, base_runs=base_runs)
