"""The chip and software-stack catalog as a table, and the checks that keep it honest.

:func:`catalog_table` lays the catalog out one row per chip, with the sources of its
numbers. :func:`check_catalog` lists every problem: a number without a source, an
assumption without its reasoning, a source that is a local path, and any relative figure
the source articles state (Trainium2 = 4x Trainium1 training speed, ...) that the
catalogued numbers no longer reproduce. The article ratios are data
(:data:`ARTICLE_RATIOS`) so that ``xpusim catalog --check`` and ``xpusim verify`` share
them. Nothing here prints or reads files.

Provenance is the mapping returned by :func:`sim.scenario.load_catalog`: dotted key path
(``chips.h100.hbm_gb``; a ``catalog.`` prefix is also understood) to a dict with
``source``, ``date``, ``kind``, ``note`` and ``unit``.
"""

from __future__ import annotations

import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from sim.model.schema import Catalog, ChipSpec
from sim.model.units import TFLOP_PER_PFLOP, TOKENS_PER_MTOK

__all__ = [
    "ARTICLE_RATIOS",
    "KINDS",
    "KINDS_NEEDING_NOTE",
    "LIFECYCLE_FIELDS",
    "METRICS",
    "REQUIRED_CHIPS",
    "ArticleRatio",
    "Claim",
    "FigureConflict",
    "Metric",
    "catalog_table",
    "check_catalog",
    "chip_metric",
    "claim_results",
    "figure_conflicts",
    "numeric_fields",
    "provenance_entry",
    "ratio_results",
]

Metric = Literal[
    "training_speed",
    "energy_efficiency",
    "hbm",
    "peak",
    "price_performance",
    "inference_throughput",
    "inference_latency",
    "energy_per_pflop",
    "energy_per_mtok",
]

LIFECYCLE_FIELDS: tuple[str, ...] = ("launch_date", "end_of_sale_date", "successor")
"""Lifecycle fields of a chip, each sourced like its numbers (null ones included)."""

KINDS: frozenset[str] = frozenset({"measured", "derived", "calibrated", "assumed"})
"""The kinds of figure a provenance entry may declare."""

KINDS_NEEDING_NOTE: frozenset[str] = frozenset({"assumed", "derived", "calibrated"})
"""Kinds that must say how the number was reached (their ``note``)."""

REQUIRED_CHIPS: tuple[str, ...] = (
    "V100",
    "A10G",
    "A100",
    "H100",
    "H200",
    "GH200",
    "B200",
    "Inferentia1",
    "Inferentia2",
    "Trainium1",
    "Trainium2",
    "Trainium3",
    "TPU v4",
    "TPU v5e",
    "TPU v5p",
    "TPU v6e",
    "Maia 100",
    "MI300X",
)
"""Chips the foundation issue requires, by marketing name (matched loosely, see tests)."""


@dataclass(frozen=True)
class ArticleRatio:
    """A relative figure from a source article that the catalog must reproduce.

    ``metric(numerator) / metric(denominator)`` must be within ``tolerance`` (relative)
    of ``expected``.
    """

    name: str
    numerator: str
    denominator: str
    metric: Metric
    expected: float
    tolerance: float
    source: str

    def holds(self, measured: float | None) -> bool:
        """True when ``measured`` is within the relative tolerance of ``expected``.

        >>> r = ArticleRatio("x", "a", "b", "hbm", 4.0, 0.1, "k")
        >>> r.holds(4.3), r.holds(4.5), r.holds(None), r.holds(float("nan"))
        (True, False, False, False)
        """
        if measured is None or not math.isfinite(measured):
            return False
        return abs(measured - self.expected) <= self.tolerance * abs(self.expected) + 1e-12


ARTICLE_RATIOS: tuple[ArticleRatio, ...] = (
    ArticleRatio(
        "Trainium2 trains 4x faster than Trainium1",
        "trainium2", "trainium1", "training_speed", 4.0, 0.10, "bnext-2023-12",
    ),
    ArticleRatio(
        "Trainium2 has 2x the energy efficiency of Trainium1",
        "trainium2", "trainium1", "energy_efficiency", 2.0, 0.10, "bnext-2023-12",
    ),
    ArticleRatio(
        "Trainium2 has 3x the memory of Trainium1",
        "trainium2", "trainium1", "hbm", 3.0, 0.10, "bnext-2023-12",
    ),
    ArticleRatio(
        "Trainium3 has 2x the performance of Trainium2",
        "trainium3", "trainium2", "peak", 2.0, 0.10, "ofweek-2024-12",
    ),
    ArticleRatio(
        "Trainium3 has +40% price-performance over Trainium2",
        "trainium3", "trainium2", "price_performance", 1.4, 0.10, "ofweek-2024-12",
    ),
    ArticleRatio(
        "Inferentia2 has 4x the throughput of Inferentia1",
        "inferentia2", "inferentia1", "inference_throughput", 4.0, 0.10, "bnext-2023-12",
    ),
    ArticleRatio(
        "Inferentia2 has 1/10 the latency of Inferentia1",
        "inferentia2", "inferentia1", "inference_latency", 0.1, 0.10, "bnext-2023-12",
    ),
)  # fmt: skip
"""The article ratios; ``xpusim catalog --check`` and ``xpusim verify`` test them all."""


