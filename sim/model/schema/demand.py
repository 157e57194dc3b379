"""The demand sections of the schema: customer segments, their jobs and tokens, adoption.

A segment is a class of customers with training demand (gang-scheduled jobs arriving as a
Poisson process) and inference demand (a token rate), initial platform shares, and
attitudes to porting. Its customers are a population: a number of decision makers whose
sizes (shares of the segment's demand) follow a heavy-tailed distribution, with named
*anchor* customers holding stated shares. :class:`Adoption` sets how customers choose
platforms, how friction is valued and how stacks mature (see :mod:`sim.model.adoption`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.model.schema.base import (
    CrossReferenceError,
    Family,
    Fraction,
    Frozen,
    GrowthPerYear,
    NonNegFloat,
    PosFloat,
    PosFraction,
    Usd,
    Workload,
)


class JobSize(Frozen):
    """Distribution of a training job's work."""

    law: Literal["fixed", "exponential", "lognormal"]
    mean_pflop: PosFloat = Field(description="Mean work per job, PFLOP (1e15 FLOP).")
    sigma: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = Field(
        default=1.0, description="Shape of the lognormal (std of log size)."
    )


class Patience(Frozen):
    """How long a segment's training jobs wait for chips, and where they go when they will
    not (see :mod:`sim.engine.training`).

    A job whose expected wait at arrival exceeds ``days`` balks; a queued job still waiting
    after ``days`` reneges. Either first moves to another pool its segment runs that can
    start it at once; failing that it leaves the provider: to another cloud (its revenue is
    lost) for a share ``other_cloud_fraction`` of such jobs, abandoned for the rest.
    """

    days: PosFloat = Field(description="Longest wait a job accepts, days.")
    other_cloud_fraction: Fraction = Field(
        description="Of the jobs that leave the provider, the share run on another cloud "
        "(the rest are abandoned)."
    )


class Training(Frozen):
    """A segment's training demand: gang-scheduled jobs arriving as a Poisson process."""

    jobs_per_month: Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]
    growth_per_year: GrowthPerYear = 0.0
    size: JobSize
    gang_chips: Annotated[int, Field(ge=1, le=1_000_000)]
    requires_features: list[str] = Field(default_factory=list)
    patience: Patience | None = Field(
        default=None, description="How long jobs wait (null: they wait for ever)."
    )


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


PortTier = Literal["a", "b", "c"]
"""How big a port is: ``a`` a model the stack already supports (days), ``b`` a model with
unsupported operators or custom kernels (weeks to months), ``c`` a large-scale training
stack with its parallelism (quarters of a team)."""

PORT_TIERS: tuple[PortTier, ...] = ("a", "b", "c")


def _default_tiers() -> dict[Workload, PortTier]:
    """Training ports a large-scale training stack, inference a supported model."""
    return {"training": "c", "inference": "a"}


class SizeDistribution(Frozen):
    """How the segment's demand is shared among its customers (other than the anchors).

    Sizes are the distribution's quantiles at (k - 0.5) / n for the n customers, normalised:
    a representative population with no sampling noise.
    """

    law: Literal["equal", "pareto", "lognormal"] = Field(
        default="equal", description="equal: every customer the same size."
    )
    tail_index: Annotated[float, Field(gt=0.1, le=20, allow_inf_nan=False)] = Field(
        default=1.1, description="Pareto tail index alpha (smaller: heavier tail)."
    )
    sigma: Annotated[float, Field(ge=0, le=5, allow_inf_nan=False)] = Field(
        default=1.0, description="Lognormal shape (std of log size)."
    )


class Commitment(Frozen):
    """A negotiated anchor commitment: from ``start`` the segment places its work on the
    committed pools whatever the cost comparison says.

    The deal is an input (for example Amazon's investment in Anthropic, tied to AWS's
    chips), not an outcome of the adoption model: the committed workloads leave the
    segment's reviews, its customers run the committed pools' stacks (the deal includes
    the port), and their shares move linearly from the shares they held at ``start`` to
    ``shares`` over ``ramp_months``, re-set monthly (see :mod:`sim.engine.decisions`).
    """

    start: dt.date = Field(description="First day of the commitment.")
    ramp_months: NonNegFloat = Field(
        default=0.0, description="Months over which the shares reach the committed shares."
    )
    shares: dict[Workload, dict[str, Fraction]] = Field(
        description="Committed share of each workload per pool (chip id); shares sum to 1."
    )


