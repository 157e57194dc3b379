"""Folder names: the default place of a new run, sweep or sensitivity folder, made unique."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

__all__ = ["RESULTS_DIR", "default_folder", "unique_path", "utc_stamp"]

RESULTS_DIR = Path("results")
"""Default parent of every folder, relative to the working directory."""


def utc_stamp(when: dt.datetime) -> str:
    """``20240529T120000Z``: a time in UTC as it appears in folder names.

    >>> utc_stamp(dt.datetime(2024, 5, 29, 14, 0, tzinfo=dt.timezone(dt.timedelta(hours=2))))
    '20240529T120000Z'
    """
    return when.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def unique_path(path: Path) -> Path:
    """``path``, or ``path-2``, ``path-3``... if it exists (two folders in the same second)."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


def default_folder(scenario_name: str, prefix: str, when: dt.datetime, digest: str) -> Path:
    """``results/<scenario name>/<prefix><UTC stamp>-<digest>``, made unique.

    ``prefix`` is ``""`` for a run, ``"sweep-"`` or ``"sensitivity-"``; ``digest`` is the
    short hash of what the folder holds.

    >>> when = dt.datetime(2024, 5, 29, tzinfo=dt.UTC)
    >>> default_folder("baseline", "sweep-", when, "1a2b3c4d").as_posix()
    'results/baseline/sweep-20240529T000000Z-1a2b3c4d'
    """
    return unique_path(RESULTS_DIR / scenario_name / f"{prefix}{utc_stamp(when)}-{digest}")
