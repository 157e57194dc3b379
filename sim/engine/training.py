"""Training demand: Poisson arrivals of gang-scheduled jobs, and the schedulers that start them.

Each segment's jobs arrive as a Poisson process whose rate grows exponentially, sampled
exactly by inverting the cumulative intensity; each job goes to the pool its segment's
current shares route it to (smooth weighted round-robin, so realised shares track the decided
shares with no sampling noise). A job that cannot start at once may spill to a pool listed in
``scheduling.spill`` that can (or, once its pool's chip is off sale, to a successor on the
same stack), else it queues on its pool.

Customers do not wait for ever when their segment states a patience
(``training.patience``): a job whose expected wait at arrival exceeds it *balks*, and a
queued job that has waited that long *reneges*. Either first starts at once on another pool
its segment can use (its spill pools, its pool's successors, the pools its segment runs
training on), else leaves the provider: to another cloud for the segment's
``other_cloud_fraction`` of such jobs (revenue lost), abandoned for the rest; the split is
kept by a credit per segment, as the vendor's own cloud share is, so it draws no random
number. The expected wait is a fluid estimate:
(queued chip-hours ahead + chips still to free x half the pool's mean job length) / chips
the pool has for training (installed - reserved for serving - due to retire); a job larger
than those chips expects an infinite wait.

The scheduler is a policy object chosen by name (:data:`SCHEDULERS`, from
``scheduling.policy``), in the manner of Ciw's queue disciplines:

- ``fifo`` starts jobs strictly in arrival order per pool (a job that does not fit blocks
  those behind it);
- ``backfill`` is EASY backfilling: the head job gets a reservation at the earliest time
  enough chips free up, and later jobs may jump ahead only if they fit now and either finish
  before that time or use chips the head job will not need.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Iterator
from itertools import chain
from typing import Any, Protocol

import numpy as np
import simpy

from sim.engine.records import BypassRecord, JobLog, LostJobRecord, RedirectRecord
from sim.engine.state import Pool, QueuedJob, SegmentState, World, call_in
from sim.model.rng import BlockDraws, stream
from sim.model.schema import JobSize, Scheduling, Training
from sim.model.timeline import HourSteps
from sim.model.units import HOURS_PER_DAY, HOURS_PER_MONTH, HOURS_PER_YEAR

JOB_HOURS_SMOOTHING = 0.05
"""Weight of each new job in a pool's running mean job length (an exponential moving
average over about the last 20 jobs), used only by the expected-wait estimate."""

Starter = Callable[[QueuedJob, Pool], None]
"""Starts a job on a pool now (the scheduler decides which, the training process how)."""


class Scheduler(Protocol):
    """Which queued jobs of a pool start when chips free up."""

    name: str
    plans_ahead: bool
    """Whether the scheduler needs :meth:`job_started` and :meth:`job_finished` (when it
    does not, the training process does not call them)."""

    def job_queued(self, pool: Pool, now: float, start: Starter) -> None:
        """A job joined the pool's queue."""
        ...

    def job_started(self, pool: Pool, job_id: int, end_h: float, chips: int) -> None:
        """A job that ends inside the horizon started."""
        ...

    def job_finished(self, pool: Pool, job_id: int) -> None:
        """A job started through :meth:`job_started` finished."""
        ...

    def dispatch(self, pool: Pool, now: float, start: Starter) -> None:
        """Start queued jobs on ``pool`` as the policy allows."""
        ...


class FifoScheduler:
    """Strict arrival order per pool: a job that does not fit blocks those behind it."""

    name = "fifo"
    plans_ahead = False

    def job_queued(self, pool: Pool, now: float, start: Starter) -> None:
        """FIFO waits for chips to free up."""

    def job_started(self, pool: Pool, job_id: int, end_h: float, chips: int) -> None:
        """FIFO plans nothing ahead."""

    def job_finished(self, pool: Pool, job_id: int) -> None:
        """FIFO plans nothing ahead."""

    def dispatch(self, pool: Pool, now: float, start: Starter) -> None:
        """Start jobs from the head of the queue while they fit."""
        q = pool.queue
        while q and pool.free() >= q[0].chips:
            start(q.popleft(), pool)


