"""Software maturity, porting friction and platform choice: pure functions.

The mechanism behind the articles' 2023 figures (Trainium 0.5% and Inferentia 2.7% of Nvidia
GPU usage): a stack's maturity relative to CUDA rises on an exogenous logistic plus learning
from use (the flywheel); a workload can only move to a stack that has the features it needs;
moving costs engineer-months, takes time and may fail, all shrinking as maturity rises; an
immature stack delivers less of the chip's peak (a software-efficiency penalty). Customers
weigh these in a multinomial logit with alternative-specific constants (the unobserved CUDA
preference, calibrated), imitation of peers (Bass) and a switching hurdle.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

import numpy as np

from sim.model.schema import Adoption, StackSpec

K = TypeVar("K")
MATURITY_REFERENCE_YEAR = 2023.0  # maturity_start is the maturity on 2023-01-01


_COST_FLOOR_USD = 1e-300
"""Costs are floored here before their logarithm (an option that costs nothing)."""


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x > -700 else 0.0


def exogenous_maturity(stack: StackSpec, year: float) -> float:
    """Maturity relative to CUDA (0..1) from the stack's logistic, without learning by use.

    The logistic is rescaled so that it equals ``maturity_start`` in 2023.0 and tends to 1.

    >>> from sim.model.schema import StackSpec
    >>> s = StackSpec(name="n", vendor="aws", maturity_start=0.2, maturity_midpoint_year=2027.0,
    ...     maturity_steepness_per_year=1.0, porting_engineer_months_training=10,
    ...     porting_engineer_months_inference=2, port_failure_probability=0.3)
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

    >>> from sim.model.schema import StackSpec
    >>> s = StackSpec(name="n", vendor="aws", maturity_start=0.2, maturity_midpoint_year=2027.0,
    ...     maturity_steepness_per_year=1.0, porting_engineer_months_training=10,
    ...     porting_engineer_months_inference=2, port_failure_probability=0.3)
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


@dataclass(frozen=True)
class PortTerms:
    """What porting one workload to a stack costs at a given maturity."""

    cost_usd: float
    duration_hours: float
    failure_probability: float


def port_terms(
    stack: StackSpec,
    workload: str,
    maturity_value: float,
    *,
    porting_scale: float,
    engineer_usd_per_month: float,
    port_months_at_zero_maturity: float,
    hours_per_month: float,
) -> PortTerms:
    """Cost, duration and failure chance of a port, each shrinking linearly as maturity -> 1.

    >>> from sim.model.schema import StackSpec
    >>> s = StackSpec(name="n", vendor="aws", maturity_start=0.2, maturity_midpoint_year=2027.0,
    ...     maturity_steepness_per_year=1.0, porting_engineer_months_training=10,
    ...     porting_engineer_months_inference=2, port_failure_probability=0.3)
    >>> t = port_terms(s, "training", 0.5, porting_scale=2.0, engineer_usd_per_month=20000.0,
    ...     port_months_at_zero_maturity=6.0, hours_per_month=730.0)
    >>> t.cost_usd, t.duration_hours, t.failure_probability
    (200000.0, 2190.0, 0.15)
    """
    gap = 1.0 - min(1.0, max(0.0, maturity_value))
    months = (
        stack.porting_engineer_months_training
        if workload == "training"
        else stack.porting_engineer_months_inference
    )
    return PortTerms(
        cost_usd=months * porting_scale * gap * engineer_usd_per_month,
        duration_hours=port_months_at_zero_maturity * gap * hours_per_month,
        failure_probability=stack.port_failure_probability * gap,
    )


def logit_shares(utilities: Sequence[float] | np.ndarray) -> np.ndarray:
    """Multinomial-logit choice probabilities (numerically stable softmax).

    >>> logit_shares([0.0, 0.0]).tolist()
    [0.5, 0.5]
    >>> bool(logit_shares([1000.0, 0.0])[0] == 1.0)
    True
    """
    u = np.asarray(utilities, dtype=float)
    if u.size == 0:
        return u
    e = np.exp(u - u.max())
    return np.asarray(e / e.sum())


@dataclass(frozen=True)
class Option:
    """One platform a customer may put a workload on, as the customer sees it at a review."""

    pool: str
    stack: str
    family: str
    unit_cost_usd: float  # price per useful unit of work (PFLOP or million tokens)
    port_cost_usd: float  # 0 when the customer already runs on the stack
    port_failure_probability: float
    peer_share: float  # share of the segment's workload already on this stack
    current: bool  # the stack the customer mostly runs this workload on today
    maturity: float = 1.0  # the stack's maturity relative to CUDA now


class UtilityParts(NamedTuple):
    """One option's utility split into named terms (utility units; they add up to ``total``).

    The cost part of the utility, -logit_scale x log(expected cost), is split along the cost
    as it is built up: the work at the option's price, then porting, then risk, then the
    switching hurdle, each term the change in -logit_scale x log(cost) that its addition
    causes. ``constants`` are the stack and family preferences (after fading with maturity)
    and ``imitation`` the pull of peers. ``total`` is the utility exactly as
    :func:`option_utilities` computes it; the terms add up to it up to round-off.
    """

    price: float
    porting: float
    risk: float
    switching_hurdle: float
    constants: float
    imitation: float
    total: float


