"""Calibration: fit free scenario parameters so that summary metrics hit targets (no I/O).

Targets name summary leaves by dotted path (``usage_ratio_vs_gpu.trainium.2023``); free
parameters name scenario fields by dotted path (``adoption.friction_scale``) with bounds.
Every evaluation runs the same replication seeds (common random numbers), so the objective
changes only because the parameters do. Runs stop at the end of the last target year, which
is all a target can depend on. The objective is the sum of squared log residuals (relative
errors, symmetric in over- and undershoot), minimised by scipy's bounded Nelder-Mead, which
needs no gradients (under sampled decisions the metrics are step functions of the
parameters).

:func:`calibrate_with_uncertainty` repeats the fit on independent *seed sets* (set 0 is the
root seed's replications, set b the replications of the b-th seed spawned from it) and
reports each fitted value as the mean over sets with its 95% Student-t interval, then
re-simulates the targets at those values on *held-out* seeds (from :data:`HOLDOUT_SEED`,
used by nothing that fits), which is what ``xpusim verify`` checks again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from sim.accounting.runner import ReplicationPool, mean_summary
from sim.accounting.summary import find_metric
from sim.errors import UserError
from sim.model.rng import replication_seeds
from sim.model.schema import Scenario
from sim.model.statistics import Interval, mean_interval
from sim.scenario import LoadedScenario, substitute
from sim.scenario.paths import dotted, split_path, value_at

RELATIVE_FLOOR = 0.01  # a metric of 0 counts as 1% of its target in the log residual

#: Root seed of the held-out replications on which a calibration is checked: never used to
#: fit (fits use the scenario's seed and seeds spawned from it), nor by the comparative
#: statics (:data:`sim.experiments.statics.STATICS_SEED`).
HOLDOUT_SEED = 161803398

Summaries = Callable[[Scenario, Sequence[int]], list[dict[str, Any]]]
"""Runs replications of a scenario on the given seeds and returns their summaries."""


def _serial(scenario: Scenario, seeds: Sequence[int]) -> list[dict[str, Any]]:
    return ReplicationPool(1).summaries(scenario, seeds)


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


def metric_year(path: str) -> int | None:
    """The calendar year a metric's dotted path names, if any.

    >>> metric_year("usage_ratio_vs_gpu.trainium.2023"), metric_year("provider.tco_usd")
    (2023, None)
    >>> metric_year("usage_ratio_vs_gpu.trainium.9999") is None
    True
    """
    years = [int(p) for p in map(str, split_path(path)) if p.isdigit() and len(p) == 4]
    # a year a date can end (9999 is no calendar year of a run: no cut, and the metric is
    # then reported unknown where the command checks it)
    return years[-1] if years and dt.MINYEAR <= years[-1] < dt.MAXYEAR else None


def truncated(
    loaded: LoadedScenario,
    metrics: Iterable[str],
    what: str = "calibration horizon",
    flag: str = "--target",
) -> LoadedScenario:
    """The scenario ending at the close of the last year the metrics name (if earlier), when
    every one names a year: a metric of the whole run (provider.tco_usd) keeps the horizon.
    Nothing before the cut depends on what comes after it (tests/test_calibration.py)."""
    years = [metric_year(m) for m in metrics]
    if not years or None in years:
        return loaded
    last = max(y for y in years if y is not None)
    return cut_horizon(loaded, dt.date(last + 1, 1, 1), f"the end of {last}", what, flag)


def cut_horizon(
    loaded: LoadedScenario,
    end: dt.date,
    why: str = "",
    what: str = "horizon",
    flag: str = "",
) -> LoadedScenario:
    """The scenario ending at ``end`` (if earlier than its own end), with the planned
    deliveries after it dropped (a delivery outside the horizon is an error); ``flag``, the
    option whose value set the cut (``--target``, ``--metric``), is named in its error."""
    scenario = loaded.scenario
    if end >= scenario.horizon.end or end <= scenario.horizon.start:
        return loaded
    days = (end - scenario.horizon.start).days
    if scenario.horizon.warmup_days >= days:
        raise UserError(
            f"the {what}, cut at {why or end.isoformat()}, is {days} days: "
            f"not longer than the warm-up of {scenario.horizon.warmup_days:g} days",
            file=flag or str(loaded.path),
            key="horizon.warmup_days",
            hint="shorten the warm-up" + (f" or give {flag} a later year" if flag else ""),
        )
    values: dict[str, Any] = {"horizon.end": end}
    for pid, pool in scenario.provider.pools.items():
        kept = [d for d in pool.deliveries if d.date < end]
        if len(kept) < len(pool.deliveries):
            path = dotted(("provider", "pools", pid, "deliveries"))
            values[path] = [d.model_dump() for d in kept]
    return substitute(loaded, values)


def check_targets(targets: Mapping[str, float]) -> None:
    """A :class:`UserError` for the first target that names no metric of the run summary.

    Targets are checked against the summary's declared metrics
    (:func:`sim.accounting.summary.find_metric`) before anything runs.
    """
    for key in targets:
        if find_metric(key) is None:
            raise UserError(
                "unknown target metric",
                file="--target",
                key=key,
                hint="metric keys are dotted paths of summary.json",
            )


def evaluate(
    scenario: Scenario,
    targets: Sequence[str],
    seeds: Sequence[int],
    summaries: Summaries | None = None,
) -> dict[str, float]:
    """Mean over replications of each target metric."""
    runs = (summaries or _serial)(scenario, seeds)
    mean = mean_summary(runs) if len(runs) > 1 else runs[0]
    out = {}
    for t in targets:
        v = get_path(mean, t)
        out[t] = float(v) if isinstance(v, int | float) else 0.0
    return out


def evaluate_each(
    scenario: Scenario,
    targets: Sequence[str],
    seeds: Sequence[int],
    summaries: Summaries | None = None,
) -> dict[str, Interval]:
    """Each target metric's mean over replications with its 95% t-interval."""
    runs = (summaries or _serial)(scenario, seeds)
    out = {}
    for t in targets:
        vals = [get_path(r, t) for r in runs]
        out[t] = mean_interval([float(v) if isinstance(v, int | float) else 0.0 for v in vals])
    return out


