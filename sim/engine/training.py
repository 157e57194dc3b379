"""Training demand: Poisson arrivals of gang-scheduled jobs, and the schedulers that start them.

Each segment's jobs arrive as a Poisson process whose rate grows exponentially, sampled
exactly by inverting the cumulative intensity; each job goes to the pool its segment's
current shares route it to (smooth weighted round-robin, so realised shares track the decided
shares with no sampling noise). A job that cannot start at once may spill to a pool listed in
``scheduling.spill`` that can, else it queues on its pool.

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
from collections.abc import Callable, Generator
from functools import partial
from typing import Any, Protocol

import simpy

from sim.engine.records import BypassRecord, JobRecord
from sim.engine.state import Pool, QueuedJob, SegmentState, World
from sim.model.rng import BlockDraws, stream
from sim.model.schema import JobSize, Scheduling
from sim.model.timeline import step_value
from sim.model.units import HOURS_PER_MONTH, HOURS_PER_YEAR

Starter = Callable[[QueuedJob, Pool], None]
"""Starts a job on a pool now (the scheduler decides which, the training process how)."""


class Scheduler(Protocol):
    """Which queued jobs of a pool start when chips free up."""

    name: str

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


def size_sampler(size: JobSize, seed: int, segment_id: str) -> Callable[[], float]:
    """Draws of a segment's job sizes (PFLOP) from its own random stream."""
    kind = {"fixed": "none", "exponential": "exponential", "lognormal": "normal"}[size.law]
    draws = BlockDraws(stream(seed, f"sizes/{segment_id}"), kind)
    mean = size.mean_pflop
    sigma = size.sigma
    if size.law == "exponential":
        return lambda: mean * draws.next()
    if size.law == "lognormal":
        # lognormal with the given mean: median = mean * exp(-sigma^2 / 2)
        log_median = math.log(mean) - sigma * sigma / 2.0
        return lambda: math.exp(log_median + sigma * draws.next())
    return lambda: mean


class TrainingProcess:
    """Arrivals, starts and finishes of training jobs on the pools of one run."""

    def __init__(self, world: World, scheduler: Scheduler) -> None:
        self.w = world
        self.scheduler = scheduler
        self.job_seq = 0

    def arrivals(self, seg: SegmentState) -> Generator[simpy.Event, Any, None]:
        """The simpy process of a segment's job arrivals."""
        spec = seg.spec.training
        assert spec is not None
        rate0 = spec.jobs_per_month / HOURS_PER_MONTH
        if rate0 <= 0:
            return
        gamma = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
        expo = BlockDraws(stream(self.w.seed, f"arrivals/{seg.id}"), "exponential")
        next_size = size_sampler(spec.size, self.w.seed, seg.id)
        k = spec.gang_chips
        env = self.w.env
        horizon_h = self.w.horizon_h
        t = 0.0
        while True:
            e = expo.next()
            # invert the cumulative intensity: Lambda(t') - Lambda(t) = e, with
            # lambda(t) = rate0 exp(gamma t); log1p keeps tiny growth rates exact
            rate_t = rate0 * math.exp(gamma * t)
            y = gamma * e / rate_t
            if y <= -1.0:
                return  # a shrinking rate that never produces another arrival
            t += math.log1p(y) / gamma if y != 0.0 else e / rate_t
            if t >= horizon_h:
                return
            yield env.timeout(t - env.now)
            self.arrive(seg, k, next_size())

    def arrive(self, seg: SegmentState, k: int, pflop: float) -> None:
        """A job of ``k`` chips and ``pflop`` PFLOP arrives now from ``seg``."""
        w = self.w
        w.log.events += 1
        now = w.env.now
        pid = seg.route()
        pool = w.pools[pid]
        vendor = w.scenario.vendors.get(pool.chip.vendor)
        if vendor is not None and vendor.direct_cloud_share:
            share = step_value(vendor.direct_cloud_share, w.clock.date(now), 0.0)
            seg.bypass_credit += share
            if seg.bypass_credit >= 1.0:
                seg.bypass_credit -= 1.0
                w.log.bypassed.append(BypassRecord(seg.idx, pid, now, pflop))
                return
        job = QueuedJob(seg.idx, k, pflop, now)
        if not pool.queue and pool.free() >= k:
            self.start(job, pool)
            return
        for alt in w.spill.get(pid, ()):
            ap = w.pools[alt]
            if ap.serves_training and not ap.queue and ap.free() >= k:
                self.start(job, ap)
                return
        pool.queue.append(job)
        self.scheduler.job_queued(pool, now, self.start)

    def start(self, job: QueuedJob, pool: Pool) -> None:
        """Start ``job`` on ``pool`` now."""
        w = self.w
        k = job.chips
        now = w.env.now
        pool.touch(now)
        pool.training_busy += k
        dur = job.pflop / (k * pool.pflop_per_chip_hour)
        end = now + dur
        w.log.jobs.append(JobRecord(job.segment, pool.idx, k, job.pflop, job.arrival_h, now, end))
        if end < w.horizon_h:
            self.job_seq += 1
            jid = self.job_seq
            self.scheduler.job_started(pool, jid, end, k)
            ev = w.env.timeout(dur)
            ev.callbacks.append(partial(self._finish, pool, k, jid))

    def _finish(self, pool: Pool, k: int, jid: int, _ev: simpy.Event) -> None:
        w = self.w
        w.log.events += 1
        now = w.env.now
        pool.touch(now)
        pool.training_busy -= k
        pool.drain_retirements(k, now, w.log.overstays)
        self.scheduler.job_finished(pool, jid)
        if pool.queue:
            self.dispatch(pool)

    def dispatch(self, pool: Pool) -> None:
        """Start queued jobs on ``pool`` as the scheduler allows."""
        self.scheduler.dispatch(pool, self.w.env.now, self.start)

    def record_unstarted(self) -> None:
        """At the end of the run: log the jobs still queued as never started."""
        for p in self.w.pools:
            for job in p.queue:
                self.w.log.jobs.append(
                    JobRecord(
                        job.segment, p.idx, job.chips, job.pflop, job.arrival_h, math.nan, math.nan
                    )
                )
