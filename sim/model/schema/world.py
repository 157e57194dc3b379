"""The world sections of the scenario schema and the resolved :class:`Scenario`.

Horizon, economics, vendors, the provider (pools, procurement, pricing, in-house program),
customer segments, adoption, scheduling and outputs: one frozen pydantic model per YAML
section. Economic figures have no defaults in code: they come from the shipped catalog
(``sim/data``) or a scenario file, each with its source.

Cross-references (a pool naming a chip, a segment naming a pool ...) are checked by
:func:`reference_problems`, which returns the offending key path so that the loader can point
at the YAML line.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from sim.model.schema.base import (
    MAX_REPLICATIONS,
    MAX_SEED,
    MERCHANT_VENDORS,
    WORKLOADS,
    ChipCount,
    CrossReferenceError,
    Fraction,
    Frozen,
    NonNegFloat,
    PosFloat,
    PosFraction,
    Usd,
)
from sim.model.schema.catalog import Catalog
from sim.model.schema.demand import Adoption, Segment
from sim.model.schema.market import Pricing

# --------------------------------------------------------------------------- world


class Horizon(Frozen):
    """The simulated period."""

    start: dt.date = Field(description="First simulated day.")
    end: dt.date = Field(description="Day after the last simulated day.")
    warmup_days: NonNegFloat = Field(
        default=0.0, description="Initial days excluded from queue statistics."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Horizon:
        if self.end <= self.start:
            raise CrossReferenceError(("end",), f"end {self.end} is not after start {self.start}")
        if (self.end - self.start).days > 60 * 366:
            raise CrossReferenceError(("end",), "a horizon longer than 60 years is not supported")
        days = (self.end - self.start).days
        if self.warmup_days >= days:
            raise CrossReferenceError(
                ("warmup_days",),
                f"warm-up of {self.warmup_days:g} days is not shorter than the {days}-day "
                "horizon: no time would be left for queue statistics",
            )
        return self

    @property
    def hours(self) -> float:
        """Length of the horizon in hours."""
        return (self.end - self.start).days * 24.0


class Economics(Frozen):
    """Provider-side cost assumptions shared by every chip."""

    discount_rate_per_year: Annotated[float, Field(ge=-0.5, le=1.0, allow_inf_nan=False)] = Field(
        description="Cost of capital used for annuities and NPV."
    )
    depreciation_years: Annotated[float, Field(gt=0, le=30, allow_inf_nan=False)] = Field(
        description="Useful life of accelerator servers; also their retirement age."
    )
    pue: Annotated[float, Field(ge=1.0, le=3.0, allow_inf_nan=False)] = Field(
        description="Power usage effectiveness of the data centres."
    )
    electricity_usd_per_kwh: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False)]
    facility_usd_per_kw_year: Usd = Field(
        description="Data-centre cost per kW of provisioned IT power per year."
    )
    maintenance_fraction_per_year: Fraction = Field(
        description="Yearly maintenance as a fraction of chip and server capital."
    )
    host_power_overhead_fraction: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = Field(
        description="Host CPU, memory, network and fan power as a fraction of chip power."
    )
    engineer_usd_per_month: Usd = Field(description="Loaded cost of one engineer-month.")


class PricePoint(Frozen):
    """A step in a schedule: from `start` on, the value is `value`."""

    start: dt.date
    value: Annotated[float, Field(ge=0, le=1000, allow_inf_nan=False)]


class LeadTimeChange(Frozen):
    """From `start` on, orders to a vendor take `weeks` to arrive."""

    start: dt.date
    weeks: Annotated[float, Field(ge=0, le=520, allow_inf_nan=False)]


class AllocationCapChange(Frozen):
    """From `start` on, the vendor allocates at most `chips_per_quarter` (null: no cap)."""

    start: dt.date
    chips_per_quarter: ChipCount | None


class VendorSpec(Frozen):
    """A merchant chip vendor (Nvidia, AMD) as the provider's supplier and rival."""

    gross_margin_fraction: Fraction = Field(description="Vendor gross margin on its chips.")
    list_price_margin_fraction: Fraction | None = Field(
        default=None,
        description="Gross margin built into the catalog's chip prices (when they were "
        "observed). Set, a different gross_margin_fraction moves the price the provider "
        "pays: price = catalog price x (1 - this) / (1 - gross_margin_fraction). Null: "
        "prices do not follow the margin.",
    )
    street_price_multiplier: list[PricePoint] = Field(
        default_factory=list, description="Street price / list price from each date on (1 before)."
    )
    lead_time_weeks: Annotated[float, Field(ge=0, le=520, allow_inf_nan=False)] = Field(
        description="Weeks from order to delivery."
    )
    lead_time_changes: list[LeadTimeChange] = Field(
        default_factory=list,
        description="Lead time from each date on (lead_time_weeks applies before the first).",
    )
    allocation_cap_chips_per_quarter: ChipCount | None = Field(
        default=None, description="Most chips the vendor allocates the provider per quarter."
    )
    allocation_cap_changes: list[AllocationCapChange] = Field(
        default_factory=list,
        description="Allocation cap from each date on (allocation_cap_chips_per_quarter "
        "applies before the first; null lifts the cap).",
    )

    direct_cloud_share: list[PricePoint] = Field(
        default_factory=list,
        description="Share of demand for this vendor's chips served by its own cloud "
        "(e.g. DGX Cloud), bypassing the provider, from each date on.",
    )

    @model_validator(mode="after")
    def _margin(self) -> VendorSpec:
        if self.list_price_margin_fraction is not None and self.gross_margin_fraction >= 1.0:
            raise CrossReferenceError(
                ("gross_margin_fraction",),
                "a gross margin of 100% leaves no cost to price the chips from "
                "(list_price_margin_fraction is set)",
            )
        return self

    def margin_price_factor(self) -> float:
        """Chip price / catalog price implied by the margin: (1 - list margin) / (1 - margin).

        >>> VendorSpec(gross_margin_fraction=0.75, list_price_margin_fraction=0.5,
        ...            lead_time_weeks=1.0).margin_price_factor()
        2.0
        """
        if self.list_price_margin_fraction is None:
            return 1.0
        return (1.0 - self.list_price_margin_fraction) / (1.0 - self.gross_margin_fraction)


