"""Running a sweep: design -> execution -> journal -> tables, resumable.

:func:`run_sweep` ties the separate parts together (the design from
:mod:`sim.experiments.design`, the backends of :mod:`sim.experiments.execute`, the sweep
folder of :mod:`sim.results.sweep_folder`). It prints nothing; progress goes to a callback.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.accounting.runner import deferred_interrupt
from sim.errors import UserError
from sim.experiments.design import Design
from sim.experiments.execute import Job, Task, connect, execute
from sim.experiments.points import run_point
from sim.results.journal import JOURNAL, Check, Journal, read_journal
from sim.results.jsonio import canonical_json, jsonable, scenario_sha256
from sim.results.lock import FolderBusyError, FolderLock, alive
from sim.results.manifest import SWEEP_PACKAGES, build_manifest, iso_utc, scenario_fields
from sim.results.sweep_folder import (
    SWEEP_FILES,
    SweepStorageError,
    create_folder,
    default_sweep_folder,
    prepare_folder,
    storage_error,
    write_manifest,
    write_tables,
)
from sim.scenario import LoadedScenario

__all__ = [
    "SweepOutcome",
    "SweepStorageError",
    "design_check",
    "run_sweep",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SweepOutcome:
    """Where a sweep went and how far it got."""

    folder: Path
    runs_total: int
    runs_done: int
    runs_resumed: int
    design_sha256: str
    journal_problems: str | None = None

    @property
    def complete(self) -> bool:
        return self.runs_done >= self.runs_total


def _manifest(
    loaded: LoadedScenario, design: Design, design_sha: str, now: dt.datetime
) -> dict[str, Any]:
    return build_manifest(
        "sweep",
        {
            **scenario_fields(loaded),
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
            "started_utc": iso_utc(now),
            "finished_utc": None,
            "files": list(SWEEP_FILES),
        },
        packages=SWEEP_PACKAGES,
    )


def design_check(design: Design) -> Check:
    """A journal check (:func:`~sim.results.journal.read_journal`) against ``design``.

    A record must name a point of the design with its index, values and a replication
    in range, and carry that replication's seed.
    """
    points = {p.id: (p.index, canonical_json(jsonable(dict(p.values)))) for p in design.points}

    def check(record: Mapping[str, Any]) -> str | None:
        known = points.get(record["point"])
        if known is None or record["replication"] >= design.replications:
            return "outside the design"
        if record["seed"] != design.seeds[record["replication"]]:
            return "with a seed that is not the design's"
        if record["index"] != known[0] or canonical_json(record["params"]) != known[1]:
            return "with values that are not the design's"
        return None

    return check


def _jobs(design: Design, done: set[tuple[str, int]]) -> Iterator[Job]:
    """The runs still to do, each carrying its point's values."""
    for point, r, seed in design.runs():
        if (point.id, r) not in done:
            yield Job(key=(point, r), payload=dict(point.values), seed=seed)


def run_sweep(
    loaded: LoadedScenario,
    design: Design,
    out: Path | None = None,
    *,
    task: Task = run_point,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    note: Callable[[str], None] | None = None,
    rebuild_seconds: float = 60.0,
) -> SweepOutcome:
    """Run (or resume) ``design`` over ``loaded`` into ``out``; tables rebuilt at the end.

    Each run is journalled as it finishes; the tables are rebuilt every
    ``rebuild_seconds`` and at the end, also when the sweep is interrupted (the exception
    is re-raised, and the manifest says ``interrupted`` and why). Re-running with the same
    ``out`` skips the runs already journalled; a different design there is a
    :class:`UserError`. Journal lines that cannot be read or do not belong to the design
    are left out and reported through ``note`` (their runs are redone). The folder is
    locked while the sweep writes it (:class:`~sim.results.lock.FolderLock`); a scheduler
    is connected to before the folder is created. A write that fails (a full disk) raises
    :class:`SweepStorageError`.
    """
    now = dt.datetime.now(dt.UTC)
    data_sha = scenario_sha256(jsonable(loaded.data))
    design_sha = design.sha256(data_sha)
    folder = default_sweep_folder(loaded.scenario.name, design_sha, now) if out is None else out
    manifest = _manifest(loaded, design, design_sha, now)
    client = connect(scheduler) if scheduler is not None else None
    try:
        lock, manifest = _lock(folder, manifest, note)
        try:
            sweep = _Sweep(folder, design, task, loaded, workers, client, progress)
            return sweep.run(manifest, note, rebuild_seconds)
        finally:
            lock.release()
    finally:
        if client is not None:
            client.close()


def _lock(
    folder: Path, manifest: dict[str, Any], note: Callable[[str], None] | None
) -> tuple[FolderLock, dict[str, Any]]:
    """Create and lock the folder, check what it holds; the held lock and the manifest."""
    lock = FolderLock(folder)
    created = create_folder(folder)
    try:
        stale = lock.acquire(manifest["started_utc"])
    except FolderBusyError:
        raise  # the folder is the other sweep's, whoever created it
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    if lock.unsupported and note is not None:
        note(
            f"the file system of {folder} has no file locks: nothing stops a second "
            "sweep from writing the same folder"
        )
    if stale and note is not None:
        note(
            f"took over the lock of {folder} left by pid {stale.get('pid')} "
            f"(started {stale.get('started_utc')}), which "
            + ("no longer holds it" if alive(stale.get("pid")) else "is no longer running")
        )
    try:
        return lock, prepare_folder(folder, manifest)
    except BaseException:
        lock.release()
        raise


