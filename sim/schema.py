"""The scenario schema: one frozen pydantic model per YAML section.

Every quantity names its unit (``_usd``, ``_w``, ``_hours``, ``_per_year`` ...). Models are
``extra="forbid"`` and strict, so a typo'd key or a wrong type is an error, never a silent
default. Building a model has no side effects. Economic figures have no defaults in code: they
come from the shipped catalog (``sim/data``) or a scenario file, each with its source.

Cross-references (a pool naming a chip, a segment naming a pool ...) are checked by
:func:`reference_problems`, which returns the offending key path so that the loader can point
at the YAML line.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.rng import MAX_SEED

Workload = Literal["training", "inference"]
WORKLOADS: tuple[Workload, ...] = ("training", "inference")
Family = Literal["nvidia_gpu", "amd_gpu", "trainium", "inferentia", "tpu", "maia"]
Vendor = Literal["nvidia", "amd", "aws", "google", "microsoft"]
MERCHANT_VENDORS: frozenset[str] = frozenset({"nvidia", "amd"})

# Bounds that reject absurd input (a fleet of 1e30 chips, a 1e9-year horizon) long before
# they could exhaust memory or time; they are sanity limits, not economic figures.
MAX_CHIPS = 100_000_000
MAX_USD = 1e15
MAX_REPLICATIONS = 10_000

NonNegFloat = Annotated[float, Field(ge=0, allow_inf_nan=False)]
PosFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
PosFraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Usd = Annotated[float, Field(ge=0, le=MAX_USD, allow_inf_nan=False)]
ChipCount = Annotated[int, Field(ge=0, le=MAX_CHIPS)]
GrowthPerYear = Annotated[float, Field(ge=-0.99, le=100, allow_inf_nan=False)]


class Frozen(BaseModel):
    """Base of every section: immutable, strict types, unknown keys rejected."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=True)


class CrossReferenceError(ValueError):
    """A cross-reference error that knows the key path it concerns."""

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


# --------------------------------------------------------------------------- catalog


class ChipSpec(Frozen):
    """One accelerator type: its physics, costs and cloud price (shipped in sim/data/chips.yaml)."""

    name: str = Field(description="Marketing name of the chip.")
    vendor: Vendor = Field(description="Who designs it: a merchant vendor or a cloud.")
    family: Family = Field(description="Product family used to report usage shares.")
    stack: str = Field(description="Software stack id (a key of catalog.stacks).")
    launch_date: dt.date = Field(description="First general availability in a cloud.")
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
    cloud_price_usd_per_chip_hour: Usd = Field(description="On-demand price per chip-hour.")
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
        return self

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
    porting_engineer_months_training: NonNegFloat = Field(
        description="Engineer-months to port the reference training workload at maturity 0."
    )
    porting_engineer_months_inference: NonNegFloat = Field(
        description="Engineer-months to port the reference inference workload at maturity 0."
    )
    port_failure_probability: Fraction = Field(description="Chance a port fails at maturity 0.")
    features: dict[str, StackFeature] = Field(default_factory=dict)


class Catalog(Frozen):
    """Chips and software stacks; the shipped catalog, overridable by a scenario."""

    chips: dict[str, ChipSpec]
    stacks: dict[str, StackSpec]


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


class Pricing(Frozen):
    """How the provider bills chip-hours."""

    committed_fraction: Fraction = Field(description="Share of hours under commitments.")
    committed_discount_fraction: Fraction = Field(description="Discount on committed hours.")


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
    """The provider's chip-design program (e.g. Annapurna Labs for AWS)."""

    acquisition_usd: Usd = Field(default=0.0, description="Up-front cost of the design team.")
    acquisition_date: dt.date | None = None
    fixed_usd_per_year: Usd = Field(default=0.0, description="Program running cost per year.")
    reference_gpu: str = Field(description="Chip the program's savings are measured against.")
    generations: dict[str, InhouseGeneration] = Field(default_factory=dict)


class Provider(Frozen):
    """The cloud whose accelerator fleet is simulated."""

    name: str
    pools: dict[str, PoolSpec] = Field(description="Fleet per chip id.")
    procurement: Procurement = Procurement()
    pricing: Pricing
    inhouse_program: InhouseProgram | None = None


class JobSize(Frozen):
    """Distribution of a training job's work."""

    law: Literal["fixed", "exponential", "lognormal"]
    mean_pflop: PosFloat = Field(description="Mean work per job, PFLOP (1e15 FLOP).")
    sigma: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = Field(
        default=1.0, description="Shape of the lognormal (std of log size)."
    )


