"""Experiment design: which points a sweep runs and with which seeds (no I/O, no global rng).

A *point* is a set of scenario values by dotted path (``{"economics.pue": 1.3}``); a *run* is
one replication of one point. Designs are built from

* grid axes, ``economics.pue=1.1,1.2,1.3`` (Cartesian product over the axes, values typed
  exactly like ``--set`` values);
* a sample of ``n`` points of the scenario's declared distributions
  (``LoadedScenario.distributions``): uniform numbers in the unit hypercube from a Monte Carlo,
  Latin-hypercube or scrambled Sobol design (``scipy.stats.qmc``), mapped through each
  distribution's inverse CDF. The random generator is passed in;
* both: every grid point is combined with every sampled point.

Replication ``r`` of every point uses the same root seed ``replication_seeds(seed, R)[r]``
(common random numbers), so two points differ only because their values do.

Points are named by a stable hash of their values (:func:`point_id`), and a whole design by
:meth:`Design.sha256`, so that a re-run of the same sweep recognises what is already done.

Every size is checked before anything is built (:func:`check_size`, :func:`check_seed`):
a design is held in memory whole, and a sweep's tables are rebuilt in memory from its
journal, so the number of runs is capped (:data:`MAX_RUNS`, liftable with ``allow_large``)
and, above the cap, checked against the machine's memory.
"""

from __future__ import annotations

import difflib
import itertools
import math
import operator
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from sim.errors import UserError
from sim.model.rng import MAX_SEED, replication_seeds, stream
from sim.results.jsonio import canonical_json, jsonable, sha256_of
from sim.scenario import LoadedScenario, substitute
from sim.scenario.distributions import BaseDistribution, Distribution
from sim.scenario.fields import plain_value
from sim.scenario.overrides import parse_override

__all__ = [
    "MAX_RUNS",
    "METHODS",
    "Design",
    "GridAxis",
    "Point",
    "build_design",
    "check_count",
    "check_seed",
    "check_size",
    "grid_values",
    "parse_grid",
    "point_id",
    "sample_values",
    "split_values",
    "unit_sample",
]

Method = Literal["mc", "lhs", "sobol"]
METHODS: tuple[str, ...] = ("mc", "lhs", "sobol")
#: Most runs (points x replications) a sweep or a sensitivity analysis may ask for unless
#: ``--allow-large`` is given. Assumption: a guard against typos such as ``--sample 100000000``
#: set at what a single machine holds comfortably: at the cap a sweep's table rebuild peaks
#: near 3 GB (:data:`TABLE_BYTES_PER_RUN`) and the baseline's runs take ~60 core-hours.
MAX_RUNS = 100_000
#: Peak memory per run while a sweep rebuilds runs.parquet and points.parquet from its journal.
#: Measured: 26 KB a run with the 146 metrics of the sweep test scenario (tracemalloc, 20,000
#: runs); rounded up. Used only to refuse, above the cap, what the machine cannot hold.
TABLE_BYTES_PER_RUN = 30_000
#: Memory per design point (values, id, the manifest's copy). Measured: ~0.6 KB a point with
#: six sampled parameters; rounded up for the validation and manifest text built from them.
POINT_BYTES = 2_000


@dataclass(frozen=True)
class GridAxis:
    """One ``--grid`` axis: a scenario path and the values it takes, in the order given."""

    path: str
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Point:
    """One point of a design: its id (a hash of its values), position and values."""

    id: str
    index: int
    values: Mapping[str, Any]


