"""Sensitivity of metrics to the uncertain parameters: OAT tornado and Sobol indices.

Design (no I/O, seeds passed in):

* the *base* point sets every parameter to its central value;
* the *tornado* moves one parameter at a time to each end of its ``bounds()`` (the support,
  or the 5th/95th percentiles of an unbounded distribution), the others at central values;
* the *Sobol* points are Saltelli's scheme (``SALib.sample.sobol``, first and total order)
  drawn in the unit hypercube and mapped through each distribution's inverse CDF, so any
  distribution (skewed, unbounded, a discrete choice) is sampled by its own law.

Every point runs the same replication seeds (common random numbers), its metric is the mean
over replications, and ``SALib.analyze.sobol`` turns the Sobol outputs into first-order
(S1) and total (ST) indices with bootstrap confidence intervals. Execution is that of
sweeps (:func:`sim.experiments.execute.execute`): the same pure task on any backend.

A finished Latin-hypercube or Monte Carlo sweep can be ranked without running anything more
(:func:`sample_indices`): first-order indices by RBD-FAST (Tarantola et al. 2006, with
Tissot and Prieur's 2012 bias correction, ``SALib.analyze.rbd_fast``), which accepts any
sample, and Spearman's rank correlation for the direction of each effect.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from sim.errors import UserError
from sim.experiments.design import check_count, check_seed, check_size, sample_values
from sim.experiments.execute import Job, Task, connect, execute
from sim.model.rng import replication_seeds, stream
from sim.scenario.distributions import Distribution
from sim.scenario.fields import plain_value

__all__ = [
    "SensitivityDesign",
    "check_design_size",
    "design_points",
    "evaluate",
    "min_points",
    "needs_allow_large",
    "rank_sample",
    "resolve_metric",
    "sample_indices",
    "sample_order",
    "sensitivity_design",
    "sobol_indices",
    "swing",
    "swing_order",
]

#: Unit numbers are kept this far inside (0, 1) so that unbounded laws stay finite.
EPS = 1e-9
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SensitivityDesign:
    """Base, tornado and Sobol points over ``names`` with common replication seeds."""

    names: tuple[str, ...]
    distributions: Mapping[str, Distribution]
    n: int
    seed: int
    seeds: tuple[int, ...]
    unit: npt.NDArray[np.float64]

    @property
    def central(self) -> dict[str, Any]:
        return {p: plain_value(p, self.distributions[p].central()) for p in self.names}

    @property
    def tornado_values(self) -> list[tuple[str, Any, Any]]:
        """``(parameter, low, high)`` for each parameter."""
        out = []
        for p in self.names:
            lo, hi = self.distributions[p].bounds()
            out.append((p, plain_value(p, lo), plain_value(p, hi)))
        return out

    def points(self) -> list[dict[str, Any]]:
        """Point 0 is the base, then low and high of each parameter, then the Sobol rows."""
        base = self.central
        pts = [base]
        for p, lo, hi in self.tornado_values:
            pts.append({**base, p: lo})
            pts.append({**base, p: hi})
        pts.extend(sample_values({p: self.distributions[p] for p in self.names}, self.unit))
        return pts

    @property
    def runs_total(self) -> int:
        """Runs of the design: every point, each replication."""
        return design_points(len(self.names), self.n) * len(self.seeds)

    @property
    def tornado_runs(self) -> int:
        """Runs of the base and the tornado's points (the rest are Sobol')."""
        return (1 + 2 * len(self.names)) * len(self.seeds)


def _problem(names: Sequence[str]) -> dict[str, Any]:
    return {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}


def _salib_seed(seed: int, name: str) -> int:
    return int(stream(seed, name).integers(2**31 - 1))


def sensitivity_design(
    distributions: Mapping[str, Distribution],
    *,
    n: int,
    replications: int,
    seed: int,
    allow_large: bool = False,
) -> SensitivityDesign:
    """The design over every parameter of ``distributions`` (sorted by path).

    ``n`` is Saltelli's base sample size (a power of two); the Sobol part has
    ``n * (d + 2)`` points for ``d`` parameters. The seed and the number of runs are checked
    (:func:`~sim.experiments.design.check_size`) before any point is drawn.
    """
    from SALib.sample import sobol as saltelli  # deferred: SALib is slow to import

    names = tuple(sorted(distributions))
    if not names:
        raise UserError(
            "sensitivity needs uncertain parameters, but the scenario declares no distribution",
            hint="give a number as {dist: triangular, low: .., mode: .., high: ..}",
        )
    if n < 2 or n & (n - 1):
        lo = max(1 << (max(n, 1).bit_length() - 1), 2)
        raise UserError(
            "the Sobol' base sample size must be a power of two (at least 2)",
            file="--n",
            found=str(n),
            hint=f"use {lo} or {lo * 2}",
        )
    seed = check_seed(seed)
    replications = check_count(replications, "--replications", "replications")
    check_design_size(len(names), n, replications, allow_large=allow_large)
    unit = saltelli.sample(
        _problem(names), n, calc_second_order=False, seed=_salib_seed(seed, "sensitivity/sample")
    )
    return SensitivityDesign(
        names=names,
        distributions={p: distributions[p] for p in names},
        n=n,
        seed=seed,
        seeds=tuple(replication_seeds(seed, replications)),
        unit=np.clip(np.asarray(unit, dtype=np.float64), EPS, 1.0 - EPS),
    )


def design_points(d: int, n: int) -> int:
    """Points of the design over ``d`` parameters from base sample ``n``: the base, each
    parameter's low and high, and Saltelli's ``n (d + 2)``.

    >>> design_points(10, 64)
    789
    """
    return 1 + 2 * d + n * (d + 2)


def check_design_size(d: int, n: int, replications: int, *, allow_large: bool = False) -> int:
    """The runs of the design (``d`` parameters, base sample ``n``), or the UserError of
    :func:`~sim.experiments.design.check_size` when they pass its cap."""
    points = design_points(d, n)
    # only sums over replications are kept per point: no per-run table
    return check_size(
        "sensitivity analysis",
        [
            ("--n", f"points (1 + 2d + N(d + 2), d = {d})", points),
            ("--replications", "replications", replications),
        ],
        allow_large=allow_large,
        bytes_per_run=0,
        points=points,
    )


def needs_allow_large(d: int, n: int, replications: int) -> bool | None:
    """Whether ``--n n`` over ``d`` parameters needs ``--allow-large`` to run (None: too
    large for this machine even with it), by :func:`check_design_size`.

    >>> needs_allow_large(10, 512, 2), needs_allow_large(10, 131072, 2)
    (False, True)
    """
    for allow_large in (False, True):
        try:
            check_design_size(d, n, replications, allow_large=allow_large)
        except UserError:
            continue
        return allow_large
    return None


def resolve_metric(name: str, known: Sequence[str]) -> str:
    """The flattened summary key ``name`` refers to (``metric.`` prefix optional)."""
    key = name.strip()
    key = key.removeprefix("metric.")
    if key in known:
        return key
    close = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
    hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "?" if close else None
    raise UserError(
        "unknown metric",
        file="--metric",
        key=key,
        expected="a summary key such as provider.tco_usd (see runs.parquet of a sweep)",
        hint=hint,
    )


def sobol_indices(
    names: Sequence[str], y: npt.ArrayLike, seed: int, *, conf_level: float = 0.95
) -> dict[str, list[float | None]]:
    """First-order and total Sobol indices with confidence half-widths, by SALib.

    ``y`` holds the model output at the Saltelli points of :func:`sensitivity_design`, in
    order. A constant or non-finite output has no defined indices: all values are None.
    """
    from SALib.analyze import sobol  # deferred: SALib is slow to import

    values = np.asarray(y, dtype=np.float64)
    d = len(names)
    if not np.all(np.isfinite(values)) or float(np.var(values)) == 0.0:
        empty: list[float | None] = [None] * d
        return {"S1": empty, "S1_conf": empty, "ST": empty, "ST_conf": empty}
    res = sobol.analyze(
        _problem(names),
        values,
        calc_second_order=False,
        conf_level=conf_level,
        print_to_console=False,
        seed=_salib_seed(seed, "sensitivity/analyze"),
    )
    return {k: [_finite(v) for v in res[k]] for k in ("S1", "S1_conf", "ST", "ST_conf")}


#: Fourier harmonics RBD-FAST sums (its M; Plischke 2010 uses 6 in EASI).
HARMONICS = 6


def min_points(harmonics: int = HARMONICS) -> int:
    """Sample points for RBD-FAST with ``harmonics`` harmonics: 20 M.

    The estimator's bias grows with 2M/N and Tissot and Prieur's correction scales the raw
    index by about 1/(1 - 2M/N); below 20 M points that factor exceeds 1.11 and small
    samples give indices outside [0, 1] (measured: -1.28 at 24 points), so fewer points
    get rank correlations only.
    """
    return 20 * harmonics


def sample_indices(
    names: Sequence[str],
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    seed: int,
    *,
    conf_level: float = 0.95,
    harmonics: int = HARMONICS,
) -> dict[str, list[float | None]]:
    """First-order indices and rank correlations from any sample of the parameters.

    ``x`` has one row per sample point and one column per name, ``y`` the metric there.
    ``S1`` is RBD-FAST's bias-corrected first-order index (the share of the output variance
    explained by that parameter alone) with a bootstrap confidence half-width ``S1_conf``;
    ``spearman_rho`` is the rank correlation (sign: direction of the effect) with its
    two-sided p-value. Points whose metric is not finite are left out. A constant output
    has no defined indices, and RBD-FAST needs :func:`min_points`: missing values are None.

    >>> rng = np.random.default_rng(0)
    >>> x = rng.uniform(size=(2000, 2))
    >>> res = sample_indices(["a", "b"], x, x[:, 0] - 0.5 * x[:, 1], seed=1)  # shares 0.8, 0.2
    >>> [round(v, 1) for v in res["S1"]], [round(v, 1) for v in res["spearman_rho"]]
    ([0.8, 0.2], [0.9, -0.5])
    """
    from SALib.analyze import rbd_fast  # deferred: SALib and scipy.stats are slow to import
    from scipy.stats import spearmanr

    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    keep = np.isfinite(ys) & np.all(np.isfinite(xs), axis=1)
    xs, ys = xs[keep], ys[keep]
    d = len(names)
    none: list[float | None] = [None] * d
    out: dict[str, list[float | None]] = {k: none for k in ("S1", "S1_conf")}
    # constant up to round-off (summing identical runs in another order leaves ~1e-16)
    if len(ys) < 3 or np.ptp(ys) <= 1e-12 * float(np.max(np.abs(ys))):
        return out | {"spearman_rho": none, "spearman_p": none}
    if len(ys) >= min_points(harmonics):
        # a bootstrap resample can be constant: its index is NaN, reported as None
        with np.errstate(invalid="ignore", divide="ignore"):
            res = rbd_fast.analyze(
                {"num_vars": d, "names": list(names)},
                xs,
                ys,
                M=harmonics,
                conf_level=conf_level,
                print_to_console=False,
                seed=_salib_seed(seed, "sensitivity/rbd-fast"),
            )
        out = {k: [_finite(v) for v in res[k]] for k in ("S1", "S1_conf")}
    rho: list[float | None] = []
    pval: list[float | None] = []
    for j in range(d):
        if float(np.var(xs[:, j])) == 0.0:
            rho.append(None)
            pval.append(None)
            continue
        r = spearmanr(xs[:, j], ys)
        rho.append(_finite(r.statistic))
        pval.append(_finite(r.pvalue))
    out["spearman_rho"] = rho
    out["spearman_p"] = pval
    return out


def sample_order(
    s1: Sequence[float | None], rho: Sequence[float | None]
) -> tuple[str | None, list[int]]:
    """What a ranked sampled sweep's parameters are ranked by, and their positions in rank
    order: the first-order index S1 where any was computed, else |Spearman rho| (fewer
    points than :func:`min_points` give rank correlations only); the largest first,
    missing values last, ties in the given (name) order. None: nothing to rank by (a
    constant metric), the given order.

    >>> sample_order([0.1, 0.7, None], [0.9, -0.2, 0.1])
    ('S1', [1, 0, 2])
    >>> sample_order([None, None, None], [-0.33, 0.62, None])
    ('|Spearman rho|', [1, 0, 2])
    >>> sample_order([None, None], [None, None])
    (None, [0, 1])
    """

    def order(values: Sequence[float | None]) -> list[int]:
        key = [-math.inf if v is None else float(v) for v in values]
        return sorted(range(len(values)), key=lambda j: -key[j])

    if any(v is not None for v in s1):
        return "S1", order(s1)
    if any(v is not None for v in rho):
        return "|Spearman rho|", order([None if v is None else abs(v) for v in rho])
    return None, list(range(len(s1)))


def rank_sample(
    values: Mapping[str, npt.ArrayLike],
    outputs: Mapping[str, npt.ArrayLike],
    metrics: Sequence[str],
    seed: int,
) -> list[dict[str, Any]]:
    """Rank the parameters of a finished sampled sweep (``sensitivity.json`` form).

    ``values`` maps each parameter to its value at every point, ``outputs`` each metric to
    its mean over replications at the same points. One result per metric: its ``sobol``
    part holds RBD-FAST first-order indices (``method: rbd-fast``; no total indices, which
    need Saltelli's design) and ``spearman`` the rank correlations. No tornado: a sample
    has no one-at-a-time points.
    """
    names = sorted(values)
    x = np.column_stack([np.asarray(values[p], dtype=np.float64) for p in names])
    keys = list(dict.fromkeys(resolve_metric(m, sorted(outputs)) for m in metrics))
    out: list[dict[str, Any]] = []
    for k in keys:
        try:
            y = np.asarray(outputs[k], dtype=np.float64)
        except (TypeError, ValueError):
            raise UserError("metric is not a number", file="--metric", key=k) from None
        idx = sample_indices(names, x, y, seed)
        none: list[float | None] = [None] * len(names)
        out.append(
            {
                "metric": k,
                "base": None,
                "points": int(np.isfinite(y).sum()),
                "tornado": [],
                "sobol": {
                    "method": "rbd-fast",
                    "names": names,
                    "S1": idx["S1"],
                    "S1_conf": idx["S1_conf"],
                    "ST": none,
                    "ST_conf": none,
                },
                "spearman": {
                    "names": names,
                    "rho": idx["spearman_rho"],
                    "p": idx["spearman_p"],
                },
            }
        )
    return out


def _finite(v: Any) -> float | None:
    x = float(v)
    return x if math.isfinite(x) else None


def _number(v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool | int | float):
        return float(v)
    raise TypeError(v)


def _sums(
    results: Iterable[tuple[int, dict[str, Any]]], keys: Sequence[str], n: int
) -> dict[str, npt.NDArray[np.float64]]:
    """Per metric, the sum over replications at each point index (None counts as NaN)."""
    sums = {k: np.zeros(n) for k in keys}
    for i, res in results:
        for k in keys:
            try:
                sums[k][i] += _number(res.get(k))
            except TypeError:
                raise UserError(
                    f"metric is not a number (found {res.get(k)!r})", file="--metric", key=k
                ) from None
    return sums


def _analysis(
    design: SensitivityDesign, metric: str, mean: npt.NDArray[np.float64]
) -> dict[str, Any]:
    """One metric's result: base value, tornado rows (widest swing first) and Sobol indices."""
    tornado = [
        {
            "parameter": p,
            "low_value": lo,
            "high_value": hi,
            "metric_low": _finite(mean[1 + 2 * j]),
            "metric_high": _finite(mean[2 + 2 * j]),
        }
        for j, (p, lo, hi) in enumerate(design.tornado_values)
    ]
    tornado.sort(key=swing_order)
    d = len(design.names)
    sobol = sobol_indices(design.names, mean[1 + 2 * d :], design.seed)
    return {
        "metric": metric,
        "base": _finite(mean[0]),
        "tornado": tornado,
        "sobol": {"names": list(design.names), **sobol},
    }


def evaluate(
    design: SensitivityDesign,
    metrics: Sequence[str],
    *,
    task: Task,
    shared: Any = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
) -> list[dict[str, Any]]:
    """Run the design and analyse it: one result per metric (``sensitivity.json`` form).

    Each point runs as ``task(shared, values, seed)`` (for the simulation,
    :func:`sim.experiments.points.run_point` on the loaded scenario). The base point runs
    first, so that an unknown metric is reported after its replications only.
    """
    points = design.points()
    reps = len(design.seeds)
    total = len(points) * reps
    done = 0

    def jobs(indices: Sequence[int]) -> Iterator[Job]:
        for i in indices:
            for r, seed in enumerate(design.seeds):
                yield Job(key=(i, r), payload=points[i], seed=seed)

    def run(indices: Sequence[int]) -> Iterator[tuple[int, dict[str, Any]]]:
        nonlocal done
        for job, result in execute(
            task, jobs(indices), shared=shared, workers=workers, client=client
        ):
            done += 1
            if progress is not None:
                progress(done, total)
            yield job.key[0], result

    client = connect(scheduler) if scheduler is not None else None  # one connection for both
    try:
        if progress is not None:
            progress(0, total)
        base_results = list(run([0]))
        keys = [resolve_metric(m, sorted(base_results[0][1])) for m in metrics]
        keys = list(dict.fromkeys(keys))
        sums = _sums(base_results, keys, len(points))
        rest = _sums(run(range(1, len(points))), keys, len(points))
    finally:
        if client is not None:
            client.close()
    return [_analysis(design, k, (sums[k] + rest[k]) / reps) for k in keys]


def swing(row: Mapping[str, Any]) -> float:
    """``|metric_high - metric_low|`` of a tornado row (NaN when either is missing).

    >>> swing({"metric_low": 1.0, "metric_high": 4.0}), swing({"metric_low": None})
    (3.0, nan)
    """
    try:
        return abs(float(row["metric_high"]) - float(row["metric_low"]))
    except (KeyError, TypeError, ValueError):
        return math.nan


def swing_order(row: Mapping[str, Any]) -> tuple[bool, float, str]:
    """Sort key of tornado rows: widest swing first, rows without one last, then by name."""
    s = swing(row)
    return (math.isnan(s), -s if not math.isnan(s) else 0.0, str(row.get("parameter", "")))
