"""Inference serving: capacity re-sized to the coming peak, demand served hour by hour.

Every ``resize_interval_hours`` each segment releases the chips it held and reserves, pool by
pool, what its share of the coming peak needs at its target utilisation: from the pool its
customers chose, then from that pool's spill pools in order. Over the interval, hourly demand
(the daily profile x exponential growth) is served up to the reserved capacity.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any, NamedTuple

import simpy

from sim.engine.records import ServingRecord
from sim.engine.state import DailyProfile, Pool, SegmentState, World
from sim.engine.training import TrainingProcess
from sim.model.schema import Inference
from sim.model.units import HOURS_PER_DAY, HOURS_PER_YEAR, SECONDS_PER_HOUR, TOKENS_PER_MTOK


def hourly_profile(spec: Inference) -> list[float]:
    """The 24 hourly demand multipliers, scaled to average 1 (flat when none are given)."""
    profile = list(spec.daily_profile) or [1.0] * 24
    mean = sum(profile) / 24.0
    return [v / mean for v in profile]


def peak_tokens_per_s(spec: Inference, t: float) -> float:
    """Peak-hour token rate of an inference demand at simulated time t."""
    growth = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
    return spec.tokens_per_s * math.exp(growth * t) * max(hourly_profile(spec))


class Placement(NamedTuple):
    """Chips a segment reserved on a pool for an interval, and the share of demand they serve."""

    pool: int
    share: float
    chips: int


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
        self.daily = DailyProfile(self.profile)
        self.growth_per_hour = math.log1p(spec.growth_per_year) / HOURS_PER_YEAR
        self.step_h = spec.resize_interval_hours


class ServingProcess:
    """The serving capacity and served tokens of every segment with inference demand."""

    def __init__(self, world: World, training: TrainingProcess) -> None:
        self.w = world
        self.training = training

    def run(self, seg: SegmentState) -> Generator[simpy.Event, Any, None]:
        """The simpy process that re-sizes and serves one segment's inference demand."""
        spec = seg.spec.inference
        assert spec is not None
        env = self.w.env
        demand = _Demand(spec)
        horizon_h = self.w.horizon_h
        while env.now < horizon_h:
            t0 = env.now
            t1 = min(t0 + demand.step_h, horizon_h)
            mean_rate = spec.tokens_per_s * math.exp(demand.growth_per_hour * (t0 + t1) / 2.0)
            peak = peak_tokens_per_s(spec, t1)
            self.w.log.events += 1
            released = self._release(seg)
            for placement in self._reserve(seg, spec, peak):
                self._serve(seg, demand, placement, Interval(t0, t1, mean_rate))
            for pool in released:
                if pool.queue:
                    self.training.dispatch(pool)
            yield env.timeout(t1 - t0)

    def _release(self, seg: SegmentState) -> list[Pool]:
        """Give back the chips the segment reserved for the last interval."""
        now = self.w.env.now
        released: list[Pool] = []
        for pid, prev in seg.reserved.items():
            pool = self.w.pools[pid]
            pool.touch(now)
            pool.reserved -= prev
            pool.drain_retirements(prev, now, self.w.log.overstays)
            released.append(pool)
        seg.reserved = {}
        return released

    def _reserve(self, seg: SegmentState, spec: Inference, peak: float) -> list[Placement]:
        """Reserve chips for the coming peak of ``seg``'s demand, pool by pool."""
        now = self.w.env.now
        placements: list[Placement] = []
        for pid, share in seg.serving_shares.items():
            # capacity comes from the chosen pool, then from its spill pools in order
            need_tok = peak * share / spec.target_utilization
            left = share
            for cand in (pid, *self.w.spill.get(pid, ())):
                pool = self.w.pools[cand]
                if need_tok <= 0 or left <= 1e-12:
                    break
                if "inference" not in pool.chip.workloads or pool.tok_per_chip_s <= 0:
                    continue
                need = math.ceil(need_tok / pool.tok_per_chip_s - 1e-9)
                got = max(0, min(need, pool.free()))
                if got == 0:
                    continue
                part = left * min(1.0, got * pool.tok_per_chip_s / need_tok)
                pool.touch(now)
                pool.reserved += got
                seg.reserved[cand] = seg.reserved.get(cand, 0) + got
                placements.append(Placement(cand, part, got))
                left -= part
                need_tok -= got * pool.tok_per_chip_s
            if left > 1e-12:
                placements.append(Placement(pid, left, 0))  # demand no capacity was found for
        return placements

    def _serve(
        self, seg: SegmentState, demand: _Demand, placement: Placement, interval: Interval
    ) -> None:
        """Serve one placement's share of demand over the interval and record it."""
        t0, t1, mean_rate = interval
        step = demand.step_h
        capacity = placement.chips * self.w.pools[placement.pool].tok_per_chip_s
        base = mean_rate * placement.share
        # the horizon starts at midnight, so whole-day intervals cover whole profiles
        if step % HOURS_PER_DAY == 0.0 and t1 - t0 == step:
            asked, served = demand.daily.sums(base, capacity, step / HOURS_PER_DAY)
        else:
            asked = served = 0.0
            for h in range(math.ceil(t1 - t0)):
                rate = base * demand.profile[(int(t0) + h) % 24]
                frac = min(1.0, t1 - t0 - h)
                asked += rate * frac
                served += min(rate, capacity) * frac
        asked *= SECONDS_PER_HOUR / TOKENS_PER_MTOK
        served *= SECONDS_PER_HOUR / TOKENS_PER_MTOK
        cap_mtok = capacity * (t1 - t0) * SECONDS_PER_HOUR / TOKENS_PER_MTOK
        load = served / cap_mtok if cap_mtok > 0 else 0.0
        self.w.log.serving.append(
            ServingRecord(seg.idx, placement.pool, placement.chips, t0, t1, asked, served, load)
        )

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
                peak_tokens_per_s(spec, now)
                * share
                / (pool.tok_per_chip_s * spec.target_utilization)
            )
            short += max(0.0, need - seg.reserved.get(pool.idx, 0))
        return short