@dataclass(frozen=True)
class Design:
    """The points of a sweep, their replications and the common replication seeds."""

    parameters: tuple[str, ...]
    points: tuple[Point, ...]
    replications: int
    seed: int
    seeds: tuple[int, ...]
    spec: Mapping[str, Any]

    @property
    def runs_total(self) -> int:
        """Number of runs: points times replications."""
        return len(self.points) * self.replications

    def runs(self) -> Iterator[tuple[Point, int, int]]:
        """``(point, replication, seed)`` for every run, point by point."""
        for point in self.points:
            for r, seed in enumerate(self.seeds):
                yield point, r, seed

    def sha256(self, scenario_sha256: str) -> str:
        """Hash of everything that determines the runs' results, given the base scenario.

        The number of workers and the backend are not part of it: they do not change results.
        """
        body = {
            "scenario_sha256": scenario_sha256,
            "parameters": list(self.parameters),
            "points": [[p.id, dict(p.values)] for p in self.points],
            "replications": self.replications,
            "seeds": list(self.seeds),
        }
        return sha256_of(body)


def point_id(values: Mapping[str, Any], repeat: int = 0) -> str:
    """Stable 16-hex-digit id of a point's values (``repeat`` tells equal draws apart).

    >>> point_id({"a": 1.5, "b": "x"}) == point_id({"b": "x", "a": 1.5})
    True
    >>> point_id({"a": 1.5}) != point_id({"a": 1.5}, repeat=1)
    True
    >>> len(point_id({}))
    16
    """
    body: Any = dict(values) if repeat == 0 else {"values": dict(values), "repeat": repeat}
    return sha256_of(body, 16)


# --------------------------------------------------------------------------- sizes


def _shown(n: int) -> str:
    """``n`` with thousands separators, shortened when it is absurdly long."""
    text = f"{n:,}"
    return text if len(text) <= 27 else f"{str(n)[:6]}... ({len(str(n))} digits)"


def check_seed(seed: int, flag: str = "--seed") -> int:
    """``seed`` if it is a root seed the generator accepts (0 to :data:`MAX_SEED`).

    >>> check_seed(2**63 - 1) == MAX_SEED
    True
    >>> check_seed(2**63)
    Traceback (most recent call last):
    ...
    sim.errors.UserError: --seed: the seed is out of range; expected an integer from 0 to \
9,223,372,036,854,775,807 (2**63 - 1), found 9,223,372,036,854,775,808
    """
    try:
        value = operator.index(seed)  # int or numpy integer, not float or text
    except TypeError:
        value = None
    if isinstance(seed, bool) or value is None or not 0 <= value <= MAX_SEED:
        raise UserError(
            "the seed is out of range",
            file=flag,
            expected=f"an integer from 0 to {MAX_SEED:,} (2**63 - 1)",
            found=repr(seed) if value is None else _shown(value),
        )
    return value


def check_count(value: Any, flag: str, what: str) -> int:
    """``value`` as an int if it is a whole number of at least 1, else a UserError.

    >>> check_count(3, "--replications", "replications")
    3
    """
    try:
        count = operator.index(value)
    except TypeError:
        count = None
    if isinstance(value, bool) or count is None or count < 1:
        raise UserError(
            f"the number of {what} must be a whole number of at least 1",
            file=flag,
            found=repr(value) if count is None else _shown(count),
        )
    return count


def physical_memory_bytes() -> int | None:
    """This machine's physical memory, None where the OS does not tell."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - non-POSIX
        return None


def check_size(
    what: str,
    factors: Sequence[tuple[str, str, int]],
    *,
    allow_large: bool = False,
    bytes_per_run: int = TABLE_BYTES_PER_RUN,
    points: int | None = None,
) -> int:
    """The number of runs, the product of ``factors``, if it may run; else a UserError.

    ``factors`` are ``(flag, label, count)``, e.g. ``("--sample", "points", 64)``; the
    message names the largest. Above :data:`MAX_RUNS` the request is refused unless
    ``allow_large``; then it is refused only when its memory estimate (``bytes_per_run``
    per run plus :data:`POINT_BYTES` per point) exceeds the machine's memory. Nothing is
    built here: call it before materialising anything.

    >>> check_size("sweep", [("--sample", "points", 1000), ("--replications", "replications", 3)])
    3000
    >>> check_size("sweep", [("--sample", "points", 10**8), ("--replications", "replications", 1)])
    Traceback (most recent call last):
    ...
    sim.errors.UserError: --sample: the sweep is too large: 100,000,000 points x 1 replication \
