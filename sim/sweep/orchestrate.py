"""Running a sweep: design -> execution -> journal -> tables, resumable.

:func:`run_sweep` ties the three separate parts together (the design from
:mod:`sim.sweep.design`, the backends of :mod:`sim.sweep.execute`, the folder of
:mod:`sim.sweep.store`). It prints nothing; progress goes to a callback.
"""

from __future__ import annotations

import datetime as dt
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim import __version__
from sim.errors import UserError
from sim.loader import LoadedScenario, leading_comment
from sim.runfolder import (
    KEY_PACKAGES,
    RESULTS_DIR,
    git_commit,
    jsonable,
    package_versions,
    scenario_sha256,
)
from sim.safeio import check_not_link
from sim.sweep.design import Design, Point
from sim.sweep.execute import Job, Task, execute, simulate
from sim.sweep.store import (
    JOURNAL,
    MANIFEST,
    POINTS,
    RUNS,
    Journal,
    atomic_write_text,
    pretty_json,
    read_journal,
    read_manifest,
    write_tables,
)
from sim.uncertainty import apply_values

__all__ = ["SWEEP_PACKAGES", "SweepOutcome", "default_sweep_dir", "run_sweep"]

SWEEP_PACKAGES: tuple[str, ...] = (*KEY_PACKAGES, "SALib", "dask", "distributed")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SweepOutcome:
    """Where a sweep went and how far it got."""

    folder: Path
    runs_total: int
    runs_done: int
    runs_resumed: int
    design_sha256: str

    @property
    def complete(self) -> bool:
        return self.runs_done >= self.runs_total


def _stamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _iso(now: dt.datetime) -> str:
    return now.isoformat(timespec="seconds").replace("+00:00", "Z")


def default_sweep_dir(name: str, design_sha: str, now: dt.datetime) -> Path:
    """``results/<name>/sweep-<UTC stamp>-<design hash>``, unique."""
    base = RESULTS_DIR / name / f"sweep-{_stamp(now)}-{design_sha[:8]}"
    candidate, n = base, 1
    while candidate.exists():
        n += 1
        candidate = base.with_name(f"{base.name}-{n}")
    return candidate


def _manifest(
    loaded: LoadedScenario, design: Design, data_sha: str, design_sha: str, now: dt.datetime
) -> dict[str, Any]:
    return {
        "kind": "sweep",
        "xpusim_version": __version__,
        "git_commit": git_commit(),
        "python_version": platform.python_version(),
        "platform": sys.platform,
        "packages": package_versions(SWEEP_PACKAGES),
        "scenario_name": loaded.scenario.name,
        "scenario_path": str(loaded.path),
        "scenario_header": leading_comment(loaded.path),
        "scenario_files": [str(f) for f in loaded.files],
        "scenario_sha256": data_sha,
        "scenario": jsonable(loaded.data),
        "seed": design.seed,
        "replications": design.replications,
        "replication_seeds": list(design.seeds),
        "design": {
            **jsonable(dict(design.spec)),
            "parameters": list(design.parameters),
            "points": [
                {"id": p.id, "index": p.index, "values": jsonable(dict(p.values))}
                for p in design.points
            ],
        },
        "design_sha256": design_sha,
        "runs_total": design.runs_total,
        "runs_done": 0,
        "status": "running",
        "started_utc": _iso(now),
        "finished_utc": None,
        "files": [MANIFEST, JOURNAL, RUNS, POINTS],
    }


