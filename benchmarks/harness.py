"""What every benchmark shares: contestants timed in interleaved rounds, and honest printing.

Contestants run in rounds (A, B, C, A, B, C, ...) after one untimed warm-up call each, so
that a change in the machine's load touches every contestant alike; each contestant's
figures are the minimum and the median over the rounds, in wall seconds and in CPU seconds
of the process (``time.process_time``). Ratios that targets are judged on are ratios of
minima. Every figure is printed with its target and PASS or MISS; nothing is asserted.
"""

from __future__ import annotations

import gc
import math
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Timing:
    """Wall and CPU seconds of one contestant over the rounds."""

    name: str
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    @property
    def best(self) -> float:
        """Minimum wall seconds."""
        return min(self.wall)

    @property
    def median(self) -> float:
        """Median wall seconds."""
        return statistics.median(self.wall)

    @property
    def best_cpu(self) -> float:
        """Minimum CPU seconds."""
        return min(self.cpu)

    @property
    def median_cpu(self) -> float:
        """Median CPU seconds."""
        return statistics.median(self.cpu)


def rounds(
    contestants: Mapping[str, Callable[[], object]], n_rounds: int, *, warmup: bool = True
) -> dict[str, Timing]:
    """Time each contestant ``n_rounds`` times, interleaved (A, B, A, B, ...)."""
    out = {name: Timing(name) for name in contestants}
    if warmup:
        for fn in contestants.values():
            fn()
    for _ in range(n_rounds):
        for name, fn in contestants.items():
            gc.collect()
            w0, c0 = time.perf_counter(), time.process_time()
            fn()
            out[name].cpu.append(time.process_time() - c0)
            out[name].wall.append(time.perf_counter() - w0)
    return out


def process_env() -> dict[str, str]:
    """The environment of a timed process: this one's, the project on ``PYTHONPATH``, and
    Python's default bytecode caching (see :func:`process_rounds`)."""
    inherited = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**inherited, "PYTHONPATH": str(ROOT)}


def process_rounds(
    commands: Mapping[str, Callable[[int], Sequence[str]]],
    n_rounds: int,
    *,
    warmup: bool = True,
    env: Mapping[str, str] | None = None,
) -> dict[str, Timing]:
    """Whole processes timed in interleaved rounds: wall seconds, and the CPU seconds of the
    process and every child it waited for (not the pool workers of ``xpusim run``, which a
    fork server starts). ``commands[name](i)`` is the i-th command line.

    The processes run with Python's default bytecode caching, as on a user's machine from
    the second run on (the warm-up writes the caches): ``PYTHONDONTWRITEBYTECODE`` is taken
    out of their environment, since with it every process compiles the project's modules
    from source while the installed packages it competes with load compiled ones."""
    out = {name: Timing(name) for name in commands}
    full_env = {**process_env(), **(env or {})}
    if warmup:
        for make in commands.values():
            subprocess.run(make(-1), cwd=ROOT, env=full_env, check=True, capture_output=True)
    for i in range(n_rounds):
        for name, make in commands.items():
            before = os.times()
            w0 = time.perf_counter()
            subprocess.run(make(i), cwd=ROOT, env=full_env, check=True, capture_output=True)
            wall = time.perf_counter() - w0
            after = os.times()
            cpu = (after.children_user - before.children_user) + (
                after.children_system - before.children_system
            )
            out[name].wall.append(wall)
            out[name].cpu.append(cpu)
    return out


def machine() -> str:
    """One line on the machine and its load now."""
    la = os.getloadavg()
    return (
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, "
        f"load average {la[0]:.2f} {la[1]:.2f} {la[2]:.2f}"
    )


def table(timings: Mapping[str, Timing], extra: Mapping[str, str] | None = None) -> None:
    """Print min and median wall and CPU seconds of each contestant."""
    print(f"  {'contestant':34s} {'wall min':>9s} {'median':>8s} {'cpu min':>8s} {'median':>8s}")
    for name, t in timings.items():
        note = f"  {extra[name]}" if extra and name in extra else ""
        print(
            f"  {name:34s} {t.best:9.3f} {t.median:8.3f} {t.best_cpu:8.3f} {t.median_cpu:8.3f}"
            f"{note}"
        )


def verdict(ok: bool) -> str:
    """PASS or MISS."""
    return "PASS" if ok else "MISS"


def figure(label: str, value: str, target: str, ok: bool) -> None:
    """Print one figure with its target and verdict."""
    print(f"  {label:58s} {value:>14s}   target {target:14s} {verdict(ok)}")


def loglog_slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of log(y) against log(x): the empirical exponent.

    >>> round(loglog_slope([1, 2, 4], [3, 12, 48]), 6)
    2.0
    """
    lx = [math.log(x) for x in xs]
    ly = [math.log(y) for y in ys]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxx = sum((a - mx) ** 2 for a in lx)
    sxy = sum((a - mx) * (b - my) for a, b in zip(lx, ly, strict=True))
    return sxy / sxx


def bare_simpy_loop(events: int) -> None:
    """The floor: one simpy process that fires ``events`` timeouts and does nothing else."""
    import simpy

    env = simpy.Environment()

    def tick() -> object:
        for _ in range(events):
            yield env.timeout(1.0)

    env.process(tick())  # type: ignore[arg-type]
    env.run()
