"""Supply: the initial fleet, planned deliveries, forecast-driven orders and retirement.

The forecast policy reviews every ``review_interval_days``: each procured pool's demand is its
mean busy chips over the forecast window plus the mean chips of the training jobs it lost to
impatience over the window (see :mod:`sim.engine.training`; with
``procurement.count_turned_away`` also those that started on another pool instead) plus its
queued chips plus the serving chips segments wanted but could not get; the pool is ordered
up to that demand at the target utilisation (capped by ``max_chips``), within the vendor's
allocation cap or the foundry cap of an in-house generation per quarter, and delivered after
the lead time in force.

Chips are bought only while on sale: no order is placed whose delivery would fall on or after
the chip's end of sale (planned deliveries after it are refused by the schema). The demand a
pool can no longer buy for moves to its successor: the chips it needs beyond what it has
(counting the training jobs it lost and the serving demand placed nowhere, not what its
spill pools served) are converted to the successor's chips by their useful work and added
to the demand of the nearest successor that the provider procures and can still buy.
Installed chips keep serving until they retire.

Chips retire at the end of their depreciation life; a pool is a count, so which chip a job
runs on is not tracked: chips due to retire leave as soon as any work on the pool ends (as if
the remaining work moved to a younger chip), never by cutting a running job short.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from functools import partial
from typing import Any

import simpy

from sim.engine.records import CohortRecord, OrderRecord
from sim.engine.serving import ServingProcess
from sim.engine.state import Pool, World
from sim.engine.training import TrainingProcess
from sim.model.pricing import useful_work_ratio
from sim.model.timeline import step_at
from sim.model.units import (
    HOURS_PER_DAY,
    HOURS_PER_MONTH,
    HOURS_PER_QUARTER,
    HOURS_PER_WEEK,
    HOURS_PER_YEAR,
)


class SupplyProcess:
    """The chips each pool gains and loses over a run."""

    def __init__(self, world: World, training: TrainingProcess, serving: ServingProcess) -> None:
        self.w = world
        self.training = training
        self.serving = serving
        # chips ordered per (vendor or in-house chip, quarter index), against the caps
        self.quarter_orders: dict[tuple[str, int], int] = {}

    # ----------------------------------------------------------------- fleet changes

    def initial_capacity(self) -> None:
        """Install each pool's initial chips, retiring at the rest of their life."""
        s = self.w.scenario
        life_h = s.economics.depreciation_years * HOURS_PER_YEAR
        for pid, spec in s.provider.pools.items():
            pool = self.w.pools[self.w.pool_index[pid]]
            n = spec.initial_chips
            if n <= 0:
                continue
            remaining = life_h - spec.initial_age_years * HOURS_PER_YEAR
            if remaining <= 0:
                continue
            capex = self.w.capex_usd(pool, 0.0, n)
            pool.installed += n
            pool.cumulative_volume += n
            self.w.log.cohorts.append(CohortRecord(pool.idx, n, 0.0, remaining, capex, False))
            if remaining < self.w.horizon_h:
                ev = self.w.env.timeout(remaining)
                ev.callbacks.append(partial(self._retire, pool, n))

    def deliveries(
        self, pool: Pool, plan: list[tuple[float, int]]
    ) -> Generator[simpy.Event, Any, None]:
        """The simpy process of a pool's planned deliveries: (hour, chips) each."""
        env = self.w.env
        for t, chips in sorted(plan):
            yield env.timeout(max(0.0, t - env.now))
            self.w.log.events += 1
            capex = self.w.capex_usd(pool, env.now, chips)
            self._add_chips(pool, chips, capex, True)

    def _add_chips(self, pool: Pool, chips: int, unit_capex: float, bought: bool) -> None:
        if chips <= 0:
            return
        w = self.w
        now = w.env.now
        life_h = w.scenario.economics.depreciation_years * HOURS_PER_YEAR
        pool.touch(now)
        pool.installed += chips
        pool.cumulative_volume += chips
        retire = now + life_h
        w.log.cohorts.append(CohortRecord(pool.idx, chips, now, retire, unit_capex, bought))
        if retire < w.horizon_h:
            ev = w.env.timeout(life_h)
            ev.callbacks.append(partial(self._retire, pool, chips))
        if pool.queue:
            self.training.dispatch(pool)

    def _retire(self, pool: Pool, chips: int, _ev: simpy.Event) -> None:
        """Chips reach the end of their life: idle ones leave now, busy ones when freed."""
        self.w.log.events += 1
        now = self.w.env.now
        pool.touch(now)
        leave = min(chips, pool.free())
        pool.installed -= leave
        if chips > leave:
            pool.pending_retire += chips - leave
            pool.retire_queue.append([now, float(chips - leave)])

    def _order_delivery(self, pool: Pool, chips: int, capex: float, _ev: simpy.Event) -> None:
        self.w.log.events += 1
        pool.committed_orders -= chips
        self._add_chips(pool, chips, capex, True)

    # ----------------------------------------------------------------- forecast orders

    def procurement(self) -> Generator[simpy.Event, Any, None]:
        """The simpy process of the forecast procurement policy."""
        w = self.w
        pr = w.scenario.provider.procurement
        env = w.env
        step = pr.review_interval_days * HOURS_PER_DAY
        procured = {
            w.pool_index[pid] for pid, spec in w.scenario.provider.pools.items() if spec.procure
        }
        # every pool's (time, busy chip-hours, lost chip-hours) at past reviews
        history: dict[int, list[tuple[float, float, float]]] = {
            p.idx: [(0.0, 0.0, 0.0)] for p in w.pools
        }
        while True:
            yield env.timeout(step)
            t = env.now
            if t >= w.horizon_h:
                return
            w.log.events += 1
            moved: dict[int, float] = {}
            buyable: dict[int, float] = {}
            for pool in w.pools:
                if pool.idx in procured and self._can_buy(pool, t):
                    buyable[pool.idx] = self._forecast_chips(pool, t, history[pool.idx])
                elif pool.off_sale(t + self.lead_time_h(pool, t)):
                    self._move_demand(pool, t, history[pool.idx], procured, moved)
                else:
                    self._window(pool, t, history[pool.idx])
            for idx, demand in buyable.items():
                self._review_pool(w.pools[idx], t, demand, moved.get(idx, 0.0))

    def _can_buy(self, pool: Pool, t: float) -> bool:
        """Whether an order placed at ``t`` would arrive while the chip is on sale."""
        launch_h = self.w.clock.hours(pool.chip.launch_date)
        return not pool.off_sale(max(t + self.lead_time_h(pool, t), launch_h))

    def _window(
        self, pool: Pool, t: float, hist: list[tuple[float, float, float]]
    ) -> tuple[float, float]:
        """Mean busy chips and mean chips of lost training jobs over the forecast window."""
        procurement = self.w.scenario.provider.procurement
        window = procurement.forecast_window_days * HOURS_PER_DAY
        pool.touch(t)
        lost = pool.lost_chip_hours
        if procurement.count_turned_away:
            lost += pool.turned_away_chip_hours
        hist.append((t, pool.area_busy, lost))
        while len(hist) > 2 and hist[1][0] <= t - window:
            hist.pop(0)
        t_a, area_a, lost_a = hist[0]
        span = max(t - t_a, 1e-9)
        return (pool.area_busy - area_a) / span, (lost - lost_a) / span

    def _forecast_chips(
        self, pool: Pool, t: float, hist: list[tuple[float, float, float]]
    ) -> float:
        """Chips ``pool`` is forecast to need: recent mean busy + lost + queued + serving
        shortfall."""
        avg_busy, avg_lost = self._window(pool, t, hist)
        queued = sum(j.chips for j in pool.queue)
        return avg_busy + avg_lost + queued + self.serving.shortfall(pool)

    def _move_demand(
        self,
        pool: Pool,
        t: float,
        hist: list[tuple[float, float, float]],
        procured: set[int],
        moved: dict[int, float],
    ) -> None:
        """Pass the chips an off-sale ``pool`` needs beyond its fleet to its nearest
        successor the provider procures and can still buy (in that chip's units)."""
        w = self.w
        avg_busy, avg_lost = self._window(pool, t, hist)
        queued = sum(j.chips for j in pool.queue)
        need = avg_busy + avg_lost + queued + self.serving.unplaced(pool)
        u = w.scenario.provider.procurement.target_utilization
        beyond = need / u - (pool.installed - pool.pending_retire) - pool.committed_orders
        if beyond <= 0:
            return
        for cid in w.scenario.catalog.successors(pool.chip_id):
            idx = w.pool_index.get(cid)
            if idx is None or idx not in procured or not self._can_buy(w.pools[idx], t):
                continue
            ratio = useful_work_ratio(pool.chip, w.pools[idx].chip)
            moved[idx] = moved.get(idx, 0.0) + beyond * ratio
            return

    def _review_pool(self, pool: Pool, t: float, demand: float, moved: float) -> None:
        """Order chips for ``pool`` toward its forecast demand (plus ``moved`` chips of
        demand from chips no longer on sale), within caps."""
        w = self.w
        target = math.ceil(demand / w.scenario.provider.procurement.target_utilization + moved)
        spec = w.scenario.provider.pools[pool.chip_id]
        if spec.max_chips is not None:
            target = min(target, spec.max_chips)
        order = target - (pool.installed - pool.pending_retire) - pool.committed_orders
        if order <= 0:
            return
        launch_h = w.clock.hours(pool.chip.launch_date)
        cap, key = self.supply_cap(pool, t)
        if cap is not None:
            order = min(order, cap)
        if order <= 0:
            return
        quarter = int(t // HOURS_PER_QUARTER)
        self.quarter_orders[(key, quarter)] = self.quarter_orders.get((key, quarter), 0) + order
        deliver = max(t + self.lead_time_h(pool, t), launch_h)
        capex = w.capex_usd(pool, t, order)
        pool.committed_orders += order
        w.log.orders.append(OrderRecord(pool.idx, t, deliver, order))
        if deliver < w.horizon_h:
            ev = w.env.timeout(deliver - t)
            ev.callbacks.append(partial(self._order_delivery, pool, order, capex))

    def supply_cap(self, pool: Pool, t: float) -> tuple[int | None, str]:
        """Most chips that may still be ordered this quarter, and the cap's name."""
        w = self.w
        chip = pool.chip
        quarter = int(t // HOURS_PER_QUARTER)
        if chip.inhouse:
            prog = w.scenario.provider.inhouse_program
            gen = prog.generations.get(pool.chip_id) if prog else None
            if gen is None or gen.foundry_cap_chips_per_quarter is None:
                return None, pool.chip_id
            launch_h = w.clock.hours(chip.launch_date)
            months_in = max(0.0, (t - launch_h) / HOURS_PER_MONTH)
            ramp = 1.0 if gen.ramp_months <= 0 else min(1.0, months_in / gen.ramp_months)
            cap = int(gen.foundry_cap_chips_per_quarter * ramp)
            key = pool.chip_id
        else:
            vendor = w.scenario.vendors.get(chip.vendor)
            vendor_cap = (
                step_at(
                    vendor.allocation_cap_changes,
                    w.clock.date(t),
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

    def lead_time_h(self, pool: Pool, t: float) -> float:
        """Hours from an order placed at ``t`` to its delivery."""
        w = self.w
        chip = pool.chip
        if chip.inhouse:
            prog = w.scenario.provider.inhouse_program
            gen = prog.generations.get(pool.chip_id) if prog else None
            return gen.lead_time_weeks * HOURS_PER_WEEK if gen else 0.0
        vendor = w.scenario.vendors.get(chip.vendor)
        if vendor is None:
            return 0.0
        weeks = step_at(
            vendor.lead_time_changes, w.clock.date(t), vendor.lead_time_weeks, lambda c: c.weeks
        )
        return weeks * HOURS_PER_WEEK