def log_residuals(achieved: Mapping[str, float], targets: Mapping[str, float]) -> np.ndarray:
    """log((achieved + floor) / (target + floor)) per target, floor = 1% of the target."""
    res = []
    for k, target in targets.items():
        floor = RELATIVE_FLOOR * abs(target) if target else RELATIVE_FLOOR
        res.append(math.log((max(achieved[k], 0.0) + floor) / (abs(target) + floor)))
    return np.asarray(res)


Progress = Callable[[int, dict[str, float], dict[str, float], float], None]


class _DoneError(Exception):
    """Stops the optimiser once the fit is good enough or the budget is spent."""


class _Fit:
    """The objective of a calibration and what it has seen: every evaluation, the best one."""

    def __init__(
        self,
        base: LoadedScenario,
        targets: Mapping[str, float],
        free: Sequence[FreeParameter],
        seeds: Sequence[int],
        max_evaluations: int,
        tolerance: float,
        progress: Progress | None,
        summaries: Summaries | None = None,
    ) -> None:
        self.base = base
        self.summaries = summaries
        self.targets = targets
        self.names = list(targets)
        self.free = free
        self.seeds = seeds
        self.max_evaluations = max_evaluations
        self.tolerance = tolerance
        self.progress = progress
        self.history: list[tuple[dict[str, float], dict[str, float], float]] = []
        self.best_loss = math.inf
        self.best_values: dict[str, float] = {}
        self.best_achieved: dict[str, float] = {}

    def within(self, achieved: Mapping[str, float], zero_target_error: bool) -> bool:
        """Every relative error within the tolerance (a zero target's error is the value
        itself, or 0 when ``zero_target_error`` is False)."""
        t = self.targets
        rel = [
            achieved[k] / t[k] - 1.0 if t[k] else (achieved[k] if zero_target_error else 0.0)
            for k in self.names
        ]
        return all(abs(v) <= self.tolerance for v in rel)

    def loss(self, x: np.ndarray) -> float:
        """Sum of squared log residuals at parameter values ``x`` (one evaluation)."""
        values = {p.path: float(v) for p, v in zip(self.free, x, strict=True)}
        achieved = evaluate(
            substitute(self.base, values).scenario, self.names, self.seeds, self.summaries
        )
        r = log_residuals(achieved, self.targets)
        value = float(np.sum(r * r))
        self.history.append((values, achieved, value))
        if self.progress is not None:
            self.progress(len(self.history), values, achieved, value)
        if value < self.best_loss:
            self.best_loss, self.best_values, self.best_achieved = value, values, achieved
        early = self.tolerance > 0 and self.within(achieved, True)
        if early or len(self.history) >= self.max_evaluations:
            raise _DoneError
        return value

    def simplex(self, x: np.ndarray, scale: float) -> np.ndarray:
        """A starting simplex at ``x``: one step of ``scale`` x range along each parameter."""
        points = [x]
        for i, p in enumerate(self.free):
            step = np.zeros(len(self.free))
            delta = (p.high - p.low) * scale
            step[i] = delta if x[i] + delta <= p.high else -delta
            points.append(x + step)
        return np.array(points)


