"""The sweep folder: its manifest, journal and tables, written and read in one place.

A sweep folder holds

- ``manifest.json``: what the sweep is (kind ``sweep``, design and its sha256, the resolved
  base scenario, seed, versions) and how far it got; replaced atomically;
- ``runs.jsonl``: the journal, one JSON line per finished run (:mod:`sim.results.journal`);
- ``runs.parquet`` and ``points.parquet``: tables rebuilt from the journal (periodically and
  at the end) into a temporary file that replaces the old one with ``os.replace``, so a
  reader always sees a complete table;
- ``.sweep.lock``: held by the one process writing the folder (:mod:`sim.results.lock`).

Rows are in the design's order of points (their index: a grid's values in the order given,
a sample's draws in order), then by replication, which makes the tables independent of the
order in which runs finished, hence of the backend and the number of workers.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.errors import UserError
from sim.results.journal import JOURNAL, Check, read_journal
from sim.results.jsonio import canonical_json, pretty_json
from sim.results.lock import LOCK
from sim.results.manifest import MANIFEST
from sim.results.naming import default_folder
from sim.results.tables import read_table, write_parquet
from sim.safeio import check_not_link, folder_file, write_text

__all__ = [
    "CONFIDENCE",
    "POINTS",
    "RUNS",
    "SWEEP_FILES",
    "SweepStorageError",
    "build_tables",
    "create_folder",
    "default_sweep_folder",
    "prepare_folder",
    "read_finished_sweep",
    "read_point_means",
    "read_points",
    "read_sweep_manifest",
    "storage_error",
    "write_manifest",
    "write_tables",
]

RUNS = "runs.parquet"
POINTS = "points.parquet"
SWEEP_FILES: tuple[str, ...] = (MANIFEST, JOURNAL, RUNS, POINTS)
"""The files of a sweep folder, as its manifest lists them."""
#: Two-sided confidence level of the per-point intervals.
CONFIDENCE = 0.95


# --------------------------------------------------------------------------- the folder


def default_sweep_folder(name: str, design_sha: str, now: dt.datetime) -> Path:
    """``results/<name>/sweep-<UTC stamp>-<design hash>``, unique."""
    return default_folder(name, "sweep-", now, design_sha[:8])


def _check_out(out: Path) -> None:
    check_not_link(out, "output folder")
    if out.exists() and not out.is_dir():
        raise UserError(f"output folder {out} exists and is not a folder; choose another --out")


def create_folder(out: Path) -> bool:
    """Create ``out`` (and parents) if needed; True if this call created it."""
    _check_out(out)
    if out.is_dir():
        return False
    try:
        out.mkdir(parents=True)
    except FileExistsError:
        _check_out(out)
        return False
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    return True


def read_sweep_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a folder, None if it has none; a UserError if it cannot be read.

    A link out of the folder is never followed (:func:`sim.safeio.folder_file`).
    """
    path = folder_file(folder, MANIFEST)
    if path is None:
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}", hint="choose another --out") from None
    if not isinstance(value, dict):
        raise UserError(f"{path} is not a sweep manifest", hint="choose another --out")
    return value


def prepare_folder(out: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Check that the (locked) folder is new, empty or holds the same design; the manifest.

    Resuming keeps the first start time and adds this one to ``resumed_utc``.
    """
    _check_out(out)
    old = read_sweep_manifest(out)
    if old is None:
        if any(p.name != LOCK for p in out.iterdir()):
            raise UserError(
                f"output folder {out} is not empty and holds no sweep",
                hint="choose another --out",
            )
        return manifest
    if old.get("kind") != "sweep":
        raise UserError(
            f"output folder {out} holds a {old.get('kind', 'run')!r} folder, not a sweep",
            hint="choose another --out",
        )
    if old.get("design_sha256") != manifest["design_sha256"]:
        raise UserError(
            f"output folder {out} holds a sweep with a different design",
            expected=f"design {str(old.get('design_sha256'))[:12]}",
            found=f"design {manifest['design_sha256'][:12]}",
            hint="the scenario, --set, --grid, --sample, --replications and --seed must all "
            "match to resume; choose another --out for a new sweep",
        )
    resumed = [*old.get("resumed_utc", []), manifest["started_utc"]]
    return {**manifest, "started_utc": old.get("started_utc"), "resumed_utc": resumed}


def write_manifest(folder: Path, manifest: Mapping[str, Any]) -> None:
    """Replace the folder's manifest atomically (never through a link)."""
    write_text(folder / MANIFEST, pretty_json(manifest))


class SweepStorageError(UserError):
    """Writing the sweep folder failed (a full disk, a quota, an I/O error)."""


def storage_error(folder: Path, exc: OSError) -> SweepStorageError:
    """The one-line error for a failed write into a sweep folder."""
    reason = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else "writing failed"
    return SweepStorageError(
        f"{reason} ({exc.strerror or exc}) while writing the sweep folder {folder}; the sweep "
        "is marked interrupted there and its finished runs are kept",
        hint="free some space and run the same command to resume",
    )


def read_finished_sweep(folder: Path) -> dict[str, Any]:
    """The manifest of a finished sweep folder, or a UserError saying why it is not one."""
    manifest = read_sweep_manifest(folder)
    if manifest is None or manifest.get("kind") != "sweep":
        raise UserError(
            f"{folder} is not a sweep folder (no manifest.json of kind 'sweep')",
            hint="give a scenario file, or a folder written by xpusim sweep",
        )
    done, total = manifest.get("runs_done"), manifest.get("runs_total")
    if manifest.get("status") != "complete" or done != total:
        raise UserError(
            f"the sweep in {folder} is not finished ({done} of {total} runs)",
            hint="resume it by re-running the xpusim sweep command that started it",
        )
    return manifest


def read_points(folder: Path) -> pd.DataFrame:
    """The ``points.parquet`` of a sweep folder (a UserError if it has none)."""
    points = folder_file(folder, POINTS)
    if points is None:
        raise UserError(f"cannot read {folder / POINTS}: the sweep folder has no such file")
    return read_table(points, "")


def read_point_means(
    folder: Path, parameters: Sequence[str]
) -> tuple[dict[str, npt.NDArray[np.float64]], dict[str, pd.Series]]:
    """A finished sweep's numeric parameter values and metric means at every point.

    From ``points.parquet``: ``param.<path>`` columns (a discrete choice among labels has
    no order, and is left out) and ``metric.<key>.mean`` columns, by path and by key.
    """
    table = read_points(folder)
    values: dict[str, npt.NDArray[np.float64]] = {}
    for p in parameters:
        col = table.get(f"param.{p}")
        if col is not None and pd.api.types.is_numeric_dtype(col):
            values[p] = col.to_numpy(dtype=float)
    means = {
        c.removeprefix("metric.").removesuffix(".mean"): table[c]
        for c in table.columns
        if c.startswith("metric.") and c.endswith(".mean")
    }
    return values, means


# --------------------------------------------------------------------------- tables


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _column(values: Sequence[Any]) -> Any:
    """A typed column: int64, float64 (None -> NaN), boolean, or text."""
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        if len(present) == len(values):
            return np.asarray(values, dtype=np.int64)
        return np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)
    if all(_is_number(v) for v in present):
        return np.asarray([math.nan if v is None else v for v in values], dtype=np.float64)
    if all(isinstance(v, bool) for v in present):
        return pd.array(values, dtype="boolean")
    text = [None if v is None else (v if isinstance(v, str) else canonical_json(v)) for v in values]
    return pd.array(text, dtype="string")


