"""Closed-form queueing results used to validate the discrete-event engine.

Everything here is a pure function of its arguments: the Erlang B and Erlang C
formulas, the M/M/c queue (and its gang-scheduled variant for jobs that need
several chips at once) and a Little's-law consistency check. Rates are per hour
and times are in hours throughout.

>>> round(erlang_c(10, 8.0), 4)
0.4092
>>> r = mmc(arrival_rate_per_hour=0.5, service_rate_per_hour=1.0, servers=1)
>>> r.utilization, r.mean_wait_hours, r.mean_response_hours
(0.5, 1.0, 2.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "MMcResult",
    "erlang_b",
    "erlang_c",
    "littles_law_residual",
    "mmc",
    "mmc_gang",
]


def _check_servers(servers: int, *, minimum: int) -> None:
    if isinstance(servers, bool) or not isinstance(servers, int):
        raise ValueError(f"servers must be an int, got {servers!r}")
    if servers < minimum:
        raise ValueError(f"servers must be >= {minimum}, got {servers}")


def _check_rate(name: str, value: float, *, positive: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "> 0" if positive else ">= 0"
        raise ValueError(f"{name} must be finite and {bound}, got {value!r}")


def erlang_b(servers: int, offered_load: float) -> float:
    """Blocking probability of an M/M/c/c loss system (Erlang B).

    ``offered_load`` is a = lambda / mu in erlangs. Uses the stable recursion
    B(0) = 1, B(k) = a B(k-1) / (k + a B(k-1)), so thousands of servers are fine.

    >>> erlang_b(0, 3.0)
    1.0
    >>> round(erlang_b(1, 1.0), 6)
    0.5
    >>> round(erlang_b(10, 8.0), 4)
    0.1217
    >>> 0.0 < erlang_b(5000, 4900.0) < 1.0
    True
    """
    _check_servers(servers, minimum=0)
    _check_rate("offered_load", offered_load, positive=False)
    a = float(offered_load)
    b = 1.0
    for k in range(1, servers + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability that an arrival must wait in an M/M/c queue (Erlang C).

    Computed from Erlang B as C = B / (1 - rho (1 - B)) with rho = a / c.
    Raises ``ValueError`` for an unstable queue (rho >= 1) or invalid inputs.

    >>> round(erlang_c(1, 0.5), 6)
    0.5
    >>> round(erlang_c(10, 8.0), 3)
    0.409
    >>> erlang_c(2, 2.0)
    Traceback (most recent call last):
    ...
    ValueError: unstable queue: offered_load=2.0 erlangs on servers=2 gives rho=1.0 >= 1
    """
    _check_servers(servers, minimum=1)
    _check_rate("offered_load", offered_load, positive=False)
    rho = offered_load / servers
    if rho >= 1.0:
        raise ValueError(
            f"unstable queue: offered_load={offered_load!r} erlangs on servers={servers} "
            f"gives rho={rho!r} >= 1"
        )
    b = erlang_b(servers, offered_load)
    return b / (1.0 - rho * (1.0 - b))


@dataclass(frozen=True, slots=True)
class MMcResult:
    """Steady-state measures of an M/M/c FIFO queue (times in hours).

    ``mean_wait_hours`` is the time spent queueing before service starts;
    ``mean_response_hours`` adds the mean service time.
    """

    arrival_rate_per_hour: float
    service_rate_per_hour: float
    servers: int
    utilization: float
    prob_wait: float
    mean_wait_hours: float
    mean_queue_length: float
    mean_in_system: float
    mean_response_hours: float

    def wait_quantile_hours(self, q: float) -> float:
        """The q-quantile of the queueing delay, from P(W > t) = C exp(-(c mu - lambda) t).

        Returns 0 when q <= 1 - C (that fraction of arrivals does not wait).

        >>> r = mmc(0.5, 1.0, 1)
        >>> r.wait_quantile_hours(0.3)
        0.0
        >>> round(r.wait_quantile_hours(0.9), 4)  # 2 ln(0.5 / 0.1)
        3.2189
        """
        if not (isinstance(q, int | float) and 0.0 <= q < 1.0):
            raise ValueError(f"quantile q must be in [0, 1), got {q!r}")
        c = self.prob_wait
        if q <= 1.0 - c:
            return 0.0
        decay = self.servers * self.service_rate_per_hour - self.arrival_rate_per_hour
        return math.log(c / (1.0 - q)) / decay