def _training_speed(c: ChipSpec) -> float:
    return c.training_tflops * c.training_mfu


METRICS: dict[str, Callable[[ChipSpec], float | None]] = {
    "training_speed": _training_speed,
    "energy_efficiency": lambda c: _training_speed(c) / c.busy_power_w,
    "hbm": lambda c: c.hbm_gb,
    "peak": lambda c: c.training_tflops,
    "price_performance": lambda c: (
        _training_speed(c) / c.cloud_price_usd_per_chip_hour
        if c.cloud_price_usd_per_chip_hour > 0
        else None
    ),
    "inference_throughput": lambda c: c.inference_tokens_per_s,
    "inference_latency": lambda c: c.inference_latency_ms,
    "energy_per_pflop": lambda c: (
        c.busy_power_w / _training_speed(c) * TFLOP_PER_PFLOP if "training" in c.workloads else None
    ),
    "energy_per_mtok": lambda c: c.busy_power_w / c.inference_tokens_per_s * TOKENS_PER_MTOK,
}
"""How each ratio metric is computed from a chip (None when the chip lacks the figure).

training_speed = training TFLOP/s x reference MFU; energy_efficiency = training speed per
busy watt; price_performance = training speed per on-demand dollar per chip-hour (at
general availability); energy_per_pflop = busy W / training speed x 1000 = J per useful
PFLOP (chip power only, software efficiency 1); energy_per_mtok = busy W / reference
tokens/s x 1e6 = J per million tokens at full load.
"""


class Claim(BaseModel):
    """A published statement about a chip's figures that the catalog may or may not
    reproduce (``sim/data/claims.yaml``).

    The value is ``metric(numerator) / metric(denominator)`` (or ``metric(numerator)``
    when ``denominator`` is null); the claim holds when it lies in [``low``, ``high``].
    A claim the catalog does not hold is a conflict the catalog resolved one way; its
    ``reason`` says why (a conflict without one is a catalog problem).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    numerator: str
    denominator: str | None = None
    metric: Metric
    low: float
    high: float
    source: str
    date: str
    reason: str = Field(default="", description="Why the catalog differs, when it does.")

    def value(self, catalog: Catalog) -> float | None:
        """The claim's quantity in ``catalog`` (None if a chip or figure is missing)."""
        num_chip = catalog.chips.get(self.numerator)
        if num_chip is None:
            return None
        num = chip_metric(num_chip, self.metric)
        if num is None or self.denominator is None:
            return num
        den_chip = catalog.chips.get(self.denominator)
        den = chip_metric(den_chip, self.metric) if den_chip is not None else None
        return num / den if den else None

    def holds(self, value: float | None) -> bool:
        """Whether ``value`` lies in the claimed range.

        >>> c = Claim(name="x", numerator="a", metric="hbm", low=0.0, high=1.0,
        ...           source="k", date="2024")
        >>> c.holds(0.5), c.holds(1.2), c.holds(None)
        (True, False, False)
        """
        return value is not None and math.isfinite(value) and self.low <= value <= self.high


def claim_results(
    catalog: Catalog, claims: Sequence[Claim]
) -> list[tuple[Claim, float | None, bool]]:
    """Each claim with its value in ``catalog`` and whether it holds."""
    out: list[tuple[Claim, float | None, bool]] = []
    for claim in claims:
        value = claim.value(catalog)
        out.append((claim, value, claim.holds(value)))
    return out


@dataclass(frozen=True)
class FigureConflict:
    """A catalog figure chosen over published alternatives, and why."""

    path: str
    value: Any
    source: str
    rejected: tuple[Mapping[str, Any], ...]
    reason: str


