"""The fast paths compute exactly what the plain ones did: replications on any number of
workers, columnar records, step schedules by bisection, arrivals a block at a time, grouped
binning and month-end counts (each against a one-at-a-time reference, bit for bit)."""

from __future__ import annotations

import bisect
import datetime as dt
import math
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.accounting import runner
from sim.accounting.binning import GroupedIntervals, binned_overlap
from sim.accounting.fleet import _installed_at_month_end
from sim.accounting.grid import Grid
from sim.accounting.runner import run
from sim.engine.core import simulate
from sim.engine.records import CohortColumns, JobColumns, OverstayColumns
from sim.engine.serving import _Demand
from sim.engine.training import arrival_blocks, size_blocks
from sim.model.rng import BlockDraws, stream
from sim.model.schema import Inference, JobSize, PricePoint, Training
from sim.model.timeline import Clock, HourSteps, step_at
from sim.model.units import HOURS_PER_MONTH, HOURS_PER_YEAR
from sim.results.jsonio import canonical_json
from sim.results.tables import write_parquet
from tests.factories import build, mmc_dict

# --------------------------------------------------------------------------- workers


def _small(replications: int = 3) -> Any:
    return build(
        mmc_dict(arrival_rate_per_hour=2.0, service_rate_per_hour=1.0, chips=3, years=1),
        replications=replications,
        outputs__jobs_table=True,
    )


def _bytes(out: runner.RunOutput, folder: Path) -> dict[str, bytes]:
    folder.mkdir()
    files = {"summary.json": canonical_json(out.summary).encode()}
    for name, table in out.tables.items():
        write_parquet(table, folder / f"{name}.parquet")
        files[name] = (folder / f"{name}.parquet").read_bytes()
    return files


class _CountingPool(runner.ProcessPoolExecutor):
    sizes: ClassVar[list[int]] = []

    def __init__(self, n: int, **kw: Any) -> None:
        _CountingPool.sizes.append(n)
        super().__init__(n, **kw)


def test_replications_give_the_same_bytes_on_any_number_of_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runner, "ProcessPoolExecutor", _CountingPool)
    _CountingPool.sizes = []
    s = _small(3)
    serial = _bytes(run(s, 5, workers=1), tmp_path / "w1")
    assert _CountingPool.sizes == []  # one worker: no pool at all
    for workers in (2, 3):
        assert _bytes(run(s, 5, workers=workers), tmp_path / f"w{workers}") == serial
    assert _CountingPool.sizes == [2, 3]  # the replications really ran in other processes
    assert len(serial) > 3


