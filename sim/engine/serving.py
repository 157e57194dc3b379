"""Inference serving: capacity re-sized to the coming peak, demand served hour by hour.

Every ``resize_interval_hours`` each segment releases the chips it held and reserves, pool by
pool, what its share of the coming peak needs at its target utilisation: from the pool its
customers chose, then from that pool's spill pools in order, then (once the chosen pool's
chip is off sale) from its successors on the same stack that the segment may use. Over the
interval, hourly demand (the daily profile x exponential growth) is served up to the
reserved capacity.

Reserved serving chips count as busy (they are held for the segment); their power follows
their load, the tokens served over what they could serve (see :mod:`sim.accounting.energy`).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any, NamedTuple, cast

import numpy as np
import numpy.typing as npt
import simpy

from sim.engine.state import DailyProfile, Pool, SegmentState, World, call_in
from sim.engine.training import TrainingProcess
from sim.model.schema import Inference
from sim.model.units import HOURS_PER_DAY, HOURS_PER_YEAR, SECONDS_PER_HOUR, TOKENS_PER_MTOK

FloatArray = npt.NDArray[np.float64]


def hourly_profile(spec: Inference) -> list[float]:
    """The 24 hourly demand multipliers, scaled to average 1 (flat when none are given)."""
    profile = list(spec.daily_profile) or [1.0] * 24
    mean = sum(profile) / 24.0
    return [v / mean for v in profile]


def peak_tokens_per_s(spec: Inference, t: float) -> float:
    """Peak-hour token rate of an inference demand at simulated time t."""
    growth = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
    return spec.tokens_per_s * math.exp(growth * t) * max(hourly_profile(spec))


class Interval(NamedTuple):
    """One re-sizing interval [start_h, end_h) and the mean token rate over it."""

    start_h: float
    end_h: float
    mean_tokens_per_s: float


class _Demand:
    """A segment's inference demand, with its daily profile prepared once."""

    def __init__(self, spec: Inference) -> None:
        self.spec = spec
        self.profile = hourly_profile(spec)
        self.peak_multiplier = max(self.profile)
        self.daily = DailyProfile(self.profile)
        self.growth_per_hour = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
        self.step_h = spec.resize_interval_hours
        self.tokens_per_s = spec.tokens_per_s
        self.target_utilization = spec.target_utilization

    def served(
        self, t0: FloatArray, t1: FloatArray, base: FloatArray, capacity: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """(demanded, served) rate-hours of intervals [t0, t1) with mean rates ``base`` and
        capacities ``capacity``: hourly demand (the profile x base) served up to capacity."""
        span = t1 - t0
        # the horizon starts at midnight, so whole-day intervals cover whole profiles
        whole = (span == self.step_h) & (self.step_h % HOURS_PER_DAY == 0.0)
        demanded = np.zeros(len(t0))
        served = np.zeros(len(t0))
        demanded[whole], served[whole] = self.daily.sums(
            base[whole], capacity[whole], self.step_h / HOURS_PER_DAY
        )
        part = np.flatnonzero(~whole)
        if len(part):
            # hour by hour, each interval's sums in order of its hours
            hours = np.ceil(span[part]).astype(np.int64)
            first = t0[part].astype(np.int64)
            profile = np.asarray(self.profile)
            d = np.zeros(len(part))
            s = np.zeros(len(part))
            for h in range(int(hours.max())):
                on = np.flatnonzero(h < hours)
                rate = base[part[on]] * profile[(first[on] + h) % 24]
                frac = np.minimum(1.0, span[part[on]] - h)
                d[on] += rate * frac
                s[on] += np.minimum(rate, capacity[part[on]]) * frac
            demanded[part], served[part] = d, s
        return demanded, served

    def peak_tokens_per_s(self, t: float) -> float:
        """:func:`peak_tokens_per_s` of the demand (its profile not rebuilt)."""
        return self.tokens_per_s * math.exp(self.growth_per_hour * t) * self.peak_multiplier


class ServingProcess:
    """The serving capacity and served tokens of every segment with inference demand."""

    def __init__(self, world: World, training: TrainingProcess) -> None:
        self.w = world
        self.training = training
        self.env = world.env
        self.demand: dict[int, _Demand] = {
            seg.idx: _Demand(seg.spec.inference)
            for seg in world.segments
            if seg.spec.inference is not None
        }
        # per pool: itself then its spill pools, and whether it serves inference
        self._chain = [(p.idx, *world.spill.get(p.idx, ())) for p in world.pools]
        # per (segment, pool): the chain once the pool's chip is off sale (successors added)
        self._chain_off_sale: dict[tuple[int, int], tuple[int, ...]] = {}
        self._serves = ["inference" in p.chip.workloads for p in world.pools]
        # per segment: pool -> where its demand looks for chips (:meth:`_chains_of`)
        self._chains: list[dict[int, tuple[float, tuple[Pool, ...], tuple[Pool, ...]]]] = [
            {} for _ in world.segments
        ]
        self._on_resize_cb = self._on_resize
        self.log = world.log
        self._rows = world.log.serving
        self.horizon_h = world.horizon_h

    def run(self, seg: SegmentState) -> Generator[simpy.Event, Any, None]:
        """The simpy process that starts one segment's re-sizing (a chain of callbacks)."""
        self._resize(seg, self.demand[seg.idx])
        return
        yield  # a generator: simpy starts it when the run starts, in process order

    def _resize(self, seg: SegmentState, demand: _Demand) -> None:
        """Re-size and serve one interval of ``seg``'s demand, then schedule the next."""
        env = self.env
        t0 = env.now
        t1 = min(t0 + demand.step_h, self.horizon_h)
        mean_rate = demand.tokens_per_s * math.exp(demand.growth_per_hour * (t0 + t1) / 2.0)
        peak = demand.peak_tokens_per_s(t1)
        self.log.events += 1
        released = self._release(seg, t0)
        self._reserve(seg, demand, peak, Interval(t0, t1, mean_rate))
        for pool in released:
            if pool.queue:
                self.training.dispatch(pool)
        # an interval that ends at the horizon end is never resumed
        call_in(env, t1 - t0, self._on_resize_cb, seg)

    def _on_resize(self, ev: simpy.Event) -> None:
        seg = cast(SegmentState, ev.value)
        self._resize(seg, self.demand[seg.idx])

    def _release(self, seg: SegmentState, now: float) -> list[Pool]:
        """Give back the chips the segment reserved for the last interval (at ``now``)."""
        pools = self.w.pools
        released: list[Pool] = []
        for pid, prev in seg.reserved.items():
            pool = pools[pid]
            # pool.touch(now), inlined (the hottest loop of the serving process)
            pool.area_busy += (pool.training_busy + pool.reserved) * (now - pool.t_last)
            pool.t_last = now
            pool.reserved -= prev
            if pool.pending_retire:
                pool.drain_retirements(prev, now, self.log.overstays)
            released.append(pool)
        seg.reserved = {}
        return released

    def _reserve(self, seg: SegmentState, demand: _Demand, peak: float, interval: Interval) -> None:
        """Reserve chips for the coming peak of ``seg``'s demand, pool by pool, and record
        each placement: its share of the interval's mean token rate and the token rate its
        chips can serve (what they served is counted at the end of the run: :meth:`complete`).
        """
        t0, t1, mean_rate = interval
        pools = self.w.pools
        target = demand.target_utilization
        reserved = seg.reserved
        rows = self._rows
        record = rows.buffer.extend
        chains = self._chains[seg.idx]
        seg_idx = seg.idx
        unplaced: dict[int, float] = {}
        seg.unplaced = unplaced
        for pid, share in seg.serving_shares.items():
            # capacity comes from the chosen pool, then from its spill pools in order
            need_tok = peak * share / target
            left = share
            chain = chains.get(pid)
            if chain is None:
                chain = chains[pid] = self._chains_of(seg, pid)
            # (off-sale hour, chain before it, chain from it): serving pools only
            for pool in chain[2] if t0 >= chain[0] else chain[1]:
                if need_tok <= 0 or left <= 1e-12:
                    break
                tok = pool.tok_per_chip_s
                if tok <= 0:
                    continue
                need = math.ceil(need_tok / tok - 1e-9)
                free = pool.installed - pool.training_busy - pool.reserved
                got = need if need <= free else free
                if got <= 0:
                    continue
                ratio = got * tok / need_tok
                part = left * (ratio if ratio < 1.0 else 1.0)
                # pool.touch(t0), inlined
                pool.area_busy += (pool.training_busy + pool.reserved) * (t0 - pool.t_last)
                pool.t_last = t0
                pool.reserved += got
                cand = pool.idx
                reserved[cand] = reserved.get(cand, 0) + got
                record((seg_idx, cand, got, t0, t1, mean_rate * part, got * tok))
                left -= part
                need_tok -= got * tok
            if left > 1e-12:
                # demand no capacity was found for
                record((seg_idx, pid, 0, t0, t1, mean_rate * left, 0 * pools[pid].tok_per_chip_s))
                unplaced[pid] = max(need_tok, 0.0)
        if len(rows.buffer) >= rows.FLUSH_AT:
            rows.flush()

    def _chains_of(
        self, seg: SegmentState, pid: int
    ) -> tuple[float, tuple[Pool, ...], tuple[Pool, ...]]:
        """Where ``seg``'s serving demand on pool ``pid`` looks for chips, in order: (the
        hour the pool's chip goes off sale, the serving pools of its chain before then, and
        from then on)."""
        pools = self.w.pools
        serves = self._serves
        on_sale = tuple(pools[c] for c in self._chain[pid] if serves[c])
        off_sale = tuple(pools[c] for c in self._chain_of(seg, pid) if serves[c])
        return pools[pid].end_of_sale_h, on_sale, off_sale

    def _chain_of(self, seg: SegmentState, pid: int) -> tuple[int, ...]:
        """Pool ``pid``'s chain once its chip is off sale: itself, its spill pools, then its
        successors on the same stack that ``seg`` may put inference on."""
        key = (seg.idx, pid)
        chain = self._chain_off_sale.get(key)
        if chain is None:
            w = self.w
            names = seg.spec.permitted.get("inference")
            allowed = {w.pool_index[n] for n in names} if names is not None else None
            base = self._chain[pid]
            extra = [
                p.idx
                for p in w.successor_pools(w.pools[pid], "inference")
                if p.idx not in base and (allowed is None or p.idx in allowed)
            ]
            chain = (*base, *extra)
            self._chain_off_sale[key] = chain
        return chain

    def complete(self) -> None:
        """At the end of the run: the tokens every placement demanded and served over its
        interval (hour by hour, up to its capacity), and its load, all at once."""
        log = self.w.log.serving
        segment, t0, t1, base, capacity = log.placements()
        asked = np.zeros(len(segment))
        served = np.zeros(len(segment))
        for idx, demand in self.demand.items():
            rows = np.flatnonzero(segment == idx)
            if len(rows):
                asked[rows], served[rows] = demand.served(
                    t0[rows], t1[rows], base[rows], capacity[rows]
                )
        asked *= SECONDS_PER_HOUR / TOKENS_PER_MTOK
        served *= SECONDS_PER_HOUR / TOKENS_PER_MTOK
        cap_mtok = capacity * (t1 - t0) * SECONDS_PER_HOUR / TOKENS_PER_MTOK
        load = np.divide(served, cap_mtok, out=np.zeros(len(served)), where=cap_mtok > 0)
        log.complete(asked, served, load)

    def unplaced(self, pool: Pool) -> float:
        """Chips of ``pool`` the serving demand routed to it needed but found nowhere, at
        the last re-size (what its spill pools and successors served is not counted)."""
        tok = pool.tok_per_chip_s
        if tok <= 0:
            return 0.0
        return sum(seg.unplaced.get(pool.idx, 0.0) for seg in self.w.segments) / tok

    def shortfall(self, pool: Pool) -> float:
        """Chips serving segments wanted on ``pool`` but could not get (last re-size)."""
        short = 0.0
        now = self.w.env.now
        for seg in self.w.segments:
            spec = seg.spec.inference
            share = seg.serving_shares.get(pool.idx, 0.0)
            if spec is None or share <= 0 or pool.tok_per_chip_s <= 0:
                continue
            need = (
                self.demand[seg.idx].peak_tokens_per_s(now)
                * share
                / (pool.tok_per_chip_s * spec.target_utilization)
            )
            short += max(0.0, need - seg.reserved.get(pool.idx, 0))
        return short
