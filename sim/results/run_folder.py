"""The run folder: written by :func:`write_run`, read back by :func:`read_summary`.

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

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.accounting.runner import RunOutput
from sim.errors import UserError
from sim.results.jsonio import pretty_json, run_hash
from sim.results.manifest import MANIFEST, build_manifest, iso_utc, scenario_fields, utc_now
from sim.results.naming import default_folder
from sim.results.tables import write_parquet
from sim.safeio import folder_file, staged_folder, write_text
from sim.scenario import LoadedScenario, saved_yaml

__all__ = ["SCENARIO", "SUMMARY", "read_summary", "write_run"]

SUMMARY = "summary.json"
SCENARIO = "scenario.yaml"
_TABLE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_RESERVED_TABLE_NAMES = frozenset({"summary", "manifest", "scenario"})


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
    started = utc_now()
    clock = time.perf_counter()
    fields = scenario_fields(loaded)
    sha = fields["scenario_sha256"]
    # checked before the run: the saved scenario.yaml must load again within the limits
    scenario_text = saved_yaml(loaded.data, str(loaded.path))
    if out_dir is None:
        target = default_folder(loaded.scenario.name, "", started, run_hash(sha, seed))
    else:
        target = Path(out_dir)
    with staged_folder(target) as tmp:
        output = produce()
        if not isinstance(output, RunOutput):
            raise TypeError(f"produce() returned {type(output).__name__}, not RunOutput")
        written = _write_contents(tmp, output)
        write_text(tmp / SCENARIO, scenario_text)
        manifest = build_manifest(
            None,
            {
                **fields,
                "provenance": loaded.provenance,
                "seed": seed,
                "run_hash": run_hash(sha, seed),
                "files": sorted([*written, SCENARIO, MANIFEST]),
                "started_utc": iso_utc(started),
                "finished_utc": iso_utc(utc_now()),
                "wall_seconds": round(time.perf_counter() - clock, 6),
            },
        )
        write_text(tmp / MANIFEST, pretty_json(manifest))
    return target


def _write_contents(folder: Path, output: RunOutput) -> list[str]:
    names = [SUMMARY]
    write_text(folder / SUMMARY, pretty_json(output.summary))
    for name, table in output.tables.items():
        if not _TABLE_NAME.match(name) or name in _RESERVED_TABLE_NAMES:
            raise ValueError(f"table name {name!r} is not a plain file name")
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"table {name!r} is a {type(table).__name__}, not a DataFrame")
        write_parquet(table, folder / f"{name}.parquet")
        names.append(f"{name}.parquet")
    return names


def read_summary(folder: Path) -> dict[str, Any]:
    """The ``summary.json`` of a run folder (a :class:`UserError` if it has none)."""
    path = folder_file(folder, SUMMARY)
    if path is None:
        raise UserError(f"{folder} has no {SUMMARY}")
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path}: {exc}") from exc
    if not isinstance(value, dict):
        raise UserError(f"{path} is not a run summary")
    return value