class Segment(Frozen):
    """A class of customers with demand, lock-in and attitudes to porting."""

    description: str = ""
    customers: Annotated[int, Field(ge=1, le=100_000)] = Field(
        default=1, description="Independent decision makers in the segment (anchors included)."
    )
    size_distribution: SizeDistribution = Field(
        default_factory=SizeDistribution,
        description="Sizes of the customers other than the anchors.",
    )
    anchors: dict[str, Fraction] = Field(
        default_factory=dict,
        description="Named customers and their share of the segment's demand (the rest is "
        "spread over the other customers by size_distribution).",
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
    excluded: dict[Workload, list[str]] = Field(
        default_factory=dict,
        description="Pools a workload never moves to (e.g. a chip marketed for the other one).",
    )
    risk_aversion: NonNegFloat = Field(
        default=1.0, description="Weight on the expected cost of a failed port."
    )
    switching_hurdle_fraction: NonNegFloat = Field(
        default=0.0, description="Relative saving demanded before leaving the current platform."
    )
    porting_scale: PosFloat = Field(
        default=1.0,
        description="Porting effort (engineer-months) relative to the stack's tier figure: "
        "the segment's code base and the vendor's help.",
    )
    porting_tier: dict[Workload, PortTier] = Field(
        default_factory=_default_tiers,
        description="Size of a port of each workload (a: supported model, b: custom "
        "kernels, c: large-scale training stack).",
    )
    engineer_usd_per_month: Usd | None = Field(
        default=None,
        description="Loaded cost of the segment's engineer-month (default: the economics one).",
    )
    planning_horizon_months: Annotated[float, Field(gt=0, le=240, allow_inf_nan=False)] = 24.0
    review_interval_months: Annotated[float, Field(gt=0, le=120, allow_inf_nan=False)] = 3.0
    commitment: Commitment | None = Field(
        default=None,
        description="A negotiated commitment that places workloads on named pools from a "
        "date, outside the cost comparison (null: none).",
    )

    @model_validator(mode="after")
    def _anchors(self) -> Segment:
        n, k = self.customers, len(self.anchors)
        total = sum(self.anchors.values())
        if k > n:
            raise CrossReferenceError(
                ("anchors",), f"{k} anchors but only {n} customers (anchors are customers)"
            )
        if k == n and k and abs(total - 1.0) > 1e-6:
            raise CrossReferenceError(
                ("anchors",),
                f"every customer is an anchor, so their shares must sum to 1, found {total:g}",
            )
        if k < n and total >= 1.0:
            raise CrossReferenceError(
                ("anchors",),
                f"anchor shares sum to {total:g}, leaving nothing for the other {n - k} customers",
            )
        return self


class Bass(Frozen):
    """Bass diffusion of a new software stack among a segment's customers.

    At a review a customer *considers* porting to a stack it does not run with probability
    1 - exp(-(p + q F) dt), F the installed share of the stack among its peers (the segment's
    customers, weighted by size); one that considers then chooses by the logit.
    """

    innovation_per_year: Annotated[float, Field(ge=0, le=50, allow_inf_nan=False)] = Field(
        description="p: hazard of considering a stack no peer runs yet, per year."
    )
    imitation_per_year: Annotated[float, Field(ge=0, le=50, allow_inf_nan=False)] = Field(
        description="q: added hazard per unit installed share among peers, per year."
    )


class Adoption(Frozen):
    """How customers choose platforms and how stacks mature (see sim.model.adoption)."""

    enabled: bool = True
    decisions: Literal["expected", "sampled"] = Field(
        default="expected",
        description="expected: each customer moves by the expected outcome of its choice "
        "(no decision noise); sampled: one random choice per customer and review.",
    )
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
    bass: Bass | None = Field(
        default=None,
        description="Bass diffusion of new stacks (null: every review considers every stack).",
    )
    friction_scale: PosFloat = Field(
        default=1.0,
        description="Multiplier on every porting effort and porting time (so on porting cost "
        "and on the value of delay): 1 = the sourced central figures.",
    )
    failure_probability_at_zero_maturity: dict[PortTier, Fraction] = Field(
        default_factory=dict,
        description="Chance a port of each tier fails at maturity 0; it falls as "
        "sqrt(1 - maturity). Missing tiers never fail.",
    )
    overrun_fraction: NonNegFloat = Field(
        default=0.0, description="Expected overrun of a successful port, fraction of its time."
    )
    delay_months_of_compute: NonNegFloat = Field(
        default=0.0,
        description="Value of one month of delay to a program, in months of its compute spend.",
    )
    residual_bound_fraction: Fraction = Field(
        default=0.25,
        description="Largest share of the CUDA-vs-in-house utility gap a residual constant "
        "may carry (checked by verify and the tests, not used by the model).",
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
    failure_delay_months: NonNegFloat = Field(
        default=3.0, description="Months after a failed port before the stack is considered again."
    )