class Delivery(Frozen):
    """Chips added to a pool on a date."""

    date: dt.date
    chips: ChipCount


class PoolSpec(Frozen):
    """The provider's fleet of one chip type."""

    initial_chips: ChipCount = Field(default=0, description="Chips installed at the horizon start.")
    initial_age_years: Annotated[float, Field(ge=0, le=30, allow_inf_nan=False)] = Field(
        default=0.0, description="Age of the initial chips (they retire at depreciation_years)."
    )
    deliveries: list[Delivery] = Field(default_factory=list, description="Planned deliveries.")
    price_changes: list[PricePoint] = Field(
        default_factory=list, description="Multiplier on the on-demand price from each date on."
    )
    procure: bool = Field(default=False, description="Let the procurement policy order chips.")
    max_chips: ChipCount | None = Field(default=None, description="Cap on installed chips.")


class Procurement(Frozen):
    """Ordering toward forecast demand (applies to pools with procure: true)."""

    policy: Literal["none", "forecast"] = "none"
    review_interval_days: Annotated[float, Field(ge=1, le=3650, allow_inf_nan=False)] = 30.0
    target_utilization: PosFraction = Field(
        default=0.8, description="Utilisation the fleet is sized for."
    )
    forecast_window_days: Annotated[float, Field(ge=1, le=3650, allow_inf_nan=False)] = 90.0
    count_turned_away: bool = Field(
        default=False,
        description="Count in a pool's forecast demand the training jobs routed to it that "
        "would not wait and started on another of the provider's pools (demand the pool "
        "turned away), as serving's shortfall counts serving demand placed elsewhere; "
        "false: only jobs that left the provider count.",
    )


class InhouseGeneration(Frozen):
    """One generation of an in-house chip: its NRE, volume learning and supply."""

    nre_usd: Usd = Field(description="Non-recurring engineering cost of the generation.")
    nre_start: dt.date = Field(description="NRE is spent evenly from here to the chip's launch.")
    reference_volume_chips: PosFloat = Field(
        description="Cumulative volume at which unit cost equals the catalog unit_cost_usd."
    )
    learning_rate: PosFraction = Field(
        description="Unit cost multiplier per doubling of cumulative volume (Wright's law)."
    )
    foundry_cap_chips_per_quarter: ChipCount | None = Field(
        default=None, description="Most chips the foundry can deliver per quarter."
    )
    ramp_months: NonNegFloat = Field(
        default=0.0, description="Months after launch for supply to reach the foundry cap."
    )
    lead_time_weeks: Annotated[float, Field(ge=0, le=520, allow_inf_nan=False)] = Field(
        description="Weeks from order to delivery of the chip."
    )


