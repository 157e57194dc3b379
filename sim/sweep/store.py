"""Crash-safe persistence of a sweep folder.

A sweep folder holds

- ``manifest.json``: what the sweep is (kind ``sweep``, design and its sha256, the resolved
  base scenario, seed, versions) and how far it got; replaced atomically;
- ``runs.jsonl``: the journal, one JSON line per finished run, appended as each run ends.
  Each line is written with a single ``os.write`` of the complete line (``O_APPEND``) and
  then ``fsync``'d, so a kill (even SIGKILL) loses at most the run being written, and a torn
  last line (no final newline) is recognised and dropped on reading;
- ``runs.parquet`` and ``points.parquet``: tables rebuilt from the journal (periodically and
  at the end) into a temporary file that replaces the old one with ``os.replace``, so a
  reader always sees a complete table.

Rows are sorted by (point id, replication), which makes the tables independent of the
order in which runs finished, hence of the backend and the number of workers.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.runfolder import canonical_json, jsonable, write_parquet
from sim.safeio import check_not_link, folder_file, fsync_dir, write_text

__all__ = [
    "JOURNAL",
    "MANIFEST",
    "POINTS",
    "RUNS",
    "Journal",
    "atomic_write_text",
    "build_tables",
    "read_journal",
    "read_manifest",
    "write_tables",
]

MANIFEST = "manifest.json"
JOURNAL = "runs.jsonl"
RUNS = "runs.parquet"
POINTS = "points.parquet"
#: Two-sided confidence level of the per-point intervals.
CONFIDENCE = 0.95


# --------------------------------------------------------------------------- files


#: Every file of a sweep folder is replaced atomically and never through a link.
atomic_write_text = write_text


def pretty_json(value: Any) -> str:
    """Indented strict JSON with sorted keys and a final newline."""
    return (
        json.dumps(jsonable(value), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The manifest of a folder, None if it has none; a UserError if it cannot be read."""
    path = folder_file(folder, MANIFEST)  # never a link out of the folder
    if path is None:
        return None
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}", hint="choose another --out") from None
    if not isinstance(value, dict):
        raise UserError(f"{path} is not a sweep manifest", hint="choose another --out")
    return value


# --------------------------------------------------------------------------- journal


class Journal:
    """Append-only journal of finished runs: one complete, fsync'd JSON line per run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        existed = path.exists()
        check_not_link(path, "journal")
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
        self._fd: int | None = os.open(path, flags, 0o644)
        if not existed:
            fsync_dir(path.parent)

    def append(self, record: Mapping[str, Any]) -> None:
        """Write one record as a single line, durably, before returning."""
        if self._fd is None:
            raise ValueError("the journal is closed")
        line = (canonical_json(record) + "\n").encode("utf-8")
        # One write of the whole line: O_APPEND places it atomically at the end, so lines
        # never interleave and a crash can only cut the very last one short.
        written = os.write(self._fd, line)
        if written != len(line):  # pragma: no cover - regular files write fully or fail
            raise OSError(f"short write to {self.path}: {written} of {len(line)} bytes")
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class JournalContents:
    """The readable records of a journal and what was dropped."""

    records: list[dict[str, Any]]
    torn_bytes: int
    bad_lines: int
    duplicates: int


def _lines(path: Path) -> Iterator[tuple[bytes, bool]]:
    with path.open("rb") as f:
        for raw in f:
            yield raw, raw.endswith(b"\n")


def read_journal(path: Path, *, repair: bool = False) -> JournalContents:
    """The records of a journal, first record of each (point, replication) kept.

    A last line without its newline is a run cut short by a crash: it is ignored, and with
    ``repair`` cut off the file so that new lines start cleanly. A complete line that is not
    valid JSON (which the writer never produces) is counted and skipped: its run is redone.
    """
    if not path.exists():
        return JournalContents([], 0, 0, 0)
    check_not_link(path, "journal")
    records: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    good_bytes = 0
    torn = bad = dupes = 0
    for raw, complete in _lines(path):
        if not complete:
            torn = len(raw)
            break
        good_bytes += len(raw)
        try:
            record = json.loads(raw)
            key = (str(record["point"]), int(record["replication"]))
        except (ValueError, KeyError, TypeError):
            bad += 1
            continue
        if key in seen:
            dupes += 1
            continue
        seen.add(key)
        # one shared copy of each metric name: a long journal then costs little more than
        # its numbers in memory
        for part in ("params", "metrics"):
            if isinstance(record.get(part), dict):
                record[part] = {sys.intern(str(k)): v for k, v in record[part].items()}
        records.append(record)
    if torn and repair:
        os.truncate(path, good_bytes)
    return JournalContents(records, torn, bad, dupes)


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

    Rows are sorted by point id then replication. Metric columns are the union of the
    runs' metric keys, sorted. ``points`` has ``metric.<key>.mean``, ``.std`` (sample
    standard deviation over replications) and ``.ci95`` (half-width of the two-sided 95%
    t-interval of the mean; NaN with one replication) for every numeric metric.
    """
    rows = sorted(records, key=lambda r: (str(r["point"]), int(r["replication"])))
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
    from scipy import stats

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


def write_tables(folder: Path, parameters: Sequence[str]) -> int:
    """(Re)build ``runs.parquet`` and ``points.parquet`` from the journal; the number of runs."""
    contents = read_journal(folder / JOURNAL)
    if not contents.records:
        return 0
    runs, points = build_tables(contents.records, parameters)
    write_parquet(runs, folder / RUNS)
    write_parquet(points, folder / POINTS)
    return len(runs)