def option_utilities(
    options: Sequence[Option],
    *,
    volume_units: float,
    delay_cost_usd: float,
    risk_aversion: float,
    switching_hurdle_fraction: float,
    adoption: Adoption,
    workload: str,
) -> np.ndarray:
    """Utility of each option: minus scaled log expected cost, plus constants and imitation.

    The constants (stack and family preferences, calibrated) are weighted by (1 - maturity)
    of the option's stack when ``preference_fades_with_maturity``: at parity with CUDA the
    unexplained preference is gone [bi-2024-05: modest adoption unless Neuron reaches parity].

    Expected cost over the planning horizon = volume x unit cost + porting cost + risk
    aversion x failure probability x the cost of the delay a failed port causes. A stack other
    than the current one must beat it by the switching hurdle. :func:`utility_parts` gives
    the same utilities split into named terms.
    """
    utilities = []
    for o in options:
        cost = volume_units * o.unit_cost_usd + o.port_cost_usd
        cost += risk_aversion * o.port_failure_probability * delay_cost_usd
        if not o.current:
            cost *= 1.0 + switching_hurdle_fraction
        u = -adoption.logit_scale * math.log(max(cost, _COST_FLOOR_USD)) + _constants(
            o, adoption, workload
        )
        u += adoption.peer_influence * o.peer_share
        utilities.append(u)
    return np.asarray(utilities, dtype=float)


def utility_parts(
    options: Sequence[Option],
    *,
    volume_units: float,
    delay_cost_usd: float,
    risk_aversion: float,
    switching_hurdle_fraction: float,
    adoption: Adoption,
    workload: str,
) -> list[UtilityParts]:
    """The utilities of :func:`option_utilities`, each split into named terms.

    >>> from sim.model.schema import Adoption
    >>> o = Option(pool="p", stack="s", family="trainium", unit_cost_usd=2.0,
    ...     port_cost_usd=100.0, port_failure_probability=0.5, peer_share=0.5,
    ...     current=False, maturity=0.5)
    >>> ads = Adoption(logit_scale=1.0, peer_influence=2.0, family_preference={"trainium": -1.0})
    >>> kw = dict(volume_units=100.0, delay_cost_usd=200.0, risk_aversion=1.0,
    ...     switching_hurdle_fraction=0.1, adoption=ads, workload="training")
    >>> parts = utility_parts([o], **kw)[0]
    >>> bool(parts.total == option_utilities([o], **kw)[0])
    True
    >>> round(parts.price, 4), round(parts.porting, 4), round(parts.risk, 4)
    (-5.2983, -0.4055, -0.2877)
    >>> round(parts.switching_hurdle, 4), parts.constants, parts.imitation
    (-0.0953, -0.5, 1.0)
    >>> bool(abs(sum(parts[:-1]) - parts.total) < 1e-12)
    True
    """
    totals = option_utilities(
        options,
        volume_units=volume_units,
        delay_cost_usd=delay_cost_usd,
        risk_aversion=risk_aversion,
        switching_hurdle_fraction=switching_hurdle_fraction,
        adoption=adoption,
        workload=workload,
    )
    scale = adoption.logit_scale
    out = []
    for o, total in zip(options, totals, strict=True):
        work = volume_units * o.unit_cost_usd
        ported = work + o.port_cost_usd
        risky = ported + risk_aversion * o.port_failure_probability * delay_cost_usd
        hurdle = 1.0 if o.current else 1.0 + switching_hurdle_fraction
        out.append(
            UtilityParts(
                price=-scale * _log_cost(work),
                porting=-scale * (_log_cost(ported) - _log_cost(work)),
                risk=-scale * (_log_cost(risky) - _log_cost(ported)),
                switching_hurdle=-scale * (_log_cost(risky * hurdle) - _log_cost(risky)),
                constants=_constants(o, adoption, workload),
                imitation=adoption.peer_influence * o.peer_share,
                total=float(total),
            )
        )
    return out


def _log_cost(cost: float) -> float:
    return math.log(max(cost, _COST_FLOOR_USD))


def _constants(o: Option, adoption: Adoption, workload: str) -> float:
    """The option's stack and family constants, faded with maturity when so configured."""
    asc = adoption.stack_preference.get(o.stack, {}).get(workload, 0.0)  # type: ignore[call-overload]
    asc += adoption.family_preference.get(o.family, 0.0)  # type: ignore[call-overload]
    if adoption.preference_fades_with_maturity:
        asc *= 1.0 - min(1.0, max(0.0, o.maturity))
    return float(asc)


def move_toward(
    current: Mapping[K, float], target: Mapping[K, float], rate: float
) -> dict[K, float]:
    """Shares after moving a fraction `rate` of the way from `current` to `target`.

    >>> move_toward({"a": 1.0}, {"a": 0.5, "b": 0.5}, 0.5)
    {'a': 0.75, 'b': 0.25}
    """
    keys = list(dict.fromkeys([*current, *target]))
    return {
        k: current.get(k, 0.0) + rate * (target.get(k, 0.0) - current.get(k, 0.0)) for k in keys
    }
