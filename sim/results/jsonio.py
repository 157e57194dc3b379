"""JSON and hashing: the one conversion of results to JSON, and the hashes that name them.

Every JSON file xpusim writes (``summary.json``, manifests, ``sensitivity.json``, journal
lines) goes through :func:`jsonable` (strict JSON: NaN and infinities become null, keys are
text), and every one it reads back through :func:`read_json`. :func:`canonical_json` is
the compact sorted form every hash is computed on, so the scenario hash, the run hash, a
sweep's design hash and a point's id are all sha256 of canonical JSON (:func:`sha256_of`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from sim.errors import UserError
from sim.safeio import folder_file

__all__ = [
    "canonical_json",
    "jsonable",
    "pretty_json",
    "read_json",
    "run_hash",
    "scenario_sha256",
    "sha256_of",
]


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
    return _jsonable_other(value)


def _jsonable_other(value: Any) -> Any:
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
    """Compact JSON with sorted keys: the form every hash is computed on.

    >>> canonical_json({"b": 1, "a": [1.0, "x"]})
    '{"a":[1.0,"x"],"b":1}'
    """
    return json.dumps(
        jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def pretty_json(value: Any) -> str:
    """Indented strict JSON with sorted keys and a final newline (the files' form)."""
    return (
        json.dumps(jsonable(value), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
        + "\n"
    )


def sha256_of(value: Any, digits: int = 64) -> str:
    """sha256 (hex) of the canonical JSON of ``value``, its first ``digits`` hex digits.

    >>> len(sha256_of({"a": 1})), sha256_of({"a": 1}, 8) == sha256_of({"a": 1})[:8]
    (64, True)
    """
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()[:digits]


def scenario_sha256(data: Mapping[str, Any]) -> str:
    """sha256 (hex) of the canonical JSON of a resolved scenario."""
    return sha256_of(data)


def run_hash(scenario_sha: str, seed: int) -> str:
    """Short hash naming a run: 8 hex digits of sha256("<scenario sha256>:<seed>").

    >>> run_hash("0" * 64, 0) == run_hash("0" * 64, 0) != run_hash("0" * 64, 1)
    True
    >>> len(run_hash("0" * 64, 7))
    8
    """
    return hashlib.sha256(f"{scenario_sha}:{seed}".encode()).hexdigest()[:8]


def read_json(folder: Path, name: str) -> Any:
    """The JSON file ``name`` of a folder, None if it has none.

    Only the folder's own file is read: a link out of the folder is a :class:`UserError`
    (:func:`sim.safeio.folder_file`), and so is a file that is not JSON.
    """
    path = folder_file(folder, name)
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc
