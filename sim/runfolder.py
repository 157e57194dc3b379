"""The run folder: the one place that writes a run's outputs to disk.

A run folder holds

- ``summary.json``: the headline results (sorted keys, 2-space indent, strict JSON);
- ``<table>.parquet``: one file per result table (no pandas index, deterministic bytes);
- ``scenario.yaml``: the fully resolved scenario the run used;
- ``manifest.json``: versions, git commit, scenario path, resolved scenario and its
  sha256, seed, provenance of the catalogued figures, start and end times, wall seconds.

The folder is written atomically (:func:`sim.safeio.staged_folder`): everything goes into
a hidden temporary sibling (``.<name>.tmp-<random>``, locked by its owner for the run's
life) that is renamed into place with :func:`os.replace` only when every file is complete
and fsync'd. An exception or Ctrl-C while the run is computed or written removes the
temporary folder (and any parent folders this call created), so a failed run leaves
nothing behind; the temporary folder of a killed run is removed by the next run in the
same parent. No file is written through a symbolic link. ``scenario.yaml`` is checked
before the run to load again within the loader's limits, so a run folder can always be
re-run. The manifest's times are the only content that changes
between two runs of the same scenario and seed; summary.json and the tables are
byte-identical.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim import __version__
from sim.accounting.runner import RunOutput
from sim.safeio import staged_folder, write_file, write_text

if TYPE_CHECKING:
    from sim.scenario import LoadedScenario

__all__ = [
    "KEY_PACKAGES",
    "RunOutput",
    "canonical_json",
    "default_run_dir",
    "git_commit",
    "jsonable",
    "package_versions",
    "run_hash",
    "scenario_sha256",
    "write_parquet",
    "write_run",
]

KEY_PACKAGES: tuple[str, ...] = ("simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic")
"""Packages whose versions every manifest records."""

RESULTS_DIR = Path("results")
"""Default parent of run folders, relative to the working directory."""

_TABLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_RESERVED_TABLE_NAMES = frozenset({"summary", "manifest", "scenario"})


# --------------------------------------------------------------------------- JSON


def jsonable(value: Any) -> Any:
    """``value`` converted to plain JSON types (dict, list, str, int, float, bool, None).

    Numpy scalars and arrays become Python numbers and lists, dates become ISO strings,
    tuples and sets become lists (sets sorted), paths become strings, dict keys become
    strings. Non-finite floats become None: strict JSON has no NaN or infinity.

    >>> jsonable({"a": np.float64(1.5), 2: (np.int64(3), dt.date(2024, 1, 2))})
    {'a': 1.5, '2': [3, '2024-01-02']}
    >>> jsonable([float("nan"), float("inf"), True])
    [None, None, True]
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, set | frozenset):
        return [jsonable(v) for v in sorted(value, key=repr)]
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, dt.date | dt.datetime | dt.time):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "model_dump"):  # a pydantic model
        return jsonable(value.model_dump(mode="json"))
    raise TypeError(f"cannot write a {type(value).__name__} to JSON: {value!r}")


