"""The discrete-event model: a cloud's accelerator pools over years (simpy).

One :class:`Pool` per chip type holds counts (installed, busy, reserved for serving), never an
object per chip, so cost grows with events and not with fleet size. Processes:

- training arrivals per segment: a Poisson process whose rate grows exponentially, sampled
  exactly by inverting the cumulative intensity; each job is gang-scheduled on the pool its
  segment's current shares route it to (smooth weighted round-robin, so realised shares track
  the decided shares with no sampling noise);
- serving: every ``resize_interval_hours`` each segment's inference capacity is re-sized to
  the coming peak, hour by hour demand is served up to that capacity;
- supply: planned deliveries, forecast-driven orders after lead times under allocation and
  foundry caps, and retirement at the end of the depreciation life;
- monthly ticks: software maturity (with the flywheel) and so achieved throughput;
- customer reviews (sim/adoption.py): each customer re-weighs its platforms and starts ports.

Scheduling (documented policy): ``fifo`` starts jobs strictly in arrival order per pool (a job
that does not fit blocks those behind it); ``backfill`` is EASY backfilling: the head job gets
a reservation at the earliest time enough chips free up, and later jobs may jump ahead only if
they fit now and either finish before that time or use chips the head job will not need.
A job that cannot start at once may spill to a pool listed in ``scheduling.spill`` that can.

The engine does no I/O: it returns an :class:`EngineLog` of columnar records that
``sim.accounting`` turns into tables.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import simpy

from sim.model import adoption as ad
from sim.model import economics as ec
from sim.model.rng import BlockDraws, stream
from sim.model.schema import WORKLOADS, ChipSpec, Inference, Scenario, Segment
from sim.model.timeline import Clock, step_at, step_value
from sim.model.units import (
    HOURS_PER_MONTH,
    HOURS_PER_QUARTER,
    HOURS_PER_WEEK,
    HOURS_PER_YEAR,
    SECONDS_PER_HOUR,
)

QUARTER_HOURS = HOURS_PER_QUARTER


# --------------------------------------------------------------------------- records


@dataclass
class EngineLog:
    """Everything the run produced, as columnar records (the engine's only output)."""

    # training jobs: (segment, pool, chips, pflop, arrival_h, start_h, end_h); start nan = never
    jobs: list[tuple[int, int, int, float, float, float, float]] = field(default_factory=list)
    # serving intervals: (segment, pool, chips, start_h, end_h, mtok_demand, mtok_served, load)
    serving: list[tuple[int, int, int, float, float, float, float, float]] = field(
        default_factory=list
    )
    # capacity cohorts: (pool, chips, start_h, retire_h, unit_capex_usd, bought_in_horizon)
    cohorts: list[tuple[int, int, float, float, float, bool]] = field(default_factory=list)
    # chips kept past their retirement date because they were busy when it came:
    # (pool, chips, retire_h, left_h); they stay installed (power, facility) until they leave
    overstays: list[tuple[int, int, float, float]] = field(default_factory=list)
    # ports: (segment, customer, workload, stack, start_h, end_h, cost_usd, success)
    ports: list[tuple[int, int, str, str, float, float, float, bool]] = field(default_factory=list)
    # demand that bypassed the provider (vendor's own cloud): (segment, pool, time_h, pflop)
    bypassed: list[tuple[int, int, float, float]] = field(default_factory=list)
    # month-start snapshots: (month, segment, workload, pool, share)
    shares: list[tuple[int, int, str, int, float]] = field(default_factory=list)
    # month-start snapshots: (month, stack, maturity, software_efficiency)
    maturity: list[tuple[int, str, float, float]] = field(default_factory=list)
    # orders: (pool, order_h, delivery_h, chips)
    orders: list[tuple[int, float, float, int]] = field(default_factory=list)
    events: int = 0
    pool_ids: list[str] = field(default_factory=list)
    segment_ids: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- state


class Pool:
    """The provider's fleet of one chip type: counts, a FIFO queue, running jobs."""

    __slots__ = (
        "area_busy",
        "chip",
        "chip_id",
        "committed_orders",
        "cumulative_volume",
        "idx",
        "installed",
        "pending_retire",
        "pflop_per_chip_hour",
        "queue",
        "reserved",
        "retire_queue",
        "running",
        "serves_training",
        "t_last",
        "tok_per_chip_s",
        "training_busy",
    )

    def __init__(self, idx: int, chip_id: str, chip: ChipSpec) -> None:
        self.idx = idx
        self.chip_id = chip_id
        self.chip = chip
        self.installed = 0
        self.training_busy = 0
        self.reserved = 0
        self.queue: deque[list[Any]] = deque()
        self.running: dict[int, tuple[float, int]] = {}
        self.pflop_per_chip_hour = 0.0
        self.tok_per_chip_s = 0.0
        self.area_busy = 0.0
        self.t_last = 0.0
        self.committed_orders = 0
        self.cumulative_volume = 0.0
        self.pending_retire = 0
        self.retire_queue: deque[list[float]] = deque()
        self.serves_training = "training" in chip.workloads

    def free(self) -> int:
        """Chips neither running training nor reserved for serving.

        Chips past their retirement date that are still busy (``pending_retire``) are among
        the busy ones, so they are never free.
        """
        return self.installed - self.training_busy - self.reserved


class DailyProfile:
    """Hour-by-hour demand served up to a capacity over whole days, in O(log 24).

    Over a day with hourly rates base x p_h, served = sum_h min(base x p_h, capacity)
    = base x (sum of p_h <= capacity / base) + capacity x (count of p_h above it).
    """

    def __init__(self, profile: list[float]) -> None:
        self.sorted = sorted(profile)
        self.prefix = [0.0]
        for v in self.sorted:
            self.prefix.append(self.prefix[-1] + v)

    def sums(self, base: float, capacity: float, days: float) -> tuple[float, float]:
        """(demanded, served) rate-hours over `days` whole days."""
        demand = base * self.prefix[-1]
        if base <= 0:
            return 0.0, 0.0
        i = bisect.bisect_right(self.sorted, capacity / base)
        served = base * self.prefix[i] + capacity * (len(self.sorted) - i)
        return demand * days, served * days


class Customer:
    """One decision maker of a segment: its shares per workload and the stacks it runs."""

    __slots__ = ("blocked_until", "ported", "porting", "shares")

    def __init__(self, shares: dict[str, dict[int, float]], ported: set[str]) -> None:
        self.shares = shares
        self.ported = ported
        self.porting: set[tuple[str, str]] = set()
        self.blocked_until: dict[tuple[str, str], float] = {}


class SegmentState:
    """Demand and decision state of one customer segment."""

    def __init__(self, idx: int, sid: str, spec: Segment, pool_index: dict[str, int]) -> None:
        self.idx = idx
        self.id = sid
        self.spec = spec
        shares = {
            wl: {pool_index[p]: v for p, v in spec.platforms.get(wl, {}).items() if v > 0}
            for wl in WORKLOADS
        }
        self.customers = [
            Customer({wl: dict(s) for wl, s in shares.items()}, set())
            for _ in range(spec.customers)
        ]
        self.route_weights: dict[int, float] = {}
        self.route_current: dict[int, float] = {}
        self.serving_shares: dict[int, float] = {}
        self.reserved: dict[int, int] = {}
        self.bypass_credit = 0.0
        self.refresh_shares()

    def mean_shares(self, workload: str) -> dict[int, float]:
        """The segment's share of a workload per pool (mean over its customers)."""
        out: dict[int, float] = {}
        n = len(self.customers)
        for c in self.customers:
            for p, v in c.shares[workload].items():
                out[p] = out.get(p, 0.0) + v / n
        return {p: v for p, v in sorted(out.items()) if v > 1e-12}

    def refresh_shares(self) -> None:
        """Recompute routing weights after shares changed."""
        self.route_weights = self.mean_shares("training")
        self.route_current = {p: self.route_current.get(p, 0.0) for p in self.route_weights}
        self.serving_shares = self.mean_shares("inference")

    def route(self) -> int:
        """Smooth weighted round-robin: the pool the next training job goes to."""
        cur = self.route_current
        best = -1
        best_v = -math.inf
        for p, w in self.route_weights.items():
            v = cur[p] + w
            cur[p] = v
            if v > best_v:
                best_v = v
                best = p
        cur[best] -= 1.0
        return best


# --------------------------------------------------------------------------- engine


class Engine:
    """Builds the simpy model of one scenario and runs it for one seed."""

    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.s = scenario
        self.seed = seed
        self.clock = Clock(scenario.horizon.start, scenario.horizon.end)
        self.env = simpy.Environment()
        self.horizon_h = self.clock.horizon_hours
        self.log = EngineLog()
        chips = scenario.catalog.chips
        self.pools = [Pool(i, pid, chips[pid]) for i, pid in enumerate(scenario.provider.pools)]
        self.pool_index = {p.chip_id: p.idx for p in self.pools}
        self.segments = [
            SegmentState(i, sid, seg, self.pool_index)
            for i, (sid, seg) in enumerate(scenario.segments.items())
        ]
        self.log.pool_ids = [p.chip_id for p in self.pools]
        self.log.segment_ids = [s.id for s in self.segments]
        self.backfill = scenario.scheduling.policy == "backfill"
        self.spill = {
            self.pool_index[a]: [self.pool_index[b] for b in bs]
            for a, bs in scenario.scheduling.spill.items()
        }
        self.stack_usage: dict[str, float] = dict.fromkeys(scenario.catalog.stacks, 0.0)
        self.stack_maturity: dict[str, float] = {}
        self.job_seq = 0
        for seg in self.segments:
            for c in seg.customers:
                for wl in WORKLOADS:
                    for p in c.shares[wl]:
                        c.ported.add(self.pools[p].chip.stack)
        self.quarter_orders: dict[tuple[str, int], int] = {}

    # ----------------------------------------------------------------- time-varying inputs

    def _year(self, t: float) -> float:
        return self.clock.year_fraction(t)

    def _update_maturity(self) -> None:
        """Recompute each stack's maturity and each pool's achieved throughput."""
        t = self.env.now
        year = self._year(t)
        ads = self.s.adoption
        usage = self._usage_now()
        total = sum(usage.values()) or 1.0
        for sid, stack in self.s.catalog.stacks.items():
            share = usage.get(sid, 0.0) / total
            self.stack_maturity[sid] = ad.maturity(stack, year, share, ads.flywheel_strength)
        for p in self.pools:
            m = self.stack_maturity[p.chip.stack]
            eff = ad.software_efficiency(m, ads.efficiency_floor)
            p.pflop_per_chip_hour = float(
                ec.pflop_per_chip_hour(p.chip.training_tflops, p.chip.training_mfu, eff)
            )
            p.tok_per_chip_s = p.chip.inference_tokens_per_s * eff

    def _usage_now(self) -> dict[str, float]:
        """Cumulative busy chip-hours per stack up to now (drives the flywheel)."""
        now = self.env.now
        out: dict[str, float] = {}
        for p in self.pools:
            area = p.area_busy + (p.training_busy + p.reserved) * (now - p.t_last)
            out[p.chip.stack] = out.get(p.chip.stack, 0.0) + area
        return out

    def _touch(self, p: Pool) -> None:
        now = self.env.now
        p.area_busy += (p.training_busy + p.reserved) * (now - p.t_last)
        p.t_last = now

    # ----------------------------------------------------------------- training

    def _arrivals(self, seg: SegmentState) -> Any:
        spec = seg.spec.training
        assert spec is not None
        rate0 = spec.jobs_per_month / HOURS_PER_MONTH
        if rate0 <= 0:
            return
        gamma = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
        expo = BlockDraws(stream(self.seed, f"arrivals/{seg.id}"), "exponential")
        size_kind = {"fixed": "none", "exponential": "exponential", "lognormal": "normal"}
        sizes = BlockDraws(stream(self.seed, f"sizes/{seg.id}"), size_kind[spec.size.law])
        mean = spec.size.mean_pflop
        sigma = spec.size.sigma
        # lognormal with the given mean: median = mean * exp(-sigma^2 / 2)
        log_median = math.log(mean) - sigma * sigma / 2.0
        law = spec.size.law
        k = spec.gang_chips
        env = self.env
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
            if t >= self.horizon_h:
                return
            yield env.timeout(t - env.now)
            if law == "exponential":
                size = mean * sizes.next()
            elif law == "lognormal":
                size = math.exp(log_median + sigma * sizes.next())
            else:
                size = mean
            self._arrive(seg, k, size)

    def _arrive(self, seg: SegmentState, k: int, pflop: float) -> None:
        self.log.events += 1
        pid = seg.route()
        pool = self.pools[pid]
        vendor = self.s.vendors.get(pool.chip.vendor)
        if vendor is not None and vendor.direct_cloud_share:
            share = step_value(vendor.direct_cloud_share, self.clock.date(self.env.now), 0.0)
            seg.bypass_credit += share
            if seg.bypass_credit >= 1.0:
                seg.bypass_credit -= 1.0
                self.log.bypassed.append((seg.idx, pid, self.env.now, pflop))
                return
        job = [seg.idx, pid, k, pflop, self.env.now]
        if not pool.queue and pool.free() >= k:
            self._start(job, pool)
            return
        for alt in self.spill.get(pid, ()):
            ap = self.pools[alt]
            if ap.serves_training and not ap.queue and ap.free() >= k:
                self._start(job, ap)
                return
        pool.queue.append(job)
        if self.backfill:
            self._dispatch(pool)

    def _start(self, job: list[Any], pool: Pool) -> None:
        k = job[2]
        now = self.env.now
        self._touch(pool)
        pool.training_busy += k
        dur = job[3] / (k * pool.pflop_per_chip_hour)
        end = now + dur
        self.log.jobs.append((job[0], pool.idx, k, job[3], job[4], now, end))
        if end < self.horizon_h:
            self.job_seq += 1
            jid = self.job_seq
            if self.backfill:
                pool.running[jid] = (end, k)
            ev = self.env.timeout(dur)
            ev.callbacks.append(partial(self._finish, pool, k, jid))

    def _finish(self, pool: Pool, k: int, jid: int, _ev: Any) -> None:
        self.log.events += 1
        self._touch(pool)
        pool.training_busy -= k
        self._drain_retirements(pool, k)
        if self.backfill:
            del pool.running[jid]
        if pool.queue:
            self._dispatch(pool)

    def _dispatch(self, pool: Pool) -> None:
        """Start queued jobs on `pool` as the policy allows."""
        q = pool.queue
        while q and pool.free() >= q[0][2]:
            self._start(q.popleft(), pool)
        if not self.backfill or len(q) < 2:
            return
        free = pool.free()
        head_k = q[0][2]
        # EASY backfill: shadow time at which the head job can start
        shadow = math.inf
        extra = 0
        avail = free
        for end, k in sorted(pool.running.values()):
            avail += k
            if avail >= head_k:
                shadow = end
                extra = avail - head_k
                break
        now = self.env.now
        i = 1
        depth = min(len(q), self.s.scheduling.backfill_depth + 1)
        while i < depth and i < len(q) and free > 0:
            job = q[i]
            k = job[2]
            if k <= free:
                dur = job[3] / (k * pool.pflop_per_chip_hour)
                if now + dur <= shadow or k <= extra:
                    if now + dur > shadow:
                        extra -= k
                    del q[i]
                    self._start(job, pool)
                    free -= k
                    continue
            i += 1

    # ----------------------------------------------------------------- serving

    def _serving(self, seg: SegmentState) -> Any:
        spec = seg.spec.inference
        assert spec is not None
        env = self.env
        profile = _hourly_profile(spec)
        growth = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
        step = spec.resize_interval_hours
        # the horizon starts at midnight, so whole-day intervals cover whole profiles
        whole_days = step % 24.0 == 0.0
        daily = DailyProfile(profile)
        while env.now < self.horizon_h:
            t0 = env.now
            t1 = min(t0 + step, self.horizon_h)
            mean_rate = spec.tokens_per_s * math.exp(growth * (t0 + t1) / 2.0)
            peak = _peak_tokens_per_s(spec, t1)
            self.log.events += 1
            released: list[Pool] = []
            for pid, prev in seg.reserved.items():
                pool = self.pools[pid]
                self._touch(pool)
                pool.reserved -= prev
                self._drain_retirements(pool, prev)
                released.append(pool)
            seg.reserved = {}
            hours = math.ceil(t1 - t0)
            # (pool, share of the segment's demand it serves, chips reserved)
            placements: list[tuple[int, float, int]] = []
            for pid, share in seg.serving_shares.items():
                # capacity comes from the chosen pool, then from its spill pools in order
                need_tok = peak * share / spec.target_utilization
                left = share
                for cand in (pid, *self.spill.get(pid, ())):
                    pool = self.pools[cand]
                    if need_tok <= 0 or left <= 1e-12:
                        break
                    if "inference" not in pool.chip.workloads or pool.tok_per_chip_s <= 0:
                        continue
                    need = math.ceil(need_tok / pool.tok_per_chip_s - 1e-9)
                    got = max(0, min(need, pool.free()))
                    if got == 0:
                        continue
                    part = left * min(1.0, got * pool.tok_per_chip_s / need_tok)
                    self._touch(pool)
                    pool.reserved += got
                    seg.reserved[cand] = seg.reserved.get(cand, 0) + got
                    placements.append((cand, part, got))
                    left -= part
                    need_tok -= got * pool.tok_per_chip_s
                if left > 1e-12:
                    placements.append((pid, left, 0))  # demand no capacity was found for
            for pid, share, alloc in placements:
                pool = self.pools[pid]
                cap_chip = pool.tok_per_chip_s
                capacity = alloc * cap_chip
                base = mean_rate * share
                if whole_days and t1 - t0 == step:
                    demand, served = daily.sums(base, capacity, step / 24.0)
                else:
                    demand = served = 0.0
                    for h in range(hours):
                        rate = base * profile[(int(t0) + h) % 24]
                        frac = min(1.0, t1 - t0 - h)
                        demand += rate * frac
                        served += min(rate, capacity) * frac
                demand *= SECONDS_PER_HOUR / 1e6
                served *= SECONDS_PER_HOUR / 1e6
                cap_mtok = capacity * (t1 - t0) * SECONDS_PER_HOUR / 1e6
                load = served / cap_mtok if cap_mtok > 0 else 0.0
                self.log.serving.append((seg.idx, pid, alloc, t0, t1, demand, served, load))
            for pool in released:
                if pool.queue:
                    self._dispatch(pool)
            yield env.timeout(t1 - t0)

    # ----------------------------------------------------------------- supply

    def _add_chips(self, pool: Pool, chips: int, unit_capex: float, bought: bool) -> None:
        if chips <= 0:
            return
        now = self.env.now
        life_h = self.s.economics.depreciation_years * HOURS_PER_YEAR
        self._touch(pool)
        pool.installed += chips
        pool.cumulative_volume += chips
        retire = now + life_h
        self.log.cohorts.append((pool.idx, chips, now, retire, unit_capex, bought))
        if retire < self.horizon_h:
            ev = self.env.timeout(life_h)
            ev.callbacks.append(partial(self._retire, pool, chips))
        if pool.queue:
            self._dispatch(pool)

    def _retire(self, pool: Pool, chips: int, _ev: Any) -> None:
        """Chips reach the end of their life: idle ones leave now, busy ones when freed.

        A pool is a count, so which chip a job runs on is not tracked: the chips due to
        retire leave as soon as any work on the pool ends (as if the remaining work moved to
        a younger chip), never by cutting a running job short.
        """
        self.log.events += 1
        self._touch(pool)
        leave = min(chips, pool.free())
        pool.installed -= leave
        if chips > leave:
            pool.pending_retire += chips - leave
            pool.retire_queue.append([self.env.now, float(chips - leave)])

    def _drain_retirements(self, pool: Pool, freed: int) -> None:
        """Let chips waiting to retire leave as `freed` chips of work end on `pool`."""
        now = self.env.now
        while pool.pending_retire > 0 and freed > 0:
            batch = pool.retire_queue[0]
            k = min(int(batch[1]), freed)
            pool.installed -= k
            pool.pending_retire -= k
            freed -= k
            batch[1] -= k
            self.log.overstays.append((pool.idx, k, batch[0], now))
            if batch[1] <= 0:
                pool.retire_queue.popleft()

    def unit_capex_usd(self, pool: Pool, t: float, batch: int = 1) -> float:
        """Price per chip the provider pays for a batch of `batch` chips bought at time t.

        Merchant chips: list price x the vendor's street multiplier. In-house chips: the
        average cost of the batch on Wright's learning curve after the volume already built
        or ordered, scaled so that a chip at the reference volume costs the catalog unit cost.
        """
        chip = pool.chip
        vendor = self.s.vendors.get(chip.vendor)
        if not chip.inhouse:
            mult = (
                step_value(vendor.street_price_multiplier, self.clock.date(t), 1.0)
                if vendor
                else 1.0
            )
            return chip.unit_cost_usd * mult
        prog = self.s.provider.inhouse_program
        gen = prog.generations.get(pool.chip_id) if prog else None
        if gen is None:
            return chip.unit_cost_usd
        ref = float(ec.wright_unit_cost_usd(1.0, gen.reference_volume_chips, gen.learning_rate))
        built = pool.cumulative_volume + pool.committed_orders
        avg = float(ec.wright_average_cost_usd(1.0, built, max(batch, 1), gen.learning_rate))
        return chip.unit_cost_usd * avg / ref

    def _initial_capacity(self) -> None:
        life_h = self.s.economics.depreciation_years * HOURS_PER_YEAR
        for pid, spec in self.s.provider.pools.items():
            pool = self.pools[self.pool_index[pid]]
            n = spec.initial_chips
            if n <= 0:
                continue
            remaining = life_h - spec.initial_age_years * HOURS_PER_YEAR
            if remaining <= 0:
                continue
            capex = self.unit_capex_usd(pool, 0.0, n)
            pool.installed += n
            pool.cumulative_volume += n
            self.log.cohorts.append((pool.idx, n, 0.0, remaining, capex, False))
            if remaining < self.horizon_h:
                ev = self.env.timeout(remaining)
                ev.callbacks.append(partial(self._retire, pool, n))

    def _deliveries(self, pool: Pool, spec_deliveries: list[tuple[float, int]]) -> Any:
        for t, chips in sorted(spec_deliveries):
            yield self.env.timeout(max(0.0, t - self.env.now))
            self.log.events += 1
            capex = self.unit_capex_usd(pool, self.env.now, chips)
            self._add_chips(pool, chips, capex, True)

    def _order_delivery(self, pool: Pool, chips: int, capex: float, _ev: Any) -> None:
        self.log.events += 1
        pool.committed_orders -= chips
        self._add_chips(pool, chips, capex, True)

    def _supply_cap(self, pool: Pool, t: float) -> tuple[int | None, str]:
        """Most chips that may still be ordered this quarter, and the cap's name."""
        chip = pool.chip
        quarter = int(t // QUARTER_HOURS)
        if chip.inhouse:
            prog = self.s.provider.inhouse_program
            gen = prog.generations.get(pool.chip_id) if prog else None
            if gen is None or gen.foundry_cap_chips_per_quarter is None:
                return None, pool.chip_id
            launch_h = self.clock.hours(chip.launch_date)
            months_in = max(0.0, (t - launch_h) / HOURS_PER_MONTH)
            ramp = 1.0 if gen.ramp_months <= 0 else min(1.0, months_in / gen.ramp_months)
            cap = int(gen.foundry_cap_chips_per_quarter * ramp)
            key = pool.chip_id
        else:
            vendor = self.s.vendors.get(chip.vendor)
            vendor_cap = (
                step_at(
                    vendor.allocation_cap_changes,
                    self.clock.date(t),
                    vendor.allocation_cap_chips_per_quarter,
                    lambda c: c.chips_per_quarter,
                )
                if vendor
                else None
            )
            if vendor_cap is None:
                return None, chip.vendor
            cap = vendor_cap
            key = chip.vendor
        used = self.quarter_orders.get((key, quarter), 0)
        return max(0, cap - used), key

    def _lead_time_h(self, pool: Pool, t: float) -> float:
        """Hours from an order placed at `t` to its delivery."""
        chip = pool.chip
        if chip.inhouse:
            prog = self.s.provider.inhouse_program
            gen = prog.generations.get(pool.chip_id) if prog else None
            return gen.lead_time_weeks * HOURS_PER_WEEK if gen else 0.0
        vendor = self.s.vendors.get(chip.vendor)
        if vendor is None:
            return 0.0
        weeks = step_at(
            vendor.lead_time_changes, self.clock.date(t), vendor.lead_time_weeks, lambda c: c.weeks
        )
        return weeks * HOURS_PER_WEEK

    def _procurement(self) -> Any:
        pr = self.s.provider.procurement
        env = self.env
        step = pr.review_interval_days * 24.0
        window = pr.forecast_window_days * 24.0
        targets = [
            self.pools[self.pool_index[pid]]
            for pid, spec in self.s.provider.pools.items()
            if spec.procure
        ]
        history: dict[int, list[tuple[float, float]]] = {p.idx: [(0.0, 0.0)] for p in targets}
        while True:
            yield env.timeout(step)
            t = env.now
            if t >= self.horizon_h:
                return
            self.log.events += 1
            for pool in targets:
                self._touch(pool)
                hist = history[pool.idx]
                hist.append((t, pool.area_busy))
                while len(hist) > 2 and hist[1][0] <= t - window:
                    hist.pop(0)
                t_a, area_a = hist[0]
                avg_busy = (pool.area_busy - area_a) / max(t - t_a, 1e-9)
                queued = sum(j[2] for j in pool.queue)
                demand = avg_busy + queued + self._serving_shortfall(pool)
                target = math.ceil(demand / pr.target_utilization)
                spec = self.s.provider.pools[pool.chip_id]
                if spec.max_chips is not None:
                    target = min(target, spec.max_chips)
                order = target - (pool.installed - pool.pending_retire) - pool.committed_orders
                if order <= 0:
                    continue
                launch_h = self.clock.hours(pool.chip.launch_date)
                cap, key = self._supply_cap(pool, t)
                if cap is not None:
                    order = min(order, cap)
                if order <= 0:
                    continue
                quarter = int(t // QUARTER_HOURS)
                self.quarter_orders[(key, quarter)] = (
                    self.quarter_orders.get((key, quarter), 0) + order
                )
                deliver = max(t + self._lead_time_h(pool, t), launch_h)
                capex = self.unit_capex_usd(pool, t, order)
                pool.committed_orders += order
                self.log.orders.append((pool.idx, t, deliver, order))
                if deliver < self.horizon_h:
                    ev = env.timeout(deliver - t)
                    ev.callbacks.append(partial(self._order_delivery, pool, order, capex))

    def _serving_shortfall(self, pool: Pool) -> float:
        """Chips serving segments wanted on this pool but could not get (last re-size)."""
        short = 0.0
        for seg in self.segments:
            spec = seg.spec.inference
            share = seg.serving_shares.get(pool.idx, 0.0)
            if spec is None or share <= 0 or pool.tok_per_chip_s <= 0:
                continue
            need = (
                _peak_tokens_per_s(spec, self.env.now)
                * share
                / (pool.tok_per_chip_s * spec.target_utilization)
            )
            short += max(0.0, need - seg.reserved.get(pool.idx, 0))
        return short

    # ----------------------------------------------------------------- monthly tick

    def _monthly(self) -> Any:
        env = self.env
        bounds = self.clock.month_bounds_hours
        for m in range(len(bounds) - 1):
            yield env.timeout(max(0.0, float(bounds[m]) - env.now))
            self.log.events += 1
            self._update_maturity()
            for sid, mval in self.stack_maturity.items():
                eff = ad.software_efficiency(mval, self.s.adoption.efficiency_floor)
                self.log.maturity.append((m, sid, mval, eff))
            for seg in self.segments:
                for wl in WORKLOADS:
                    for pid, v in seg.mean_shares(wl).items():
                        self.log.shares.append((m, seg.idx, wl, pid, v))

    # ----------------------------------------------------------------- decisions

    def _reviews(self, seg: SegmentState) -> Any:
        env = self.env
        step = seg.spec.review_interval_months * HOURS_PER_MONTH
        rng = stream(self.seed, f"decisions/{seg.id}")
        while True:
            yield env.timeout(step)
            if env.now >= self.horizon_h:
                return
            self.log.events += 1
            self._review(seg, rng)

    def _unit_price(self, seg: SegmentState, pool: Pool, workload: str, t: float) -> float:
        """What the segment pays per useful unit (PFLOP or million tokens) on `pool`."""
        chip = pool.chip
        if seg.spec.internal:
            e = self.s.economics
            tco = ec.tco_usd_per_chip_hour(
                chip_capex_usd=self.unit_capex_usd(pool, t),
                server_network_usd=chip.server_network_usd_per_chip,
                rate_per_year=e.discount_rate_per_year,
                life_years=e.depreciation_years,
                busy_power_w=chip.busy_power_w,
                idle_power_w=chip.idle_power_w,
                utilization=self.s.provider.procurement.target_utilization,
                pue=e.pue,
                electricity_usd_per_kwh=e.electricity_usd_per_kwh,
                facility_usd_per_kw_year=e.facility_usd_per_kw_year,
                maintenance_fraction_per_year=e.maintenance_fraction_per_year,
                host_power_overhead_fraction=e.host_power_overhead_fraction,
            )
            per_hour = float(
                ec.usd_per_busy_chip_hour(
                    tco.total_usd, self.s.provider.procurement.target_utilization
                )
            )
        else:
            per_hour = self.price_usd_per_chip_hour(pool, t)
        if workload == "training":
            work = pool.pflop_per_chip_hour
        else:
            spec = seg.spec.inference
            util = spec.target_utilization if spec else 1.0
            work = pool.tok_per_chip_s * SECONDS_PER_HOUR / 1e6 * util
        return per_hour / work if work > 0 else math.inf

    def price_usd_per_chip_hour(self, pool: Pool, t: float) -> float:
        """Blended customer price per chip-hour on `pool` at time t."""
        spec = self.s.provider.pools[pool.chip_id]
        mult = step_value(spec.price_changes, self.clock.date(t), 1.0)
        pr = self.s.provider.pricing
        return float(
            ec.customer_usd_per_chip_hour(
                pool.chip.cloud_price_usd_per_chip_hour * mult,
                pr.committed_fraction,
                pr.committed_discount_fraction,
            )
        )

    def _volume(self, seg: SegmentState, workload: str, t: float, months: float) -> float:
        """Units of work (PFLOP or Mtok) one customer expects over `months` from t."""
        n = len(seg.customers)
        if workload == "training":
            tr = seg.spec.training
            if tr is None:
                return 0.0
            growth = (1.0 + tr.growth_per_year) ** (t / HOURS_PER_YEAR)
            return float(tr.jobs_per_month * growth * tr.size.mean_pflop * months / n)
        inf = seg.spec.inference
        if inf is None:
            return 0.0
        growth = (1.0 + inf.growth_per_year) ** (t / HOURS_PER_YEAR)
        mtok_per_month = inf.tokens_per_s * growth * SECONDS_PER_HOUR / 1e6 * HOURS_PER_MONTH
        return float(mtok_per_month * months / n)

    def _options(self, seg: SegmentState, workload: str) -> list[Pool]:
        spec = getattr(seg.spec, workload)
        today = self.clock.date(self.env.now)
        names = seg.spec.permitted.get(workload)  # type: ignore[call-overload]
        cands = [self.pools[self.pool_index[n]] for n in names] if names else self.pools
        out = []
        for p in cands:
            if workload not in p.chip.workloads or p.chip.launch_date > today:
                continue
            # a fleet the provider no longer buys is offered only while it has room
            if not self.s.provider.pools[p.chip_id].procure and p.free() <= 0:
                continue
            stack = self.s.catalog.stacks[p.chip.stack]
            if not ad.features_met(stack, spec.requires_features, today):
                continue
            out.append(p)
        return out

    def _review(self, seg: SegmentState, rng: np.random.Generator) -> None:
        ads = self.s.adoption
        if not ads.enabled:
            return
        t = self.env.now
        e = self.s.economics
        changed = False
        for wl in WORKLOADS:
            if getattr(seg.spec, wl) is None:
                continue
            pools = self._options(seg, wl)
            if len(pools) < 2:
                continue
            seg_shares = seg.mean_shares(wl)
            stack_share: dict[str, float] = {}
            for pid, v in seg_shares.items():
                st = self.pools[pid].chip.stack
                stack_share[st] = stack_share.get(st, 0.0) + v
            unit = [self._unit_price(seg, p, wl, t) for p in pools]
            months = seg.spec.planning_horizon_months
            volume = self._volume(seg, wl, t, months)
            for ci, cust in enumerate(seg.customers):
                cur = cust.shares[wl]
                cur_stack = self.pools[max(cur, key=lambda q: cur[q])].chip.stack if cur else "cuda"
                cur_unit = min(
                    (u for p, u in zip(pools, unit, strict=True) if p.idx in cur),
                    default=min(unit),
                )
                delay_cost = volume / months * ads.failure_delay_months * cur_unit
                opts = []
                terms = []
                for p, u in zip(pools, unit, strict=True):
                    st = p.chip.stack
                    m = self.stack_maturity.get(st, 1.0)
                    pt = ad.port_terms(
                        self.s.catalog.stacks[st],
                        wl,
                        m,
                        porting_scale=seg.spec.porting_scale,
                        engineer_usd_per_month=e.engineer_usd_per_month,
                        port_months_at_zero_maturity=ads.port_months_at_zero_maturity,
                        hours_per_month=HOURS_PER_MONTH,
                    )
                    ported = st in cust.ported
                    terms.append(pt)
                    opts.append(
                        ad.Option(
                            pool=p.chip_id,
                            stack=st,
                            family=p.chip.family,
                            unit_cost_usd=u,
                            port_cost_usd=0.0 if ported else pt.cost_usd,
                            port_failure_probability=0.0 if ported else pt.failure_probability,
                            peer_share=stack_share.get(st, 0.0),
                            current=st == cur_stack,
                            maturity=m,
                        )
                    )
                util = ad.option_utilities(
                    opts,
                    volume_units=volume,
                    delay_cost_usd=delay_cost,
                    risk_aversion=seg.spec.risk_aversion,
                    switching_hurdle_fraction=seg.spec.switching_hurdle_fraction,
                    adoption=ads,
                    workload=wl,
                )
                probs = ad.logit_shares(util)
                # one discrete choice per customer and review (the logit rule)
                pick = int(np.searchsorted(np.cumsum(probs), rng.random() * probs.sum()))
                pick = min(pick, len(pools) - 1)
                chosen = pools[pick]
                st = chosen.chip.stack
                if st in cust.ported:
                    cust.shares[wl] = _normalised(
                        ad.move_toward(cur, {chosen.idx: 1.0}, ads.max_fraction_per_review)
                    )
                    changed = True
                    continue
                key = (wl, st)
                if key in cust.porting or cust.blocked_until.get(key, -1.0) > t:
                    continue
                pt = terms[pick]
                cust.porting.add(key)
                fail = bool(rng.random() < pt.failure_probability)
                end = t + pt.duration_hours
                self.log.ports.append((seg.idx, ci, wl, st, t, end, pt.cost_usd, not fail))
                ev = self.env.timeout(pt.duration_hours)
                ev.callbacks.append(partial(self._port_done, seg, cust, key, chosen.idx, fail))
        if changed:
            seg.refresh_shares()

    def _port_done(
        self,
        seg: SegmentState,
        cust: Customer,
        key: tuple[str, str],
        pool_idx: int,
        failed: bool,
        _ev: Any,
    ) -> None:
        """A port ends: on success the customer runs the stack and moves work to the pool."""
        self.log.events += 1
        cust.porting.discard(key)
        if failed:
            cust.blocked_until[key] = (
                self.env.now + self.s.adoption.failure_delay_months * HOURS_PER_MONTH
            )
            return
        cust.ported.add(key[1])
        wl = key[0]
        cust.shares[wl] = _normalised(
            ad.move_toward(
                cust.shares[wl], {pool_idx: 1.0}, self.s.adoption.max_fraction_per_review
            )
        )
        seg.refresh_shares()

    # ----------------------------------------------------------------- run

    def run(self) -> EngineLog:
        """Simulate the whole horizon and return the records."""
        env = self.env
        self._update_maturity()
        self._initial_capacity()
        env.process(self._monthly())
        for pid, spec in self.s.provider.pools.items():
            if spec.deliveries:
                pool = self.pools[self.pool_index[pid]]
                plan = [(self.clock.hours(d.date), d.chips) for d in spec.deliveries]
                env.process(self._deliveries(pool, plan))
        if self.s.provider.procurement.policy == "forecast":
            env.process(self._procurement())
        for seg in self.segments:
            if seg.spec.inference is not None:
                env.process(self._serving(seg))
            if seg.spec.training is not None:
                env.process(self._arrivals(seg))
            if self.s.adoption.enabled:
                env.process(self._reviews(seg))
        env.run(until=self.horizon_h)
        for p in self.pools:
            self._touch(p)
            for job in p.queue:
                self.log.jobs.append((job[0], p.idx, job[2], job[3], job[4], math.nan, math.nan))
            # chips still waiting to retire stay installed to the end of the horizon
            for retire_h, chips in p.retire_queue:
                self.log.overstays.append((p.idx, int(chips), retire_h, self.horizon_h))
        return self.log


def _hourly_profile(spec: Inference) -> list[float]:
    """The 24 hourly demand multipliers, scaled to average 1 (flat when none are given)."""
    profile = list(spec.daily_profile) or [1.0] * 24
    mean = sum(profile) / 24.0
    return [v / mean for v in profile]


def _peak_tokens_per_s(spec: Inference, t: float) -> float:
    """Peak-hour token rate of an inference demand at simulated time t."""
    growth = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
    return spec.tokens_per_s * math.exp(growth * t) * max(_hourly_profile(spec))


def _normalised(shares: dict[int, float]) -> dict[int, float]:
    """Shares without negligible entries, summing to 1."""
    kept = {p: v for p, v in shares.items() if v > 1e-12}
    total = sum(kept.values())
    return {p: v / total for p, v in kept.items()}


def simulate(scenario: Scenario, seed: int) -> EngineLog:
    """Run one replication of `scenario` with root seed `seed`."""
    return Engine(scenario, seed).run()
