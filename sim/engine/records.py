"""What a run records: one named tuple per record kind, and the same records as named columns.

The engine's only output is an :class:`EngineLog`: flat records, one
:class:`~typing.NamedTuple` kind each, as in Ciw's ``data_record.py``. Times are hours
since the horizon start; ``pool`` and ``segment`` are indices into
:attr:`EngineLog.pool_ids` and :attr:`EngineLog.segment_ids`. Accounting reads the numeric
kinds as named numpy columns (:class:`JobColumns` ...), never by position.

The two kinds written at nearly every event, jobs and serving intervals, are stored flat,
row after row, as they come (:class:`JobLog`, :class:`ServingLog`: one list extend a record,
moved into a typed float64 array in blocks), so that a record costs one call and no object,
and its columns reach numpy as one copy each; iterating over them still gives the named
tuples. The other kinds are lists of named tuples.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator, Sequence
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
    """Ports of a workload to a software stack that a segment's customers started together.

    Under sampled decisions ``customers`` and ``failed`` count customers; under expected
    decisions they are the expected numbers (sums of each customer's chance).
    """

    segment: int
    workload: str
    stack: str
    start_h: float
    end_h: float
    customers: float
    failed: float
    cost_usd: float


class ChoiceRecord(NamedTuple):
    """What a segment's customers saw of one option at one review (means weighted by size).

    The utility terms are those of :class:`sim.model.adoption.UtilityParts`; ``probability``
    is the logit choice probability, ``considered`` the chance a customer not yet on the
    option's stack considers it at this review (Bass: p + q x ``installed``), ``gated`` the
    required features the stack lacks (then the option was not offered and the terms are
    NaN), ``volume_usd`` the segment's spend on the workload over its planning horizon at
    its current prices (a weight for averaging reviews).
    """

    time_h: float
    segment: int
    workload: str
    pool: int
    stack: str
    price: float
    efficiency: float
    porting: float
    risk: float
    hurdle: float
    constants: float
    total: float
    probability: float
    installed: float
    considered: float
    innovation: float
    imitation: float
    gated: str
    volume_usd: float


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


class PriceRecord(NamedTuple):
    """A pool's customer price per chip-hour for a calendar month, set at its start."""

    month: int
    pool: int
    usd_per_chip_hour: float


class LostJobRecord(NamedTuple):
    """A training job the provider did not run because its customer would not wait.

    It balked (its expected wait at arrival exceeded the segment's patience) or reneged
    (it had waited that long in the queue), found no other pool of its segment that could
    start it, and ran on another cloud (``other_cloud``) or was abandoned. ``chip_hours``
    is what it would have used on the pool it was routed to, at the time.
    """

    segment: int
    pool: int
    time_h: float
    chips: int
    pflop: float
    chip_hours: float
    reneged: bool
    other_cloud: bool


class RedirectRecord(NamedTuple):
    """A training job that would not wait on its pool and started at once on another."""

    segment: int
    from_pool: int
    to_pool: int
    time_h: float
    reneged: bool


class _Rows:
    """Records of one kind stored flat, row after row, as float64 (the integer fields are
    small counts and indices, exact in a float64).

    A record is one ``rows.extend((field, ...))`` on :attr:`buffer`, a list (the cheapest
    append Python has); :meth:`flush` moves the buffer into a typed array, so the buffer stays
    short and the records cost 8 bytes a field. Writers call :meth:`flush` when the buffer
    holds :attr:`FLUSH_AT` values or more; readers flush first. The buffer is one list for
    the log's life, so a writer may keep its bound ``extend``.
    """

    __slots__ = ("_data", "buffer")

    WIDTH = 1
    FLUSH_AT = 1 << 16
    """Values the buffer holds before the writer moves them to the array (512 KiB)."""

    def __init__(self) -> None:
        self._data: array[float] = array("d")
        self.buffer: list[float] = []

    def flush(self) -> None:
        """Move the buffered records to the typed array."""
        if self.buffer:
            self._data.fromlist(self.buffer)
            self.buffer.clear()

    def __len__(self) -> int:
        return (len(self._data) + len(self.buffer)) // self.WIDTH

    def _columns(self) -> list[FloatArray]:
        """Each field as a float64 array of its own (copies)."""
        self.flush()
        if not self._data:
            return [np.zeros(0) for _ in range(self.WIDTH)]
        m = np.frombuffer(self._data, dtype=np.float64).reshape(-1, self.WIDTH)
        out = [m[:, i].copy() for i in range(self.WIDTH)]
        del m  # releases the array's buffer, so that it can grow again
        return out


class JobLog(_Rows):
    """:class:`JobRecord` s in the order they were added, stored flat (:class:`_Rows`).

    >>> log = JobLog()
    >>> log.add(0, 1, 4, 9.0, 0.5, 1.0, 2.0)
    >>> len(log), list(log)[0].start_h, log.columns().chips.tolist()
    (1, 1.0, [4.0])
    """

    __slots__ = ()

    WIDTH = len(JobRecord._fields)

    def add(
        self,
        segment: int,
        pool: int,
        chips: int,
        pflop: float,
        arrival_h: float,
        start_h: float,
        end_h: float,
    ) -> None:
        """Record one job (the fields of :class:`JobRecord`, in order)."""
        self.buffer.extend((segment, pool, chips, pflop, arrival_h, start_h, end_h))
        if len(self.buffer) >= self.FLUSH_AT:
            self.flush()

    def __iter__(self) -> Iterator[JobRecord]:
        segment, pool, chips, *rest = (c.tolist() for c in self._columns())
        ints = (map(int, segment), map(int, pool), map(int, chips))
        for row in zip(*ints, *rest, strict=True):
            yield JobRecord(*row)

    def columns(self) -> JobColumns:
        """The records as named numpy columns."""
        segment, pool, *rest = self._columns()
        return JobColumns(segment.astype(np.int64), pool.astype(np.int64), *rest)


class ServingLog(_Rows):
    """:class:`ServingRecord` s in the order they were added, stored flat (:class:`_Rows`).

    During a run each placement records its segment, pool, chips and interval with the
    token rates that decide what it served (:meth:`add`); the tokens demanded and served
    and the load are computed for all of them at once when the run ends (:meth:`complete`,
    by :mod:`sim.engine.serving`), before anything reads the records.
    """

    __slots__ = ("tokens",)

    WIDTH = 7
    """segment, pool, chips, start_h, end_h, base tokens/s, capacity tokens/s."""

    def __init__(self) -> None:
        super().__init__()
        # (Mtok demanded, Mtok served, load) of every record, once complete
        self.tokens: tuple[FloatArray, FloatArray, FloatArray] | None = None

    def add(
        self,
        segment: int,
        pool: int,
        chips: int,
        start_h: float,
        end_h: float,
        base_tokens_per_s: float,
        capacity_tokens_per_s: float,
    ) -> None:
        """Record one placement: its mean token rate before the daily profile, and the token
        rate its chips can serve."""
        self.buffer.extend(
            (segment, pool, chips, start_h, end_h, base_tokens_per_s, capacity_tokens_per_s)
        )
        if len(self.buffer) >= self.FLUSH_AT:
            self.flush()

    def placements(self) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """(segment, start_h, end_h, base tokens/s, capacity tokens/s) of every record."""
        segment, _, _, t0, t1, base, capacity = self._columns()
        return segment.astype(np.int64), t0, t1, base, capacity

    def complete(
        self, mtok_demanded: FloatArray, mtok_served: FloatArray, load: FloatArray
    ) -> None:
        """Set what every record demanded and served, and its load."""
        self.tokens = (mtok_demanded, mtok_served, load)

    def _tokens(self) -> tuple[FloatArray, FloatArray, FloatArray]:
        if self.tokens is None:
            raise RuntimeError("serving records are read before the run completed them")
        return self.tokens

    def __iter__(self) -> Iterator[ServingRecord]:
        demanded, served, load = (a.tolist() for a in self._tokens())
        segment, pool, chips, t0, t1 = (c.tolist() for c in self._columns()[:5])
        ints = (map(int, segment), map(int, pool), map(int, chips))
        for row in zip(*ints, t0, t1, demanded, served, load, strict=True):
            yield ServingRecord(*row)

    def columns(self) -> ServingColumns:
        """The records as named numpy columns."""
        demanded, served, load = self._tokens()
        segment, pool, chips, t0, t1, _, _ = self._columns()
        return ServingColumns(
            segment.astype(np.int64),
            pool.astype(np.int64),
            chips,
            t0,
            t1,
            demanded.copy(),
            served.copy(),
            load.copy(),
        )


@dataclass
class EngineLog:
    """Everything a run produced, as flat records (the engine's only output)."""

    jobs: JobLog = field(default_factory=JobLog)
    serving: ServingLog = field(default_factory=ServingLog)
    cohorts: list[CohortRecord] = field(default_factory=list)
    overstays: list[OverstayRecord] = field(default_factory=list)
    ports: list[PortRecord] = field(default_factory=list)
    choices: list[ChoiceRecord] = field(default_factory=list)
    bypassed: list[BypassRecord] = field(default_factory=list)
    shares: list[ShareRecord] = field(default_factory=list)
    maturity: list[MaturityRecord] = field(default_factory=list)
    orders: list[OrderRecord] = field(default_factory=list)
    prices: list[PriceRecord] = field(default_factory=list)
    lost: list[LostJobRecord] = field(default_factory=list)
    redirected: list[RedirectRecord] = field(default_factory=list)
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


@dataclass(frozen=True)
class LostJobColumns:
    """:class:`LostJobRecord` fields as columns."""

    segment: IntArray
    pool: IntArray
    time_h: FloatArray
    chips: FloatArray
    pflop: FloatArray
    chip_hours: FloatArray
    reneged: npt.NDArray[np.bool_]
    other_cloud: npt.NDArray[np.bool_]

    @classmethod
    def of(cls, records: Sequence[LostJobRecord]) -> LostJobColumns:
        """The columns of ``records``.

        >>> LostJobColumns.of([LostJobRecord(1, 0, 5.0, 8, 9.0, 2.0, True, False)]).reneged
        array([ True])
        """
        m = _matrix(records, LostJobRecord)
        return cls(
            m[:, 0].astype(np.int64),
            m[:, 1].astype(np.int64),
            m[:, 2],
            m[:, 3],
            m[:, 4],
            m[:, 5],
            m[:, 6] > 0,
            m[:, 7] > 0,
        )

    def __len__(self) -> int:
        return len(self.pool)