class InhouseProgram(Frozen):
    """The provider's chip-design program (e.g. Annapurna Labs for AWS).

    Its costs are given at the provider's full size and charged at ``scale_fraction``, the
    share of the provider's AI accelerator business the scenario models; the same share
    turns the modelled in-house volume into the program's volume on the learning curve.
    """

    acquisition_usd: Usd = Field(default=0.0, description="Up-front cost of the design team.")
    acquisition_date: dt.date | None = None
    fixed_usd_per_year: Usd = Field(default=0.0, description="Program running cost per year.")
    reference_gpu: str = Field(
        description="The GPU the in-house chips are drawn against in figures (cost curves, "
        "learning curve)."
    )
    scale_fraction: PosFraction = Field(
        default=1.0,
        description="Share of the provider's AI accelerator business the scenario models: "
        "acquisition, fixed cost and NRE (full-size figures) are charged at this share, and "
        "the modelled in-house volume divided by it is the program's volume on the learning "
        "curve.",
    )
    include_sunk_costs: bool = Field(
        default=False,
        description="Count the costs spent before the horizon start (compounded to it at the "
        "discount rate) in the program's NPV, IRR, payback and break-even; by default they "
        "are reported as sunk and left out of the forward-looking value.",
    )
    generations: dict[str, InhouseGeneration] = Field(default_factory=dict)


class Provider(Frozen):
    """The cloud whose accelerator fleet is simulated."""

    name: str
    pools: dict[str, PoolSpec] = Field(description="Fleet per chip id.")
    procurement: Procurement = Procurement()
    pricing: Pricing
    inhouse_program: InhouseProgram | None = None


class Scheduling(Frozen):
    """How jobs are placed on pools."""

    policy: Literal["fifo", "backfill"] = Field(
        default="fifo", description="fifo: strict order; backfill: EASY backfilling."
    )
    backfill_depth: Annotated[int, Field(ge=1, le=1_000_000)] = Field(
        default=100,
        description="Queued jobs EASY backfill examines per pass (Slurm's bf_max_job_test "
        "default is 100: slurm.schedmd.com/slurm.conf.html).",
    )
    spill: dict[str, list[str]] = Field(
        default_factory=dict, description="Pools a job may run on when its own pool is full."
    )


class Outputs(Frozen):
    """Optional outputs of a run."""

    jobs_table: bool = Field(default=False, description="Write per-job records (jobs.parquet).")
    counterfactual: bool = Field(
        default=True,
        description="With an in-house program, also run the world without it (same seeds) "
        "and report the program's value (program_value in summary.json, "
        "program_value.parquet); doubles the run's cost.",
    )


class CalibrationRecord(Frozen):
    """What `xpusim calibrate` fitted, recorded in the calibrated scenario.

    ``bounds`` are the search bounds of the free parameters (``calibrate`` without
    ``--free`` refits them); ``intervals`` the 95% interval of each fitted value over
    ``seed_sets`` independent sets of ``replications`` seeds; ``holdout_residuals`` the
    relative errors at the fitted values on ``holdout_replications`` seeds from
    ``holdout_seed``, which no fit has seen (``xpusim verify`` re-simulates those).
    """

    targets: dict[str, float] = Field(default_factory=dict)
    target_sources: dict[str, str] = Field(default_factory=dict)
    measure: str = Field(default="", description="What the targets measure, and why.")
    free_parameters: dict[str, float] = Field(default_factory=dict)
    bounds: dict[str, list[float]] = Field(default_factory=dict)
    intervals: dict[str, list[float]] = Field(default_factory=dict)
    residuals: dict[str, float] = Field(default_factory=dict)
    replications: int = 1
    seed: int = 0
    seed_sets: int = 1
    holdout_seed: int | None = None
    holdout_replications: int | None = None
    holdout_residuals: dict[str, float] = Field(default_factory=dict)
    method: str = ""
    date: str = ""


