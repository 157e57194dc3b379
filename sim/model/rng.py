"""Named random streams from one root seed (common random numbers, no global state).

Each random source gets its own generator keyed by a stable name such as
``arrivals/frontier_labs``. Two scenarios that differ only in a price therefore draw the same
arrivals and job sizes, and adding a segment does not shift the streams of the others.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from sim.model.schema.base import MAX_SEED

__all__ = ["MAX_SEED", "BlockDraws", "replication_seeds", "stream"]


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent generator for the random source `name` under root `seed`."""
    key = zlib.crc32(name.encode("utf-8"))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=(key,))))


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Root seeds of `replications` independent replications derived from `seed`.

    Replication 0 uses `seed` itself, so a single run and the first replication agree.

    >>> replication_seeds(7, 3)[0]
    7
    >>> len(set(replication_seeds(7, 50)))
    50
    """
    children = np.random.SeedSequence(seed).spawn(max(replications - 1, 0))
    return [seed] + [int(c.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for c in children]


class BlockDraws:
    """Draws from a generator in blocks: vectorised speed with one-at-a-time use.

    :meth:`next` gives the draws one at a time and :meth:`blocks` a block at a time; both
    give the same sequence (mix them on one instance only in that order).
    """

    def __init__(self, rng: np.random.Generator, kind: str, block: int = 4096) -> None:
        self._rng = rng
        self._kind = kind
        self._block = block
        self._buf = np.empty(0)
        self._i = 0

    def _refill(self) -> None:
        if self._kind == "exponential":
            self._buf = self._rng.standard_exponential(self._block)
        elif self._kind == "normal":
            self._buf = self._rng.standard_normal(self._block)
        else:
            self._buf = self._rng.random(self._block)
        self._i = 0

    def blocks(self) -> Iterator[npt.NDArray[np.float64]]:
        """The draws not yet given, a block at a time, without end.

        >>> import numpy as np
        >>> a, b = BlockDraws(stream(1, "x"), "normal", 3), BlockDraws(stream(1, "x"), "normal", 3)
        >>> first = [a.next() for _ in range(7)]
        >>> blocks = b.blocks()
        >>> first == np.concatenate([next(blocks) for _ in range(3)])[:7].tolist()
        True
        """
        while True:
            if self._i >= len(self._buf):
                self._refill()
            rest = self._buf[self._i :]
            self._i = len(self._buf)
            yield rest

    def next(self) -> float:
        """The next draw."""
        if self._i >= len(self._buf):
            self._refill()
        v = float(self._buf[self._i])
        self._i += 1
        return v
