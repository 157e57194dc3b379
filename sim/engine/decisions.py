"""Decisions over time: software maturity each month, customers' platform reviews, ports.

Every month each stack's maturity is recomputed (the exogenous logistic plus the flywheel of
cumulative use) and with it each pool's achieved throughput. Every
``review_interval_months`` each customer of a segment re-weighs, per workload, the pools it
may use (see :mod:`sim.model.adoption`) and acts on one of them, picked by the segment's
:class:`ChoiceRule`: a pool on a stack it already runs gets a further share of its work; a
pool on a new stack starts a port, which takes time, costs money and may fail.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from functools import partial
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt
import simpy

from sim.engine.records import MaturityRecord, PortRecord, PriceRecord, ShareRecord
from sim.engine.state import Customer, Pool, SegmentState, World, normalised
from sim.model import adoption as ad
from sim.model import economics as ec
from sim.model.pricing import pricing_policy
from sim.model.rng import stream
from sim.model.schema import WORKLOADS
from sim.model.units import HOURS_PER_MONTH, HOURS_PER_YEAR, SECONDS_PER_HOUR, TOKENS_PER_MTOK


class ChoiceRule(Protocol):
    """How a customer turns choice probabilities over its options into one option to act on."""

    name: str

    def choose(self, probabilities: npt.NDArray[np.float64], rng: np.random.Generator) -> int:
        """Index of the option the customer acts on at this review."""
        ...


class SampledChoice:
    """One discrete choice per customer and review, drawn from the logit probabilities."""

    name = "sampled"

    def choose(self, probabilities: npt.NDArray[np.float64], rng: np.random.Generator) -> int:
        """Inverse-CDF draw of one option (one uniform draw from the segment's stream)."""
        pick = int(np.searchsorted(np.cumsum(probabilities), rng.random() * probabilities.sum()))
        return min(pick, len(probabilities) - 1)


CHOICE_RULES: dict[str, ChoiceRule] = {SampledChoice.name: SampledChoice()}
"""Customer choice rules by name."""

DEFAULT_CHOICE_RULE = SampledChoice.name
"""The rule every scenario uses until the schema lets a scenario choose one."""


class Market(NamedTuple):
    """What every customer of a segment sees for one workload at one review."""

    workload: str
    pools: list[Pool]
    unit_usd: list[float]  # price per useful unit (PFLOP or Mtok) on each pool
    terms: list[ad.PortTerms]  # what a port to each pool's stack would take
    stack_share: dict[str, float]  # the segment's share of the workload per stack
    volume_units: float  # work one customer expects over its planning horizon
    months: float  # the planning horizon


class DecisionProcess:
    """Maturity, customer reviews and ports over one run."""

    def __init__(self, world: World, rule: ChoiceRule) -> None:
        self.w = world
        self.rule = rule
        self.policy = pricing_policy(world.scenario)
        # the provider's own cost per busy chip-hour by pool and capex per chip, computed
        # once per run (customers' prices are set once a month: update_prices)
        self._cost_cache: dict[tuple[int, float], float] = {}

    # ----------------------------------------------------------------- prices

    def update_prices(self, month: int) -> None:
        """Set every pool's customer price for the month starting now (the pricing
        policy at today's date and the price a chip of the pool costs today), and record
        it: customers' choices and the accounts' revenue both use it."""
        w = self.w
        s = w.scenario
        now = w.env.now
        day = w.clock.date(now)
        w.prices = [
            self.policy.usd_per_chip_hour(s, p.chip_id, day, w.capex_usd(p, now)) for p in w.pools
        ]
        for p, price in zip(w.pools, w.prices, strict=True):
            w.log.prices.append(PriceRecord(month, p.idx, price))

    # ----------------------------------------------------------------- maturity

    def update_maturity(self) -> None:
        """Recompute each stack's maturity and each pool's achieved throughput."""
        w = self.w
        year = w.clock.year_fraction(w.env.now)
        ads = w.scenario.adoption
        usage = self._usage_now()
        total = sum(usage.values()) or 1.0
        for sid, stack in w.scenario.catalog.stacks.items():
            share = usage.get(sid, 0.0) / total
            w.stack_maturity[sid] = ad.maturity(stack, year, share, ads.flywheel_strength)
        for p in w.pools:
            m = w.stack_maturity[p.chip.stack]
            eff = ad.software_efficiency(m, ads.efficiency_floor)
            p.pflop_per_chip_hour = float(
                ec.pflop_per_chip_hour(p.chip.training_tflops, p.chip.training_mfu, eff)
            )
            p.tok_per_chip_s = p.chip.inference_tokens_per_s * eff

    def _usage_now(self) -> dict[str, float]:
        """Cumulative busy chip-hours per stack up to now (drives the flywheel)."""
        now = self.w.env.now
        out: dict[str, float] = {}
        for p in self.w.pools:
            area = p.area_busy + (p.training_busy + p.reserved) * (now - p.t_last)
            out[p.chip.stack] = out.get(p.chip.stack, 0.0) + area
        return out

    def monthly(self) -> Generator[simpy.Event, Any, None]:
        """The simpy process of the monthly tick: maturity, then month-start snapshots."""
        w = self.w
        env = w.env
        bounds = w.clock.month_bounds_hours
        floor = w.scenario.adoption.efficiency_floor
        for m in range(len(bounds) - 1):
            yield env.timeout(max(0.0, float(bounds[m]) - env.now))
            w.log.events += 1
            self.update_maturity()
            self.update_prices(m)
            for sid, mval in w.stack_maturity.items():
                eff = ad.software_efficiency(mval, floor)
                w.log.maturity.append(MaturityRecord(m, sid, mval, eff))
            for seg in w.segments:
                for wl in WORKLOADS:
                    for pid, v in seg.mean_shares(wl).items():
                        w.log.shares.append(ShareRecord(m, seg.idx, wl, pid, v))

    # ----------------------------------------------------------------- reviews

    def reviews(self, seg: SegmentState) -> Generator[simpy.Event, Any, None]:
        """The simpy process of a segment's periodic reviews (one random stream each)."""
        env = self.w.env
        step = seg.spec.review_interval_months * HOURS_PER_MONTH
        rng = stream(self.w.seed, f"decisions/{seg.id}")
        while True:
            yield env.timeout(step)
            if env.now >= self.w.horizon_h:
                return
            self.w.log.events += 1
            self.review(seg, rng)

    def review(self, seg: SegmentState, rng: np.random.Generator) -> None:
        """Every customer of ``seg`` reviews each of its workloads."""
        if not self.w.scenario.adoption.enabled:
            return
        changed = False
        for wl in WORKLOADS:
            if getattr(seg.spec, wl) is None:
                continue
            pools = self.options(seg, wl)
            if len(pools) < 2:
                continue
            market = self._market(seg, wl, pools)
            for ci, cust in enumerate(seg.customers):
                changed |= self._review_customer(seg, ci, cust, market, rng)
        if changed:
            seg.refresh_shares()

    def options(self, seg: SegmentState, workload: str) -> list[Pool]:
        """The pools a customer of ``seg`` may put ``workload`` on today."""
        w = self.w
        spec = getattr(seg.spec, workload)
        today = w.clock.date(w.env.now)
        names = seg.spec.permitted.get(workload)  # type: ignore[call-overload]
        cands = [w.pools[w.pool_index[n]] for n in names] if names else w.pools
        out = []
        for p in cands:
            if workload not in p.chip.workloads or p.chip.launch_date > today:
                continue
            # a fleet the provider no longer buys (not procured, or its chip off sale) is
            # offered only while it has room; its demand then moves to the successor
            not_bought = not w.scenario.provider.pools[p.chip_id].procure or p.off_sale(w.env.now)
            if not_bought and p.free() <= 0:
                continue
            stack = w.scenario.catalog.stacks[p.chip.stack]
            if not ad.features_met(stack, spec.requires_features, today):
                continue
            out.append(p)
        return out

    def _market(self, seg: SegmentState, wl: str, pools: list[Pool]) -> Market:
        """Prices, port terms and peer shares of ``pools`` for ``seg``'s ``wl`` now."""
        w = self.w
        t = w.env.now
        ads = w.scenario.adoption
        stack_share: dict[str, float] = {}
        for pid, v in seg.mean_shares(wl).items():
            st = w.pools[pid].chip.stack
            stack_share[st] = stack_share.get(st, 0.0) + v
        unit = [self.unit_price(seg, p, wl, t) for p in pools]
        terms = [
            ad.port_terms(
                w.scenario.catalog.stacks[p.chip.stack],
                wl,
                w.stack_maturity.get(p.chip.stack, 1.0),
                porting_scale=seg.spec.porting_scale,
                engineer_usd_per_month=w.scenario.economics.engineer_usd_per_month,
                port_months_at_zero_maturity=ads.port_months_at_zero_maturity,
                hours_per_month=HOURS_PER_MONTH,
            )
            for p in pools
        ]
        months = seg.spec.planning_horizon_months
        volume = self.volume(seg, wl, t, months)
        return Market(wl, pools, unit, terms, stack_share, volume, months)

    def _review_customer(
        self,
        seg: SegmentState,
        ci: int,
        cust: Customer,
        market: Market,
        rng: np.random.Generator,
    ) -> bool:
        """One customer weighs its options and acts on one; True if its shares moved."""
        ads = self.w.scenario.adoption
        cur = cust.shares[market.workload]
        cur_stack = self.w.pools[max(cur, key=lambda q: cur[q])].chip.stack if cur else "cuda"
        cur_unit = min(
            (u for p, u in zip(market.pools, market.unit_usd, strict=True) if p.idx in cur),
            default=min(market.unit_usd),
        )
        delay_cost = market.volume_units / market.months * ads.failure_delay_months * cur_unit
        util = ad.option_utilities(
            self._customer_options(cust, market, cur_stack),
            volume_units=market.volume_units,
            delay_cost_usd=delay_cost,
            risk_aversion=seg.spec.risk_aversion,
            switching_hurdle_fraction=seg.spec.switching_hurdle_fraction,
            adoption=ads,
            workload=market.workload,
        )
        pick = self.rule.choose(ad.logit_shares(util), rng)
        return self._act(seg, ci, cust, market, pick, rng)

    def _customer_options(self, cust: Customer, market: Market, cur_stack: str) -> list[ad.Option]:
        """The market's pools as ``cust`` sees them (ports it has done cost nothing)."""
        opts = []
        for p, u, pt in zip(market.pools, market.unit_usd, market.terms, strict=True):
            st = p.chip.stack
            ported = st in cust.ported
            opts.append(
                ad.Option(
                    pool=p.chip_id,
                    stack=st,
                    family=p.chip.family,
                    unit_cost_usd=u,
                    port_cost_usd=0.0 if ported else pt.cost_usd,
                    port_failure_probability=0.0 if ported else pt.failure_probability,
                    peer_share=market.stack_share.get(st, 0.0),
                    current=st == cur_stack,
                    maturity=self.w.stack_maturity.get(st, 1.0),
                )
            )
        return opts

    def _act(
        self,
        seg: SegmentState,
        ci: int,
        cust: Customer,
        market: Market,
        pick: int,
        rng: np.random.Generator,
    ) -> bool:
        """Move work to the picked pool, or start a port to its stack; True if shares moved."""
        w = self.w
        t = w.env.now
        wl = market.workload
        chosen = market.pools[pick]
        st = chosen.chip.stack
        if st in cust.ported:
            cust.shares[wl] = normalised(
                ad.move_toward(
                    cust.shares[wl], {chosen.idx: 1.0}, w.scenario.adoption.max_fraction_per_review
                )
            )
            return True
        key = (wl, st)
        if key in cust.porting or cust.blocked_until.get(key, -1.0) > t:
            return False
        pt = market.terms[pick]
        cust.porting.add(key)
        fail = bool(rng.random() < pt.failure_probability)
        end = t + pt.duration_hours
        w.log.ports.append(PortRecord(seg.idx, ci, wl, st, t, end, pt.cost_usd, not fail))
        ev = w.env.timeout(pt.duration_hours)
        ev.callbacks.append(partial(self._port_done, seg, cust, key, chosen.idx, fail))
        return False

    def _port_done(
        self,
        seg: SegmentState,
        cust: Customer,
        key: tuple[str, str],
        pool_idx: int,
        failed: bool,
        _ev: simpy.Event,
    ) -> None:
        """A port ends: on success the customer runs the stack and moves work to the pool."""
        w = self.w
        w.log.events += 1
        cust.porting.discard(key)
        ads = w.scenario.adoption
        if failed:
            cust.blocked_until[key] = w.env.now + ads.failure_delay_months * HOURS_PER_MONTH
            return
        cust.ported.add(key[1])
        wl = key[0]
        cust.shares[wl] = normalised(
            ad.move_toward(cust.shares[wl], {pool_idx: 1.0}, ads.max_fraction_per_review)
        )
        seg.refresh_shares()

    # ----------------------------------------------------------------- what customers see

    def unit_price(self, seg: SegmentState, pool: Pool, workload: str, t: float) -> float:
        """What ``seg`` pays per useful unit (PFLOP or million tokens) on ``pool`` at ``t``.

        The provider's own segments pay the pool's cost per busy chip-hour at the
        procurement target utilisation; customers pay the month's price (the pricing
        policy's, set at the month's start by :meth:`update_prices`).
        """
        s = self.w.scenario
        if seg.spec.internal:
            capex = self.w.capex_usd(pool, t)
            key = (pool.idx, capex)
            per_hour = self._cost_cache.get(key)
            if per_hour is None:
                util = s.provider.procurement.target_utilization
                per_hour = float(ec.chip_usd_per_busy_hour(pool.chip, s.economics, capex, util))
                self._cost_cache[key] = per_hour
        else:
            per_hour = self.w.prices[pool.idx]
        if workload == "training":
            work = pool.pflop_per_chip_hour
        else:
            spec = seg.spec.inference
            load = spec.target_utilization if spec else 1.0
            work = pool.tok_per_chip_s * SECONDS_PER_HOUR / TOKENS_PER_MTOK * load
        return per_hour / work if work > 0 else math.inf

    def volume(self, seg: SegmentState, workload: str, t: float, months: float) -> float:
        """Units of work (PFLOP or Mtok) one customer expects over ``months`` from ``t``."""
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
        mtok_per_month = (
            inf.tokens_per_s * growth * SECONDS_PER_HOUR / TOKENS_PER_MTOK * HOURS_PER_MONTH
        )
        return float(mtok_per_month * months / n)
