"""Prices at a date: what the provider pays for a chip and what a customer pays per chip-hour.

Two questions every part of the model asks, answered in one place:

- :func:`capex_usd_per_chip`: the price per chip of a batch bought on a date. Merchant chips
  cost their catalog price x the vendor's street-price multiplier then in force x the
  margin factor (1 - the margin built into the catalog price) / (1 - the vendor's gross
  margin), so that a change in the vendor's margin reaches the price; in-house chips cost
  the batch's average on Wright's learning curve after the volume already built or ordered,
  scaled so that a chip at the generation's reference volume costs the catalog unit cost
  (:func:`learning_curve_usd` gives that curve unit by unit).
- the customer price per chip-hour, from a :class:`PricingPolicy` chosen by
  ``provider.pricing.policy`` (:data:`PRICING_POLICIES`):

  - ``list`` bills the chip's public on-demand schedule (catalog price and dated
    ``cloud_price_changes``), blended with committed-use and spot/Capacity-Block discounts;
  - ``cost_plus`` bills the pool's TCO per busy chip-hour at the procurement target
    utilisation, at that date, over (1 - a target margin): the vendor's street price and
    margin, electricity and (for in-house chips) Wright's learning all reach the price;
  - ``competitive`` bills each chip's useful work at the reference GPU's cost-plus price
    per useful unit, less a discount for in-house chips.

  Every policy's price is then multiplied by the pool's ``price_changes`` schedule (a
  scenario's what-if lever). A policy is a pure function of the scenario, the pool, the
  date and the price the provider pays for a chip of the pool on that date: the engine
  prices each pool once a month (:mod:`sim.engine.decisions`), records the price, and the
  accounts bill what was recorded, so the customer's choice and the revenue use one price.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sim.model import economics as ec
from sim.model.schema import ChipSpec, Scenario
from sim.model.timeline import multiplier_at

__all__ = [
    "PRICING_POLICIES",
    "CompetitivePricing",
    "CostPlusPricing",
    "ListPricing",
    "PricingPolicy",
    "capex_usd_per_chip",
    "learning_curve_usd",
    "margin_price_factor",
    "pricing_policy",
    "replacement_capex_usd",
    "street_price_multiplier",
    "useful_work_ratio",
]


def street_price_multiplier(scenario: Scenario, chip: ChipSpec, on: dt.date) -> float:
    """Street price / list price of a merchant chip on ``on`` (1 for in-house chips, and
    where the scenario gives its vendor no schedule)."""
    vendor = scenario.vendors.get(chip.vendor)
    if chip.inhouse or vendor is None:
        return 1.0
    return multiplier_at(vendor.street_price_multiplier, on)


def margin_price_factor(scenario: Scenario, chip: ChipSpec) -> float:
    """Chip price / catalog price implied by its vendor's gross margin (1 for in-house
    chips and vendors whose catalog margin is not given)."""
    vendor = scenario.vendors.get(chip.vendor)
    if chip.inhouse or vendor is None:
        return 1.0
    return vendor.margin_price_factor()


def capex_usd_per_chip(
    scenario: Scenario, chip_id: str, on: dt.date, built_chips: float, batch: int = 1
) -> float:
    """Price per chip the provider pays for a batch of ``batch`` chips bought on ``on``.

    ``built_chips`` is the volume of this chip already built or ordered in the modelled
    world (it moves an in-house chip down its learning curve; merchant chips ignore it). The
    program builds for the provider's whole business, of which the scenario models the share
    ``scale_fraction``: the modelled batch and volume divided by it are the program's.
    """
    chip = scenario.catalog.chips[chip_id]
    if not chip.inhouse:
        return (
            chip.unit_cost_usd
            * street_price_multiplier(scenario, chip, on)
            * margin_price_factor(scenario, chip)
        )
    prog = scenario.provider.inhouse_program
    gen = prog.generations.get(chip_id) if prog else None
    if prog is None or gen is None:
        return chip.unit_cost_usd
    share = prog.scale_fraction
    ref = float(ec.wright_unit_cost_usd(1.0, gen.reference_volume_chips, gen.learning_rate))
    avg = float(
        ec.wright_average_cost_usd(
            1.0, built_chips / share, max(batch, 1) / share, gen.learning_rate
        )
    )
    return chip.unit_cost_usd * avg / ref


def replacement_capex_usd(scenario: Scenario, chip_id: str, on: dt.date) -> float:
    """What one chip costs the provider on ``on`` without a run's volume: merchant chips at
    their street price and margin factor, in-house chips at the catalog unit cost (the cost
    at the generation's reference volume)."""
    chip = scenario.catalog.chips[chip_id]
    if chip.inhouse:
        return chip.unit_cost_usd
    return capex_usd_per_chip(scenario, chip_id, on, 0.0)


def learning_curve_usd(
    scenario: Scenario, chip_id: str, cumulative_chips: ec.ArrayLike
) -> ec.ArrayLike:
    """Unit cost of chip number ``cumulative_chips`` of an in-house generation, USD.

    ``cumulative_chips`` counts the program's volume (the modelled volume over the
    program's ``scale_fraction``). The generation's Wright curve, pinned so that the chip at
    its reference volume costs the catalog unit cost: unit cost x n^b / reference_volume^b,
    b = log2(learning rate).
    A chip that is not an in-house generation costs its catalog unit cost at any volume.
    """
    chip = scenario.catalog.chips[chip_id]
    prog = scenario.provider.inhouse_program
    gen = prog.generations.get(chip_id) if prog else None
    if gen is None:
        return chip.unit_cost_usd
    ref = float(ec.wright_unit_cost_usd(1.0, gen.reference_volume_chips, gen.learning_rate))
    curve = ec.wright_unit_cost_usd(1.0, cumulative_chips, gen.learning_rate)
    return chip.unit_cost_usd * curve / ref


def useful_work_ratio(chip: ChipSpec, reference: ChipSpec) -> float:
    """Useful work of one chip-hour of ``chip`` in chip-hours of ``reference``, at the
    catalog's figures (software efficiency 1).

    Training PFLOP (peak at the training precision x reference MFU) when both chips train;
    otherwise output tokens on the catalog's reference inference model.

    >>> from sim.model.schema import ChipSpec
    >>> a = ChipSpec.model_construct(workloads=["training"], training_precision="bf16",
    ...     peak_bf16_tflops=1000.0, training_mfu=0.5, inference_tokens_per_s=100.0)
    >>> b = ChipSpec.model_construct(workloads=["training"], training_precision="bf16",
    ...     peak_bf16_tflops=500.0, training_mfu=0.5, inference_tokens_per_s=100.0)
    >>> useful_work_ratio(a, b)
    2.0
    """
    if "training" in chip.workloads and "training" in reference.workloads:
        ref = reference.training_tflops * reference.training_mfu
        return chip.training_tflops * chip.training_mfu / ref
    return chip.inference_tokens_per_s / reference.inference_tokens_per_s


def _pool_multiplier(scenario: Scenario, pool_id: str, on: dt.date) -> float:
    """The pool's price-change multiplier on ``on`` (1 for a chip that is not a pool)."""
    pool = scenario.provider.pools.get(pool_id)
    return multiplier_at(pool.price_changes, on) if pool is not None else 1.0


class PricingPolicy(Protocol):
    """How the provider sets the customer price of a pool's chip-hour on a date."""

    name: str
    uses_unit_capex: bool
    """Whether the price depends on ``unit_capex_usd`` (a caller may skip computing it)."""

    def usd_per_chip_hour(
        self,
        scenario: Scenario,
        pool_id: str,
        on: dt.date,
        unit_capex_usd: float | None = None,
    ) -> float:
        """Blended customer price per chip-hour of pool ``pool_id`` on ``on``.

        ``unit_capex_usd`` is what a chip of the pool costs the provider on that date
        (a run passes its learning-curve price); None takes :func:`replacement_capex_usd`.
        """
        ...


class ListPricing:
    """The chip's public on-demand schedule x the pool's price changes, less committed and
    spot discounts."""

    name = "list"
    uses_unit_capex = False

    def usd_per_chip_hour(
        self,
        scenario: Scenario,
        pool_id: str,
        on: dt.date,
        unit_capex_usd: float | None = None,
    ) -> float:
        """Blended customer price per chip-hour (``unit_capex_usd`` is not used)."""
        del unit_capex_usd
        chip = scenario.catalog.chips[pool_id]
        pr = scenario.provider.pricing
        on_demand = chip.list_price_usd_per_chip_hour(on) * _pool_multiplier(scenario, pool_id, on)
        return float(
            ec.customer_usd_per_chip_hour(
                on_demand,
                pr.committed_fraction,
                pr.committed_discount_fraction,
                pr.spot_fraction,
                pr.spot_discount_fraction,
            )
        )


def cost_plus_usd_per_chip_hour(
    scenario: Scenario, chip_id: str, on: dt.date, unit_capex_usd: float | None
) -> float:
    """TCO per busy chip-hour of ``chip_id`` at the procurement target utilisation, bought
    on ``on`` for ``unit_capex_usd``, over (1 - the cost-plus margin); no pool multiplier."""
    capex = (
        replacement_capex_usd(scenario, chip_id, on) if unit_capex_usd is None else unit_capex_usd
    )
    util = scenario.provider.procurement.target_utilization
    cost = float(
        ec.chip_usd_per_busy_hour(scenario.catalog.chips[chip_id], scenario.economics, capex, util)
    )
    return cost / (1.0 - scenario.provider.pricing.cost_plus.margin_fraction)


class CostPlusPricing:
    """TCO per busy chip-hour at the target utilisation over (1 - target margin)."""

    name = "cost_plus"
    uses_unit_capex = True

    def usd_per_chip_hour(
        self,
        scenario: Scenario,
        pool_id: str,
        on: dt.date,
        unit_capex_usd: float | None = None,
    ) -> float:
        """Customer price per chip-hour of pool ``pool_id`` on ``on``."""
        price = cost_plus_usd_per_chip_hour(scenario, pool_id, on, unit_capex_usd)
        return price * _pool_multiplier(scenario, pool_id, on)


def competitive_reference(scenario: Scenario) -> str:
    """The chip the competitive policy prices against."""
    ref = scenario.provider.pricing.competitive.reference_gpu
    if ref is not None:
        return ref
    prog = scenario.provider.inhouse_program
    if prog is None:  # the schema refuses this for the competitive policy
        raise ValueError("the competitive policy needs a reference GPU")
    return prog.reference_gpu


class CompetitivePricing:
    """Useful work priced at the reference GPU's cost-plus price per useful unit, less a
    discount for in-house chips."""

    name = "competitive"
    uses_unit_capex = False

    def usd_per_chip_hour(
        self,
        scenario: Scenario,
        pool_id: str,
        on: dt.date,
        unit_capex_usd: float | None = None,
    ) -> float:
        """Customer price per chip-hour of pool ``pool_id`` on ``on`` (``unit_capex_usd``
        is not used: the price follows the reference GPU's cost, not the pool's)."""
        del unit_capex_usd
        ref_id = competitive_reference(scenario)
        chips = scenario.catalog.chips
        chip = chips[pool_id]
        ref_price = cost_plus_usd_per_chip_hour(scenario, ref_id, on, None)
        price = ref_price * useful_work_ratio(chip, chips[ref_id])
        if chip.inhouse:
            price *= 1.0 - scenario.provider.pricing.competitive.inhouse_discount_fraction
        return price * _pool_multiplier(scenario, pool_id, on)


PRICING_POLICIES: dict[str, PricingPolicy] = {
    p.name: p for p in (ListPricing(), CostPlusPricing(), CompetitivePricing())
}
"""Customer pricing policies by the name ``provider.pricing.policy`` gives."""


def pricing_policy(scenario: Scenario) -> PricingPolicy:
    """The customer pricing policy of ``scenario``."""
    return PRICING_POLICIES[scenario.provider.pricing.policy]