class Training(Frozen):
    """A segment's training demand: gang-scheduled jobs arriving as a Poisson process."""

    jobs_per_month: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]
    growth_per_year: GrowthPerYear = 0.0
    size: JobSize
    gang_chips: Annotated[int, Field(ge=1, le=1_000_000)]
    requires_features: list[str] = Field(default_factory=list)


class Inference(Frozen):
    """A segment's inference demand: a token rate the provider sizes serving capacity for."""

    tokens_per_s: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)] = Field(
        description="Mean output tokens/s at the horizon start."
    )
    growth_per_year: GrowthPerYear = 0.0
    daily_profile: list[NonNegFloat] = Field(
        default_factory=list, description="24 hourly multipliers of the mean (empty = flat)."
    )
    resize_interval_hours: Annotated[float, Field(ge=1, le=8760, allow_inf_nan=False)] = 24.0
    target_utilization: PosFraction = Field(
        default=0.7, description="Serving capacity is sized so the peak runs at this load."
    )
    requires_features: list[str] = Field(default_factory=list)
    tokens_per_query: PosFloat | None = Field(
        default=None, description="Output tokens per user query; enables per-query figures."
    )

    @model_validator(mode="after")
    def _profile(self) -> Inference:
        if self.daily_profile:
            if len(self.daily_profile) != 24:
                raise CrossReferenceError(
                    ("daily_profile",),
                    f"daily_profile needs 24 hourly values, found {len(self.daily_profile)}",
                )
            if sum(self.daily_profile) <= 0:
                raise CrossReferenceError(("daily_profile",), "daily_profile sums to zero")
        return self


class Segment(Frozen):
    """A class of customers with demand, lock-in and attitudes to porting."""

    description: str = ""
    customers: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=1, description="Independent decision makers in the segment."
    )
    internal: bool = Field(
        default=False, description="The provider's own work: not billed, not in customer shares."
    )
    training: Training | None = None
    inference: Inference | None = None
    platforms: dict[Workload, dict[str, Fraction]] = Field(
        description="Initial share of each workload per pool (chip id); shares sum to 1."
    )
    permitted: dict[Workload, list[str]] = Field(
        default_factory=dict,
        description="Pools a workload may move to (default: every pool serving it).",
    )
    risk_aversion: NonNegFloat = Field(
        default=1.0, description="Weight on the expected cost of a failed port."
    )
    switching_hurdle_fraction: NonNegFloat = Field(
        default=0.0, description="Relative saving demanded before leaving the current platform."
    )
    porting_scale: PosFloat = Field(
        default=1.0, description="Porting effort relative to the stack's reference workload."
    )
    planning_horizon_months: Annotated[float, Field(gt=0, le=240, allow_inf_nan=False)] = 24.0
    review_interval_months: Annotated[float, Field(gt=0, le=120, allow_inf_nan=False)] = 3.0


class Adoption(Frozen):
    """How customers choose platforms and how stacks mature (see sim/adoption.py)."""

    enabled: bool = True
    logit_scale: NonNegFloat = Field(
        default=5.0, description="Sensitivity of choice to log relative cost."
    )
    stack_preference: dict[str, dict[Workload, float]] = Field(
        default_factory=dict,
        description="Alternative-specific constants per stack and workload (calibrated).",
    )
    family_preference: dict[Family, Annotated[float, Field(ge=-50, le=50, allow_inf_nan=False)]] = (
        Field(
            default_factory=dict,
            description="Alternative-specific constants per chip family, any workload "
            "(calibrated; captures positioning such as Inferentia for inference).",
        )
    )
    preference_fades_with_maturity: bool = Field(
        default=True,
        description="Scale the stack and family constants by (1 - the stack's maturity): "
        "the unobserved preference for CUDA is a software gap that closes at parity.",
    )
    peer_influence: NonNegFloat = Field(
        default=0.0, description="Bass-style imitation: utility per unit share of peers."
    )
    max_fraction_per_review: Fraction = Field(
        default=0.25, description="Most of a customer's workload that moves at one review."
    )
    flywheel_strength: NonNegFloat = Field(
        default=0.0, description="Maturity gained per unit of cumulative usage share."
    )
    efficiency_floor: Fraction = Field(
        default=0.5, description="Software efficiency (achieved/CUDA-equal) at maturity 0."
    )
    port_months_at_zero_maturity: NonNegFloat = Field(
        default=6.0, description="Calendar months a port takes at maturity 0."
    )
    failure_delay_months: NonNegFloat = Field(
        default=3.0, description="Time lost by a failed port before it can be retried."
    )


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