def figure_conflicts(
    catalog: Catalog, provenance: Mapping[str, Mapping[str, Any]]
) -> list[FigureConflict]:
    """Every catalog figure whose provenance lists rejected conflicting values."""
    out: list[FigureConflict] = []
    for key, entry in provenance.items():
        conflicts = entry.get("conflicts")
        if not conflicts:
            continue
        path = key.removeprefix("catalog.")
        out.append(
            FigureConflict(
                path,
                _value_at(catalog, path),
                _text(entry, "source"),
                tuple(conflicts),
                _text(entry, "reason"),
            )
        )
    return out


def _value_at(catalog: Catalog, path: str) -> Any:
    """The catalog's value at a dotted path (``chips.trainium2.training_mfu``)."""
    node: Any = catalog
    for part in path.split("."):
        if isinstance(node, BaseModel):
            node = getattr(node, part, None)
        elif isinstance(node, Mapping):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def chip_metric(chip: ChipSpec, metric: str) -> float | None:
    """The value of ``metric`` (a key of :data:`METRICS`) for ``chip``."""
    return METRICS[metric](chip)


def ratio_results(catalog: Catalog) -> list[tuple[ArticleRatio, float | None, bool]]:
    """Each article ratio with its value in ``catalog`` (None if not computable) and pass.

    A ratio whose chips are missing, or whose denominator is zero or absent, fails.
    """
    out: list[tuple[ArticleRatio, float | None, bool]] = []
    for ratio in ARTICLE_RATIOS:
        num_chip = catalog.chips.get(ratio.numerator)
        den_chip = catalog.chips.get(ratio.denominator)
        measured: float | None = None
        if num_chip is not None and den_chip is not None:
            num = chip_metric(num_chip, ratio.metric)
            den = chip_metric(den_chip, ratio.metric)
            if num is not None and den is not None and den != 0:
                measured = num / den
        out.append((ratio, measured, ratio.holds(measured)))
    return out


# --------------------------------------------------------------------------- provenance


def numeric_fields(model: BaseModel) -> dict[str, float]:
    """The model's fields holding a number (int or float, not bool; None skipped)."""
    out: dict[str, float] = {}
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def provenance_entry(
    provenance: Mapping[str, Mapping[str, Any]], path: str
) -> Mapping[str, Any] | None:
    """The provenance of catalog key ``path`` (``chips.h100.hbm_gb``), or None.

    Accepts provenance keyed relative to the catalog or to a scenario (``catalog.`` prefix).
    """
    entry = provenance.get(path)
    if entry is None:
        entry = provenance.get(f"catalog.{path}")
    return entry


