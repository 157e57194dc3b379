"""How big a run is, known before it runs: the engine's events estimated from the scenario.

:func:`estimate_events` counts, for one replication, what the engine counts in
``EngineLog.events`` (one event per training arrival, per job end, per serving re-size, per
monthly tick, per procurement review, per customer review of a segment, per planned
delivery, per chip retirement), from the scenario alone:

- training arrivals: the expected count of the segment's Poisson process, its rate
  integrated over the horizon with its growth, ``rate0 * (exp(g H) - 1) / g`` with
  ``g = log(1 + growth_per_year)`` per hour; every arrival is counted twice (it arrives and
  later ends), an upper bound since jobs still running or queued at the end never end;
- serving: one re-size per ``resize_interval_hours`` per segment with inference demand;
- one tick per calendar month; one procurement review per ``review_interval_days`` under
  the forecast policy; one review per ``review_interval_months`` per segment when adoption
  is on;
- supply: the planned deliveries inside the horizon and the retirements due inside it of the
  initial fleet and of those deliveries (forecast orders depend on demand met, so they are
  not counted: they are few next to jobs and re-sizes).

It also counts ``customer_decisions``: at each review every customer of the segment chooses
a platform for each of its workloads. The engine books one event per segment review, but
the work of a review grows with its customers, so the size bound of a run,
:func:`run_size`, counts each decision like an event. Nothing here runs the model or does
I/O; the count is exact for the deterministic parts and an expectation for arrivals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.errors import UserError
from sim.model.schema import Scenario
from sim.model.timeline import Clock
from sim.model.units import HOURS_PER_DAY, HOURS_PER_MONTH, HOURS_PER_YEAR

__all__ = ["MAX_RUN_EVENTS", "EventEstimate", "check_run_size", "estimate_events", "run_size"]

#: Most events (and customer decisions) a run of all its replications may need before it is
#: refused without ``--allow-large``: about two minutes of engine time at the benchmark's
#: 150,000 events/s, and a few GB of job records at most for one replication. The shipped
#: scenarios need at most 2.5 million (the baseline's eight replications): an assumption
#: that leaves eight times the largest shipped run for scenarios of one's own.
MAX_RUN_EVENTS = 20_000_000


@dataclass(frozen=True)
class EventEstimate:
    """Expected engine events of one replication, by source (see the module docstring)."""

    training_arrivals: float
    serving_resizes: float
    monthly_ticks: float
    procurement_reviews: float
    segment_reviews: float
    supply: float
    customer_decisions: float

    @property
    def events(self) -> float:
        """What the engine would count in ``EngineLog.events`` (arrivals count twice)."""
        return (
            2.0 * self.training_arrivals
            + self.serving_resizes
            + self.monthly_ticks
            + self.procurement_reviews
            + self.segment_reviews
            + self.supply
        )

    @property
    def total(self) -> float:
        """Events plus customer decisions: the size that :data:`MAX_RUN_EVENTS` bounds."""
        return self.events + self.customer_decisions


def _arrivals(jobs_per_month: float, growth_per_year: float, horizon_h: float) -> float:
    """Expected arrivals of a Poisson process with rate ``rate0 * (1 + growth)^(t / year)``.

    >>> round(_arrivals(10.0, 0.0, 12 * HOURS_PER_MONTH))
    120
    >>> round(_arrivals(10.0, 1.0, HOURS_PER_YEAR))  # doubling over the year: 120 / ln 2
    173
    """
    rate0 = jobs_per_month / HOURS_PER_MONTH
    if rate0 <= 0:
        return 0.0
    g = math.log1p(growth_per_year) / HOURS_PER_YEAR
    if g == 0.0:
        return rate0 * horizon_h
    try:
        return rate0 * math.expm1(g * horizon_h) / g
    except OverflowError:
        return math.inf


def _ticks(horizon_h: float, step_h: float) -> float:
    """Times ``k * step_h`` (k >= 1) strictly inside the horizon."""
    return float(max(math.ceil(horizon_h / step_h) - 1, 0))


def estimate_events(scenario: Scenario) -> EventEstimate:
    """The events of one replication of ``scenario``, by source, before running it."""
    clock = Clock(scenario.horizon.start, scenario.horizon.end)
    horizon_h = clock.horizon_hours
    life_h = scenario.economics.depreciation_years * HOURS_PER_YEAR
    arrivals = resizes = reviews = decisions = 0.0
    review_on = scenario.adoption.enabled
    for seg in scenario.segments.values():
        workloads = 0
        if seg.training is not None:
            workloads += 1
            arrivals += _arrivals(
                seg.training.jobs_per_month, seg.training.growth_per_year, horizon_h
            )
        if seg.inference is not None:
            workloads += 1
            resizes += math.ceil(horizon_h / seg.inference.resize_interval_hours)
        if review_on:
            n = _ticks(horizon_h, seg.review_interval_months * HOURS_PER_MONTH)
            reviews += n
            decisions += n * seg.customers * workloads
    procurement = scenario.provider.procurement
    reviews_procurement = (
        _ticks(horizon_h, procurement.review_interval_days * HOURS_PER_DAY)
        if procurement.policy == "forecast"
        else 0.0
    )
    supply = 0.0
    for pool in scenario.provider.pools.values():
        remaining = life_h - pool.initial_age_years * HOURS_PER_YEAR
        if pool.initial_chips > 0 and 0 < remaining < horizon_h:
            supply += 1  # the initial fleet retires inside the horizon
        for d in pool.deliveries:
            t = clock.hours(d.date)
            if 0 <= t < horizon_h:
                supply += 1 + (t + life_h < horizon_h)
    return EventEstimate(
        training_arrivals=arrivals,
        serving_resizes=resizes,
        monthly_ticks=float(len(clock.month_starts)),
        procurement_reviews=reviews_procurement,
        segment_reviews=reviews,
        supply=supply,
        customer_decisions=decisions,
    )


def run_size(scenario: Scenario, replications: int | None = None) -> float:
    """Events plus customer decisions of a run of ``replications`` (default: the scenario's)."""
    reps = scenario.replications if replications is None else replications
    return reps * estimate_events(scenario).total


def _count(x: float) -> str:
    """A count for a message: '2,345,678', or '3.1e+121' when huge.

    >>> _count(2345678.4), _count(3.1e121), _count(math.inf)
    ('2,345,678', '3.1e+121', 'too many to count')
    """
    if not math.isfinite(x):
        return "too many to count"
    return f"{x:,.0f}" if x < 1e15 else f"{x:.2g}"


def check_run_size(
    scenario: Scenario,
    *,
    replications: int | None = None,
    evaluations: int = 1,
    limit: float | None = None,
    file: str | None = None,
) -> float:
    """The size of ``evaluations`` runs of ``replications`` each (default: the scenario's);
    a :class:`~sim.errors.UserError` when it exceeds ``limit`` (default
    :data:`MAX_RUN_EVENTS`).

    The message gives the estimate and its largest sources; ``--allow-large`` lifts the cap.
    """
    limit = MAX_RUN_EVENTS if limit is None else limit
    reps = scenario.replications if replications is None else replications
    est = estimate_events(scenario)
    total = evaluations * reps * est.total
    if total <= limit:
        return total
    parts = {
        "training jobs": 2.0 * est.training_arrivals,
        "serving re-sizes": est.serving_resizes,
        "customer decisions": est.customer_decisions,
        "reviews and ticks": est.segment_reviews + est.procurement_reviews + est.monthly_ticks,
    }
    largest = sorted(parts.items(), key=lambda kv: -kv[1])[:2]
    per = ", ".join(f"{name} {_count(v)}" for name, v in largest if v > 0)
    times = f"{evaluations:,} evaluations x " if evaluations != 1 else ""
    years = scenario.horizon.hours / HOURS_PER_YEAR
    raise UserError(
        f"the run is too large: about {_count(total)} events ({times}{reps:,} "
        f"replication{'s' if reps != 1 else ''} x {_count(est.total)} on a {years:.1f}-year "
        f"horizon: {per})",
        file=file,
        expected=f"at most {_count(limit)}",
        hint="shorten the horizon, lower demand growth or replications, "
        "or pass --allow-large to run it anyway",
    )