def mmc(arrival_rate_per_hour: float, service_rate_per_hour: float, servers: int) -> MMcResult:
    """Steady state of an M/M/c FIFO queue: Poisson arrivals, exponential service, c servers.

    Raises ``ValueError`` if the queue is unstable (lambda >= c mu) or inputs are invalid.

    >>> r = mmc(9.0, 1.0, 10)
    >>> round(r.prob_wait, 4), round(r.mean_wait_hours, 4), r.utilization
    (0.6687, 0.6687, 0.9)
    """
    _check_rate("arrival_rate_per_hour", arrival_rate_per_hour, positive=False)
    _check_rate("service_rate_per_hour", service_rate_per_hour, positive=True)
    _check_servers(servers, minimum=1)
    lam = float(arrival_rate_per_hour)
    mu = float(service_rate_per_hour)
    load = lam / mu
    if load >= servers:
        raise ValueError(
            f"unstable queue: arrival_rate_per_hour={lam!r} >= servers * service_rate_per_hour"
            f" = {servers} * {mu!r}"
        )
    c_prob = erlang_c(servers, load)
    wq = c_prob / (servers * mu - lam)
    w = wq + 1.0 / mu
    return MMcResult(
        arrival_rate_per_hour=lam,
        service_rate_per_hour=mu,
        servers=servers,
        utilization=load / servers,
        prob_wait=c_prob,
        mean_wait_hours=wq,
        mean_queue_length=lam * wq,
        mean_in_system=lam * w,
        mean_response_hours=w,
    )


def mmc_gang(
    arrival_rate_per_hour: float, service_rate_per_hour: float, chips: int, gang_chips: int
) -> MMcResult:
    """Gang-scheduled pool: each job holds ``gang_chips`` chips at once for an exponential time.

    With ``chips`` a multiple of ``gang_chips`` and FIFO dispatch, the pool is exactly an
    M/M/s queue with s = chips // gang_chips slots; ``servers`` in the result is s, and the
    chip utilisation equals the slot utilisation. Raises ``ValueError`` if ``chips`` is not
    a multiple of ``gang_chips``.

    >>> mmc_gang(9.0, 1.0, chips=80, gang_chips=8) == mmc(9.0, 1.0, 10)
    True
    """
    _check_servers(chips, minimum=1)
    if isinstance(gang_chips, bool) or not isinstance(gang_chips, int) or gang_chips < 1:
        raise ValueError(f"gang_chips must be an int >= 1, got {gang_chips!r}")
    if chips % gang_chips != 0:
        raise ValueError(f"chips={chips} is not a multiple of gang_chips={gang_chips}")
    return mmc(arrival_rate_per_hour, service_rate_per_hour, chips // gang_chips)


def littles_law_residual(mean_in_system: float, arrival_rate: float, mean_response: float) -> float:
    """Relative violation of Little's law, |L - lambda W| / L (0 when L = lambda W = 0).

    >>> littles_law_residual(2.0, 1.0, 2.0)
    0.0
    >>> round(littles_law_residual(2.0, 1.0, 1.9), 6)
    0.05
    """
    _check_rate("mean_in_system", mean_in_system, positive=False)
    _check_rate("arrival_rate", arrival_rate, positive=False)
    _check_rate("mean_response", mean_response, positive=False)
    diff = abs(mean_in_system - arrival_rate * mean_response)
    if mean_in_system == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / mean_in_system