def _text(entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    return "" if value is None else str(value).strip()


def _looks_local(source: str) -> bool:
    """A source that names a file on someone's machine rather than a citable document.

    >>> [_looks_local(s) for s in ("/srv/a/x.txt", "C:\\\\x", "file:///x", "bnext-2023-12")]
    [True, True, True, False]
    """
    lowered = source.lower()
    return source.startswith(("/", "~")) or "\\" in source or "file:" in lowered


def _entry_problems(path: str, entry: Mapping[str, Any] | None) -> list[str]:
    if entry is None:
        return [f"{path}: no source (no provenance entry)"]
    problems = []
    source = _text(entry, "source")
    kind = _text(entry, "kind")
    if not source:
        problems.append(f"{path}: empty source")
    elif _looks_local(source):
        problems.append(f"{path}: source {source!r} looks like a local path; cite a public key")
    if not _text(entry, "date"):
        problems.append(f"{path}: no date")
    if kind not in KINDS:
        problems.append(f"{path}: kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
    elif kind in KINDS_NEEDING_NOTE and not _text(entry, "note"):
        problems.append(f"{path}: kind {kind!r} needs a note giving the reasoning")
    return problems


def check_catalog(
    catalog: Catalog,
    provenance: Mapping[str, Mapping[str, Any]],
    claims: Sequence[Claim] = (),
) -> list[str]:
    """Every problem with the catalog's numbers, as one line each (empty when all is well).

    Checks that each numeric field of every chip and stack, each chip's lifecycle (general
    availability, end of sale, successor) and each dated price change has a provenance
    entry with a non-empty source that is not a local path, a date, a known kind, and a
    note when the kind is assumed, derived or calibrated; that a chip with an end of sale
    names a successor on sale by then; that every article ratio holds; and that every
    published claim the catalog does not reproduce says why.
    """
    problems: list[str] = []
    groups: list[tuple[str, Mapping[str, BaseModel]]] = [
        ("chips", catalog.chips),
        ("stacks", catalog.stacks),
    ]
    for section, items in groups:
        for item_id, item in items.items():
            for name in numeric_fields(item):
                path = f"{section}.{item_id}.{name}"
                problems.extend(_entry_problems(path, provenance_entry(provenance, path)))
    for chip_id, chip in catalog.chips.items():
        problems.extend(_lifecycle_problems(catalog, chip_id, chip, provenance))
    for claim, value, ok in claim_results(catalog, claims):
        if not ok and not claim.reason.strip():
            problems.append(
                f"claim not reproduced and no reason given: {claim.name} [{claim.source}]: "
                f"catalog {value if value is None else f'{value:.4g}'}, "
                f"claimed {claim.low:g}..{claim.high:g}"
            )
    for ratio, measured, ok in ratio_results(catalog):
        if ok:
            continue
        found = "not computable (chip or figure missing)" if measured is None else f"{measured:.4g}"
        problems.append(
            f"article ratio broken: {ratio.name} [{ratio.source}]: "
            f"{ratio.numerator}/{ratio.denominator} {ratio.metric} = {found}, "
            f"expected {ratio.expected:g} ±{ratio.tolerance:.0%}"
        )
    return problems


def _lifecycle_problems(
    catalog: Catalog, chip_id: str, chip: ChipSpec, provenance: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """A chip's lifecycle and price changes: sourced, and an end of sale with a successor
    on sale by then."""
    problems: list[str] = []
    for name in LIFECYCLE_FIELDS:
        path = f"chips.{chip_id}.{name}"
        problems.extend(_entry_problems(path, provenance_entry(provenance, path)))
    for i in range(len(chip.cloud_price_changes)):
        path = f"chips.{chip_id}.cloud_price_changes.{i}.usd_per_chip_hour"
        problems.extend(_entry_problems(path, provenance_entry(provenance, path)))
    eos = chip.end_of_sale_date
    if eos is not None:
        nxt = catalog.chips.get(chip.successor) if chip.successor else None
        if nxt is None:
            problems.append(
                f"chips.{chip_id}: end of sale {eos} but no catalogued successor takes its demand"
            )
        elif nxt.launch_date > eos:
            problems.append(
                f"chips.{chip_id}: end of sale {eos} comes before its successor "
                f"{chip.successor} is available ({nxt.launch_date})"
            )
    return problems


# --------------------------------------------------------------------------- table

_IDENTITY_COLUMNS = ("name", "vendor", "family", "stack")


def catalog_table(catalog: Catalog, provenance: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """One row per chip: id, identity, launch date, every numeric field, and its sources.

    ``sources`` lists the distinct sources of the chip's numbers (in field order),
    separated by ``"; "``. Missing optional figures are NaN.
    """
    numeric_names = [
        name
        for name, info in ChipSpec.model_fields.items()
        if _is_numeric_annotation(info.annotation)
    ]
    rows: list[dict[str, Any]] = []
    for chip_id, chip in catalog.chips.items():
        row: dict[str, Any] = {"id": chip_id}
        for name in _IDENTITY_COLUMNS:
            row[name] = getattr(chip, name)
        row["launch"] = chip.launch_date.isoformat()
        row["end_of_sale"] = chip.end_of_sale_date.isoformat() if chip.end_of_sale_date else ""
        row["successor"] = chip.successor or ""
        row["workloads"] = ",".join(chip.workloads)
        row["training_precision"] = chip.training_precision
        row["cloud_instance"] = chip.cloud_instance
        for name in numeric_names:
            value = getattr(chip, name)
            row[name] = math.nan if value is None else float(value)
        sources: list[str] = []
        for name in [*numeric_fields(chip), *LIFECYCLE_FIELDS]:
            entry = provenance_entry(provenance, f"chips.{chip_id}.{name}")
            source = _text(entry, "source") if entry is not None else ""
            if source and source not in sources:
                sources.append(source)
        row["sources"] = "; ".join(sources)
        rows.append(row)
    columns = [
        "id",
        *_IDENTITY_COLUMNS,
        "launch",
        "end_of_sale",
        "successor",
        "workloads",
        "training_precision",
        "cloud_instance",
        *numeric_names,
        "sources",
    ]
    return pd.DataFrame(rows, columns=columns)


def _is_numeric_annotation(annotation: Any) -> bool:
    """True for float/int annotations, optional or constrained (Annotated) ones included.

    >>> _is_numeric_annotation(float | None), _is_numeric_annotation(str)
    (True, False)
    """
    if annotation in (int, float):
        return True
    return any(_is_numeric_annotation(arg) for arg in typing.get_args(annotation))