def _prepare(out: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    """Create the folder or check that it holds the same design; the manifest to keep."""
    check_not_link(out, "output folder")
    if out.exists() and not out.is_dir():
        raise UserError(f"output folder {out} exists and is not a folder; choose another --out")
    if out.is_dir():
        old = read_manifest(out)
        if old is None:
            if any(out.iterdir()):
                raise UserError(
                    f"output folder {out} is not empty and holds no sweep",
                    hint="choose another --out",
                )
        elif old.get("kind") != "sweep":
            raise UserError(
                f"output folder {out} holds a {old.get('kind', 'run')!r} folder, not a sweep",
                hint="choose another --out",
            )
        elif old.get("design_sha256") != manifest["design_sha256"]:
            raise UserError(
                f"output folder {out} holds a sweep with a different design",
                expected=f"design {str(old.get('design_sha256'))[:12]}",
                found=f"design {manifest['design_sha256'][:12]}",
                hint="the scenario, --set, --grid, --sample, --replications and --seed must all "
                "match to resume; choose another --out for a new sweep",
            )
        else:
            resumed = [*old.get("resumed_utc", []), manifest["started_utc"]]
            return {**manifest, "started_utc": old.get("started_utc"), "resumed_utc": resumed}
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out}: {exc.strerror or exc}") from None
    return manifest


def _jobs(loaded: LoadedScenario, design: Design, done: set[tuple[str, int]]) -> Iterator[Job]:
    """The runs still to do, each carrying its point's resolved scenario data."""
    last: tuple[Point, Any] | None = None
    for point, r, seed in design.runs():
        if (point.id, r) in done:
            continue
        if last is None or last[0] is not point:
            data = loaded.data if not point.values else apply_values(loaded, point.values).data
            last = (point, data)
        yield Job(key=(point, r), payload=last[1], seed=seed)


def run_sweep(
    loaded: LoadedScenario,
    design: Design,
    out: Path | None = None,
    *,
    task: Task = simulate,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    rebuild_seconds: float = 60.0,
) -> SweepOutcome:
    """Run (or resume) ``design`` over ``loaded`` into ``out``; tables rebuilt at the end.

    Each run is journalled as it finishes; the tables are rebuilt every
    ``rebuild_seconds`` and at the end, also when the sweep is interrupted (the exception
    is re-raised). Re-running with the same ``out`` skips the runs already journalled; a
    different design there is a :class:`UserError`.
    """
    now = dt.datetime.now(dt.UTC)
    data_sha = scenario_sha256(jsonable(loaded.data))
    design_sha = design.sha256(data_sha)
    folder = default_sweep_dir(loaded.scenario.name, design_sha, now) if out is None else out
    manifest = _prepare(folder, _manifest(loaded, design, data_sha, design_sha, now))
    journal_path = folder / JOURNAL
    wanted = {(p.id, r) for p in design.points for r in range(design.replications)}
    contents = read_journal(journal_path, repair=True)
    done = {(str(x["point"]), int(x["replication"])) for x in contents.records} & wanted
    del contents
    resumed = len(done)
    atomic_write_text(folder / MANIFEST, pretty_json({**manifest, "runs_done": resumed}))
    total = design.runs_total
    count = resumed
    if progress is not None:
        progress(count, total)
    last_build = time.monotonic()
    try:
        with Journal(journal_path) as journal:
            for job, metrics in execute(
                task, _jobs(loaded, design, done), workers=workers, scheduler=scheduler
            ):
                point, r = job.key
                journal.append(
                    {
                        "point": point.id,
                        "index": point.index,
                        "replication": r,
                        "seed": job.seed,
                        "params": jsonable(dict(point.values)),
                        "metrics": metrics,
                    }
                )
                count += 1
                if progress is not None:
                    progress(count, total)
                if time.monotonic() - last_build >= rebuild_seconds:
                    write_tables(folder, design.parameters)
                    last_build = time.monotonic()
    finally:
        write_tables(folder, design.parameters)
        finished = dt.datetime.now(dt.UTC)
        status = "complete" if count >= total else "incomplete"
        atomic_write_text(
            folder / MANIFEST,
            pretty_json(
                {**manifest, "runs_done": count, "status": status, "finished_utc": _iso(finished)}
            ),
        )
    return SweepOutcome(folder, total, count, resumed, design_sha)