class Scenario(Frozen):
    """A complete, resolved scenario: everything a run needs and records."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=80)
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = 0
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)] = 1
    horizon: Horizon
    economics: Economics
    catalog: Catalog
    vendors: dict[str, VendorSpec] = Field(default_factory=dict)
    provider: Provider
    segments: dict[str, Segment]
    adoption: Adoption = Adoption()
    scheduling: Scheduling = Scheduling()
    outputs: Outputs = Outputs()
    calibration: CalibrationRecord | None = None
    sources: dict[str, Any] = Field(
        default_factory=dict, description="Provenance of figures by key path (filled by loader)."
    )

    @model_validator(mode="after")
    def _references(self) -> Scenario:
        problems = reference_problems(self)
        if problems:
            raise problems[0]
        return self


def _date_in(h: Horizon, d: dt.date) -> bool:
    return h.start <= d < h.end


def reference_problems(s: Scenario) -> list[CrossReferenceError]:
    """All cross-reference errors of a scenario, each with the key path it concerns."""
    return [
        *_catalog_problems(s),
        *_vendor_problems(s),
        *_pool_problems(s),
        *_program_problems(s),
        *_pricing_problems(s),
        *_spill_problems(s),
        *(p for sid, seg in s.segments.items() for p in _segment_problems(s, sid, seg)),
        *_adoption_problems(s),
    ]


def _catalog_problems(s: Scenario) -> list[CrossReferenceError]:
    return [
        CrossReferenceError(
            ("catalog", "chips", cid, "stack"),
            f"unknown stack {chip.stack!r}; known: {sorted(s.catalog.stacks)}",
        )
        for cid, chip in s.catalog.chips.items()
        if chip.stack not in s.catalog.stacks
    ]


def _vendor_problems(s: Scenario) -> list[CrossReferenceError]:
    return [
        CrossReferenceError(
            ("vendors", vid), f"vendors lists merchant vendors only: {sorted(MERCHANT_VENDORS)}"
        )
        for vid in s.vendors
        if vid not in MERCHANT_VENDORS
    ]


def _pool_problems(s: Scenario) -> list[CrossReferenceError]:
    out: list[CrossReferenceError] = []
    chips = s.catalog.chips
    pools = s.provider.pools
    if not pools:
        out.append(CrossReferenceError(("provider", "pools"), "the provider has no pools"))
    for pid, pool in pools.items():
        if pid not in chips:
            out.append(
                CrossReferenceError(
                    ("provider", "pools", pid),
                    f"unknown chip {pid!r}; known chips: {sorted(chips)}",
                )
            )
            continue
        out.extend(_delivery_problems(s, pid, pool))
        vendor = chips[pid].vendor
        if pool.procure and vendor in MERCHANT_VENDORS and vendor not in s.vendors:
            out.append(
                CrossReferenceError(
                    ("provider", "pools", pid, "procure"),
                    f"pool {pid} procures from {vendor!r} but vendors has no such entry",
                )
            )
    return out


def _delivery_problems(s: Scenario, pid: str, pool: PoolSpec) -> list[CrossReferenceError]:
    """Planned deliveries inside the horizon and while the chip is on sale."""
    out: list[CrossReferenceError] = []
    chip = s.catalog.chips[pid]
    for i, d in enumerate(pool.deliveries):
        path: tuple[str | int, ...] = ("provider", "pools", pid, "deliveries", i, "date")
        if not _date_in(s.horizon, d.date):
            out.append(
                CrossReferenceError(
                    path,
                    f"delivery date {d.date} is outside the horizon "
                    f"[{s.horizon.start}, {s.horizon.end}): drop the delivery or move it "
                    "inside (calibrate and sensitivity drop later deliveries themselves when "
                    "they cut a run short)",
                )
            )
        elif d.date < chip.launch_date:
            out.append(
                CrossReferenceError(
                    path,
                    f"delivery date {d.date} is before {pid}'s general availability "
                    f"{chip.launch_date}",
                )
            )
        elif not chip.on_sale(d.date):
            out.append(
                CrossReferenceError(
                    path,
                    f"delivery date {d.date} is on or after {pid}'s end of sale "
                    f"{chip.end_of_sale_date}: the chip can no longer be bought"
                    + (f" (its successor is {chip.successor})" if chip.successor else ""),
                )
            )
    return out


def _pricing_problems(s: Scenario) -> list[CrossReferenceError]:
    comp = s.provider.pricing.competitive
    path: tuple[str | int, ...] = ("provider", "pricing", "competitive", "reference_gpu")
    if comp.reference_gpu is not None and comp.reference_gpu not in s.catalog.chips:
        return [
            CrossReferenceError(
                path,
                f"unknown chip {comp.reference_gpu!r}; known chips: {sorted(s.catalog.chips)}",
            )
        ]
    if (
        s.provider.pricing.policy == "competitive"
        and comp.reference_gpu is None
        and s.provider.inhouse_program is None
    ):
        return [
            CrossReferenceError(
                path,
                "the competitive policy needs a reference GPU (set this, or an in-house "
                "program's reference_gpu)",
            )
        ]
    return []


def _program_problems(s: Scenario) -> list[CrossReferenceError]:
    prog = s.provider.inhouse_program
    if prog is None:
        return []
    chips = s.catalog.chips
    out: list[CrossReferenceError] = []
    inhouse_pools = [p for p in s.provider.pools if p in chips and chips[p].inhouse]
    if not inhouse_pools:
        out.append(
            CrossReferenceError(
                ("provider", "inhouse_program"),
                "an in-house chip program needs a pool of an in-house chip, and the provider "
                f"has none (pools: {', '.join(s.provider.pools) or 'none'}); drop the program "
                "with `unset: [provider.inhouse_program]`",
            )
        )
    if prog.reference_gpu not in chips:
        out.append(
            CrossReferenceError(
                ("provider", "inhouse_program", "reference_gpu"),
                f"unknown chip {prog.reference_gpu!r}",
            )
        )
    for gid, gen in prog.generations.items():
        path: tuple[str | int, ...] = ("provider", "inhouse_program", "generations", gid)
        if gid not in chips:
            out.append(
                CrossReferenceError(path, f"unknown chip {gid!r}; known chips: {sorted(chips)}")
            )
        elif not chips[gid].inhouse:
            out.append(
                CrossReferenceError(
                    path, f"{gid} is a {chips[gid].vendor} chip, not an in-house one"
                )
            )
        elif gen.nre_start > chips[gid].launch_date:
            out.append(
                CrossReferenceError(
                    (*path, "nre_start"),
                    f"nre_start {gen.nre_start} is after the chip's launch "
                    f"{chips[gid].launch_date}",
                )
            )
    return out


def _spill_problems(s: Scenario) -> list[CrossReferenceError]:
    out: list[CrossReferenceError] = []
    for src, targets in s.scheduling.spill.items():
        for j, t in enumerate((src, *targets)):
            if t not in s.provider.pools:
                path: tuple[str | int, ...] = ("scheduling", "spill", src)
                if j:
                    path = (*path, j - 1)
                out.append(CrossReferenceError(path, f"{t!r} is not a pool of the provider"))
    return out


def _segment_problems(s: Scenario, sid: str, seg: Segment) -> list[CrossReferenceError]:
    out: list[CrossReferenceError] = [
        CrossReferenceError(
            ("segments", sid, "commitment", "shares", wl),
            f"the segment has no {wl} demand to commit",
        )
        for wl in (seg.commitment.shares if seg.commitment is not None else ())
        if getattr(seg, wl) is None
    ]
    known_features = {f for st in s.catalog.stacks.values() for f in st.features}
    for wl in WORKLOADS:
        demand = getattr(seg, wl)
        if demand is None:
            continue
        for feat in demand.requires_features:
            if feat not in known_features:
                out.append(
                    CrossReferenceError(
                        ("segments", sid, wl, "requires_features"),
                        f"unknown feature {feat!r}; known: {sorted(known_features)}",
                    )
                )
        shares = seg.platforms.get(wl, {})
        out.extend(_platform_problems(s, sid, wl, shares))
        if not shares:
            continue
        if seg.commitment is not None and wl in seg.commitment.shares:
            out.extend(
                _platform_problems(s, sid, wl, seg.commitment.shares[wl], ("commitment", "shares"))
            )
        for field in ("permitted", "excluded"):
            for j, pid in enumerate(getattr(seg, field).get(wl, ())):
                if pid not in s.provider.pools:
                    out.append(
                        CrossReferenceError(
                            ("segments", sid, field, wl, j),
                            f"{pid!r} is not a pool of the provider",
                        )
                    )
    return out


def _platform_problems(
    s: Scenario,
    sid: str,
    wl: str,
    shares: dict[str, float],
    field: tuple[str, ...] = ("platforms",),
) -> list[CrossReferenceError]:
    """A segment's shares of one workload (its initial ``platforms`` or its commitment's):
    known pools serving it, summing to 1."""
    if not shares:
        what = "initial" if field == ("platforms",) else "committed"
        return [
            CrossReferenceError(
                ("segments", sid, *field),
                f"segment has {wl} demand but no {what} {wl} platform",
            )
        ]
    out: list[CrossReferenceError] = []
    chips = s.catalog.chips
    base: tuple[str | int, ...] = ("segments", sid, *field, wl)
    for pid in shares:
        if pid not in s.provider.pools:
            out.append(CrossReferenceError((*base, pid), f"{pid!r} is not a pool of the provider"))
        elif pid in chips and wl not in chips[pid].workloads:
            out.append(CrossReferenceError((*base, pid), f"chip {pid} does not serve {wl}"))
    total = sum(shares.values())
    if abs(total - 1.0) > 1e-6:
        out.append(CrossReferenceError(base, f"{wl} shares sum to {total:g}, expected 1"))
    return out


def _adoption_problems(s: Scenario) -> list[CrossReferenceError]:
    return [
        CrossReferenceError(
            ("adoption", "stack_preference", stack),
            f"unknown stack {stack!r}; known: {sorted(s.catalog.stacks)}",
        )
        for stack in s.adoption.stack_preference
        if stack not in s.catalog.stacks
    ]