def calibrate(
    loaded: LoadedScenario,
    targets: Mapping[str, float],
    free: Sequence[FreeParameter],
    *,
    replications: int,
    seed: int,
    max_evaluations: int = 60,
    tolerance: float = 0.05,
    progress: Progress | None = None,
    summaries: Summaries | None = None,
    initial_scale: float = 0.25,
) -> CalibrationResult:
    """Fit `free` so the replication-mean metrics match `targets`.

    Stops when every relative error is within `tolerance` (0: never early; the optimiser
    runs to convergence) or after `max_evaluations`.
    ``summaries`` runs the replications (default: one after another, here);
    ``initial_scale`` is the first simplex's step as a fraction of each parameter's range.
    """
    from scipy import optimize  # deferred: scipy.optimize is slow to import

    if not targets:
        raise ValueError("calibration needs at least one target")
    if not free:
        raise ValueError("calibration needs at least one free parameter")
    seeds = replication_seeds(seed, replications)
    fit = _Fit(
        truncated(loaded, targets),
        targets,
        free,
        seeds,
        max_evaluations,
        tolerance,
        progress,
        summaries,
    )
    # Restarted Nelder-Mead: the objective has plateaus (discrete choices), on which a
    # simplex collapses; each restart begins at the best point with a simplex half as large.
    scale = initial_scale
    x_best = np.array([p.start for p in free])
    while len(fit.history) < max_evaluations:
        before, loss_before = len(fit.history), fit.best_loss
        with contextlib.suppress(_DoneError):
            optimize.minimize(
                fit.loss,
                x_best,
                method="Nelder-Mead",
                bounds=[(p.low, p.high) for p in free],
                options={
                    "initial_simplex": fit.simplex(x_best, scale),
                    "xatol": 1e-3,
                    "fatol": 1e-6,
                },
            )
        x_best = np.array([fit.best_values[p.path] for p in free])
        stalled = len(fit.history) == before or fit.best_loss >= loss_before * (1 - 1e-3)
        if (tolerance > 0 and fit.within(fit.best_achieved, False)) or stalled:
            break
        scale /= 2.0
    achieved = fit.best_achieved
    residuals = {
        k: (achieved[k] / targets[k] - 1.0) if targets[k] else achieved[k] for k in targets
    }
    return CalibrationResult(
        values=dict(fit.best_values),
        achieved=dict(achieved),
        targets=dict(targets),
        residuals=residuals,
        evaluations=len(fit.history),
        replications=replications,
        seed=seed,
        success=all(abs(v) <= tolerance for v in residuals.values()),
        history=fit.history,
    )