def canonical_json(value: Any) -> str:
    """Compact JSON with sorted keys: the form the scenario hash is computed on.

    >>> canonical_json({"b": 1, "a": [1.0, "x"]})
    '{"a":[1.0,"x"],"b":1}'
    """
    return json.dumps(
        jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _pretty_json(value: Any) -> str:
    return (
        json.dumps(jsonable(value), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def scenario_sha256(data: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a resolved scenario."""
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def run_hash(scenario_sha: str, seed: int) -> str:
    """Short hash naming a run: 8 hex digits of sha256("<scenario sha256>:<seed>").

    >>> run_hash("0" * 64, 0) == run_hash("0" * 64, 0) != run_hash("0" * 64, 1)
    True
    >>> len(run_hash("0" * 64, 7))
    8
    """
    return hashlib.sha256(f"{scenario_sha}:{seed}".encode()).hexdigest()[:8]


# --------------------------------------------------------------------------- environment


def git_commit(directory: Path | None = None) -> str | None:
    """Commit of the git work tree holding ``directory`` (default: this package), or None.

    Never raises: no git, no repository, a timeout or any other failure gives None.
    """
    where = directory if directory is not None else Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=where,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    commit = done.stdout.strip()
    if done.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}([0-9a-f]{24})?", commit):
        return None
    return commit


def package_versions(names: tuple[str, ...] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package, None where it is not installed."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --------------------------------------------------------------------------- tables


def write_parquet(table: pd.DataFrame, path: Path) -> None:
    """Write ``table`` to ``path`` as Parquet, deterministically and without an index.

    A meaningful index (named, or anything but the default 0..n-1 range) is kept as
    ordinary columns first. The bytes depend only on the data and the library versions:
    Parquet files carry no creation time.
    """
    frame = table
    index = frame.index
    default_index = (
        isinstance(index, pd.RangeIndex)
        and index.start == 0
        and index.step == 1
        and all(n is None for n in index.names)
    )
    if not default_index:
        frame = frame.reset_index()
    arrow = pa.Table.from_pandas(frame, preserve_index=False)
    write_file(
        Path(path),
        lambda handle: pq.write_table(arrow, handle, compression="zstd", write_statistics=True),
    )


# --------------------------------------------------------------------------- the folder


def default_run_dir(scenario_name: str, scenario_sha: str, seed: int, now: dt.datetime) -> Path:
    """``results/<scenario name>/<UTC YYYYmmddTHHMMSSZ>-<run hash>``."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return RESULTS_DIR / scenario_name / f"{stamp}-{run_hash(scenario_sha, seed)}"


def _unique(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... if it exists (two runs in the same second)."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def write_run(
    out_dir: Path | None,
    loaded: LoadedScenario,
    seed: int,
    produce: Callable[[], RunOutput],
) -> Path:
    """Compute a run with ``produce()`` and write its folder atomically; return the folder.

    ``out_dir`` None means the default ``results/<name>/<UTC stamp>-<hash>/``. An
    existing non-empty ``out_dir``, a link, an unwritable location or a resolved scenario
    whose scenario.yaml would not load again is a :class:`UserError`, raised before
    ``produce`` is called. Any exception (or KeyboardInterrupt) from
    ``produce`` or while writing removes everything this call created and is re-raised.
    """
    from sim.scenario import leading_comment, saved_yaml

    started = _utc_now()
    clock = time.perf_counter()
    data = jsonable(loaded.data)
    sha = scenario_sha256(data)
    # checked before the run: the saved scenario.yaml must load again within the limits
    scenario_text = saved_yaml(loaded.data, str(loaded.path))
    header = leading_comment(Path(loaded.path))
    if out_dir is None:
        target = _unique(default_run_dir(loaded.scenario.name, sha, seed, started))
    else:
        target = Path(out_dir)
    with staged_folder(target) as tmp:
        output = produce()
        if not isinstance(output, RunOutput):
            raise TypeError(f"produce() returned {type(output).__name__}, not RunOutput")
        written = _write_contents(tmp, output)
        write_text(tmp / "scenario.yaml", scenario_text)
        finished = _utc_now()
        manifest = {
            "xpusim_version": __version__,
            "git_commit": git_commit(),
            "python_version": platform.python_version(),
            "python_implementation": platform.python_implementation(),
            "platform": sys.platform,
            "packages": package_versions(),
            "scenario_name": loaded.scenario.name,
            "scenario_path": str(loaded.path),
            "scenario_files": [str(f) for f in loaded.files],
            "scenario_header": header,
            "scenario_sha256": sha,
            "scenario": data,
            "provenance": loaded.provenance,
            "seed": seed,
            "run_hash": run_hash(sha, seed),
            "files": sorted([*written, "scenario.yaml", "manifest.json"]),
            "started_utc": started.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "finished_utc": finished.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "wall_seconds": round(time.perf_counter() - clock, 6),
        }
        write_text(tmp / "manifest.json", _pretty_json(manifest))
    return target


def _write_contents(folder: Path, output: RunOutput) -> list[str]:
    names = ["summary.json"]
    write_text(folder / "summary.json", _pretty_json(output.summary))
    for name, table in output.tables.items():
        if not _TABLE_NAME.match(name) or name in _RESERVED_TABLE_NAMES:
            raise ValueError(f"table name {name!r} is not a plain file name")
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"table {name!r} is a {type(table).__name__}, not a DataFrame")
        write_parquet(table, folder / f"{name}.parquet")
        names.append(f"{name}.parquet")
    return names
