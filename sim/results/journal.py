"""The journal of a sweep: one line per finished run, crash-safe, read back defensively.

``runs.jsonl`` holds one JSON line per finished run, appended as each run ends. Each line is
written with a single ``os.write`` of the complete line (``O_APPEND``) and then
``fsync``'d, so a kill (even SIGKILL) loses at most the run being written, and a torn last
line (no final newline) is recognised and dropped on reading (:func:`read_journal`).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.model.rng import MAX_SEED
from sim.results.jsonio import canonical_json
from sim.safeio import check_not_link, fsync_dir

__all__ = [
    "JOURNAL",
    "MAX_LINE_BYTES",
    "Check",
    "Journal",
    "JournalContents",
    "read_journal",
    "record_problem",
]

JOURNAL = "runs.jsonl"
"""The journal's file name in a sweep folder."""


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


_UNREADABLE = object()


def _parsed(raw: bytes | None) -> Any:
    """The JSON value of a journal line, ``_UNREADABLE`` if it has none (too long, not JSON)."""
    if raw is None:
        return _UNREADABLE
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _UNREADABLE


def _problem(record: Any, check: Check | None, seen: set[tuple[str, int]]) -> str | None:
    """Why a parsed record is left out (malformed, refused by ``check``, a duplicate)."""
    problem = record_problem(record)
    if problem is None and check is not None:
        problem = check(record)
    if problem is None and (record["point"], record["replication"]) in seen:
        problem = "duplicate"
    return problem


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
        record = _parsed(raw)
        if record is _UNREADABLE:
            bad += 1
            continue
        problem = _problem(record, check, seen)
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
