"""The pricing section of the scenario schema: how the provider sets customer prices.

``provider.pricing.policy`` names the policy (see :mod:`sim.model.pricing`):

- ``list``: the chips' public on-demand schedules (catalog ``cloud_price_usd_per_chip_hour``
  and ``cloud_price_changes``), blended with committed-use and spot/Capacity-Block
  discounts;
- ``cost_plus``: the pool's TCO per busy chip-hour at the procurement target utilisation,
  at that date, over (1 - a target margin);
- ``competitive``: each chip's useful work per chip-hour priced at the reference GPU's
  cost-plus price per useful unit, less a discount for in-house chips.

The parameters of every policy sit in the section whatever policy is chosen, so that a
``--set provider.pricing.policy=cost_plus`` needs nothing else.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.model.schema.base import CrossReferenceError, Fraction, Frozen

PricingPolicyName = Literal["list", "cost_plus", "competitive"]
MarginFraction = Annotated[float, Field(ge=0, lt=1, allow_inf_nan=False)]


class CostPlus(Frozen):
    """Parameters of the ``cost_plus`` policy."""

    margin_fraction: MarginFraction = Field(
        default=0.0,
        description="Target margin on the price: price = TCO per busy chip-hour / (1 - margin).",
    )


class Competitive(Frozen):
    """Parameters of the ``competitive`` policy."""

    reference_gpu: str | None = Field(
        default=None,
        description="Chip whose price per useful unit sets the others' (default: the "
        "in-house program's reference GPU).",
    )
    inhouse_discount_fraction: Fraction = Field(
        default=0.0,
        description="Discount on the reference's price per useful unit for in-house chips.",
    )


class Pricing(Frozen):
    """How the provider prices chip-hours to customers."""

    policy: PricingPolicyName = Field(
        default="list", description="list | cost_plus | competitive (see sim.model.pricing)."
    )
    committed_fraction: Fraction = Field(description="Share of hours under commitments.")
    committed_discount_fraction: Fraction = Field(description="Discount on committed hours.")
    spot_fraction: Fraction = Field(
        default=0.0, description="Share of hours sold as spot or Capacity Blocks."
    )
    spot_discount_fraction: Fraction = Field(
        default=0.0, description="Discount of spot and Capacity-Block hours off on-demand."
    )
    cost_plus: CostPlus = CostPlus()
    competitive: Competitive = Competitive()

    @model_validator(mode="after")
    def _shares(self) -> Pricing:
        total = self.committed_fraction + self.spot_fraction
        if total > 1.0 + 1e-12:
            raise CrossReferenceError(
                ("spot_fraction",),
                f"committed_fraction + spot_fraction = {total:g}: more than all hours",
            )
        return self