class EasyBackfillScheduler(FifoScheduler):
    """EASY backfilling over the first ``depth`` queued jobs after the head job."""

    name = "backfill"
    plans_ahead = True

    def __init__(self, depth: int) -> None:
        self.depth = depth

    def job_queued(self, pool: Pool, now: float, start: Starter) -> None:
        """A queued job may backfill at once."""
        self.dispatch(pool, now, start)

    def job_started(self, pool: Pool, job_id: int, end_h: float, chips: int) -> None:
        """Remember when the job's chips free up (for the head job's reservation)."""
        pool.running[job_id] = (end_h, chips)

    def job_finished(self, pool: Pool, job_id: int) -> None:
        """Forget the finished job."""
        del pool.running[job_id]

    def dispatch(self, pool: Pool, now: float, start: Starter) -> None:
        """Start the head jobs that fit, then backfill behind the head job's reservation."""
        super().dispatch(pool, now, start)
        q = pool.queue
        if len(q) < 2:
            return
        free = pool.free()
        shadow, extra = self._reservation(pool, free, q[0].chips)
        i = 1
        depth = min(len(q), self.depth + 1)
        while i < depth and i < len(q) and free > 0:
            job = q[i]
            k = job.chips
            if k <= free:
                dur = job.pflop / (k * pool.pflop_per_chip_hour)
                if now + dur <= shadow or k <= extra:
                    if now + dur > shadow:
                        extra -= k
                    del q[i]
                    start(job, pool)
                    free -= k
                    continue
            i += 1

    @staticmethod
    def _reservation(pool: Pool, free: int, head_chips: int) -> tuple[float, int]:
        """(shadow time at which the head job can start, chips it leaves spare then)."""
        avail = free
        for end, k in sorted(pool.running.values()):
            avail += k
            if avail >= head_chips:
                return end, avail - head_chips
        return math.inf, 0


SCHEDULERS: dict[str, Callable[[Scheduling], Scheduler]] = {
    FifoScheduler.name: lambda spec: FifoScheduler(),
    EasyBackfillScheduler.name: lambda spec: EasyBackfillScheduler(spec.backfill_depth),
}
"""Schedulers by the name ``scheduling.policy`` gives."""


def scheduler_for(spec: Scheduling) -> Scheduler:
    """The scheduler a scenario's ``scheduling`` section names."""
    return SCHEDULERS[spec.policy](spec)


def size_blocks(size: JobSize, seed: int, segment_id: str) -> Iterator[list[float]]:
    """A segment's job sizes (PFLOP) from its own random stream, a block at a time."""
    mean = size.mean_pflop
    if size.law == "fixed":
        while True:
            yield [mean] * 4096
    kind = "exponential" if size.law == "exponential" else "normal"
    draws = BlockDraws(stream(seed, f"sizes/{segment_id}"), kind)
    if size.law == "exponential":
        for block in draws.blocks():
            yield (block * mean).tolist()
    sigma = size.sigma
    # lognormal with the given mean: median = mean * exp(-sigma^2 / 2)
    log_median = math.log(mean) - sigma * sigma / 2.0
    exp = math.exp
    for block in draws.blocks():
        yield [exp(log_median + sigma * z) for z in block.tolist()]


def arrival_blocks(
    spec: Training, seed: int, segment_id: str, horizon_h: float
) -> Iterator[list[float]]:
    """A segment's job arrival times (hours) before ``horizon_h``, a block at a time.

    The rate lambda(t) = rate0 exp(gamma t) grows exponentially; each time inverts the
    cumulative intensity, Lambda(t') - Lambda(t) = e for an exponential draw e (log1p keeps
    tiny growth rates exact). Without growth the times are the running sum of e / rate0.
    """
    rate0 = spec.jobs_per_month / HOURS_PER_MONTH
    if rate0 <= 0:
        return
    gamma = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
    draws = BlockDraws(stream(seed, f"arrivals/{segment_id}"), "exponential")
    t = 0.0
    for block in draws.blocks():
        if gamma == 0.0:
            # rate0 exp(0 t) is rate0 exactly, and a cumulative sum adds in the same order
            times = np.cumsum(np.concatenate(([t], block / rate0)))[1:]
            n = int(np.searchsorted(times, horizon_h, side="left"))
            yield times[:n].tolist()
            if n < len(times):
                return
            t = float(times[-1])
            continue
        out: list[float] = []
        for e in block.tolist():
            rate_t = rate0 * math.exp(gamma * t)
            y = gamma * e / rate_t
            if y <= -1.0:  # a shrinking rate that never produces another arrival
                yield out
                return
            t += math.log1p(y) / gamma if y != 0.0 else e / rate_t
            if t >= horizon_h:
                yield out
                return
            out.append(t)
        yield out


