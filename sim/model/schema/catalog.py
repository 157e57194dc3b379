"""The chip and software-stack catalog sections of the schema (shipped in ``sim/data``).

Economic figures have no defaults in code: they come from the shipped catalog or a scenario
file, each with its source.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.model.schema.base import (
    MERCHANT_VENDORS,
    CrossReferenceError,
    Family,
    Fraction,
    Frozen,
    NonNegFloat,
    PosFloat,
    PosFraction,
    Usd,
    Vendor,
    Workload,
)

# --------------------------------------------------------------------------- catalog


class CloudPricePoint(Frozen):
    """A dated change of a chip's public on-demand price: from ``start`` on, the price is
    ``usd_per_chip_hour``."""

    start: dt.date
    usd_per_chip_hour: Usd = Field(description="On-demand list price per chip-hour from start.")


class ChipSpec(Frozen):
    """One accelerator type: its physics, costs and cloud price (shipped in sim/data/chips.yaml)."""

    name: str = Field(description="Marketing name of the chip.")
    vendor: Vendor = Field(description="Who designs it: a merchant vendor or a cloud.")
    family: Family = Field(description="Product family used to report usage shares.")
    stack: str = Field(description="Software stack id (a key of catalog.stacks).")
    launch_date: dt.date = Field(description="First general availability in a cloud.")
    end_of_sale_date: dt.date | None = Field(
        default=None,
        description="First day the chip can no longer be bought: no chip is delivered to a "
        "provider on or after it (null: on sale through any horizon, the newest chip of its "
        "line in the catalog).",
    )
    successor: str | None = Field(
        default=None,
        description="Catalog chip that takes the demand this chip can no longer meet once "
        "it is off sale (null: none catalogued).",
    )
    workloads: list[Workload] = Field(description="Workloads the chip serves.")
    training_precision: Literal["bf16", "fp8"] = Field(
        default="bf16", description="Precision whose peak the engine uses for training speed."
    )
    cloud_instance: str = Field(default="", description="Instance the cloud price is from.")
    peak_bf16_tflops: PosFloat = Field(description="Peak dense BF16 TFLOP/s, no sparsity.")
    peak_fp8_tflops: PosFloat | None = Field(
        default=None, description="Peak dense FP8 TFLOP/s; null if the chip has no FP8."
    )
    hbm_gb: PosFloat = Field(description="High-bandwidth memory per chip, GB.")
    memory_tb_per_s: PosFloat = Field(description="Memory bandwidth per chip, TB/s.")
    busy_power_w: PosFloat = Field(description="Chip power when busy, W.")
    idle_power_w: NonNegFloat = Field(description="Chip power when idle, W.")
    unit_cost_usd: Usd = Field(
        description="Purchase price (merchant) or unit cost at reference volume (in-house)."
    )
    server_network_usd_per_chip: Usd = Field(
        description="Per-chip share of server, host, NIC, switch and cabling capital."
    )
    cloud_price_usd_per_chip_hour: Usd = Field(
        description="On-demand price per chip-hour at general availability."
    )
    cloud_price_changes: list[CloudPricePoint] = Field(
        default_factory=list,
        description="Public on-demand price changes after general availability, by date "
        "(cloud_price_usd_per_chip_hour applies before the first).",
    )
    inference_tokens_per_s: PosFloat = Field(
        description="Output tokens/s per chip on the catalog's reference inference model."
    )
    training_mfu: PosFraction = Field(description="Reference model-FLOPs utilisation.")
    inference_latency_ms: PosFloat | None = Field(
        default=None, description="Per-output-token latency on the reference model, ms."
    )

    @model_validator(mode="after")
    def _consistent(self) -> ChipSpec:
        if self.idle_power_w > self.busy_power_w:
            raise CrossReferenceError(
                ("idle_power_w",),
                f"idle_power_w ({self.idle_power_w}) exceeds busy_power_w ({self.busy_power_w})",
            )
        if self.training_precision == "fp8" and self.peak_fp8_tflops is None:
            raise CrossReferenceError(
                ("training_precision",), "training_precision is fp8 but peak_fp8_tflops is null"
            )
        if not self.workloads:
            raise CrossReferenceError(("workloads",), "a chip must serve at least one workload")
        if self.end_of_sale_date is not None and self.end_of_sale_date <= self.launch_date:
            raise CrossReferenceError(
                ("end_of_sale_date",),
                f"end_of_sale_date {self.end_of_sale_date} is not after launch_date "
                f"{self.launch_date}",
            )
        return self

    def on_sale(self, on: dt.date) -> bool:
        """Whether the chip can be delivered to a provider on ``on`` (launched, not past
        its end of sale)."""
        return self.launch_date <= on and (
            self.end_of_sale_date is None or on < self.end_of_sale_date
        )

    def list_price_usd_per_chip_hour(self, on: dt.date) -> float:
        """The public on-demand price per chip-hour in force on ``on``.

        >>> chip = ChipSpec.model_construct(
        ...     cloud_price_usd_per_chip_hour=12.0,
        ...     cloud_price_changes=[CloudPricePoint(start=dt.date(2025, 6, 1),
        ...                                          usd_per_chip_hour=6.88)])
        >>> chip.list_price_usd_per_chip_hour(dt.date(2025, 5, 31))
        12.0
        >>> chip.list_price_usd_per_chip_hour(dt.date(2025, 6, 1))
        6.88
        """
        price = self.cloud_price_usd_per_chip_hour
        for p in sorted(self.cloud_price_changes, key=lambda p: p.start):
            if p.start > on:
                break
            price = p.usd_per_chip_hour
        return price

    @property
    def training_tflops(self) -> float:
        """Peak dense TFLOP/s at the precision used for training."""
        if self.training_precision == "fp8" and self.peak_fp8_tflops is not None:
            return self.peak_fp8_tflops
        return self.peak_bf16_tflops

    @property
    def inhouse(self) -> bool:
        """True for chips a cloud designs for itself."""
        return self.vendor not in MERCHANT_VENDORS


class StackFeature(Frozen):
    """A capability of a software stack and when it became available."""

    available_from: dt.date | None = Field(description="Date it is usable; null = not yet.")
    source: str = Field(default="", description="Where the date comes from.")
    note: str = Field(default="", description="Context.")


class StackSpec(Frozen):
    """A software stack and the parameters of its maturity relative to CUDA."""

    name: str
    vendor: str
    maturity_start: Fraction = Field(description="Maturity relative to CUDA (0..1) at 2023-01.")
    maturity_midpoint_year: Annotated[float, Field(ge=1990, le=2100)] = Field(
        description="Decimal year at which the exogenous logistic is halfway to 1."
    )
    maturity_steepness_per_year: PosFloat = Field(description="Slope of that logistic, 1/year.")
    # Porting a workload from CUDA, by tier, at the stack's maturity on 2023-01-01
    # (maturity_start), when the public evidence was gathered; both shrink in proportion to
    # the remaining gap (1 - maturity) / (1 - maturity_start).
    porting_engineer_months_a: NonNegFloat = Field(
        description="Engineer-months to port a model the stack supports (tier a), 2023."
    )
    porting_engineer_months_b: NonNegFloat = Field(
        description="Engineer-months to port a model with custom kernels (tier b), 2023."
    )
    porting_engineer_months_c: NonNegFloat = Field(
        description="Engineer-months to port a large-scale training stack (tier c), 2023."
    )
    porting_calendar_months_a: NonNegFloat = Field(description="Calendar months of a tier-a port.")
    porting_calendar_months_b: NonNegFloat = Field(description="Calendar months of a tier-b port.")
    porting_calendar_months_c: NonNegFloat = Field(description="Calendar months of a tier-c port.")
    scarcity_at_zero_maturity: NonNegFloat = Field(
        default=0.0,
        description="Engineer scarcity: effort is multiplied by 1 + this x (1 - maturity).",
    )
    features: dict[str, StackFeature] = Field(default_factory=dict)


class Catalog(Frozen):
    """Chips and software stacks; the shipped catalog, overridable by a scenario."""

    chips: dict[str, ChipSpec]
    stacks: dict[str, StackSpec]

    @model_validator(mode="after")
    def _lifecycles(self) -> Catalog:
        for cid, chip in self.chips.items():
            path: tuple[str | int, ...] = ("chips", cid, "successor")
            nxt = chip.successor
            if nxt is None:
                continue
            if nxt not in self.chips:
                raise CrossReferenceError(
                    path, f"unknown successor {nxt!r}; known chips: {sorted(self.chips)}"
                )
            if nxt == cid:
                raise CrossReferenceError(path, f"{cid} cannot be its own successor")
            if self.chips[nxt].launch_date <= chip.launch_date:
                raise CrossReferenceError(
                    path,
                    f"successor {nxt} launched {self.chips[nxt].launch_date}, not after "
                    f"{cid} ({chip.launch_date})",
                )
        return self

    def successors(self, chip_id: str) -> list[str]:
        """The chain of successors of ``chip_id``, nearest first (launch dates rise along
        it, so it ends)."""
        out: list[str] = []
        nxt = self.chips[chip_id].successor
        while nxt is not None:
            out.append(nxt)
            nxt = self.chips[nxt].successor
        return out