def test_default_workers_are_the_cores_at_most_one_per_replication(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(runner, "ProcessPoolExecutor", _CountingPool)
    monkeypatch.setattr(runner, "default_workers", lambda: 8)
    _CountingPool.sizes = []
    run(_small(2), 1)
    run(_small(1), 1)
    assert _CountingPool.sizes == [2]  # two replications: two processes; one: in-process
    with pytest.raises(ValueError, match="workers must be >= 1"):
        run(_small(2), 1, workers=0)


# --------------------------------------------------------------------------- records


def test_columnar_records_read_back_as_the_named_tuples() -> None:
    s = build(
        mmc_dict(arrival_rate_per_hour=3.0, service_rate_per_hour=1.0, chips=2, years=1),
        segments__all__inference={"tokens_per_s": 500.0, "resize_interval_hours": 5},
        segments__all__platforms={"training": {"gpu": 1.0}, "inference": {"gpu": 1.0}},
    )
    log = simulate(s, 2)
    jobs, serving = log.jobs.columns(), log.serving.columns()
    assert len(jobs) == len(log.jobs) > 1000 and len(serving) == len(log.serving) > 1000
    assert np.isnan(jobs.start_h).any()  # jobs still queued at the end are recorded too
    np.testing.assert_array_equal(JobColumns.of(list(log.jobs)).end_h, jobs.end_h)
    for rec, i in zip(log.serving, range(len(serving)), strict=False):
        assert (rec.pool, rec.chips, rec.start_h, rec.load) == (
            serving.pool[i],
            serving.chips[i],
            serving.start_h[i],
            serving.load[i],
        )


# --------------------------------------------------------------------------- step schedules

CLOCK = Clock(dt.date(2022, 1, 1), dt.date(2026, 1, 1))
DATES = st.dates(min_value=dt.date(2021, 6, 1), max_value=dt.date(2026, 6, 1))


@given(
    points=st.lists(st.tuples(DATES, st.floats(0, 10)), max_size=6),
    hours=st.lists(st.floats(0.0, CLOCK.horizon_hours), min_size=1, max_size=20),
)
def test_hour_steps_read_the_schedule_as_step_at_does(
    points: list[tuple[dt.date, float]], hours: list[float]
) -> None:
    sched = [PricePoint(start=d, value=v) for d, v in points]
    steps = HourSteps(CLOCK, sched, -1.0, lambda p: p.value)
    # every step's own midnight and the instant before it, and random hours
    edges = [CLOCK.hours(d) for d, _ in points]
    for h in [*hours, *(e for e in edges if e >= 0), *(math.nextafter(e, -1) for e in edges)]:
        if h >= 0:
            assert steps.at(h) == step_at(sched, CLOCK.date(h), -1.0, lambda p: p.value), h


# --------------------------------------------------------------------------- arrivals


def _arrivals_one_at_a_time(spec: Training, seed: int, horizon_h: float) -> list[float]:
    """The arrival loop as the engine ran it before blocks: one draw, one time."""
    rate0 = spec.jobs_per_month / HOURS_PER_MONTH
    gamma = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
    expo = BlockDraws(stream(seed, "arrivals/s"), "exponential")
    t, out = 0.0, []
    while True:
        e = expo.next()
        rate_t = rate0 * math.exp(gamma * t)
        y = gamma * e / rate_t
        if y <= -1.0:
            return out
        t += math.log1p(y) / gamma if y != 0.0 else e / rate_t
        if t >= horizon_h:
            return out
        out.append(t)


@pytest.mark.parametrize("growth", [0.0, 0.8, -0.5, 1e-12])
def test_arrival_blocks_are_the_one_at_a_time_times(growth: float) -> None:
    size = JobSize(law="exponential", mean_pflop=1.0)
    spec = Training(jobs_per_month=3000.0, growth_per_year=growth, size=size, gang_chips=1)
    horizon = 3 * HOURS_PER_YEAR
    blocks = [t for b in arrival_blocks(spec, 9, "s", horizon) for t in b]
    assert blocks == _arrivals_one_at_a_time(spec, 9, horizon)
    assert len(blocks) > 4096 * 2  # several blocks


@pytest.mark.parametrize("law", ["fixed", "exponential", "lognormal"])
def test_size_blocks_are_the_one_at_a_time_sizes(law: str) -> None:
    size = JobSize(law=law, mean_pflop=7.0, sigma=1.3)  # type: ignore[arg-type]
    it = (x for b in size_blocks(size, 4, "s") for x in b)
    got = [next(it) for _ in range(9000)]
    kind = {"fixed": "none", "exponential": "exponential", "lognormal": "normal"}[law]
    draws = BlockDraws(stream(4, "sizes/s"), kind)
    log_median = math.log(7.0) - 1.3 * 1.3 / 2.0
    for x in got:
        if law == "fixed":
            assert x == 7.0
        elif law == "exponential":
            assert x == 7.0 * draws.next()
        else:
            assert x == math.exp(log_median + 1.3 * draws.next())


# --------------------------------------------------------------------------- binning

INTERVALS = st.lists(
    st.tuples(st.integers(0, 4), st.floats(-50, 300), st.floats(0, 200), st.floats(0.1, 1e6)),
    max_size=60,
)


@given(rows=INTERVALS)
def test_grouped_intervals_bin_each_group_as_its_records_alone(
    rows: list[tuple[int, float, float, float]],
) -> None:
    bounds = np.array([0.0, 24.0, 50.0, 99.5, 200.0])
    g = np.array([r[0] for r in rows], dtype=np.int64)
    a = np.array([r[1] for r in rows])
    b = a + np.array([r[2] for r in rows])
    w = np.array([r[3] for r in rows])
    got = GroupedIntervals(g, 5, a, b, bounds).overlap(w)
    for k in range(5):
        m = g == k
        want = binned_overlap(a[m], b[m], w[m], bounds) if m.any() else np.zeros(4)
        np.testing.assert_array_equal(got[k], want)  # bit for bit


@cache
def _grid() -> Grid:
    s = _small(1)
    return Grid.of(s, simulate(s, 0))


@settings(deadline=None)  # no wall-clock limit in tests (a loaded CI machine)
@given(rows=INTERVALS)
def test_installed_at_month_end_counts_every_live_record(
    rows: list[tuple[int, float, float, float]],
) -> None:
    grid = _grid()
    ends = grid.bounds[1:]
    n = len(rows)
    pool = np.array([r[0] % grid.n_pools for r in rows], dtype=np.int64)
    a = np.array([r[1] * 30 for r in rows])
    b = a + np.array([r[2] * 40 for r in rows])
    chips = np.array([float(int(r[3])) for r in rows])
    cohorts = CohortColumns(pool, chips, a, b, np.zeros(n), np.ones(n, dtype=bool))
    overstays = OverstayColumns(pool, chips, b, b + 100.0)
    want = np.zeros((grid.n_pools, grid.n_months))
    for p, c, x, y in zip(
        np.concatenate([pool, pool]),
        np.concatenate([chips, chips]),
        np.concatenate([a, b]),
        np.concatenate([b, b + 100.0]),
        strict=True,
    ):
        want[p] += c * ((x < ends) & (y >= ends))
    np.testing.assert_array_equal(_installed_at_month_end(grid, cohorts, overstays), want)


# --------------------------------------------------------------------------- serving


def _served_one_at_a_time(
    profile: list[float], step: float, t0: float, t1: float, base: float, capacity: float
) -> tuple[float, float]:
    """What one placement demanded and served, as the engine computed it per placement."""
    ordered = sorted(profile)
    prefix = [0.0]
    for v in ordered:
        prefix.append(prefix[-1] + v)
    if step % 24.0 == 0.0 and t1 - t0 == step:
        if base <= 0:
            return 0.0, 0.0
        i = bisect.bisect_right(ordered, capacity / base)
        served = base * prefix[i] + capacity * (len(ordered) - i)
        return base * prefix[-1] * (step / 24.0), served * (step / 24.0)
    asked = served = 0.0
    for h in range(math.ceil(t1 - t0)):
        rate = base * profile[(int(t0) + h) % 24]
        frac = min(1.0, t1 - t0 - h)
        asked += rate * frac
        served += min(rate, capacity) * frac
    return asked, served


@given(
    step=st.sampled_from([24.0, 48.0, 5.0, 30.0, 1.0]),
    rows=st.lists(
        st.tuples(
            st.integers(0, 2000),
            st.floats(0.01, 1.0),
            st.floats(0.0, 1e6),
            st.integers(0, 50),
        ),
        min_size=1,
        max_size=40,
    ),
)
def test_served_tokens_at_the_end_are_those_of_each_placement(
    step: float, rows: list[tuple[int, float, float, int]]
) -> None:
    profile = [0.7, 0.6, 0.55, 0.5, 0.5, 0.55, 0.7, 0.9, 1.1, 1.25, 1.35, 1.4] * 2
    spec = Inference(tokens_per_s=1.0, daily_profile=profile, resize_interval_hours=step)
    demand = _Demand(spec)
    t0 = np.array([float(r[0]) * step for r in rows])
    t1 = t0 + np.array([step * r[1] if r[1] < 0.5 else step for r in rows])
    base = np.array([r[2] for r in rows])
    capacity = np.array([float(r[3]) * 1e4 for r in rows])
    asked, served = demand.served(t0, t1, base, capacity)
    for i in range(len(rows)):
        args = (float(t0[i]), float(t1[i]), float(base[i]), float(capacity[i]))
        want = _served_one_at_a_time(demand.profile, step, *args)
        assert (asked[i], served[i]) == want  # bit for bit


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_a_killed_runs_pool_workers_exit(tmp_path: Path) -> None:
    """`xpusim run` killed with SIGKILL cannot stop its pool: its workers (children of the
    fork server, which outlives the run) see the run gone and exit, and the server with
    them, instead of waiting for work for ever."""
    import os
    import subprocess
    import sys

    from tests.test_sweep import _children, _descendants, _signal_when, _still_running_after

    root = Path(__file__).resolve().parents[1]
    scenario = str(root / "scenarios" / "baseline.yaml")
    run = subprocess.Popen(
        [sys.executable, "-m", "sim", "run", scenario, "-w", "2", "-o", str(tmp_path / "r"), "-q"],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(root)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    started: set[int] = set()
    workers: set[int] = set()

    def pool_started() -> bool:  # the fork server, its tracker and the two workers
        started.update(_descendants(run.pid))
        workers.update({p for p in started if not _children(p)} - _children(run.pid))
        return len(started) >= 4 and len(workers) >= 2

    _signal_when(run, pool_started, "the run ended before its pool started")
    left = _still_running_after(started)
    assert not left & workers, "orphaned pool workers are still running"
    assert not left, "the killed run left processes behind"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "command",
    [
        ["run", "-w", "2"],
        ["sensitivity", "--metric", "provider.tco_usd", "--workers", "2"],
    ],
    ids=["run", "sensitivity"],
)
def test_ctrl_c_stops_the_command_and_its_pool_at_once(tmp_path: Path, command: list[str]) -> None:
    """SIGINT to the command alone (as ``kill -INT`` or a script's timeout sends it) while
    its pool computes: the command says it was interrupted, exits 130, ends its workers
    instead of waiting for their runs, and writes nothing. (Before, a sensitivity analysis
    said nothing, waited for the runs in flight, and was once seen waiting for ever.)"""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.test_sweep import _descendants, _still_running_after

    root = Path(__file__).resolve().parents[1]
    scenario = str(root / "scenarios" / "baseline.yaml")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim", command[0], scenario, *command[1:], "-o", str(out)],
        cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(root)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    started: set[int] = set()

    try:
        while len(started) < 2:  # the pool's workers (or its fork server and tracker)
            assert proc.poll() is None, "the command ended before its pool started"
            started.update(_descendants(proc.pid))
            time.sleep(0.02)
        time.sleep(1.0)  # the workers are inside their first runs
        started.update(_descendants(proc.pid))
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted", err
    assert "Traceback" not in err
    assert not _still_running_after(started), "the interrupted command left processes behind"
    assert not out.exists(), "an interrupted command wrote its output folder"


def test_stop_pool_at_once_ends_a_worker_that_would_never_finish() -> None:
    """After Ctrl-C the pool is stopped without waiting for its tasks: a worker busy for
    ever is ended, so the shutdown returns (a plain shutdown would wait for ever)."""
    import threading
    import time
    from concurrent.futures import ProcessPoolExecutor

    from sim.accounting.runner import _pool_context, stop_pool

    pool = ProcessPoolExecutor(1, mp_context=_pool_context())
    task = pool.submit(time.sleep, 10_000)
    while not task.running():
        time.sleep(0.01)
    time.sleep(0.5)  # the worker has taken the task
    stopper = threading.Thread(target=stop_pool, args=(pool,), kwargs={"at_once": True})
    stopper.start()
    stopper.join(timeout=60)
    stuck = stopper.is_alive()
    if stuck:  # clean up before failing
        for proc in list(pool._processes.values()):  # type: ignore[attr-defined]
            proc.kill()
    assert not stuck, "stop_pool(at_once=True) waited for a task that never ends"
    assert not task.cancelled()  # it had started: ended with its worker, not cancelled