class _Arrivals:
    """One segment's job arrivals: a chain of timeouts, each scheduling the next."""

    __slots__ = ("arrive", "env", "fire_cb", "k", "seg", "sizes", "times")

    def __init__(self, process: TrainingProcess, seg: SegmentState, spec: Training) -> None:
        w = process.w
        self.arrive = process.arrive
        self.env = w.env
        self.seg = seg
        self.k = spec.gang_chips
        self.times = chain.from_iterable(arrival_blocks(spec, w.seed, seg.id, w.horizon_h))
        self.sizes = chain.from_iterable(size_blocks(spec.size, w.seed, seg.id))
        self.fire_cb = self.fire

    def schedule_next(self) -> None:
        """Schedule the next arrival, if one comes before the horizon end."""
        t = next(self.times, None)
        if t is not None:
            env = self.env
            call_in(env, t - env.now, self.fire_cb, None)

    def fire(self, _ev: simpy.Event) -> None:
        """A job arrives now; the next arrival is scheduled after it."""
        self.arrive(self.seg, self.k, next(self.sizes))
        t = next(self.times, None)
        if t is not None:
            env = self.env
            call_in(env, t - env.now, self.fire_cb, None)


class TrainingProcess:
    """Arrivals, starts and finishes of training jobs on the pools of one run."""

    def __init__(self, world: World, scheduler: Scheduler) -> None:
        self.w = world
        self.env = world.env
        self.log = world.log
        self.scheduler = scheduler
        self.plans_ahead = scheduler.plans_ahead
        self.job_seq = 0
        self.horizon_h = world.horizon_h
        self._add_job = world.log.jobs.add
        # a job's record: one extend of the log's buffer (see :class:`JobLog`)
        self._job_buffer = world.log.jobs.buffer
        self._job_row = self._job_buffer.extend
        self.pools = world.pools
        self._on_finish = self._finish
        # the share of each pool's jobs its vendor's own cloud takes (None: no such share)
        self._direct: list[HourSteps[float] | None] = []
        for pool in world.pools:
            vendor = world.scenario.vendors.get(pool.chip.vendor)
            direct = vendor.direct_cloud_share if vendor is not None else None
            self._direct.append(
                HourSteps(world.clock, direct, 0.0, lambda p: p.value) if direct else None
            )
        self._on_renege = self._renege
        self._queue_seq = 0
        # per segment: patience in hours (None: waits for ever), the other-cloud share of
        # the jobs that leave and its credit, and the pools it may run training on
        self._patience_h: list[float | None] = []
        self._cloud_share: list[float] = []
        self._cloud_credit: list[float] = []
        self._permitted: list[set[int] | None] = []
        for seg in world.segments:
            tr = seg.spec.training
            pat = tr.patience if tr is not None else None
            self._patience_h.append(pat.days * HOURS_PER_DAY if pat is not None else None)
            self._cloud_share.append(pat.other_cloud_fraction if pat is not None else 0.0)
            self._cloud_credit.append(0.0)
            names = seg.spec.permitted.get("training")
            self._permitted.append(
                {world.pool_index[n] for n in names} if names is not None else None
            )
        # per pool: its successors on the same stack that train (where its demand moves)
        self._successors = [
            [p.idx for p in world.successor_pools(pool, "training")] for pool in world.pools
        ]
        # per segment and pool: the candidates of :meth:`_overflow_pools`
        self._overflow_table = [
            [self._overflow_candidates(seg.idx, pool) for pool in world.pools]
            for seg in world.segments
        ]

    def arrivals(self, seg: SegmentState) -> Generator[simpy.Event, Any, None]:
        """The simpy process that starts a segment's job arrivals (a chain of callbacks)."""
        spec = seg.spec.training
        assert spec is not None
        _Arrivals(self, seg, spec).schedule_next()
        return
        yield  # a generator: simpy starts it when the run starts, in process order

    def arrive(self, seg: SegmentState, k: int, pflop: float) -> None:
        """A job of ``k`` chips and ``pflop`` PFLOP arrives now from ``seg``."""
        self.log.events += 1
        now = self.env.now
        pid = seg.route()
        pool = self.pools[pid]
        direct = self._direct[pid]
        if direct is not None:
            seg.bypass_credit += direct.at(now)
            if seg.bypass_credit >= 1.0:
                seg.bypass_credit -= 1.0
                self.log.bypassed.append(BypassRecord(seg.idx, pid, now, pflop))
                return
        if not pool.queue and pool.installed - pool.training_busy - pool.reserved >= k:
            self.launch(seg.idx, k, pflop, now, pool, now)
            return
        for ap in self._overflow_pools(seg.idx, pool, now):
            if not ap.queue and ap.installed - ap.training_busy - ap.reserved >= k:
                self.launch(seg.idx, k, pflop, now, ap, now)
                return
        patience = self._patience_h[seg.idx]
        if patience is not None and self.expected_wait_hours(pool, k) > patience:
            self._impatient(seg.idx, k, pflop, now, pool, reneged=False)
            return
        self._queue_seq += 1
        job = QueuedJob(seg.idx, k, pflop, now, self._queue_seq)
        pool.queue.append(job)
        pool.queued_pflop += pflop
        if patience is not None and now + patience < self.horizon_h:
            pool.waiting.add(job.job_id)
            call_in(self.env, patience, self._on_renege, (pool, job))
        self.scheduler.job_queued(pool, now, self.start)

    def _overflow_pools(self, segment: int, pool: Pool, now: float) -> tuple[Pool, ...]:
        """Pools a job of ``pool`` may start on at once when ``pool`` cannot: its spill
        pools, then (once its chip is off sale) its successors the segment may use that
        have launched by the day of ``now`` (the candidates prepared once per segment and
        pool)."""
        spill, successors = self._overflow_table[segment][pool.idx]
        if now < pool.end_of_sale_h or not successors:
            return spill
        # launched by the day of now: launch day's midnight <= now (days are whole hours)
        return spill + tuple(p for launch_h, p in successors if launch_h <= now)

    def _overflow_candidates(
        self, segment: int, pool: Pool
    ) -> tuple[tuple[Pool, ...], tuple[tuple[float, Pool], ...]]:
        """(``pool``'s spill pools that train, its successors the segment may use with the
        hour each launches), the parts of :meth:`_overflow_pools`."""
        pools = self.pools
        spill = tuple(pools[p] for p in self.w.spill.get(pool.idx, ()) if pools[p].serves_training)
        allowed = self._permitted[segment]
        clock = self.w.clock
        successors = tuple(
            (clock.hours(pools[p].chip.launch_date), pools[p])
            for p in self._successors[pool.idx]
            if pools[p] not in spill and (allowed is None or p in allowed)
        )
        return spill, successors

    def expected_wait_hours(self, pool: Pool, chips: int) -> float:
        """Fluid estimate of how long a job of ``chips`` chips joining ``pool``'s queue now
        waits: (queued chip-hours ahead + chips still to free x half the mean job length)
        / chips the pool has for training; infinite if the job is larger than those."""
        capacity = pool.installed - pool.reserved - pool.pending_retire
        rate = pool.pflop_per_chip_hour
        if capacity < chips or rate <= 0.0:
            return math.inf
        ahead = pool.queued_pflop / rate
        to_free = max(0, chips - pool.free())
        return (ahead + to_free * pool.mean_job_hours / 2.0) / capacity

    def _renege(self, ev: simpy.Event) -> None:
        """A queued job has waited its segment's patience: if still queued, it leaves."""
        pool, job = ev.value  # type: ignore[misc]
        if job.job_id not in pool.waiting:
            return
        self.log.events += 1
        now = self.env.now
        pool.waiting.discard(job.job_id)
        pool.queue.remove(job)
        pool.queued_pflop -= job.pflop
        self._impatient(job.segment, job.chips, job.pflop, job.arrival_h, pool, reneged=True)
        if pool.queue:
            self.scheduler.dispatch(pool, now, self.start)

    def _impatient(
        self, segment: int, k: int, pflop: float, arrival_h: float, pool: Pool, *, reneged: bool
    ) -> None:
        """A job that will not wait on ``pool``: another pool of its segment that can start
        it now, else another cloud or nowhere."""
        w = self.w
        now = self.env.now
        rate = pool.pflop_per_chip_hour
        chip_hours = pflop / rate if rate > 0 else 0.0
        for ap in self._redirect_targets(segment, pool, now):
            if not ap.queue and ap.installed - ap.training_busy - ap.reserved >= k:
                w.log.redirected.append(RedirectRecord(segment, pool.idx, ap.idx, now, reneged))
                pool.turned_away_chip_hours += chip_hours
                self.launch(segment, k, pflop, arrival_h, ap, now)
                return
        self._cloud_credit[segment] += self._cloud_share[segment]
        other_cloud = self._cloud_credit[segment] >= 1.0
        if other_cloud:
            self._cloud_credit[segment] -= 1.0
        pool.lost_chip_hours += chip_hours
        w.log.lost.append(
            LostJobRecord(segment, pool.idx, now, k, pflop, chip_hours, reneged, other_cloud)
        )

    def _redirect_targets(self, segment: int, pool: Pool, now: float) -> tuple[Pool, ...]:
        """Where an impatient job may go: its overflow pools, then the other pools its
        segment runs training on (it needs no port), in pool order."""
        out = self._overflow_pools(segment, pool, now)
        pools = self.pools
        rest = tuple(
            pools[p]
            for p in self.w.segments[segment].route_weights
            if p != pool.idx and pools[p] not in out
        )
        return out + rest

    def start(self, job: QueuedJob, pool: Pool) -> None:
        """Start ``job`` (just taken off ``pool``'s queue) on ``pool`` now."""
        pool.queued_pflop -= job.pflop
        pool.waiting.discard(job.job_id)
        self.launch(job.segment, job.chips, job.pflop, job.arrival_h, pool, self.env.now)

    def launch(
        self, segment: int, k: int, pflop: float, arrival_h: float, pool: Pool, now: float
    ) -> None:
        """Start a job of ``segment`` (``k`` chips, ``pflop``, arrived at ``arrival_h``) on
        ``pool`` now (``now`` is the simulation's time)."""
        # pool.touch(now), inlined (every job passes here)
        pool.area_busy += (pool.training_busy + pool.reserved) * (now - pool.t_last)
        pool.t_last = now
        pool.training_busy += k
        dur = pflop / (k * pool.pflop_per_chip_hour)
        end = now + dur
        m = pool.mean_job_hours
        pool.mean_job_hours = dur if m == 0.0 else m + JOB_HOURS_SMOOTHING * (dur - m)
        self._job_row((segment, pool.idx, k, pflop, arrival_h, now, end))
        if len(self._job_buffer) >= JobLog.FLUSH_AT:
            self.log.jobs.flush()
        if end < self.horizon_h:
            self.job_seq += 1
            if self.plans_ahead:
                self.scheduler.job_started(pool, self.job_seq, end, k)
            call_in(self.env, dur, self._on_finish, (pool, k, self.job_seq))

    def _finish(self, ev: simpy.Event) -> None:
        pool, k, jid = ev._value  # what launch gave call_in
        self.log.events += 1
        now = self.env.now
        # pool.touch(now), inlined
        pool.area_busy += (pool.training_busy + pool.reserved) * (now - pool.t_last)
        pool.t_last = now
        pool.training_busy -= k
        if pool.pending_retire:
            pool.drain_retirements(k, now, self.log.overstays)
        if self.plans_ahead:
            self.scheduler.job_finished(pool, jid)
        if pool.queue:
            self.scheduler.dispatch(pool, now, self.start)

    def dispatch(self, pool: Pool) -> None:
        """Start queued jobs on ``pool`` as the scheduler allows."""
        self.scheduler.dispatch(pool, self.env.now, self.start)

    def record_unstarted(self) -> None:
        """At the end of the run: log the jobs still queued as never started."""
        for p in self.w.pools:
            for job in p.queue:
                self._add_job(
                    job.segment, p.idx, job.chips, job.pflop, job.arrival_h, math.nan, math.nan
                )
