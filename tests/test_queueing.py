"""Tests for the closed-form queueing results in ``sim.model.queueing``."""

from __future__ import annotations

import bisect
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.queueing import (
    MMcResult,
    erlang_b,
    erlang_c,
    littles_law_residual,
    mmc,
    mmc_gang,
)

# --- textbook values -----------------------------------------------------------------------


def test_mm1_rho_half_matches_textbook() -> None:
    lam, mu = 0.5, 1.0
    rho = lam / mu
    r = mmc(lam, mu, 1)
    assert r.utilization == pytest.approx(rho)
    assert r.prob_wait == pytest.approx(rho)  # M/M/1: P(wait) = rho
    assert r.mean_wait_hours == pytest.approx(rho / (mu - lam))
    assert r.mean_response_hours == pytest.approx(1.0 / (mu - lam))
    assert r.mean_in_system == pytest.approx(rho / (1.0 - rho))
    assert r.mean_queue_length == pytest.approx(rho**2 / (1.0 - rho))


def test_mm2_matches_independent_p0_formula() -> None:
    lam, mu, c = 1.5, 1.0, 2
    a = lam / mu
    rho = a / c
    tail = a**c / (math.factorial(c) * (1.0 - rho))
    p0 = 1.0 / (sum(a**n / math.factorial(n) for n in range(c)) + tail)
    prob_wait = p0 * tail
    lq = p0 * a**c * rho / (math.factorial(c) * (1.0 - rho) ** 2)
    r = mmc(lam, mu, c)
    assert r.prob_wait == pytest.approx(prob_wait, rel=1e-12)
    assert r.mean_queue_length == pytest.approx(lq, rel=1e-12)
    assert r.mean_wait_hours == pytest.approx(lq / lam, rel=1e-12)
    assert r.mean_in_system == pytest.approx(lq + a, rel=1e-12)
    # For c = 2 the general P0 reduces to (1 - rho) / (1 + rho).
    assert p0 == pytest.approx((1.0 - rho) / (1.0 + rho), rel=1e-12)


def test_erlang_tables() -> None:
    # Published Erlang tables: c = 10, a = 8 erlangs -> B ~ 0.1217, C ~ 0.409.
    assert erlang_b(10, 8.0) == pytest.approx(0.12166, abs=5e-5)
    assert erlang_c(10, 8.0) == pytest.approx(0.409, abs=5e-4)
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(0, 5.0) == 1.0
    assert erlang_b(3, 0.0) == 0.0
    assert erlang_c(4, 0.0) == 0.0


def test_erlang_b_matches_direct_formula_small_c() -> None:
    for c in range(1, 15):
        for a in (0.3, 2.0, 7.5, 12.0):
            terms = [a**k / math.factorial(k) for k in range(c + 1)]
            assert erlang_b(c, a) == pytest.approx(terms[-1] / sum(terms), rel=1e-12)


def test_large_pool_is_finite_and_stable() -> None:
    c = 5000
    for a in (4000.0, 4900.0, 4990.0):
        b = erlang_b(c, a)
        cw = erlang_c(c, a)
        assert math.isfinite(b) and 0.0 <= b <= 1.0
        assert math.isfinite(cw) and b <= cw <= 1.0
    r = mmc(4990.0, 1.0, c)
    assert all(
        math.isfinite(v)
        for v in (r.prob_wait, r.mean_wait_hours, r.mean_queue_length, r.mean_in_system)
    )
    residual = littles_law_residual(r.mean_in_system, 4990.0, r.mean_response_hours)
    assert residual < 1e-12


def test_wait_quantile() -> None:
    r = mmc(9.0, 1.0, 10)
    assert r.wait_quantile_hours(0.0) == 0.0
    assert r.wait_quantile_hours(1.0 - r.prob_wait) == 0.0
    for q in (0.5, 0.9, 0.99):
        t = r.wait_quantile_hours(q)
        assert t > 0.0
        tail = r.prob_wait * math.exp(-(10 * 1.0 - 9.0) * t)
        assert 1.0 - tail == pytest.approx(q, rel=1e-12)
    with pytest.raises(ValueError, match="quantile"):
        r.wait_quantile_hours(1.0)
    with pytest.raises(ValueError, match="quantile"):
        r.wait_quantile_hours(-0.1)


def test_mmc_gang_is_mms_on_slots() -> None:
    gang = mmc_gang(6.0, 1.0, chips=64, gang_chips=8)
    plain = mmc(6.0, 1.0, 8)
    assert gang == plain
    assert gang.servers == 8
    # Chip utilisation: busy chips / total chips = (lambda / mu) * gang_chips / chips.
    assert gang.utilization == pytest.approx(6.0 * 8 / 64)
    with pytest.raises(ValueError, match="not a multiple"):
        mmc_gang(1.0, 1.0, chips=10, gang_chips=4)
    with pytest.raises(ValueError, match="gang_chips"):
        mmc_gang(1.0, 1.0, chips=8, gang_chips=0)


def test_littles_law_residual() -> None:
    assert littles_law_residual(4.0, 2.0, 2.0) == 0.0
    assert littles_law_residual(4.0, 2.0, 2.2) == pytest.approx(0.1)
    assert littles_law_residual(0.0, 0.0, 1.0) == 0.0
    assert littles_law_residual(0.0, 1.0, 1.0) == math.inf
    r = mmc(2.0, 1.0, 3)
    assert littles_law_residual(r.mean_in_system, 2.0, r.mean_response_hours) < 1e-12