= 100,000,000 runs; expected at most 100,000 runs, found 100,000,000 (pass --allow-large to \
lift the cap; see Limits in the README)
    """
    runs = math.prod(n for _, _, n in factors)
    if runs <= MAX_RUNS:
        return runs
    flag = max(factors, key=lambda f: f[2])[0]
    sizes = " x ".join(
        f"{_shown(n)} {label[:-1] if n == 1 and label.endswith('s') else label}"
        for _, label, n in factors
    )
    if not allow_large:
        raise UserError(
            f"the {what} is too large: {sizes} = {_shown(runs)} runs",
            file=flag,
            expected=f"at most {MAX_RUNS:,} runs",
            found=_shown(runs),
            hint="pass --allow-large to lift the cap; see Limits in the README",
        )
    memory = physical_memory_bytes()
    need = runs * bytes_per_run + (runs if points is None else points) * POINT_BYTES
    if memory is not None and need > memory:
        raise UserError(
            f"the {what} is too large for this machine even with --allow-large: {sizes} = "
            f"{_shown(runs)} runs need about {need / 2**30:,.0f} GiB of memory",
            file=flag,
            expected=f"at most {memory / 2**30:,.1f} GiB (this machine's memory)",
            hint="split it into several sweeps",
        )
    return runs


# --------------------------------------------------------------------------- grids


def split_values(text: str) -> list[str]:
    """Split ``v1,v2,...`` at top-level commas (not inside brackets, braces or quotes).

    >>> split_values("1.1, 1.2,[a, b],{x: 1, y: 2},'p,q'")
    ['1.1', '1.2', '[a, b]', '{x: 1, y: 2}', "'p,q'"]
    """
    parts: list[str] = []
    depth = 0
    quote: str | None = None
    current: list[str] = []
    for ch in text:
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(depth - 1, 0)
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return parts


def _typed(path: str, text: str) -> Any:
    """The value of ``path=text`` read exactly as ``--set`` reads it (YAML, checked path)."""
    # The loader's own --set parser: the same typing (YAML 1.2 floats, dates, lists), the
    # same path check with did-you-mean, the same located errors.
    value = parse_override(f"{path}={text}").value
    if isinstance(value, BaseDistribution):
        raise UserError(
            "a grid value must be a plain value, not a distribution",
            file="--grid",
            key=path,
            found=repr(text),
            hint="declare the distribution in the scenario and use --sample",
        )
    return value


def parse_grid(text: str) -> GridAxis:
    """``key.path=v1,v2,...`` -> a :class:`GridAxis` with values typed like ``--set``."""
    path, sep, rest = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise UserError(
            "a grid axis needs the form key.path=v1,v2,...",
            file="--grid",
            found=repr(text),
            hint="for example --grid economics.pue=1.1,1.2,1.3",
        )
    raw = split_values(rest)
    if any(not r for r in raw):
        raise UserError(
            "a grid axis has an empty value",
            file="--grid",
            key=path,
            found=repr(text),
            hint="separate values with single commas: key=v1,v2",
        )
    values = tuple(_typed(path, r) for r in raw)
    seen: set[str] = set()
    for r, v in zip(raw, values, strict=True):
        key = canonical_json(v)
        if key in seen:
            raise UserError(
                f"the grid value {r} is given twice", file="--grid", key=path, found=repr(text)
            )
        seen.add(key)
    return GridAxis(path=".".join(p.strip() for p in path.split(".")), values=values)


def grid_values(axes: Sequence[GridAxis]) -> list[dict[str, Any]]:
    """The Cartesian product of the axes, the last axis varying fastest.

    >>> grid_values([GridAxis("a", (1, 2)), GridAxis("b", ("x", "y", "z"))])[:4]
    [{'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y'}, {'a': 1, 'b': 'z'}, {'a': 2, 'b': 'x'}]
    >>> grid_values([])
    [{}]
    """
    paths = [a.path for a in axes]
    return [
        dict(zip(paths, combo, strict=True))
        for combo in itertools.product(*(a.values for a in axes))
    ]


# --------------------------------------------------------------------------- sampling


def unit_sample(n: int, d: int, method: str, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    """``n`` points in the unit hypercube ``[0, 1)^d`` drawn by ``method`` from ``rng``.

    ``mc``: independent uniforms; ``lhs``: a Latin hypercube (each of the ``n`` equal strata
    of each dimension holds exactly one point); ``sobol``: a scrambled Sobol' sequence
    (``n`` must be a power of two for its balance properties).

    >>> u = unit_sample(8, 2, "lhs", np.random.default_rng(0))
    >>> sorted(np.floor(u[:, 0] * 8).astype(int).tolist())
    [0, 1, 2, 3, 4, 5, 6, 7]
    """
    if n < 1:
        raise UserError("the sample size must be at least 1", file="--sample", found=str(n))
    if method == "mc":
        return np.asarray(rng.random((n, d)), dtype=np.float64)
    from scipy.stats import qmc  # deferred: scipy.stats is slow to import

    if method == "lhs":
        return np.asarray(qmc.LatinHypercube(d, rng=rng).random(n), dtype=np.float64)
    if method == "sobol":
        if n & (n - 1):
            lo = 1 << (n.bit_length() - 1)
            raise UserError(
                "a Sobol' sample needs a power of two points",
                file="--sample",
                found=str(n),
                hint=f"use {lo} or {lo * 2}",
            )
        return np.asarray(
            qmc.Sobol(d, scramble=True, rng=rng).random_base2(n.bit_length() - 1), dtype=np.float64
        )
    raise UserError(
        "unknown sampling method", file="--method", expected=" or ".join(METHODS), found=method
    )


def sample_values(
    distributions: Mapping[str, Distribution], u: npt.ArrayLike
) -> list[dict[str, Any]]:
    """Map rows of unit numbers (columns in the order of ``distributions``) through each ppf.

    Integer fields get rounded values.
    """
    paths = list(distributions)
    arr = np.asarray(u, dtype=float).reshape(-1, len(paths)) if paths else np.zeros((0, 0))
    columns = [
        [plain_value(path, v) for v in distributions[path].ppf(arr[:, j])]
        for j, path in enumerate(paths)
    ]
    return [{p: columns[j][i] for j, p in enumerate(paths)} for i in range(arr.shape[0])]


def _sampled_parameters(loaded: LoadedScenario, vary: Sequence[str], fixed: set[str]) -> list[str]:
    declared = loaded.distributions
    if not vary:
        chosen = sorted(p for p in declared if p not in fixed)
        if not chosen:
            raise UserError(
                "--sample needs uncertain parameters, but the scenario declares no distribution"
                + (" that the grid does not already fix" if declared else ""),
                file=str(loaded.path),
                hint="give a number as {dist: triangular, low: .., mode: .., high: ..}",
            )
        return chosen
    chosen = []
    for raw in vary:
        path = raw.strip()
        if path not in declared:
            close = difflib.get_close_matches(path, list(declared), n=1)
            raise UserError(
                "this parameter has no distribution declared in the scenario",
                file="--vary",
                key=path,
                expected="one of " + ", ".join(sorted(declared)) if declared else None,
                hint=f"did you mean '{close[0]}'?" if close else None,
            )
        if path in fixed:
            raise UserError("this parameter is also a grid axis", file="--vary", key=path)
        if path not in chosen:
            chosen.append(path)
    return sorted(chosen)


def build_design(
    loaded: LoadedScenario,
    *,
    grid: Sequence[str] = (),
    sample: int | None = None,
    method: str = "lhs",
    vary: Sequence[str] = (),
    replications: int | None = None,
    seed: int | None = None,
    allow_large: bool = False,
) -> Design:
    """The design of a sweep of ``loaded``; every point is validated before anything runs.

    ``seed`` (default: the scenario's) drives both the sample (a stream of its own) and the
    replication seeds. Raises :class:`~sim.errors.UserError` for a bad axis, an unknown
    path, a parameter without a distribution, a point that makes the scenario invalid, a
    seed out of range, or a design above :data:`MAX_RUNS` runs (unless ``allow_large``), all
    before the design is built.
    """
    root = check_seed(loaded.scenario.seed if seed is None else seed)
    reps = check_count(
        loaded.scenario.replications if replications is None else replications,
        "--replications",
        "replications",
    )
    if sample is not None:
        sample = check_count(sample, "--sample", "sampled points")
    axes = [parse_grid(g) for g in grid]
    paths = [a.path for a in axes]
    dupes = sorted({p for p in paths if paths.count(p) > 1})
    if dupes:
        raise UserError("the same grid axis is given twice", file="--grid", key=dupes[0])
    # every size is checked before anything is built
    factors = [("--grid", "grid points", math.prod(len(a.values) for a in axes))] if axes else []
    if sample is not None:
        factors.append(("--sample", "points", sample))
    n_points = math.prod(n for _, _, n in factors)
    check_size(
        "sweep",
        [*factors, ("--replications", "replications", reps)],
        allow_large=allow_large,
        points=n_points,
    )
    grid_points = grid_values(axes)
    spec: dict[str, Any] = {
        "grid": [{"path": a.path, "values": jsonable(list(a.values))} for a in axes],
        "sample": None,
        "replications": reps,
        "seed": root,
    }
    sampled: list[dict[str, Any]] = [{}]
    sampled_paths: list[str] = []
    if sample is not None:
        sampled_paths = _sampled_parameters(loaded, vary, set(paths))
        sampled, spec["sample"] = _sample(loaded, sampled_paths, sample, method, root)
    elif vary:
        raise UserError("--vary needs --sample N", file="--vary")
    points = _points(grid_points, sampled)
    _validate_points(loaded, points)
    return Design(
        parameters=(*paths, *sampled_paths),
        points=tuple(points),
        replications=reps,
        seed=root,
        seeds=tuple(replication_seeds(root, reps)),
        spec=spec,
    )


def _sample(
    loaded: LoadedScenario, paths: Sequence[str], n: int, method: str, root: int
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``n`` points of the distributions at ``paths`` drawn by ``method``, and their spec."""
    if method not in METHODS:
        raise UserError(
            "unknown sampling method",
            file="--method",
            expected=" or ".join(METHODS),
            found=repr(method),
        )
    dists = {p: loaded.distributions[p] for p in paths}
    u = unit_sample(n, len(paths), method, stream(root, "sweep/design"))
    spec = {
        "n": n,
        "method": method,
        "parameters": {p: jsonable(d.model_dump()) for p, d in dists.items()},
    }
    return sample_values(dists, u), spec


def _points(
    grid_points: Sequence[dict[str, Any]], sampled: Sequence[dict[str, Any]]
) -> list[Point]:
    """Every grid point with every sampled point; equal draws told apart by a repeat count."""
    points: list[Point] = []
    seen: dict[str, int] = {}
    for g in grid_points:
        for s in sampled:
            values = {**g, **s}
            key = canonical_json(values)
            repeat = seen.get(key, 0)
            seen[key] = repeat + 1
            points.append(Point(point_id(values, repeat), len(points), values))
    return points


def _validate_points(loaded: LoadedScenario, points: Sequence[Point]) -> None:
    """Apply every distinct point to the scenario once, so that errors come before any run."""
    checked: set[str] = set()
    for point in points:
        key = canonical_json(dict(point.values))
        if key in checked or not point.values:
            continue
        checked.add(key)
        try:
            substitute(loaded, point.values)
        except UserError as exc:
            where = f"design point {point.index} ({canonical_json(dict(point.values))})"
            exc.hint = f"{exc.hint}; {where}" if exc.hint else where
            raise