@dataclass
class UncertainCalibration:
    """A fit repeated on independent seed sets, and its check on held-out seeds.

    ``values`` are the means of the fitted values over the seed sets and ``intervals`` their
    95% t-intervals; ``fits`` the fit on each set; ``holdout`` the targets re-simulated at
    ``values`` on the held-out seeds (mean and interval), ``holdout_residuals`` their
    relative errors.
    """

    values: dict[str, float]
    intervals: dict[str, Interval]
    fits: list[CalibrationResult]
    holdout: dict[str, Interval]
    holdout_residuals: dict[str, float]
    holdout_seed: int
    holdout_replications: int

    @property
    def main(self) -> CalibrationResult:
        """The fit on the first seed set (the root seed's replications)."""
        return self.fits[0]

    @property
    def residuals(self) -> dict[str, float]:
        """Mean over seed sets of each target's relative error at that set's fit."""
        keys = self.main.residuals
        return {k: float(np.mean([f.residuals[k] for f in self.fits])) for k in keys}

    def success(self, tolerance: float) -> bool:
        """Every held-out relative error within ``tolerance``."""
        return all(abs(r) <= tolerance for r in self.holdout_residuals.values())


def seed_set_roots(seed: int, seed_sets: int) -> list[int]:
    """Root seeds of the seed sets: the root itself, then seeds spawned from it.

    >>> seed_set_roots(7, 3)[0], len(set(seed_set_roots(7, 3)))
    (7, 3)
    """
    return replication_seeds(seed, seed_sets)


def calibrate_with_uncertainty(
    loaded: LoadedScenario,
    targets: Mapping[str, float],
    free: Sequence[FreeParameter],
    *,
    replications: int,
    seed: int,
    seed_sets: int,
    holdout_replications: int,
    holdout_seed: int = HOLDOUT_SEED,
    max_evaluations: int = 40,
    progress: Callable[[int, int, dict[str, float], dict[str, float], float], None] | None = None,
    summaries: Summaries | None = None,
) -> UncertainCalibration:
    """Fit on ``seed_sets`` independent sets of ``replications`` seeds; report the mean fitted
    values with 95% intervals and the targets re-simulated there on held-out seeds.

    Every set's fit runs to the optimiser's convergence, so that each is its own minimum
    and their spread measures the seed noise in the fit; sets after the first start from
    the first set's fit with a smaller simplex.
    """
    fits: list[CalibrationResult] = []
    start = list(free)
    for b, root in enumerate(seed_set_roots(seed, seed_sets)):
        tick = None if progress is None else partial(progress, b)
        fits.append(
            calibrate(
                loaded,
                targets,
                start,
                replications=replications,
                seed=root,
                max_evaluations=max_evaluations,
                tolerance=0.0,
                progress=tick,
                summaries=summaries,
                initial_scale=0.25 if b == 0 else 0.1,
            )
        )
        if b == 0:
            start = [FreeParameter(p.path, p.low, p.high, fits[0].values[p.path]) for p in free]
    intervals = {p.path: mean_interval([f.values[p.path] for f in fits]) for p in free}
    values = {k: iv.mean for k, iv in intervals.items()}
    short = truncated(substitute(loaded, values), targets).scenario
    held = evaluate_each(
        short, list(targets), replication_seeds(holdout_seed, holdout_replications), summaries
    )
    residuals = {k: (held[k].mean / t - 1.0) if t else held[k].mean for k, t in targets.items()}
    return UncertainCalibration(
        values, intervals, fits, held, residuals, holdout_seed, holdout_replications
    )