class CalibrationRecord(Frozen):
    """What `xpusim calibrate` fitted, recorded in the calibrated scenario."""

    targets: dict[str, float] = Field(default_factory=dict)
    target_sources: dict[str, str] = Field(default_factory=dict)
    free_parameters: dict[str, float] = Field(default_factory=dict)
    residuals: dict[str, float] = Field(default_factory=dict)
    replications: int = 1
    seed: int = 0
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
    out: list[CrossReferenceError] = []
    chips = s.catalog.chips
    for cid, chip in chips.items():
        if chip.stack not in s.catalog.stacks:
            out.append(
                CrossReferenceError(
                    ("catalog", "chips", cid, "stack"),
                    f"unknown stack {chip.stack!r}; known: {sorted(s.catalog.stacks)}",
                )
            )
    for vid in s.vendors:
        if vid not in MERCHANT_VENDORS:
            out.append(
                CrossReferenceError(
                    ("vendors", vid),
                    f"vendors lists merchant vendors only: {sorted(MERCHANT_VENDORS)}",
                )
            )
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
        for i, d in enumerate(pool.deliveries):
            if not _date_in(s.horizon, d.date):
                out.append(
                    CrossReferenceError(
                        ("provider", "pools", pid, "deliveries", i, "date"),
                        f"delivery date {d.date} is outside the horizon "
                        f"[{s.horizon.start}, {s.horizon.end})",
                    )
                )
        if (
            pool.procure
            and chips[pid].vendor in MERCHANT_VENDORS
            and chips[pid].vendor not in s.vendors
        ):
            out.append(
                CrossReferenceError(
                    ("provider", "pools", pid, "procure"),
                    f"pool {pid} procures from {chips[pid].vendor!r} but vendors has no such entry",
                )
            )
    prog = s.provider.inhouse_program
    if prog is not None:
        if prog.reference_gpu not in chips:
            out.append(
                CrossReferenceError(
                    ("provider", "inhouse_program", "reference_gpu"),
                    f"unknown chip {prog.reference_gpu!r}",
                )
            )
        for gid, gen in prog.generations.items():
            if gid not in chips:
                out.append(
                    CrossReferenceError(
                        ("provider", "inhouse_program", "generations", gid),
                        f"unknown chip {gid!r}; known chips: {sorted(chips)}",
                    )
                )
            elif not chips[gid].inhouse:
                out.append(
                    CrossReferenceError(
                        ("provider", "inhouse_program", "generations", gid),
                        f"{gid} is a {chips[gid].vendor} chip, not an in-house one",
                    )
                )
            elif gen.nre_start > chips[gid].launch_date:
                out.append(
                    CrossReferenceError(
                        ("provider", "inhouse_program", "generations", gid, "nre_start"),
                        f"nre_start {gen.nre_start} is after the chip's launch "
                        f"{chips[gid].launch_date}",
                    )
                )
    for src, targets in s.scheduling.spill.items():
        for j, t in enumerate((src, *targets)):
            if t not in pools:
                path: tuple[str | int, ...] = ("scheduling", "spill", src)
                if j:
                    path = (*path, j - 1)
                out.append(CrossReferenceError(path, f"{t!r} is not a pool of the provider"))
    known_features = {f for st in s.catalog.stacks.values() for f in st.features}
    for sid, seg in s.segments.items():
        for wl in WORKLOADS:
            demand = getattr(seg, wl)
            shares = seg.platforms.get(wl, {})
            base: tuple[str | int, ...] = ("segments", sid, "platforms", wl)
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
            if not shares:
                out.append(
                    CrossReferenceError(
                        ("segments", sid, "platforms"),
                        f"segment has {wl} demand but no initial {wl} platform",
                    )
                )
                continue
            for pid in shares:
                if pid not in pools:
                    out.append(
                        CrossReferenceError((*base, pid), f"{pid!r} is not a pool of the provider")
                    )
                elif pid in chips and wl not in chips[pid].workloads:
                    out.append(CrossReferenceError((*base, pid), f"chip {pid} does not serve {wl}"))
            total = sum(shares.values())
            if abs(total - 1.0) > 1e-6:
                out.append(CrossReferenceError(base, f"{wl} shares sum to {total:g}, expected 1"))
            for j, pid in enumerate(seg.permitted.get(wl, ())):
                if pid not in pools:
                    out.append(
                        CrossReferenceError(
                            ("segments", sid, "permitted", wl, j),
                            f"{pid!r} is not a pool of the provider",
                        )
                    )
    for stack, prefs in s.adoption.stack_preference.items():
        if stack not in s.catalog.stacks:
            out.append(
                CrossReferenceError(
                    ("adoption", "stack_preference", stack),
                    f"unknown stack {stack!r}; known: {sorted(s.catalog.stacks)}",
                )
            )
        del prefs
    return out
