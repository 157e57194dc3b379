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

import contextlib
import errno
import json
import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.model.rng import MAX_SEED
from sim.runfolder import canonical_json, jsonable, write_parquet
from sim.safeio import check_not_link, folder_file, fsync_dir, write_text

__all__ = [
    "JOURNAL",
    "LOCK",
    "MANIFEST",
    "POINTS",
    "RUNS",
    "FolderLock",
    "Journal",
    "JournalContents",
    "atomic_write_text",
    "build_tables",
    "read_journal",
    "read_manifest",
    "record_problem",
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


#: Longest journal line read (a run's line is ~7 KB with 146 metrics); longer ones are
#: unreadable, so that a corrupt file cannot make a reader hold an unbounded line.
MAX_LINE_BYTES = 4 * 2**20
#: What a journal record holds: field -> the types it may have.
_FIELDS: dict[str, tuple[type, ...]] = {
    "point": (str,),
    "index": (int,),
    "replication": (int,),
    "seed": (int,),
    "params": (dict,),
    "metrics": (dict,),
}
Check = Callable[[Mapping[str, Any]], str | None]


def record_problem(record: Any) -> str | None:
    """Why a parsed journal line is not a well-formed record, or None if it is.

    A record is an object with ``point`` (text), ``index``, ``replication`` and ``seed``
    (integers, the seed within 0..MAX_SEED), ``params`` and ``metrics`` (objects of plain
    values: text, numbers, true/false or null).

    >>> record_problem({"point": "p", "index": 0, "replication": 0, "seed": 1,
    ...                 "params": {}, "metrics": {"m": 1.5}}) is None
    True
    >>> record_problem({"point": "p", "index": 0, "replication": 0, "params": [],
    ...                 "metrics": None})
    "malformed: no 'seed'"
    """
    if not isinstance(record, dict):
        return "malformed: not an object"
    for name, types in _FIELDS.items():
        if name not in record:
            return f"malformed: no '{name}'"
        value = record[name]
        if isinstance(value, bool) or not isinstance(value, types):
            return f"malformed: '{name}' is not {'text' if types == (str,) else types[0].__name__}"
    if record["replication"] < 0 or record["index"] < 0:
        return "malformed: negative replication or index"
    if not 0 <= record["seed"] <= MAX_SEED:
        return "malformed: 'seed' out of range"
    for part in ("params", "metrics"):
        if not all(
            v is None or isinstance(v, bool | int | float | str) for v in record[part].values()
        ):
            return f"malformed: a value in '{part}' is not a plain value"
    return None


@dataclass(frozen=True)
class JournalContents:
    """The usable records of a journal and what was left out.

    ``torn_bytes``: length of a last line cut short (a crash while writing it);
    ``bad_lines``: complete lines that cannot be read (not JSON, not UTF-8, too long);
    ``ignored``: records left out, by reason (``duplicate``, ``outside the design``,
    ``malformed: ...``). The runs of unreadable or ignored lines are simply not done.
    """

    records: list[dict[str, Any]]
    torn_bytes: int
    bad_lines: int
    ignored: Mapping[str, int] = field(default_factory=dict)

    @property
    def duplicates(self) -> int:
        """Records of a (point, replication) already read."""
        return self.ignored.get("duplicate", 0)

    @property
    def unreadable(self) -> int:
        """Lines that could not be read: corrupt ones and a torn last one."""
        return self.bad_lines + (1 if self.torn_bytes else 0)

    def problems(self) -> str | None:
        """One sentence on what was left out, None when nothing was.

        >>> contents = JournalContents([], 12, 1, {"duplicate": 2, "malformed: no 'seed'": 1})
        >>> print(contents.problems())
        2 unreadable lines (their runs are redone); 3 records ignored: 2 duplicate, \
1 malformed: no 'seed'
        """
        parts = []
        if self.unreadable:
            parts.append(
                f"{self.unreadable} unreadable line{'s' if self.unreadable > 1 else ''} "
                "(their runs are redone)"
            )
        n = sum(self.ignored.values())
        if n:
            reasons = ", ".join(f"{c} {r}" for r, c in sorted(self.ignored.items()))
            parts.append(f"{n} record{'s' if n > 1 else ''} ignored: {reasons}")
        return "; ".join(parts) or None


def _lines(path: Path) -> Iterator[tuple[bytes | None, bool, int]]:
    """``(line or None if too long, ends with a newline, length in bytes)`` of each line."""
    with path.open("rb") as f:
        while True:
            raw = f.readline(MAX_LINE_BYTES + 1)
            if not raw:
                return
            if raw.endswith(b"\n") or len(raw) <= MAX_LINE_BYTES:
                yield raw, raw.endswith(b"\n"), len(raw)
                continue
            size, complete = len(raw), False
            while not complete:  # skip the rest of an overlong line without holding it
                more = f.readline(MAX_LINE_BYTES + 1)
                size += len(more)
                complete = more.endswith(b"\n")
                if not more:
                    break
            yield None, complete, size


def read_journal(
    path: Path, *, repair: bool = False, check: Check | None = None
) -> JournalContents:
    """The usable records of a journal, the first of each (point, replication) kept.

    A last line without its newline is a run cut short by a crash: it is ignored, and with
    ``repair`` cut off the file so that new lines start cleanly. A complete line that is not
    valid JSON (which the writer never produces) is counted and skipped: its run is redone.
    Every record must pass :func:`record_problem` and then ``check`` (a sweep checks it
    against its design); one that does not is counted under the reason returned and left
    out, and so is a second record of the same run.
    """
    if not path.exists():
        return JournalContents([], 0, 0)
    check_not_link(path, "journal")
    records: list[dict[str, Any]] = []
    seen: set[tuple[str, int]] = set()
    ignored: dict[str, int] = {}
    good_bytes = 0
    torn = bad = 0
    for raw, complete, size in _lines(path):
        if not complete:
            torn = size
            break
        good_bytes += size
        try:
            if raw is None:
                raise ValueError("line too long")
            record = json.loads(raw)
        except (ValueError, RecursionError):
            bad += 1
            continue
        problem = record_problem(record)
        if problem is None and check is not None:
            problem = check(record)
        if problem is None and (record["point"], record["replication"]) in seen:
            problem = "duplicate"
        if problem is not None:
            ignored[problem] = ignored.get(problem, 0) + 1
            continue
        seen.add((record["point"], record["replication"]))
        # one shared copy of each metric name: a long journal then costs little more than
        # its numbers in memory
        for part in ("params", "metrics"):
            record[part] = {sys.intern(str(k)): v for k, v in record[part].items()}
        records.append(record)
    if torn and repair:
        os.truncate(path, good_bytes)
    return JournalContents(records, torn, bad, ignored)


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


# --------------------------------------------------------------------------- one writer


LOCK = ".sweep.lock"
#: Errors of a file system that has no record locks (some network and FUSE file systems).
_NO_LOCKS = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP})
#: Folders this process holds the lock of (a POSIX lock does not exclude its own process).
_held: set[str] = set()


