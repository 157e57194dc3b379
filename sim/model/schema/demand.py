"""The demand sections of the schema: customer segments, their jobs and tokens, adoption.

A segment is a class of customers with training demand (gang-scheduled jobs arriving as a
Poisson process) and inference demand (a token rate), initial platform shares, and
attitudes to porting; :class:`Adoption` sets how customers choose platforms and how stacks
mature (see :mod:`sim.model.adoption`).
"""

from __future__ import annotations

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
    """How customers choose platforms and how stacks mature (see sim.model.adoption)."""

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
