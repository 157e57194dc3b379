"""Calibration: fit free scenario parameters so that summary metrics hit targets (no I/O).

Targets name summary leaves by dotted path (``usage_ratio_vs_gpu.trainium.2023``); free
parameters name scenario fields by dotted path (``adoption.stack_preference.neuron.training``)
with bounds. Every evaluation runs the same replication seeds (common random numbers), so the
objective changes only because the parameters do. Runs stop at the end of the last target year,
which is all a target can depend on. The objective is the sum of squared log residuals
(relative errors, symmetric in over- and undershoot), minimised by scipy's bounded
Nelder-Mead, which needs no gradients: the simulated metrics are step functions of the
parameters because customers make discrete choices.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize

from sim.accounting.runner import mean_summary, run_one
from sim.errors import UserError
from sim.model.rng import replication_seeds
from sim.model.schema import Scenario
from sim.scenario import LoadedScenario, substitute
from sim.scenario.paths import dotted, split_path, value_at

RELATIVE_FLOOR = 0.01  # a metric of 0 counts as 1% of its target in the log residual


@dataclass(frozen=True)
class FreeParameter:
    """A scenario field to fit, its bounds and starting value."""

    path: str
    low: float
    high: float
    start: float


@dataclass
class CalibrationResult:
    """The fit: parameter values, achieved metrics and relative residuals."""

    values: dict[str, float]
    achieved: dict[str, float]
    targets: dict[str, float]
    residuals: dict[str, float]
    evaluations: int
    replications: int
    seed: int
    success: bool
    history: list[tuple[dict[str, float], dict[str, float], float]] = field(default_factory=list)

    @property
    def max_relative_error(self) -> float:
        """Largest |achieved / target - 1| over the targets."""
        return max(abs(r) for r in self.residuals.values()) if self.residuals else 0.0


def get_path(data: Mapping[str, Any], path: str) -> Any:
    """Value at a dotted path of nested mappings (KeyError naming the path if absent)."""
    missing = object()
    value = value_at(data, path, missing)
    if value is missing:
        raise KeyError(path)
    return value


def truncated(loaded: LoadedScenario, targets: Mapping[str, float]) -> LoadedScenario:
    """The scenario ending at the close of the last year any target names (if earlier)."""
    scenario = loaded.scenario
    parts = [str(p) for path in targets for p in split_path(path)]
    years = [int(p) for p in parts if p.isdigit() and len(p) == 4]
    if not years:
        return loaded
    end = dt.date(max(years) + 1, 1, 1)
    if end >= scenario.horizon.end or end <= scenario.horizon.start:
        return loaded
    days = (end - scenario.horizon.start).days
    if scenario.horizon.warmup_days >= days:
        raise UserError(
            f"the calibration horizon, cut at the end of {max(years)}, is {days} days: "
            f"not longer than the warm-up of {scenario.horizon.warmup_days:g} days",
            file="--target",
            key="horizon.warmup_days",
            hint="shorten the warm-up or target a later year",
        )
    values: dict[str, Any] = {"horizon.end": end}
    for pid, pool in scenario.provider.pools.items():
        kept = [d for d in pool.deliveries if d.date < end]
        if len(kept) < len(pool.deliveries):
            path = dotted(("provider", "pools", pid, "deliveries"))
            values[path] = [d.model_dump() for d in kept]
    return substitute(loaded, values)


def evaluate(scenario: Scenario, targets: Sequence[str], seeds: Sequence[int]) -> dict[str, float]:
    """Mean over replications of each target metric."""
    summaries = [run_one(scenario, s).summary for s in seeds]
    mean = mean_summary(summaries) if len(summaries) > 1 else summaries[0]
    out = {}
    for t in targets:
        v = get_path(mean, t)
        out[t] = float(v) if isinstance(v, int | float) else 0.0
    return out


def log_residuals(achieved: Mapping[str, float], targets: Mapping[str, float]) -> np.ndarray:
    """log((achieved + floor) / (target + floor)) per target, floor = 1% of the target."""
    res = []
    for k, target in targets.items():
        floor = RELATIVE_FLOOR * abs(target) if target else RELATIVE_FLOOR
        res.append(math.log((max(achieved[k], 0.0) + floor) / (abs(target) + floor)))
    return np.asarray(res)


def calibrate(
    loaded: LoadedScenario,
    targets: Mapping[str, float],
    free: Sequence[FreeParameter],
    *,
    replications: int,
    seed: int,
    max_evaluations: int = 60,
    tolerance: float = 0.05,
    progress: Callable[[int, dict[str, float], dict[str, float], float], None] | None = None,
) -> CalibrationResult:
    """Fit `free` so the replication-mean metrics match `targets`.

    Stops when every relative error is within `tolerance` or after `max_evaluations`.
    """
    if not targets:
        raise ValueError("calibration needs at least one target")
    if not free:
        raise ValueError("calibration needs at least one free parameter")
    base = truncated(loaded, targets)
    seeds = replication_seeds(seed, replications)
    names = list(targets)
    history: list[tuple[dict[str, float], dict[str, float], float]] = []
    best: dict[str, Any] = {"loss": math.inf}

    class _DoneError(Exception):
        """Stops the optimiser once the fit is good enough or the budget is spent."""

    def loss(x: np.ndarray) -> float:
        values = {p.path: float(v) for p, v in zip(free, x, strict=True)}
        achieved = evaluate(substitute(base, values).scenario, names, seeds)
        r = log_residuals(achieved, targets)
        value = float(np.sum(r * r))
        history.append((values, achieved, value))
        if progress is not None:
            progress(len(history), values, achieved, value)
        if value < best["loss"]:
            best.update(loss=value, values=values, achieved=achieved)
        rel = [achieved[k] / targets[k] - 1.0 if targets[k] else achieved[k] for k in names]
        if all(abs(v) <= tolerance for v in rel):
            raise _DoneError
        if len(history) >= max_evaluations:
            raise _DoneError
        return value

    # Restarted Nelder-Mead: the objective has plateaus (discrete choices), on which a
    # simplex collapses; each restart begins at the best point with a simplex half as large.
    scale = 0.25
    x_best = np.array([p.start for p in free])
    while len(history) < max_evaluations:
        simplex = [x_best]
        for i, p in enumerate(free):
            step = np.zeros(len(free))
            delta = (p.high - p.low) * scale
            step[i] = delta if x_best[i] + delta <= p.high else -delta
            simplex.append(x_best + step)
        before = len(history)
        with contextlib.suppress(_DoneError):
            optimize.minimize(
                loss,
                x_best,
                method="Nelder-Mead",
                bounds=[(p.low, p.high) for p in free],
                options={"initial_simplex": np.array(simplex), "xatol": 1e-3, "fatol": 1e-9},
            )
        x_best = np.array([best["values"][p.path] for p in free])
        rel = [best["achieved"][k] / targets[k] - 1.0 if targets[k] else 0.0 for k in names]
        if all(abs(v) <= tolerance for v in rel) or len(history) == before:
            break
        scale /= 2.0
    achieved = best["achieved"]
    residuals = {k: (achieved[k] / targets[k] - 1.0) if targets[k] else achieved[k] for k in names}
    return CalibrationResult(
        values=dict(best["values"]),
        achieved=dict(achieved),
        targets=dict(targets),
        residuals=residuals,
        evaluations=len(history),
        replications=replications,
        seed=seed,
        success=all(abs(v) <= tolerance for v in residuals.values()),
        history=history,
    )
