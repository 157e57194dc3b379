"""One verified quantity of ``xpusim verify``: simulated against expected, and its verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DEFAULT_BASELINE", "Check", "exact"]

#: The scenario whose calibration record ``xpusim verify`` re-simulates, unless another is
#: given (here, not in :mod:`~sim.experiments.verification`, so that the command line can
#: name it without importing the checks).
DEFAULT_BASELINE = Path("scenarios") / "baseline.yaml"


@dataclass(frozen=True)
class Check:
    """One verified quantity: simulated against expected, and whether it passes."""

    group: str
    name: str
    simulated: float
    expected: float
    tolerance: float
    passed: bool
    note: str = ""
    kind: str = "verification"

    @property
    def relative_error(self) -> float:
        """(simulated - expected) / |expected| (absolute error when expected is 0)."""
        if self.expected == 0:
            return self.simulated
        return (self.simulated - self.expected) / abs(self.expected)


def exact(group: str, name: str, simulated: float, expected: float, note: str = "") -> Check:
    """A check that holds to floating-point precision (relative 1e-9, absolute 1e-6 USD).

    >>> exact("g", "n", 1.0 + 1e-12, 1.0).passed, exact("g", "n", 1.1, 1.0).passed
    (True, False)
    """
    tol = 1e-9
    ok = math.isclose(simulated, expected, rel_tol=tol, abs_tol=1e-6)
    return Check(group, name, simulated, expected, tol, ok, note or "recomputed independently")
