"""Any output folder: what a run, sweep or sensitivity folder holds, and what is drawn into it.

:class:`Folder` reads a folder lazily and defensively, only its own files (never a path its
manifest names, never a link out of it): the manifest, ``summary.json``,
``sensitivity.json``, the Parquet tables and the header comment of ``scenario.yaml``.
A folder can be of several kinds at once (a sweep ranked in place is a sweep and a
sensitivity folder). :func:`figures_folder` and :func:`write_output` are how the figures
(``figures/<kind>.<format>``) and the report (``report.html``, ``report.md``) that
:mod:`sim.views` renders get into a folder.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import UserError
from sim.model.schema import Scenario
from sim.results.jsonio import read_json
from sim.results.manifest import MANIFEST
from sim.results.run_folder import SCENARIO, SUMMARY
from sim.results.sensitivity_folder import read_sensitivities
from sim.results.sweep_folder import RUNS
from sim.results.tables import read_table
from sim.safeio import check_not_link, folder_file, read_folder_file, write_file, write_text
from sim.scenario.dump import comment_lines
from sim.scenario.marks import MAX_FILE_BYTES

__all__ = [
    "FIGURES",
    "REPORT_HTML",
    "REPORT_MD",
    "Folder",
    "figures_folder",
    "open_output_folder",
    "read_output",
    "write_output",
    "write_report_files",
]

TIMESERIES = "timeseries.parquet"
FIGURES = "figures"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"


def _mapping(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


class Folder:
    """What a run, sweep or sensitivity folder holds, read lazily and defensively."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        if not self.folder.exists():
            raise UserError(
                f"no such folder: {self.folder}",
                hint="give a folder written by `xpusim run --out DIR` or `xpusim sweep`",
            )
        if not self.folder.is_dir():
            raise UserError(f"{self.folder} is not a folder")
        self._tables: dict[str, pd.DataFrame | None] = {}
        self.manifest: dict[str, Any] = _mapping(read_json(self.folder, MANIFEST)) or {}
        self.summary: dict[str, Any] = _mapping(read_json(self.folder, SUMMARY)) or {}
        self.sensitivities = read_sensitivities(self.folder)
        self.sensitivity = self.sensitivities[0] if self.sensitivities else None

    def file(self, name: str) -> Path | None:
        """The folder's own file ``name`` (a link out of the folder is a UserError)."""
        return folder_file(self.folder, name)

    @property
    def is_sweep(self) -> bool:
        """The folder holds runs.parquet or a sweep manifest."""
        return self.file(RUNS) is not None or self.manifest.get("kind") == "sweep"

    @property
    def is_sensitivity(self) -> bool:
        """The folder holds sensitivity.json."""
        return self.sensitivity is not None

    @property
    def is_run(self) -> bool:
        """The folder holds a single run's tables (timeseries.parquet)."""
        return self.file(TIMESERIES) is not None

    def describe(self) -> str:
        """'run folder', 'sweep and sensitivity folder', ..."""
        kinds = [
            name
            for name, ok in (
                ("run", self.is_run),
                ("sweep", self.is_sweep),
                ("sensitivity", self.is_sensitivity),
            )
            if ok
        ]
        return " and ".join(kinds) + " folder" if kinds else "folder of unknown kind"

    def table(self, name: str) -> pd.DataFrame | None:
        """``<name>.parquet`` as a DataFrame, or None if the folder has none."""
        if name not in self._tables:
            path = self.file(f"{name}.parquet")
            self._tables[name] = None if path is None else read_table(path)
        return self._tables[name]

    def need(self, name: str) -> pd.DataFrame:
        """``<name>.parquet`` as a DataFrame; a UserError if the folder has none."""
        t = self.table(name)
        if t is None:
            raise UserError(f"{self.folder} has no {name}.parquet")
        return t

    @property
    def scenario(self) -> dict[str, Any] | None:
        """The resolved scenario recorded in the manifest, as plain data."""
        return _mapping(self.manifest.get("scenario"))

    @cached_property
    def _validated(self) -> tuple[Scenario | None, str | None]:
        data = self.scenario
        if data is None:
            return None, "the manifest holds no resolved scenario"
        try:
            return Scenario.model_validate(data, strict=False), None
        except ValueError as exc:  # pydantic's ValidationError is one
            return None, " ".join(str(exc).split())

    @property
    def scenario_model(self) -> Scenario | None:
        """The recorded scenario validated once (JSON dates read back), None if it cannot be."""
        return self._validated[0]

    @property
    def scenario_problem(self) -> str | None:
        """Why :attr:`scenario_model` is None (None when it is not)."""
        return self._validated[1]

    @property
    def metric(self) -> str:
        """The metric a sensitivity folder analyses (the first one, if several)."""
        sens = self.sensitivity or {}
        return str(sens.get("metric") or self.manifest.get("metric") or "metric")

    def header_lines(self) -> list[str]:
        """The header comment of the folder's scenario, line by line.

        Taken from ``scenario_header`` in the manifest (recorded when the folder was
        written), else from the leading comment of the folder's own scenario.yaml.
        Nothing outside the folder is read: a path named in the manifest is never opened.
        """
        given = self.manifest.get("scenario_header")
        if isinstance(given, str) and given.strip():
            return given.splitlines()
        raw = read_folder_file(self.folder, SCENARIO, MAX_FILE_BYTES)
        if raw is None:
            return []
        return comment_lines(raw.decode("utf-8", errors="replace"))


def open_output_folder(folder: Path | str) -> Folder:
    """A run, sweep or sensitivity folder that plot and report may write into.

    The folder itself must not be a symbolic link: nothing is written through one.
    """
    check_not_link(Path(folder), "folder")
    data = Folder(folder)
    if not (data.is_run or data.is_sweep or data.is_sensitivity):
        raise UserError(
            f"{data.folder} is not a run, sweep or sensitivity folder "
            "(it has no timeseries.parquet, runs.parquet or sensitivity.json)"
        )
    return data


def figures_folder(folder: Path) -> Path:
    """The folder's ``figures/`` subfolder, created if needed (never through a link)."""
    out_dir = folder / FIGURES
    check_not_link(out_dir, "figures folder")
    try:
        out_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out_dir}: {exc.strerror or exc}") from exc
    if not out_dir.is_dir():
        raise UserError(f"{out_dir} is not a folder; cannot draw the figures into it")
    return out_dir


def write_output(path: Path, data: bytes) -> None:
    """Write a figure or report file atomically, never through a link (a UserError if not)."""
    try:
        write_file(path, lambda handle: handle.write(data))
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or exc}") from exc


#: Largest figure read back into a report (a PNG of a figure is well under 1 MB).
MAX_OUTPUT_BYTES = 64 * 2**20


def read_output(folder: Path, path: Path) -> bytes:
    """The bytes of a figure or report file written into ``folder`` (a UserError if absent)."""
    name = path.relative_to(folder).as_posix() if path.is_relative_to(folder) else path.name
    data = read_folder_file(folder, name, MAX_OUTPUT_BYTES)
    if data is None:
        raise UserError(f"cannot read {path}: the file is missing")
    return data


def write_report_files(folder: Path, html: str, markdown: str) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.md`` into ``folder``, each atomically."""
    html_path, md_path = folder / REPORT_HTML, folder / REPORT_MD
    try:
        write_text(html_path, html)
        write_text(md_path, markdown)
    except OSError as exc:
        raise UserError(f"cannot write the report into {folder}: {exc.strerror or exc}") from exc
    return html_path, md_path
