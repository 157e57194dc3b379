"""Software maturity, porting friction, diffusion and platform choice: pure, vectorised.

The mechanism behind the articles' 2023 figures (Trainium 0.5% and Inferentia 2.7% of Nvidia
GPU usage [bi-2024-05]):

- a stack's *maturity* relative to CUDA rises on an exogenous logistic plus learning from use
  (the flywheel); it sets the stack's *software efficiency* (the share of the chip's peak the
  stack achieves, measured by public MFU benchmarks) and shrinks porting friction;
- a workload can only move to a stack that has the features it needs (*feature gates*, dated
  by release notes: FSDP on Neuron only from 2026-10-19);
- *porting friction* is sized in dollars and months per tier of port (a supported model, a
  model with custom kernels, a large-scale training stack): engineer-months times the
  segment's loaded cost, with a scarcity premium on an immature stack; and the *risk* that a
  port fails or overruns, valued as months of the program's compute spend it delays;
- customers weigh the options in a multinomial logit on the log of the expected cost over
  their planning horizon, with small residual constants per chip family;
- a customer *considers* a stack it does not yet run at the hazard of Bass diffusion,
  p + q x F with F the installed share of the stack among its peers (Bass, Krishnan & Jain
  1994: the generalized Bass model, whose hazard the economics then scales by the choice
  probability).

Every function takes and returns plain numbers or numpy arrays (customers x options), so a
review of a segment of a thousand customers is a handful of array operations.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from sim.model.schema import Adoption, StackSpec
from sim.model.schema.demand import Bass, PortTier, SizeDistribution

FloatArray = npt.NDArray[np.float64]

MATURITY_REFERENCE_YEAR = 2023.0  # maturity_start is the maturity on 2023-01-01

_COST_FLOOR_USD = 1e-300
"""Costs are floored here before their logarithm (an option that costs nothing)."""


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def exogenous_maturity(stack: StackSpec, year: float) -> float:
    """Maturity relative to CUDA (0..1) from the stack's logistic, without learning by use.

    The logistic is rescaled so that it equals ``maturity_start`` in 2023.0 and tends to 1.

    >>> s = example_stack()
    >>> exogenous_maturity(s, 2023.0)
    0.2
    >>> 0.2 < exogenous_maturity(s, 2027.0) < exogenous_maturity(s, 2030.0) < 1.0
    True
    """
    m0 = stack.maturity_start
    if m0 >= 1.0:
        return 1.0
    k = stack.maturity_steepness_per_year
    s0 = _sigmoid(k * (MATURITY_REFERENCE_YEAR - stack.maturity_midpoint_year))
    s = _sigmoid(k * (year - stack.maturity_midpoint_year))
    rel = (s - s0) / (1.0 - s0) if s0 < 1.0 else 0.0
    return min(1.0, max(0.0, m0 + (1.0 - m0) * rel))


def maturity(
    stack: StackSpec, year: float, cumulative_usage_share: float, flywheel_strength: float
) -> float:
    """Maturity with the flywheel: use of the stack (its share of cumulative chip-hours) adds.

    >>> s = example_stack()
    >>> maturity(s, 2023.0, 0.1, 1.0)
    0.30000000000000004
    >>> maturity(s, 2023.0, 5.0, 1.0)
    1.0
    """
    return min(1.0, exogenous_maturity(stack, year) + flywheel_strength * cumulative_usage_share)


def software_efficiency(maturity_value: float, floor: float) -> float:
    """Fraction of CUDA-equivalent throughput the stack achieves at this maturity.

    >>> software_efficiency(1.0, 0.5), software_efficiency(0.0, 0.5), software_efficiency(0.5, 0.5)
    (1.0, 0.5, 0.75)
    """
    return floor + (1.0 - floor) * min(1.0, max(0.0, maturity_value))


def feature_available(stack: StackSpec, feature: str, on: dt.date) -> bool:
    """Whether `feature` is usable on `stack` on date `on` (unknown features are not)."""
    f = stack.features.get(feature)
    return f is not None and f.available_from is not None and f.available_from <= on


def features_met(stack: StackSpec, required: Sequence[str], on: dt.date) -> bool:
    """Whether every required feature is available on the stack on date `on`."""
    return all(feature_available(stack, f, on) for f in required)


def missing_features(stack: StackSpec, required: Sequence[str], on: dt.date) -> list[str]:
    """The required features the stack lacks on date `on`, in the order required."""
    return [f for f in required if not feature_available(stack, f, on)]


# --------------------------------------------------------------------------- populations


def customer_weights(n: int, sizes: SizeDistribution, anchors: Sequence[float]) -> FloatArray:
    """Each customer's share of its segment's demand: the anchors' shares first, then the
    rest spread over the other ``n - len(anchors)`` customers by the size distribution's
    quantiles at (k - 0.5) / m (largest first), so the population has no sampling noise.

    >>> customer_weights(3, SizeDistribution(), [0.5]).tolist()
    [0.5, 0.25, 0.25]
    >>> w = customer_weights(4, SizeDistribution(law="pareto", tail_index=1.1), [])
    >>> round(float(w.sum()), 12), bool(w[0] > 2 * w[1] > 0)
    (1.0, True)
    """
    k = len(anchors)
    m = n - k
    if m <= 0:
        a = np.asarray(anchors, dtype=float)
        return np.asarray(a / a.sum())
    u = (np.arange(m) + 0.5) / m  # upper-tail probabilities, largest customer first
    if sizes.law == "pareto":
        raw = u ** (-1.0 / sizes.tail_index)
    elif sizes.law == "lognormal":
        from scipy.special import ndtri  # deferred: only populations with lognormal sizes

        raw = np.exp(sizes.sigma * ndtri(1.0 - u))
    else:
        raw = np.ones(m)
    rest = (1.0 - float(sum(anchors))) * raw / raw.sum()
    return np.concatenate([np.asarray(anchors, dtype=float), rest])


# --------------------------------------------------------------------------- friction


class PortTerms(NamedTuple):
    """What a port of one tier to one stack takes at the stack's maturity now."""

    engineer_months: float  # effort, scarcity and friction scale included
    calendar_months: float  # time to production
    failure_probability: float

    def expected_delay_months(self, overrun_fraction: float) -> float:
        """Months a port delays the program in expectation: all of its time if it fails, its
        overrun if it succeeds.

        >>> round(PortTerms(10.0, 6.0, 0.25).expected_delay_months(0.3), 6)
        2.85
        """
        p = self.failure_probability
        return self.calendar_months * (p + (1.0 - p) * overrun_fraction)


