"""The one manifest builder: what every folder records about how it was made.

Run, sweep and sensitivity folders each hold a ``manifest.json``: the environment (xpusim
version, git commit, Python, platform, key package versions), the scenario (name, path,
files, header comment, resolved data and its sha256) and the fields of its kind. All three
are built by :func:`build_manifest`.
"""

from __future__ import annotations

import datetime as dt
import platform
import re
import subprocess
import sys
from collections.abc import Mapping, Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from sim import __version__
from sim.results.jsonio import jsonable, scenario_sha256
from sim.scenario import LoadedScenario, leading_comment

__all__ = [
    "KEY_PACKAGES",
    "MANIFEST",
    "SWEEP_PACKAGES",
    "build_manifest",
    "git_commit",
    "iso_utc",
    "package_versions",
    "scenario_fields",
    "utc_now",
]

MANIFEST = "manifest.json"
"""The manifest's file name in every folder."""

KEY_PACKAGES: tuple[str, ...] = ("simpy", "numpy", "scipy", "pandas", "pyarrow", "pydantic")
"""Packages whose versions every manifest records."""

SWEEP_PACKAGES: tuple[str, ...] = (*KEY_PACKAGES, "SALib", "dask", "distributed")
"""Packages a sweep or sensitivity manifest records: the key ones and the experiment ones."""


def utc_now() -> dt.datetime:
    """The current time in UTC."""
    return dt.datetime.now(dt.UTC)


def iso_utc(when: dt.datetime) -> str:
    """``2024-05-29T12:00:00Z``: a UTC time to the second.

    >>> iso_utc(dt.datetime(2024, 5, 29, 12, 0, 1, 999, tzinfo=dt.UTC))
    '2024-05-29T12:00:01Z'
    """
    return when.isoformat(timespec="seconds").replace("+00:00", "Z")


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


def package_versions(names: Sequence[str] = KEY_PACKAGES) -> dict[str, str | None]:
    """Installed version of each package, None where it is not installed."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def scenario_fields(loaded: LoadedScenario) -> dict[str, Any]:
    """The scenario part of a manifest: name, path, files, header, resolved data, sha256."""
    data = jsonable(loaded.data)
    return {
        "scenario_name": loaded.scenario.name,
        "scenario_path": str(loaded.path),
        "scenario_files": [str(f) for f in loaded.files],
        "scenario_header": leading_comment(Path(loaded.path)),
        "scenario_sha256": scenario_sha256(data),
        "scenario": data,
    }


def build_manifest(
    kind: str | None,
    fields: Mapping[str, Any],
    *,
    packages: Sequence[str] = KEY_PACKAGES,
) -> dict[str, Any]:
    """A manifest: ``kind`` (None for a run folder), the environment, then ``fields``."""
    head: dict[str, Any] = {} if kind is None else {"kind": kind}
    return {
        **head,
        "xpusim_version": __version__,
        "git_commit": git_commit(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "platform": sys.platform,
        "packages": package_versions(packages),
        **fields,
    }
