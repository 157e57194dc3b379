"""Prices at a date: what the provider pays for a chip and what a customer pays per chip-hour.

Two questions every part of the model asks, answered in one place:

- :func:`capex_usd_per_chip`: the price per chip of a batch bought on a date. Merchant chips
  cost their list price x the vendor's street-price multiplier then in force; in-house chips
  cost the batch's average on Wright's learning curve after the volume already built or
  ordered, scaled so that a chip at the generation's reference volume costs the catalog
  unit cost (:func:`learning_curve_usd` gives that curve unit by unit).
- the customer price per chip-hour, from a :class:`PricingPolicy` chosen by name
  (:data:`PRICING_POLICIES`). Today's one policy, ``list``, bills the catalog on-demand
  price x the pool's price changes, blended with committed-use discounts.
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol

from sim.model import economics as ec
from sim.model.schema import ChipSpec, Scenario
from sim.model.timeline import multiplier_at

__all__ = [
    "DEFAULT_PRICING_POLICY",
    "PRICING_POLICIES",
    "ListPricing",
    "PricingPolicy",
    "capex_usd_per_chip",
    "learning_curve_usd",
    "pricing_policy",
    "street_price_multiplier",
]


def street_price_multiplier(scenario: Scenario, chip: ChipSpec, on: dt.date) -> float:
    """Street price / list price of a merchant chip on ``on`` (1 for in-house chips, and
    where the scenario gives its vendor no schedule)."""
    vendor = scenario.vendors.get(chip.vendor)
    if chip.inhouse or vendor is None:
        return 1.0
    return multiplier_at(vendor.street_price_multiplier, on)


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
        return chip.unit_cost_usd * street_price_multiplier(scenario, chip, on)
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


class PricingPolicy(Protocol):
    """How the provider sets the customer price of a pool's chip-hour on a date."""

    name: str

    def usd_per_chip_hour(self, scenario: Scenario, pool_id: str, on: dt.date) -> float:
        """Blended customer price per chip-hour on pool ``pool_id`` on ``on``."""
        ...


class ListPricing:
    """Catalog on-demand price x the pool's price-change schedule, less committed discounts."""

    name = "list"

    def usd_per_chip_hour(self, scenario: Scenario, pool_id: str, on: dt.date) -> float:
        """Blended customer price per chip-hour on pool ``pool_id`` on ``on``."""
        chip = scenario.catalog.chips[pool_id]
        mult = multiplier_at(scenario.provider.pools[pool_id].price_changes, on)
        pr = scenario.provider.pricing
        return float(
            ec.customer_usd_per_chip_hour(
                chip.cloud_price_usd_per_chip_hour * mult,
                pr.committed_fraction,
                pr.committed_discount_fraction,
            )
        )


PRICING_POLICIES: dict[str, PricingPolicy] = {ListPricing.name: ListPricing()}
"""Customer pricing policies by name."""

DEFAULT_PRICING_POLICY = ListPricing.name
"""The policy every scenario uses until the schema lets a scenario choose one."""


def pricing_policy(scenario: Scenario) -> PricingPolicy:
    """The customer pricing policy of ``scenario``."""
    del scenario  # one policy today; a scenario field will name it
    return PRICING_POLICIES[DEFAULT_PRICING_POLICY]