def _tier_figures(stack: StackSpec, tier: PortTier) -> tuple[float, float]:
    if tier == "a":
        return stack.porting_engineer_months_a, stack.porting_calendar_months_a
    if tier == "b":
        return stack.porting_engineer_months_b, stack.porting_calendar_months_b
    return stack.porting_engineer_months_c, stack.porting_calendar_months_c


def port_terms(
    stack: StackSpec,
    tier: PortTier,
    maturity_value: float,
    *,
    failure_at_zero_maturity: Mapping[PortTier, float],
    friction_scale: float = 1.0,
) -> PortTerms:
    """Effort, time and failure chance of a port of ``tier`` to ``stack`` at this maturity.

    The catalog's effort and time are quoted at the stack's 2023 maturity
    (``maturity_start``) and shrink with the remaining gap, (1 - m) / (1 - maturity_start);
    effort carries the scarcity premium 1 + s0 (1 - m) of engineers who know the stack; the
    failure chance is p0 x sqrt(1 - m). A stack at parity (m = 1) costs nothing to port to.

    >>> t = port_terms(example_stack(), "c", 0.6, failure_at_zero_maturity={"c": 0.36})
    >>> round(t.engineer_months, 3), round(t.calendar_months, 3), round(t.failure_probability, 3)
    (48.0, 5.0, 0.228)
    """
    m = min(1.0, max(0.0, maturity_value))
    m0 = stack.maturity_start
    gap = (1.0 - m) / (1.0 - m0) if m0 < 1.0 else 0.0
    effort, months = _tier_figures(stack, tier)
    scarcity = 1.0 + stack.scarcity_at_zero_maturity * (1.0 - m)
    p0 = failure_at_zero_maturity.get(tier, 0.0)
    return PortTerms(
        engineer_months=effort * gap * scarcity * friction_scale,
        calendar_months=months * gap * friction_scale,
        failure_probability=p0 * math.sqrt(1.0 - m),
    )


# --------------------------------------------------------------------------- diffusion


def consideration_probability(bass: Bass | None, installed_share: float, dt_years: float) -> float:
    """Chance that a customer considers a stack it does not run, over one review interval.

    Bass diffusion: the hazard is p + q x F, F the installed share among peers; without a
    Bass block every review considers every stack.

    >>> b = Bass(innovation_per_year=0.1, imitation_per_year=0.4)
    >>> [round(consideration_probability(b, f, 1.0), 4) for f in (0.0, 0.5)]
    [0.0952, 0.2592]
    >>> consideration_probability(None, 0.0, 1.0)
    1.0
    """
    if bass is None:
        return 1.0
    hazard = bass.innovation_per_year + bass.imitation_per_year * installed_share
    return 1.0 - math.exp(-hazard * dt_years)


# --------------------------------------------------------------------------- choice


class UtilityParts(NamedTuple):
    """The utility of every (customer, option) split into named terms (utility units).

    The cost part, -logit_scale x log(expected cost), is split along the cost as it is built
    up: the work at the option's price with CUDA-equal software (``price``), the extra work
    an immature stack needs (``efficiency``), the engineers' porting cost (``porting``), the
    risk-weighted cost of the delay a failed or late port causes (``risk``), the switching
    hurdle (``hurdle``); each term is the change in -logit_scale x log(cost) that its
    addition causes. ``constants`` are the residual stack and family constants. The terms
    add up to ``total`` up to round-off.
    """

    price: FloatArray
    efficiency: FloatArray
    porting: FloatArray
    risk: FloatArray
    hurdle: FloatArray
    constants: FloatArray
    total: FloatArray