def build_tables(
    records: Sequence[Mapping[str, Any]], parameters: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``runs`` (one row per run) and ``points`` (per point: mean, std, 95% CI half-width).

    Rows are in the design's order of points (each record's ``index``), then by
    replication. Metric columns are the union of the
    runs' metric keys, sorted. ``points`` has ``metric.<key>.mean``, ``.std`` (sample
    standard deviation over replications) and ``.ci95`` (half-width of the two-sided 95%
    t-interval of the mean; NaN with one replication) for every numeric metric.
    """
    rows = sorted(records, key=lambda r: (int(r["index"]), int(r["replication"])))
    metric_keys = sorted({k for r in rows for k in r["metrics"]})
    columns: dict[str, Any] = {
        "point": pd.array([str(r["point"]) for r in rows], dtype="string"),
        "replication": np.asarray([int(r["replication"]) for r in rows], dtype=np.int64),
        "seed": np.asarray([int(r["seed"]) for r in rows], dtype=np.int64),
    }
    for p in parameters:
        columns[f"param.{p}"] = _column([r["params"].get(p) for r in rows])
    for k in metric_keys:
        columns[f"metric.{k}"] = _column([r["metrics"].get(k) for r in rows])
    runs = pd.DataFrame(columns)
    return runs, _points(runs, parameters, metric_keys)


def _points(
    runs: pd.DataFrame, parameters: Sequence[str], metric_keys: Sequence[str]
) -> pd.DataFrame:
    from scipy import stats  # deferred: scipy.stats is slow to import

    ids = runs["point"].to_numpy(dtype=object)
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    starts = np.flatnonzero(first)
    sizes = np.diff(np.append(starts, len(ids)))
    columns: dict[str, Any] = {
        "point": pd.array(ids[starts].tolist(), dtype="string"),
        "replications": sizes.astype(np.int64),
    }
    for p in parameters:
        columns[f"param.{p}"] = runs[f"param.{p}"].iloc[starts].reset_index(drop=True).array
    numeric = [
        k
        for k in metric_keys
        if pd.api.types.is_numeric_dtype(runs[f"metric.{k}"])
        or pd.api.types.is_bool_dtype(runs[f"metric.{k}"])
    ]
    if not numeric or len(ids) == 0:
        return pd.DataFrame(columns)
    x = np.column_stack(
        [
            runs[f"metric.{k}"].astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
            for k in numeric
        ]
    )
    ok = np.isfinite(x)
    count = np.add.reduceat(ok, starts, axis=0).astype(np.float64)
    total = np.add.reduceat(np.where(ok, x, 0.0), starts, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, total / count, np.nan)
        dev = np.where(ok, x - np.repeat(mean, sizes, axis=0), 0.0)
        ss = np.add.reduceat(dev * dev, starts, axis=0)
        std = np.where(count >= 2, np.sqrt(ss / (count - 1.0)), np.nan)
        t = stats.t.ppf(0.5 + CONFIDENCE / 2.0, np.maximum(count - 1.0, 1.0))
        half = np.where(count >= 2, t * std / np.sqrt(count), np.nan)
    for j, k in enumerate(numeric):
        columns[f"metric.{k}.mean"] = mean[:, j]
        columns[f"metric.{k}.std"] = std[:, j]
        columns[f"metric.{k}.ci95"] = half[:, j]
    return pd.DataFrame(columns)


def write_tables(folder: Path, parameters: Sequence[str], check: Check | None = None) -> int:
    """(Re)build ``runs.parquet`` and ``points.parquet`` from the journal; the number of runs.

    Only the records :func:`read_journal` accepts (with ``check``) make rows.
    """
    contents = read_journal(folder / JOURNAL, check=check)
    if not contents.records:
        return 0
    runs, points = build_tables(contents.records, parameters)
    write_parquet(runs, folder / RUNS)
    write_parquet(points, folder / POINTS)
    return len(runs)