# --- invalid inputs ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("servers", "load", "match"),
    [
        (2, 2.0, "unstable"),
        (2, 3.5, "unstable"),
        (0, 0.5, "servers"),
        (-1, 0.5, "servers"),
        (2, -0.1, "offered_load"),
        (2, math.nan, "offered_load"),
        (2, math.inf, "offered_load"),
    ],
)
def test_erlang_c_rejects_invalid(servers: int, load: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        erlang_c(servers, load)


def test_erlang_b_rejects_invalid() -> None:
    with pytest.raises(ValueError, match="servers"):
        erlang_b(-1, 1.0)
    with pytest.raises(ValueError, match="servers"):
        erlang_b(2.0, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="offered_load"):
        erlang_b(3, -1.0)


@pytest.mark.parametrize(
    ("lam", "mu", "c", "match"),
    [
        (10.0, 1.0, 10, "unstable"),
        (1.0, 0.0, 1, "service_rate_per_hour"),
        (-1.0, 1.0, 1, "arrival_rate_per_hour"),
        (1.0, 1.0, 0, "servers"),
        (1.0, 1.0, True, "servers"),
    ],
)
def test_mmc_rejects_invalid(lam: float, mu: float, c: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mmc(lam, mu, c)


@pytest.mark.parametrize(("lam", "mu", "c"), [(0.5, 1.0, 1), (9.0, 1.0, 10), (30.0, 0.25, 150)])
def test_result_measures_are_mutually_consistent(lam: float, mu: float, c: int) -> None:
    """Each measure of an MMcResult follows from the others as queueing theory says."""
    r = mmc(lam, mu, c)
    assert isinstance(r, MMcResult)
    assert r.utilization == pytest.approx(lam / (c * mu), rel=1e-12)
    assert r.mean_response_hours == pytest.approx(r.mean_wait_hours + 1.0 / mu, rel=1e-12)
    assert r.mean_queue_length == pytest.approx(lam * r.mean_wait_hours, rel=1e-12)  # Little
    assert r.mean_in_system == pytest.approx(r.mean_queue_length + lam / mu, rel=1e-12)
    assert littles_law_residual(r.mean_in_system, lam, r.mean_response_hours) < 1e-12
    # the wait distribution P(W > t) = C exp(-(c mu - lam) t) has the mean C / (c mu - lam)
    assert r.mean_wait_hours == pytest.approx(r.prob_wait / (c * mu - lam), rel=1e-12)
    q = 1.0 - r.prob_wait / 2.0  # the median wait of those who wait
    t = r.wait_quantile_hours(q)
    assert t == pytest.approx(math.log(2.0) / (c * mu - lam), rel=1e-9)
    assert r.prob_wait * math.exp(-(c * mu - lam) * t) == pytest.approx(1.0 - q, rel=1e-9)


# --- properties ----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, database=None)
@given(
    servers=st.integers(min_value=1, max_value=200),
    frac_lo=st.floats(min_value=0.0, max_value=0.999),
    frac_hi=st.floats(min_value=0.0, max_value=0.999),
)
def test_erlang_c_monotone_and_bounded(servers: int, frac_lo: float, frac_hi: float) -> None:
    lo, hi = sorted((frac_lo * servers, frac_hi * servers))
    c_lo, c_hi = erlang_c(servers, lo), erlang_c(servers, hi)
    assert 0.0 <= c_lo <= 1.0 and 0.0 <= c_hi <= 1.0
    assert c_lo <= c_hi * (1.0 + 1e-12)  # increases with load
    c_more = erlang_c(servers + 1, hi)
    assert c_more <= c_hi * (1.0 + 1e-12)  # decreases with servers at fixed load
    assert erlang_b(servers, hi) <= c_hi * (1.0 + 1e-12)  # waiting >= blocking


# --- Monte-Carlo cross-check ---------------------------------------------------------------


def _kiefer_wolfowitz_mean_wait(
    lam: float, mu: float, servers: int, customers: int, warmup: int, seed: int
) -> float:
    """Mean FIFO wait in an M/M/c queue from the Kiefer-Wolfowitz workload recursion.

    The sorted workload vector w holds the residual work at each server seen by an
    arrival; the arrival waits w[0], adds its service to that server, and the vector is
    advanced by the next interarrival time: w <- sort((w + s e_1 - t)^+).
    """
    rng = np.random.default_rng(seed)
    interarrivals = rng.exponential(1.0 / lam, customers).tolist()
    services = rng.exponential(1.0 / mu, customers).tolist()
    work = [0.0] * servers
    total = 0.0
    for i in range(customers):
        wait = work[0]
        if i >= warmup:
            total += wait
        rest = work[1:]
        bisect.insort(rest, wait + services[i])
        t = interarrivals[i]
        work = [x - t if x > t else 0.0 for x in rest]
    return total / (customers - warmup)


def test_monte_carlo_mmc_mean_wait_agrees() -> None:
    lam, mu, c = 2.0, 1.0, 3  # rho = 2/3
    expected = mmc(lam, mu, c).mean_wait_hours
    simulated = _kiefer_wolfowitz_mean_wait(
        lam, mu, c, customers=1_000_000, warmup=10_000, seed=20240601
    )
    assert simulated == pytest.approx(expected, rel=0.05)