UTILITY_TERMS: tuple[str, ...] = (
    "price",
    "efficiency",
    "porting",
    "risk",
    "hurdle",
    "constants",
)
"""The named terms of :class:`UtilityParts` that add up to its total."""


def _log_cost(cost: FloatArray) -> FloatArray:
    return np.log(np.maximum(cost, _COST_FLOOR_USD))


def utility_parts(
    *,
    volume_units: FloatArray,
    unit_usd: FloatArray,
    efficiency: FloatArray,
    port_usd: FloatArray,
    risk_usd: FloatArray,
    hurdle_fraction: FloatArray,
    constants: FloatArray,
    logit_scale: float,
) -> UtilityParts:
    """Utilities of every customer (rows) for every option (columns), in named parts.

    ``volume_units`` (customers): work each customer expects over its planning horizon;
    ``unit_usd`` and ``efficiency`` (options): price per useful unit at the stack's current
    efficiency, and that efficiency; ``port_usd``, ``risk_usd`` and ``hurdle_fraction``
    (customers x options): porting cost, risk-weighted delay cost and switching hurdle
    (zero where the customer already runs the stack); ``constants`` (options).

    >>> p = utility_parts(volume_units=np.array([100.0]), unit_usd=np.array([2.0, 4.0]),
    ...     efficiency=np.array([1.0, 0.5]), port_usd=np.array([[0.0, 100.0]]),
    ...     risk_usd=np.array([[0.0, 100.0]]), hurdle_fraction=np.array([[0.0, 0.0]]),
    ...     constants=np.array([0.0, -0.1]), logit_scale=1.0)
    >>> [round(float(getattr(p, t)[0, 1]), 4) + 0.0 for t in UTILITY_TERMS]
    [-5.2983, -0.6931, -0.2231, -0.1823, 0.0, -0.1]
    >>> bool(abs(sum(getattr(p, t) for t in UTILITY_TERMS) - p.total).max() < 1e-12)
    True
    """
    beta = logit_scale
    work = volume_units[:, None] * unit_usd[None, :]
    parity = work * efficiency[None, :]
    ported = work + port_usd
    risky = ported + risk_usd
    hurdled = risky * (1.0 + hurdle_fraction)
    l_parity, l_work, l_ported = _log_cost(parity), _log_cost(work), _log_cost(ported)
    l_risky, l_hurdled = _log_cost(risky), _log_cost(hurdled)
    # each row a copy of the options' constants, laid out by column as a copy of the
    # broadcast view was (matrix products round by layout: the records stay the same)
    const = np.empty(work.shape, order="F")
    const[...] = constants[None, :]
    return UtilityParts(
        price=-beta * l_parity,
        efficiency=-beta * (l_work - l_parity),
        porting=-beta * (l_ported - l_work),
        risk=-beta * (l_risky - l_ported),
        hurdle=-beta * (l_hurdled - l_risky) + 0.0,
        constants=const,
        total=-beta * l_hurdled + constants[None, :],
    )


def choice_probabilities(utilities: FloatArray) -> FloatArray:
    """Multinomial-logit probabilities of each row's options (numerically stable softmax).

    >>> choice_probabilities(np.array([[0.0, 0.0], [1000.0, 0.0]])).tolist()
    [[0.5, 0.5], [1.0, 0.0]]
    """
    if utilities.size == 0:
        return np.asarray(utilities, dtype=float)
    e = np.exp(utilities - utilities.max(axis=1, keepdims=True))
    return np.asarray(e / e.sum(axis=1, keepdims=True))


def residual_constant(
    adoption: Adoption, stack: str, family: str, workload: str, maturity_value: float
) -> float:
    """The option's residual stack and family constant, faded with maturity if so configured.

    >>> a = Adoption(family_preference={"trainium": -0.4})
    >>> residual_constant(a, "neuron", "trainium", "training", 0.5)
    -0.2
    """
    asc = adoption.stack_preference.get(stack, {}).get(workload, 0.0)  # type: ignore[call-overload]
    asc += adoption.family_preference.get(family, 0.0)  # type: ignore[call-overload]
    if adoption.preference_fades_with_maturity:
        asc *= 1.0 - min(1.0, max(0.0, maturity_value))
    return float(asc)


def example_stack() -> StackSpec:
    """A Neuron-like stack with round numbers, for the examples in this module's docstrings.

    >>> example_stack().porting_engineer_months_c
    80.0
    """
    return StackSpec(
        name="example",
        vendor="aws",
        maturity_start=0.2,
        maturity_midpoint_year=2027.0,
        maturity_steepness_per_year=1.0,
        porting_engineer_months_a=1.0,
        porting_engineer_months_b=4.0,
        porting_engineer_months_c=80.0,
        porting_calendar_months_a=1.0,
        porting_calendar_months_b=3.0,
        porting_calendar_months_c=10.0,
        scarcity_at_zero_maturity=0.5,
    )
