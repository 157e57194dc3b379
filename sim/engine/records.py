"""What a run records: one named tuple per record kind, and the same records as named columns.

The engine's only output is an :class:`EngineLog`: lists of flat records, one
:class:`~typing.NamedTuple` kind per list, as in Ciw's ``data_record.py``. Times are hours
since the horizon start; ``pool`` and ``segment`` are indices into
:attr:`EngineLog.pool_ids` and :attr:`EngineLog.segment_ids`. Accounting reads the numeric
kinds as named numpy columns (:class:`JobColumns` ...), never by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class JobRecord(NamedTuple):
    """A training job: where it ran and when (start and end NaN if it never started)."""

    segment: int
    pool: int
    chips: int
    pflop: float
    arrival_h: float
    start_h: float
    end_h: float


class ServingRecord(NamedTuple):
    """Serving capacity a segment held on a pool over an interval, and the tokens it served.

    ``load`` is the served tokens over the tokens the reserved chips could have produced.
    """

    segment: int
    pool: int
    chips: int
    start_h: float
    end_h: float
    mtok_demanded: float
    mtok_served: float
    load: float


class CohortRecord(NamedTuple):
    """Chips installed together; ``bought_in_horizon`` is False for the initial fleet."""

    pool: int
    chips: int
    start_h: float
    retire_h: float
    unit_capex_usd: float
    bought_in_horizon: bool


class OverstayRecord(NamedTuple):
    """Chips kept past their retirement date because they were busy when it came.

    They stay installed (power, facility) from ``retire_h`` until ``left_h``.
    """

    pool: int
    chips: int
    retire_h: float
    left_h: float


class PortRecord(NamedTuple):
    """A customer's port of a workload to a software stack."""

    segment: int
    customer: int
    workload: str
    stack: str
    start_h: float
    end_h: float
    cost_usd: float
    success: bool


class BypassRecord(NamedTuple):
    """A training job that went to the chip vendor's own cloud instead of the provider."""

    segment: int
    pool: int
    time_h: float
    pflop: float


class ShareRecord(NamedTuple):
    """A segment's share of a workload on a pool at the start of a month."""

    month: int
    segment: int
    workload: str
    pool: int
    share: float


class MaturityRecord(NamedTuple):
    """A software stack's maturity and software efficiency at the start of a month."""

    month: int
    stack: str
    maturity: float
    software_efficiency: float


class OrderRecord(NamedTuple):
    """Chips the provider ordered, when, and when they arrive."""

    pool: int
    order_h: float
    delivery_h: float
    chips: int


@dataclass
class EngineLog:
    """Everything a run produced, as lists of flat records (the engine's only output)."""

    jobs: list[JobRecord] = field(default_factory=list)
    serving: list[ServingRecord] = field(default_factory=list)
    cohorts: list[CohortRecord] = field(default_factory=list)
    overstays: list[OverstayRecord] = field(default_factory=list)
    ports: list[PortRecord] = field(default_factory=list)
    bypassed: list[BypassRecord] = field(default_factory=list)
    shares: list[ShareRecord] = field(default_factory=list)
    maturity: list[MaturityRecord] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    events: int = 0
    pool_ids: list[str] = field(default_factory=list)
    segment_ids: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- columns


def _matrix(records: Sequence[tuple[Any, ...]], kind: type[tuple[Any, ...]]) -> FloatArray:
    """Records as a float matrix, one column per field of ``kind`` (booleans become 0/1)."""
    width = len(kind._fields)  # type: ignore[attr-defined]
    return np.array(records, dtype=float).reshape(-1, width)


@dataclass(frozen=True)
class JobColumns:
    """:class:`JobRecord` fields as columns."""

    segment: IntArray
    pool: IntArray
    chips: FloatArray
    pflop: FloatArray
    arrival_h: FloatArray
    start_h: FloatArray
    end_h: FloatArray

    @classmethod
    def of(cls, records: Sequence[JobRecord]) -> JobColumns:
        """The columns of ``records``.

        >>> JobColumns.of([JobRecord(0, 1, 4, 9.0, 0.5, 1.0, 2.0)]).start_h.tolist()
        [1.0]
        """
        m = _matrix(records, JobRecord)
        return cls(
            m[:, 0].astype(np.int64), m[:, 1].astype(np.int64), *(m[:, i] for i in range(2, 7))
        )

    def __len__(self) -> int:
        return len(self.pool)


@dataclass(frozen=True)
class ServingColumns:
    """:class:`ServingRecord` fields as columns."""

    segment: IntArray
    pool: IntArray
    chips: FloatArray
    start_h: FloatArray
    end_h: FloatArray
    mtok_demanded: FloatArray
    mtok_served: FloatArray
    load: FloatArray

    @classmethod
    def of(cls, records: Sequence[ServingRecord]) -> ServingColumns:
        """The columns of ``records``."""
        m = _matrix(records, ServingRecord)
        return cls(
            m[:, 0].astype(np.int64), m[:, 1].astype(np.int64), *(m[:, i] for i in range(2, 8))
        )

    def __len__(self) -> int:
        return len(self.pool)


@dataclass(frozen=True)
class CohortColumns:
    """:class:`CohortRecord` fields as columns."""

    pool: IntArray
    chips: FloatArray
    start_h: FloatArray
    retire_h: FloatArray
    unit_capex_usd: FloatArray
    bought_in_horizon: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, records: Sequence[CohortRecord]) -> CohortColumns:
        """The columns of ``records``."""
        m = _matrix(records, CohortRecord)
        return cls(m[:, 0].astype(np.int64), m[:, 1], m[:, 2], m[:, 3], m[:, 4], m[:, 5] > 0)

    def __len__(self) -> int:
        return len(self.pool)


@dataclass(frozen=True)
class OverstayColumns:
    """:class:`OverstayRecord` fields as columns."""

    pool: IntArray
    chips: FloatArray
    retire_h: FloatArray
    left_h: FloatArray

    @classmethod
    def of(cls, records: Sequence[OverstayRecord]) -> OverstayColumns:
        """The columns of ``records``."""
        m = _matrix(records, OverstayRecord)
        return cls(m[:, 0].astype(np.int64), m[:, 1], m[:, 2], m[:, 3])

    def __len__(self) -> int:
        return len(self.pool)
