"""The engine's state: pools of chips, customers and segments, and the world they share.

A :class:`Pool` holds counts (installed, busy, reserved for serving), never an object per
chip, so cost grows with events and not with fleet size. A :class:`World` is what every
process of one run shares: the scenario, the simpy environment, the clock, the pools and
segments, and the log the run writes.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import simpy
from simpy.events import NORMAL

from sim.engine.records import EngineLog, OverstayRecord
from sim.model.adoption import customer_weights
from sim.model.pricing import capex_usd_per_chip
from sim.model.schema import WORKLOADS, ChipSpec, Scenario, Segment
from sim.model.timeline import Clock

FloatArray = npt.NDArray[np.float64]


_new_event = simpy.Event.__new__


def call_in(
    env: simpy.Environment, delay: float, callback: Callable[[simpy.Event], None], value: Any
) -> None:
    """Call ``callback(event)`` in ``delay`` hours (``delay`` >= 0), ``event.value`` being
    ``value``: what ``env.timeout(delay, value).callbacks.append(callback)`` does, the same
    event at the same place in simpy's queue, without the Timeout's bound-class call and
    delay check (the engine's arrivals, job ends and re-sizes are all such events)."""
    ev = _new_event(simpy.Event)
    ev.env = env
    ev.callbacks = [callback]
    ev._value = value
    ev._ok = True
    env.schedule(ev, NORMAL, delay)


class QueuedJob(NamedTuple):
    """A training job waiting for chips (``job_id`` tells two alike jobs apart)."""

    segment: int
    chips: int
    pflop: float
    arrival_h: float
    job_id: int = 0


class Pool:
    """The provider's fleet of one chip type: counts, a FIFO queue, running jobs."""

    __slots__ = (
        "area_busy",
        "chip",
        "chip_id",
        "committed_orders",
        "cumulative_volume",
        "end_of_sale_h",
        "idx",
        "installed",
        "lost_chip_hours",
        "mean_job_hours",
        "pending_retire",
        "pflop_per_chip_hour",
        "queue",
        "queued_pflop",
        "reserved",
        "retire_queue",
        "running",
        "serves_training",
        "t_last",
        "tok_per_chip_s",
        "training_busy",
        "turned_away_chip_hours",
        "waiting",
    )

    def __init__(self, idx: int, chip_id: str, chip: ChipSpec) -> None:
        self.idx = idx
        self.chip_id = chip_id
        self.chip = chip
        self.installed = 0
        self.training_busy = 0
        self.reserved = 0
        self.queue: deque[QueuedJob] = deque()
        # running jobs that end inside the horizon: id -> (end h, chips); kept by schedulers
        # that plan ahead (EASY backfill)
        self.running: dict[int, tuple[float, int]] = {}
        self.pflop_per_chip_hour = 0.0
        self.tok_per_chip_s = 0.0
        self.area_busy = 0.0
        self.t_last = 0.0
        self.committed_orders = 0
        self.cumulative_volume = 0.0
        self.pending_retire = 0
        # chips past their retirement date still busy: [retire h, chips left], oldest first
        self.retire_queue: deque[list[float]] = deque()
        self.serves_training = "training" in chip.workloads
        # the hour from which the chip can no longer be delivered (inf: never); set by World
        self.end_of_sale_h = math.inf
        # queued work and the ids of queued jobs (for reneging), kept by the training process
        self.queued_pflop = 0.0
        self.waiting: set[int] = set()
        # running mean duration of the jobs started here, hours (0 before the first)
        self.mean_job_hours = 0.0
        # chip-hours of training jobs lost to impatience (procurement's forecast reads it)
        self.lost_chip_hours = 0.0
        # chip-hours of impatient training jobs that started on another pool instead (read
        # by the forecast when procurement.count_turned_away is set)
        self.turned_away_chip_hours = 0.0

    def off_sale(self, now: float) -> bool:
        """Whether the chip can no longer be delivered at simulated time ``now``."""
        return now >= self.end_of_sale_h

    def free(self) -> int:
        """Chips neither running training nor reserved for serving.

        Chips past their retirement date that are still busy (``pending_retire``) are among
        the busy ones, so they are never free.
        """
        return self.installed - self.training_busy - self.reserved

    def touch(self, now: float) -> None:
        """Accumulate busy chip-hours up to ``now`` (before any count changes)."""
        self.area_busy += (self.training_busy + self.reserved) * (now - self.t_last)
        self.t_last = now

    def drain_retirements(self, freed: int, now: float, overstays: list[OverstayRecord]) -> None:
        """Let chips waiting to retire leave as ``freed`` chips of work end, recording them."""
        while self.pending_retire > 0 and freed > 0:
            batch = self.retire_queue[0]
            k = min(int(batch[1]), freed)
            self.installed -= k
            self.pending_retire -= k
            freed -= k
            batch[1] -= k
            overstays.append(OverstayRecord(self.idx, k, batch[0], now))
            if batch[1] <= 0:
                self.retire_queue.popleft()


class DailyProfile:
    """Hour-by-hour demand served up to a capacity over whole days, in O(log 24).

    Over a day with hourly rates base x p_h, served = sum_h min(base x p_h, capacity)
    = base x (sum of p_h <= capacity / base) + capacity x (count of p_h above it).

    >>> demanded, served = DailyProfile([0.5, 1.5]).sums(np.array([2.0]), np.array([2.0]), 1.0)
    >>> demanded.tolist(), served.tolist()
    ([4.0], [3.0])
    """

    def __init__(self, profile: list[float]) -> None:
        self.sorted = sorted(profile)
        self.prefix = [0.0]
        for v in self.sorted:
            self.prefix.append(self.prefix[-1] + v)

    def sums(
        self, base: FloatArray, capacity: FloatArray, days: float
    ) -> tuple[FloatArray, FloatArray]:
        """(demanded, served) rate-hours over ``days`` whole days, for each (base rate,
        capacity) pair (none where the base rate is not positive)."""
        demanded = np.zeros(len(base))
        served = np.zeros(len(base))
        on = base > 0
        b, c = base[on], capacity[on]
        with np.errstate(over="ignore"):  # a capacity far above the demand: inf, all served
            i = np.searchsorted(np.asarray(self.sorted), c / b, side="right")
        demanded[on] = b * self.prefix[-1] * days
        served[on] = (b * np.asarray(self.prefix)[i] + c * (len(self.sorted) - i)) * days
        return demanded, served


class WorkloadState:
    """One workload's choice state over a segment's customers, as arrays.

    ``shares`` (customers x pools): each customer's share of the workload per pool.
    ``ported``, ``porting`` and ``blocked`` (customers x stacks): the chance the customer
    runs the stack (it has ported, or started on it), has a port to it under way, or waits
    after a failed port before trying again. Under sampled decisions each is 0 or 1; under
    expected decisions they are the expected values, and the three never sum above 1.
    """

    __slots__ = ("blocked", "ported", "porting", "shares")

    def __init__(self, n_customers: int, n_pools: int, n_stacks: int) -> None:
        self.shares = np.zeros((n_customers, n_pools))
        self.ported = np.zeros((n_customers, n_stacks))
        self.porting = np.zeros((n_customers, n_stacks))
        self.blocked = np.zeros((n_customers, n_stacks))

    def available(self) -> FloatArray:
        """The chance each customer could start a port to each stack now."""
        return np.asarray(np.clip(1.0 - self.ported - self.porting - self.blocked, 0.0, 1.0))

    def available_to(self, stack: int) -> FloatArray:
        """:meth:`available`'s column of one stack (computed alone)."""
        k = stack
        return np.asarray(
            np.clip(1.0 - self.ported[:, k] - self.porting[:, k] - self.blocked[:, k], 0.0, 1.0)
        )


class SegmentState:
    """Demand and decision state of one customer segment and its population of customers."""

    def __init__(
        self,
        idx: int,
        sid: str,
        spec: Segment,
        pool_index: dict[str, int],
        pool_stacks: list[int],
        n_stacks: int,
    ) -> None:
        self.idx = idx
        self.id = sid
        self.spec = spec
        n = spec.customers
        self.weights = customer_weights(n, spec.size_distribution, list(spec.anchors.values()))
        rest = range(len(spec.anchors) + 1, n + 1)
        self.customer_names = [*spec.anchors, *(f"{sid}#{k}" for k in rest)]
        self.workloads: dict[str, WorkloadState] = {}
        for wl in WORKLOADS:
            state = WorkloadState(n, len(pool_stacks), n_stacks)
            for p, v in spec.platforms.get(wl, {}).items():
                if v > 0:
                    state.shares[:, pool_index[p]] = v
                    # a customer runs the stacks of the pools it starts on
                    state.ported[:, pool_stacks[pool_index[p]]] = 1.0
            self.workloads[wl] = state
        self.route_weights: dict[int, float] = {}
        # smooth weighted round-robin: pools in order, their weights and their credit
        self._route_pools: list[int] = []
        self._route_step: list[float] = []
        self._route_credit: list[float] = []
        self.serving_shares: dict[int, float] = {}
        self.reserved: dict[int, int] = {}
        # token rate (at target load) of each pool's share that found no chips, last re-size
        self.unplaced: dict[int, float] = {}
        self.bypass_credit = 0.0
        self.refresh_shares()

    def mean_shares(self, workload: str) -> dict[int, float]:
        """The segment's share of a workload per pool (customers weighted by size)."""
        mean = self.weights @ self.workloads[workload].shares
        values = mean.tolist()
        return {p: values[p] for p in np.flatnonzero(mean > 1e-12).tolist()}

    def installed_share(self, workload: str, stack: int) -> float:
        """The share of the segment's customers, weighted by size, that run ``stack``."""
        return float(self.weights @ self.workloads[workload].ported[:, stack])

    def refresh_shares(self) -> None:
        """Recompute routing weights after shares changed (each pool keeps its routing credit)."""
        self.route_weights = self.mean_shares("training")
        credit = dict(zip(self._route_pools, self._route_credit, strict=True))
        self._route_pools = list(self.route_weights)
        self._route_step = list(self.route_weights.values())
        self._route_credit = [credit.get(p, 0.0) for p in self._route_pools]
        self.serving_shares = self.mean_shares("inference")

    def route(self) -> int:
        """Smooth weighted round-robin: the pool the next training job goes to.

        Every pool's credit grows by its weight; the first pool with the most credit gets
        the job and gives back one job's worth.

        >>> seg = SegmentState.__new__(SegmentState)
        >>> seg._route_pools, seg._route_step, seg._route_credit = [4, 7], [0.25, 0.75], [0.0, 0.0]
        >>> [seg.route() for _ in range(4)]
        [7, 4, 7, 7]
        """
        credit = self._route_credit
        step = self._route_step
        if len(credit) == 1:  # one pool: the same two additions, no search
            credit[0] = credit[0] + step[0] - 1.0
            return self._route_pools[0]
        best = 0
        most = -math.inf
        for i in range(len(credit)):
            v = credit[i] + step[i]
            credit[i] = v
            if v > most:
                most = v
                best = i
        credit[best] -= 1.0
        return self._route_pools[best]


@dataclass
class World:
    """What every process of one run shares."""

    scenario: Scenario
    seed: int
    env: simpy.Environment
    clock: Clock
    log: EngineLog
    pools: list[Pool]
    pool_index: dict[str, int]
    segments: list[SegmentState]
    spill: dict[int, list[int]]
    horizon_h: float
    stack_ids: list[str] = field(default_factory=list)
    stack_maturity: dict[str, float] = field(default_factory=dict)
    # each pool's customer price per chip-hour this month (set by the monthly tick)
    prices: list[float] = field(default_factory=list)
    # capex_usd's results by (pool, day, chips built, batch)
    _capex_memo: dict[tuple[int, dt.date, float, int], float] = field(default_factory=dict)

    @classmethod
    def build(cls, scenario: Scenario, seed: int) -> World:
        """The initial state of a run of ``scenario`` with root seed ``seed``."""
        chips = scenario.catalog.chips
        pools = [Pool(i, pid, chips[pid]) for i, pid in enumerate(scenario.provider.pools)]
        pool_index = {p.chip_id: p.idx for p in pools}
        stack_ids = list(scenario.catalog.stacks)
        pool_stacks = [stack_ids.index(p.chip.stack) for p in pools]
        segments = [
            SegmentState(i, sid, seg, pool_index, pool_stacks, len(stack_ids))
            for i, (sid, seg) in enumerate(scenario.segments.items())
        ]
        log = EngineLog(pool_ids=[p.chip_id for p in pools], segment_ids=[s.id for s in segments])
        spill = {
            pool_index[a]: [pool_index[b] for b in bs]
            for a, bs in scenario.scheduling.spill.items()
        }
        clock = Clock(scenario.horizon.start, scenario.horizon.end)
        for pool in pools:
            if pool.chip.end_of_sale_date is not None:
                pool.end_of_sale_h = clock.hours(pool.chip.end_of_sale_date)
        return cls(
            scenario,
            seed,
            simpy.Environment(),
            clock,
            log,
            pools,
            pool_index,
            segments,
            spill,
            clock.horizon_hours,
            stack_ids,
        )

    def successor_pools(self, pool: Pool, workload: str) -> list[Pool]:
        """The provider's pools along ``pool``'s chain of successors, nearest first, that
        run the same stack (no port needed) and serve ``workload``."""
        out: list[Pool] = []
        for cid in self.scenario.catalog.successors(pool.chip_id):
            idx = self.pool_index.get(cid)
            if idx is None:
                continue
            cand = self.pools[idx]
            if cand.chip.stack == pool.chip.stack and workload in cand.chip.workloads:
                out.append(cand)
        return out

    def capex_usd(self, pool: Pool, t: float, batch: int = 1) -> float:
        """Price per chip of a batch of ``batch`` chips for ``pool`` bought at time ``t``
        (computed once per pool, day, volume built and batch: it is a pure function of them)."""
        built = pool.cumulative_volume + pool.committed_orders
        day = self.clock.date(t)
        key = (pool.idx, day, built, batch)
        price = self._capex_memo.get(key)
        if price is None:
            price = capex_usd_per_chip(self.scenario, pool.chip_id, day, built, batch)
            self._capex_memo[key] = price
        return price