class _Sweep:
    """The sweep proper, in a folder this process holds the lock of."""

    def __init__(
        self,
        folder: Path,
        design: Design,
        task: Task,
        loaded: LoadedScenario,
        workers: int | None,
        client: Any,
        progress: Progress | None,
    ) -> None:
        self.folder = folder
        self.design = design
        self.check = design_check(design)
        self.task = task
        self.loaded = loaded
        self.workers = workers
        self.client = client
        self.progress = progress
        self.count = 0

    def _done(self, note: Callable[[str], None] | None) -> tuple[set[tuple[str, int]], str | None]:
        """The runs the journal already holds, and what it had to leave out."""
        journal_path = self.folder / JOURNAL
        try:
            contents = read_journal(journal_path, repair=True, check=self.check)
        except OSError as exc:
            raise storage_error(self.folder, exc) from None
        done = {(str(x["point"]), int(x["replication"])) for x in contents.records}
        problems = contents.problems()
        if problems is not None and note is not None:
            note(f"{journal_path}: {problems}")
        return done, problems

    def run(
        self, manifest: dict[str, Any], note: Callable[[str], None] | None, rebuild_seconds: float
    ) -> SweepOutcome:
        """Resume from the journal, run what is left, rebuild the tables, finish the manifest."""
        done, problems = self._done(note)
        resumed = self.count = len(done)
        manifest = {**manifest, "journal_problems": problems}
        try:
            write_manifest(self.folder, {**manifest, "runs_done": resumed})
        except OSError as exc:
            raise storage_error(self.folder, exc) from None
        self._report()
        failure: BaseException | None = None
        try:
            self._journal_runs(done, rebuild_seconds)
        except BaseException as exc:
            failure = exc
        # a Ctrl-C while the tables and the manifest are written waits for them (and is
        # raised after, as the runs' own was kept in ``failure``)
        with deferred_interrupt():
            late = _finish(self.folder, self.design, manifest, self.check, self.count, failure)
        if failure is not None:
            raise failure
        if late is not None:
            raise late
        return SweepOutcome(
            self.folder,
            self.design.runs_total,
            self.count,
            resumed,
            manifest["design_sha256"],
            problems,
        )

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(self.count, self.design.runs_total)

    def _journal_runs(self, done: set[tuple[str, int]], rebuild_seconds: float) -> None:
        """Run the runs not ``done``, journalling each; the tables every ``rebuild_seconds``."""
        try:
            journal = Journal(self.folder / JOURNAL)
        except OSError as exc:
            raise storage_error(self.folder, exc) from None
        last_build = time.monotonic()
        with journal:
            for job, metrics in execute(
                self.task,
                _jobs(self.design, done),
                shared=self.loaded,
                workers=self.workers,
                client=self.client,
            ):
                point, r = job.key
                record = {
                    "point": point.id,
                    "index": point.index,
                    "replication": r,
                    "seed": job.seed,
                    "params": jsonable(dict(point.values)),
                    "metrics": metrics,
                }
                # only the folder's own writes count as storage errors (a lost Dask
                # connection is an OSError too)
                try:
                    journal.append(record)
                    self.count += 1
                    if time.monotonic() - last_build >= rebuild_seconds:
                        write_tables(self.folder, self.design.parameters, self.check)
                        last_build = time.monotonic()
                except OSError as exc:
                    raise storage_error(self.folder, exc) from None
                self._report()


def _why(failure: BaseException) -> str:
    if isinstance(failure, UserError):
        return str(failure)
    if isinstance(failure, KeyboardInterrupt):
        return "stopped by the user (Ctrl-C or SIGINT)"
    return f"{type(failure).__name__}: {failure}"


def _finish(
    folder: Path,
    design: Design,
    manifest: dict[str, Any],
    check: Check,
    count: int,
    failure: BaseException | None,
) -> SweepStorageError | None:
    """Rebuild the tables and write the final manifest; a storage error to raise, if any.

    The manifest says ``complete``, or ``interrupted`` with the reason (the failure, or
    the tables that could not be written: the next run of the same command rebuilds them).
    """
    late: SweepStorageError | None = None
    try:
        write_tables(folder, design.parameters, check)
    except OSError as exc:
        late = storage_error(folder, exc)
    reason = _why(failure) if failure is not None else (str(late) if late else None)
    status = "interrupted" if reason else "complete" if count >= design.runs_total else "incomplete"
    final = {
        **manifest,
        "runs_done": count,
        "status": status,
        "interruption": reason,
        "finished_utc": iso_utc(dt.datetime.now(dt.UTC)),
    }
    try:
        write_manifest(folder, final)
    except OSError as exc:
        if late is None:
            late = storage_error(folder, exc)
        late.hint = f"{late.hint}; the manifest could not be updated either"
        if isinstance(failure, UserError) and late is not failure:
            failure.hint = f"{failure.hint}; the manifest still says running"
    return late