def _holder_text(holder: Mapping[str, Any] | None) -> str:
    if not holder:
        return "holder unknown: it is still starting"
    return (
        f"pid {holder.get('pid')} on host {holder.get('host')}, started {holder.get('started_utc')}"
    )


class FolderBusyError(UserError):
    """Another process holds the lock of a folder."""


class FolderLock:
    """One writer per folder: an exclusive lock on ``folder/.sweep.lock`` while writing.

    The lock is a POSIX record lock (``fcntl.lockf``) on the file: the OS drops it when
    the holding process ends, however it ends, and unlike ``flock`` it is not inherited by
    the worker processes a sweep forks, so a killed sweep's orphans cannot keep it. The
    file holds the holder's pid, host and start time, for the message a second writer
    gets; it is emptied on release, so a non-empty file whose lock is free was left by a
    process that died: :meth:`acquire` takes it over and returns what it held.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / LOCK
        self._fd: int | None = None
        self._key = ""
        #: True when the file system has no locks: the folder is then not guarded
        self.unsupported = False

    def acquire(self, started_utc: str) -> dict[str, Any] | None:
        """Take the lock; the record of a dead previous holder (stale lock), else None.

        Raises :class:`UserError` naming the holder when another process has the lock.
        """
        import fcntl
        import socket

        key = os.path.realpath(self.folder)
        busy = FolderBusyError(
            f"output folder {self.folder} is in use by another sweep ",
            hint="two sweeps must not write one folder: wait for it to finish, or stop it",
        )
        if key in _held:
            busy.message += "(this process)"
            raise busy
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError as exc:
            raise UserError(f"cannot open the lock file {self.path}: {exc.strerror}") from None
        try:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in _NO_LOCKS:  # the sweep runs, unguarded (the caller notes it)
                    self.unsupported = True
                elif exc.errno in (errno.EACCES, errno.EAGAIN):
                    busy.message += f"({_holder_text(_read_holder(fd))})"
                    raise busy from None
                else:
                    raise UserError(f"cannot lock {self.path}: {exc.strerror}") from None
            previous = _read_holder(fd)
            host = socket.gethostname()
            if previous and previous.get("host") != host:
                # another machine on a shared file system: its process cannot be checked
                raise FolderBusyError(
                    f"output folder {self.folder} was locked by {_holder_text(previous)}",
                    hint=f"this machine cannot check that host; if that sweep no longer "
                    f"runs, delete {self.path}",
                )
            me = {"pid": os.getpid(), "host": host, "started_utc": started_utc}
            data = (canonical_json(me) + "\n").encode("utf-8")
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, data, 0)
                os.fsync(fd)
            except OSError as exc:
                raise UserError(f"cannot write the lock file {self.path}: {exc.strerror}") from None
        except BaseException:
            os.close(fd)
            raise
        self._fd, self._key = fd, key
        _held.add(key)
        return previous

    def release(self) -> None:
        """Empty the lock file and let go (a no-op when not held)."""
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            os.ftruncate(self._fd, 0)
        os.close(self._fd)  # closing drops the lock
        self._fd = None
        _held.discard(self._key)


def _read_holder(fd: int) -> dict[str, Any] | None:
    """The holder record in a lock file, None if it is empty or unreadable."""
    try:
        raw = os.pread(fd, 4096, 0)
        value = json.loads(raw) if raw.strip() else None
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None
