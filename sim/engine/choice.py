"""How customers turn logit choice probabilities into action at a review: the choice rules.

``sampled`` draws one choice per customer (and whether it considers a new stack, and whether
its port fails); ``expected`` moves every customer by the expected outcome instead, so a
segment's path carries no decision noise. Each rule maps the same inputs to per-customer
weights and masses that :mod:`sim.engine.decisions` applies the same way.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

__all__ = ["CHOICE_RULES", "ChoiceRule", "Draws", "ExpectedChoice", "SampledChoice"]


class Draws(NamedTuple):
    """The uniform draws of one review of one workload, one per customer each."""

    choice: FloatArray
    consider: FloatArray
    fail: FloatArray


class ChoiceRule(Protocol):
    """How customers turn choice probabilities into action at a review."""

    name: str

    def draws(self, n: int, rng: np.random.Generator) -> Draws | None:
        """The review's random draws (None when the rule draws nothing)."""
        ...

    def act(self, probabilities: FloatArray, draws: Draws | None) -> FloatArray:
        """Weight each customer (row) puts on acting on each option (column); rows sum to 1."""
        ...

    def start(
        self, available: FloatArray, consider: float, acted: FloatArray, draws: Draws | None
    ) -> FloatArray:
        """Per customer, the (chance of a) port started to a stack: ``available`` is the
        chance it could start one, ``consider`` the Bass chance it considers the stack,
        ``acted`` the weight it put on the stack's options."""
        ...

    def fail(self, started: FloatArray, probability: float, draws: Draws | None) -> FloatArray:
        """Per customer, the (chance of a) failure of the ports started."""
        ...


class SampledChoice:
    """One discrete choice per customer and review, drawn from the logit probabilities."""

    name = "sampled"

    def draws(self, n: int, rng: np.random.Generator) -> Draws | None:
        """Three uniform draws per customer, always (the stream stays aligned)."""
        u = rng.random((3, n))
        return Draws(u[0], u[1], u[2])

    def act(self, probabilities: FloatArray, draws: Draws | None) -> FloatArray:
        """Inverse-CDF draw of one option per customer, as a one-hot row."""
        assert draws is not None
        cdf = np.cumsum(probabilities, axis=1)
        pick = (cdf < (draws.choice * cdf[:, -1])[:, None]).sum(axis=1)
        pick = np.minimum(pick, probabilities.shape[1] - 1)
        out = np.zeros_like(probabilities)
        out[np.arange(len(pick)), pick] = 1.0
        return out

    def start(
        self, available: FloatArray, consider: float, acted: FloatArray, draws: Draws | None
    ) -> FloatArray:
        """A port starts where the customer is free to port, considered and picked the stack."""
        assert draws is not None
        return np.asarray(
            ((available > 1.0 - 1e-9) & (draws.consider < consider)) * acted, dtype=float
        )

    def fail(self, started: FloatArray, probability: float, draws: Draws | None) -> FloatArray:
        """The port fails where the failure draw falls under the failure probability."""
        assert draws is not None
        return np.asarray(started * (draws.fail < probability), dtype=float)


class ExpectedChoice:
    """Every customer moves by the expected outcome of its choice: no decision noise."""

    name = "expected"

    def draws(self, n: int, rng: np.random.Generator) -> Draws | None:
        """No draws."""
        del n, rng
        return None

    def act(self, probabilities: FloatArray, draws: Draws | None) -> FloatArray:
        """The probabilities themselves."""
        return probabilities

    def start(
        self, available: FloatArray, consider: float, acted: FloatArray, draws: Draws | None
    ) -> FloatArray:
        """The chance a port starts: free to port x considers x chooses the stack."""
        return np.asarray(available * consider * acted)

    def fail(self, started: FloatArray, probability: float, draws: Draws | None) -> FloatArray:
        """The expected failures of the ports started."""
        return np.asarray(started * probability)


CHOICE_RULES: dict[str, ChoiceRule] = {
    SampledChoice.name: SampledChoice(),
    ExpectedChoice.name: ExpectedChoice(),
}
"""Customer choice rules by name (``adoption.decisions``)."""
