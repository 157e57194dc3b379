"""Decisions over time: software maturity each month, customers' platform reviews, ports.

Every month each stack's maturity is recomputed (the exogenous logistic plus the flywheel of
cumulative use) and with it each pool's achieved throughput. Every
``review_interval_months`` the customers of a segment re-weigh, per workload, the pools they
may use (see :mod:`sim.model.adoption`): one array operation for all of them. The segment's
:class:`ChoiceRule` turns the logit probabilities into action: work moves toward pools on
stacks a customer already runs; a customer who considers a stack it does not run (Bass
diffusion) and chooses it starts a port, which takes time, costs money and may fail.

A segment with a negotiated ``commitment`` (an input, e.g. an investment tied to the
provider's chips) leaves its committed workloads out of the reviews from the commitment's
start: :meth:`DecisionProcess.commitment` moves their shares to the committed pools over its
ramp, outside the cost comparison.

``sampled`` draws one choice per customer (and whether it considers, and whether its port
fails); ``expected`` moves every customer by the expected outcome instead, so a segment's
path carries no decision noise. Both act through the same state (:class:`WorkloadState`)
and the same port events, so they differ only in the rule.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from functools import partial
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import simpy

from sim.engine.choice import CHOICE_RULES, ChoiceRule, Draws
from sim.engine.records import ChoiceRecord, MaturityRecord, PortRecord, PriceRecord, ShareRecord
from sim.engine.state import Pool, SegmentState, WorkloadState, World
from sim.model import adoption as ad
from sim.model import economics as ec
from sim.model.pricing import pricing_policy
from sim.model.rng import stream
from sim.model.schema import WORKLOADS
from sim.model.units import HOURS_PER_MONTH, HOURS_PER_YEAR, SECONDS_PER_HOUR, TOKENS_PER_MTOK

FloatArray = npt.NDArray[np.float64]

_TINY = 1e-12
"""Masses of customers below this are treated as none (no port started, no move)."""

__all__ = ["CHOICE_RULES", "ChoiceRule", "DecisionProcess"]


class _Offer(NamedTuple):
    """The options of one review of one workload, as arrays over the options."""

    pools: list[Pool]
    pool_idx: npt.NDArray[np.int64]
    stack_idx: npt.NDArray[np.int64]
    unit_usd: FloatArray
    efficiency: FloatArray
    maturity: FloatArray


class _PortStart(NamedTuple):
    """Ports started at one review to one stack (per-customer masses)."""

    stack: int
    started: FloatArray
    failed: FloatArray
    target: FloatArray  # customers x pools: where each customer's work goes on success


class DecisionProcess:
    """Maturity, customer reviews and ports over one run."""

    def __init__(self, world: World, rule: ChoiceRule) -> None:
        self.w = world
        self.rule = rule
        self.policy = pricing_policy(world.scenario)
        self.stack_index = {sid: i for i, sid in enumerate(world.stack_ids)}
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
        uses_capex = self.policy.uses_unit_capex
        w.prices = [
            self.policy.usd_per_chip_hour(
                s, p.chip_id, day, w.capex_usd(p, now) if uses_capex else None
            )
            for p in w.pools
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
        """The customers of ``seg`` review each of their workloads."""
        if not self.w.scenario.adoption.enabled:
            return
        changed = False
        for wl in WORKLOADS:
            if getattr(seg.spec, wl) is None or self.committed(seg, wl):
                continue
            pools, gated = self.offer(seg, wl)
            if len(pools) < 2:
                continue
            changed |= self._review_workload(seg, wl, self._arrays(seg, wl, pools), gated, rng)
        if changed:
            seg.refresh_shares()

    def committed(self, seg: SegmentState, workload: str) -> bool:
        """Whether ``seg``'s ``workload`` is under its commitment now (out of the reviews)."""
        c = seg.spec.commitment
        return (
            c is not None and workload in c.shares and self.w.env.now >= self.w.clock.hours(c.start)
        )

    def commitment(self, seg: SegmentState) -> Generator[simpy.Event, Any, None]:
        """The simpy process of a segment's commitment: from its start, monthly, each
        committed workload's shares are set on the line from the shares held at the start
        to the committed shares (reached after ``ramp_months``), and the customers run the
        committed pools' stacks (the deal includes the port)."""
        w = self.w
        c = seg.spec.commitment
        assert c is not None
        start_h = w.clock.hours(c.start)
        if start_h >= w.horizon_h:
            return
        yield w.env.timeout(max(0.0, start_h - w.env.now))
        held: dict[str, FloatArray] = {}
        target: dict[str, FloatArray] = {}
        for wl, shares in c.shares.items():
            state = seg.workloads[wl]
            held[wl] = state.shares.copy()
            target[wl] = np.zeros_like(state.shares)
            for pid, v in shares.items():
                pool = w.pools[w.pool_index[pid]]
                target[wl][:, pool.idx] = v
                if v > 0:
                    k = self.stack_index[pool.chip.stack]
                    state.ported[:, k] = 1.0
                    state.porting[:, k] = 0.0
                    state.blocked[:, k] = 0.0
        months = 0
        while True:
            w.log.events += 1
            ramp = 1.0 if c.ramp_months <= 0 else min(1.0, months / c.ramp_months)
            for wl in c.shares:
                seg.workloads[wl].shares[:] = held[wl] + ramp * (target[wl] - held[wl])
            seg.refresh_shares()
            months += 1
            if w.env.now + HOURS_PER_MONTH >= w.horizon_h:
                return
            yield w.env.timeout(HOURS_PER_MONTH)

    def options(self, seg: SegmentState, workload: str) -> list[Pool]:
        """The pools a customer of ``seg`` may put ``workload`` on today."""
        return self.offer(seg, workload)[0]

    def offer(
        self, seg: SegmentState, workload: str
    ) -> tuple[list[Pool], list[tuple[Pool, list[str]]]]:
        """The pools offered for ``workload`` today, and those held back by a feature gate
        (with the features their stack lacks)."""
        w = self.w
        spec = getattr(seg.spec, workload)
        today = w.clock.date(w.env.now)
        names = seg.spec.permitted.get(workload)  # type: ignore[call-overload]
        cands = [w.pools[w.pool_index[n]] for n in names] if names else w.pools
        excluded = set(seg.spec.excluded.get(workload, ()))  # type: ignore[call-overload]
        out = []
        gated = []
        for p in cands:
            if workload not in p.chip.workloads or p.chip.launch_date > today:
                continue
            if p.chip_id in excluded:
                continue
            # a fleet the provider no longer buys (not procured, or its chip off sale) is
            # offered only while it has room; its demand then moves to the successor
            not_bought = not w.scenario.provider.pools[p.chip_id].procure or p.off_sale(w.env.now)
            if not_bought and p.free() <= 0:
                continue
            stack = w.scenario.catalog.stacks[p.chip.stack]
            missing = ad.missing_features(stack, spec.requires_features, today)
            if missing:
                gated.append((p, missing))
                continue
            out.append(p)
        return out, gated

    def _arrays(self, seg: SegmentState, wl: str, pools: list[Pool]) -> _Offer:
        """Prices, efficiencies and maturities of the offered pools now."""
        w = self.w
        t = w.env.now
        floor = w.scenario.adoption.efficiency_floor
        maturity = np.array([w.stack_maturity.get(p.chip.stack, 1.0) for p in pools])
        return _Offer(
            pools,
            np.array([p.idx for p in pools], dtype=np.int64),
            np.array([self.stack_index[p.chip.stack] for p in pools], dtype=np.int64),
            np.array([self.unit_price(seg, p, wl, t) for p in pools]),
            np.array([ad.software_efficiency(m, floor) for m in maturity]),
            maturity,
        )

    def _terms(self, seg: SegmentState, wl: str, offer: _Offer) -> list[ad.PortTerms]:
        """What a port of the segment's tier to each option's stack takes now."""
        s = self.w.scenario
        ads = s.adoption
        tier = seg.spec.porting_tier.get(wl, "a")  # type: ignore[call-overload]
        cache: dict[str, ad.PortTerms] = {}
        for p, m in zip(offer.pools, offer.maturity, strict=True):
            sid = p.chip.stack
            if sid not in cache:
                cache[sid] = ad.port_terms(
                    s.catalog.stacks[sid],
                    tier,
                    float(m),
                    failure_at_zero_maturity=ads.failure_probability_at_zero_maturity,
                    friction_scale=ads.friction_scale,
                )
        return [cache[p.chip.stack] for p in offer.pools]

    def _review_workload(
        self,
        seg: SegmentState,
        wl: str,
        offer: _Offer,
        gated: list[tuple[Pool, list[str]]],
        rng: np.random.Generator,
    ) -> bool:
        """Every customer of ``seg`` weighs ``offer`` for ``wl`` and acts; True if shares moved."""
        w = self.w
        s = w.scenario
        ads = s.adoption
        spec = seg.spec
        state = seg.workloads[wl]
        months = spec.planning_horizon_months
        volume = self.volume(seg, wl, w.env.now, months) * seg.weights
        cur = state.shares[:, offer.pool_idx]
        held = cur.sum(axis=1)
        cur_unit = np.where(
            held > 0, (cur @ offer.unit_usd) / np.maximum(held, _TINY), offer.unit_usd.min()
        )
        terms = self._terms(seg, wl, offer)
        engineer_usd = spec.engineer_usd_per_month or s.economics.engineer_usd_per_month
        port_usd = np.array([t.engineer_months for t in terms]) * spec.porting_scale * engineer_usd
        delay = np.array([t.expected_delay_months(ads.overrun_fraction) for t in terms])
        monthly_usd = volume / months * cur_unit
        new = 1.0 - state.ported[:, offer.stack_idx]
        parts = ad.utility_parts(
            volume_units=volume,
            unit_usd=offer.unit_usd,
            efficiency=offer.efficiency,
            port_usd=new * port_usd[None, :],
            risk_usd=new
            * (spec.risk_aversion * ads.delay_months_of_compute * delay)[None, :]
            * monthly_usd[:, None],
            hurdle_fraction=new * spec.switching_hurdle_fraction,
            # the residual constants are fitted to customers' usage: the provider's own
            # teams (internal segments, outside the targets) carry none
            constants=np.array(
                [
                    0.0
                    if spec.internal
                    else ad.residual_constant(ads, p.chip.stack, p.chip.family, wl, float(m))
                    for p, m in zip(offer.pools, offer.maturity, strict=True)
                ]
            ),
            logit_scale=ads.logit_scale,
        )
        probabilities = ad.choice_probabilities(parts.total)
        draws = self.rule.draws(len(seg.weights), rng)
        acted = self.rule.act(probabilities, draws)
        changed = self._move(state, acted * state.ported[:, offer.stack_idx], offer.pool_idx)
        dt_years = spec.review_interval_months / 12.0
        considered: dict[int, float] = {}
        for k in dict.fromkeys(offer.stack_idx.tolist()):
            considered[k] = ad.consideration_probability(
                ads.bass, seg.installed_share(wl, k), dt_years
            )
            start = self._port_start(state, offer, k, acted, considered[k], terms, draws)
            if start is not None:
                self._begin_port(seg, wl, start, terms[offer.stack_idx.tolist().index(k)])
        self._record(seg, wl, offer, parts, probabilities, considered, gated, volume @ cur_unit)
        return changed

    def _move(
        self, state: WorkloadState, move: FloatArray, pool_idx: npt.NDArray[np.int64]
    ) -> bool:
        """Move ``max_fraction_per_review`` of each customer's work toward the options it acts
        on (``move``: customers x options, weights on options whose stack it runs)."""
        mass = move.sum(axis=1)
        if not (mass > _TINY).any():
            return False
        rate = self.w.scenario.adoption.max_fraction_per_review
        toward = np.zeros_like(state.shares)
        toward[:, pool_idx] = move
        state.shares += rate * (toward - mass[:, None] * state.shares)
        return True

    def _port_start(
        self,
        state: WorkloadState,
        offer: _Offer,
        k: int,
        acted: FloatArray,
        consider: float,
        terms: list[ad.PortTerms],
        draws: Draws | None,
    ) -> _PortStart | None:
        """The ports customers start to stack ``k`` at this review (None if none)."""
        on_k = offer.stack_idx == k
        weight = acted[:, on_k].sum(axis=1)
        if not (weight > _TINY).any():
            return None
        started = self.rule.start(state.available_to(k), consider, weight, draws)
        if float(started.sum()) <= _TINY:
            return None
        p_fail = terms[int(np.flatnonzero(on_k)[0])].failure_probability
        target = np.zeros_like(state.shares)
        target[:, offer.pool_idx[on_k]] = acted[:, on_k] / np.maximum(weight, _TINY)[:, None]
        return _PortStart(k, started, self.rule.fail(started, p_fail, draws), target)

    def _begin_port(
        self,
        seg: SegmentState,
        wl: str,
        start: _PortStart,
        terms: ad.PortTerms,
    ) -> None:
        """Book the ports of ``start`` and schedule their end."""
        w = self.w
        t = w.env.now
        state = seg.workloads[wl]
        state.porting[:, start.stack] += start.started
        duration = terms.calendar_months * HOURS_PER_MONTH
        cost = float(start.started.sum()) * float(
            terms.engineer_months
            * seg.spec.porting_scale
            * (seg.spec.engineer_usd_per_month or w.scenario.economics.engineer_usd_per_month)
        )
        w.log.ports.append(
            PortRecord(
                seg.idx,
                wl,
                w.stack_ids[start.stack],
                t,
                t + duration,
                float(start.started.sum()),
                float(start.failed.sum()),
                cost,
            )
        )
        ev = w.env.timeout(duration)
        ev.callbacks.append(partial(self._port_done, seg, wl, start))

    def _port_done(self, seg: SegmentState, wl: str, start: _PortStart, _ev: simpy.Event) -> None:
        """Ports end: the successful ones run the stack and move work to their target pools;
        the failed ones wait ``failure_delay_months`` before the stack is considered again."""
        w = self.w
        w.log.events += 1
        ads = w.scenario.adoption
        state = seg.workloads[wl]
        k = start.stack
        state.porting[:, k] = np.maximum(state.porting[:, k] - start.started, 0.0)
        succeeded = start.started - start.failed
        state.ported[:, k] = np.minimum(state.ported[:, k] + succeeded, 1.0)
        if not self.committed(seg, wl):
            state.shares += (
                ads.max_fraction_per_review * succeeded[:, None] * (start.target - state.shares)
            )
        if float(start.failed.sum()) > _TINY:
            state.blocked[:, k] += start.failed
            ev = w.env.timeout(ads.failure_delay_months * HOURS_PER_MONTH)
            ev.callbacks.append(partial(self._unblock, state, k, start.failed))
        seg.refresh_shares()

    @staticmethod
    def _unblock(state: WorkloadState, k: int, failed: FloatArray, _ev: simpy.Event) -> None:
        """Customers whose port failed may consider the stack again."""
        state.blocked[:, k] = np.maximum(state.blocked[:, k] - failed, 0.0)

    def _record(
        self,
        seg: SegmentState,
        wl: str,
        offer: _Offer,
        parts: ad.UtilityParts,
        probabilities: FloatArray,
        considered: dict[int, float],
        gated: list[tuple[Pool, list[str]]],
        volume_usd: float,
    ) -> None:
        """The review's choice records: size-weighted means per option, and the gated pools."""
        w = self.w
        t = w.env.now
        bass = w.scenario.adoption.bass
        p = bass.innovation_per_year if bass else math.nan
        q = bass.imitation_per_year if bass else math.nan
        wts = seg.weights
        means = {
            term: (wts @ getattr(parts, term)).tolist() for term in (*ad.UTILITY_TERMS, "total")
        }
        prob = (wts @ probabilities).tolist()
        stacks = offer.stack_idx.tolist()
        for j, pool in enumerate(offer.pools):
            k = stacks[j]
            installed = seg.installed_share(wl, k)
            w.log.choices.append(
                ChoiceRecord(
                    time_h=t,
                    segment=seg.idx,
                    workload=wl,
                    pool=pool.idx,
                    stack=pool.chip.stack,
                    price=means["price"][j],
                    efficiency=means["efficiency"][j],
                    porting=means["porting"][j],
                    risk=means["risk"][j],
                    hurdle=means["hurdle"][j],
                    constants=means["constants"][j],
                    total=means["total"][j],
                    probability=prob[j],
                    installed=installed,
                    considered=considered[k],
                    innovation=p,
                    imitation=q * installed if bass else math.nan,
                    gated="",
                    volume_usd=float(volume_usd),
                )
            )
        nan = math.nan
        for pool, missing in gated:
            w.log.choices.append(
                ChoiceRecord(
                    time_h=t,
                    segment=seg.idx,
                    workload=wl,
                    pool=pool.idx,
                    stack=pool.chip.stack,
                    price=nan,
                    efficiency=nan,
                    porting=nan,
                    risk=nan,
                    hurdle=nan,
                    constants=nan,
                    total=nan,
                    probability=0.0,
                    installed=0.0,
                    considered=0.0,
                    innovation=p,
                    imitation=nan,
                    gated=",".join(missing),
                    volume_usd=float(volume_usd),
                )
            )

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
        """Units of work (PFLOP or Mtok) the segment expects over ``months`` from ``t``."""
        if workload == "training":
            tr = seg.spec.training
            if tr is None:
                return 0.0
            growth = (1.0 + tr.growth_per_year) ** (t / HOURS_PER_YEAR)
            return float(tr.jobs_per_month * growth * tr.size.mean_pflop * months)
        inf = seg.spec.inference
        if inf is None:
            return 0.0
        growth = (1.0 + inf.growth_per_year) ** (t / HOURS_PER_YEAR)
        mtok_per_month = (
            inf.tokens_per_s * growth * SECONDS_PER_HOUR / TOKENS_PER_MTOK * HOURS_PER_MONTH
        )
        return float(mtok_per_month * months)
