"""The typed run summary: every metric declared once, with its unit, label and description.

Like the EMA Workbench's ``ScalarOutcome``, each number a run reports is declared in one
place, here, as a field of a frozen dataclass carrying its :class:`Metric` metadata. The
summary serialises (:func:`as_dict`) to exactly the keys and values of ``summary.json``;
:func:`metrics` lists every metric with its dotted key (``{pool}``, ``{family}``,
``{year}`` and ``{segment}`` stand for the keys of per-pool, per-family, per-year and
per-segment entries) for the command line, reports, plots, calibration and sensitivity;
:func:`find_metric` looks a dotted key up.
"""

from __future__ import annotations

import dataclasses
import re
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

__all__ = [
    "CustomerSummary",
    "EngineSummary",
    "HorizonSummary",
    "InhouseShareSummary",
    "LostDemandSummary",
    "Metric",
    "ProgramSummary",
    "ProgramValueSummary",
    "ProviderSummary",
    "QuerySummary",
    "QueueSummary",
    "RunSummary",
    "ServingSummary",
    "TcoBreakdownSummary",
    "UsageSummary",
    "WaterfallSummary",
    "as_dict",
    "find_metric",
    "metrics",
]


@dataclass(frozen=True)
class Metric:
    """One number a run reports: where it sits in the summary, its unit and meaning."""

    key: str
    unit: str
    label: str
    description: str

    def matches(self, dotted: str) -> bool:
        """Whether the concrete dotted key ``dotted`` is an instance of this metric.

        >>> Metric("queue.{pool}.jobs", "jobs", "Jobs", "").matches("queue.h100.jobs")
        True
        """
        return _pattern(self.key).fullmatch(dotted) is not None


@cache
def _pattern(key: str) -> re.Pattern[str]:
    parts = [
        r"[^.]+" if p.startswith("{") and p.endswith("}") else re.escape(p) for p in key.split(".")
    ]
    return re.compile(r"\.".join(parts))


def _metric(unit: str, label: str, description: str, *, key: str = "") -> dict[str, str]:
    """Field metadata of a metric; ``key`` names the levels of a mapping of metrics."""
    return {"unit": unit, "label": label, "description": description, "key": key}


def _section(description: str, *, key: str = "") -> dict[str, str]:
    """Field metadata of a section (or of a mapping of sections, one per ``key``)."""
    return {"section": description, "key": key}


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class HorizonSummary:
    """The simulated period."""

    start: str = field(metadata=_metric("date", "Horizon start", "First simulated day (ISO date)."))
    end: str = field(
        metadata=_metric("date", "Horizon end", "Day after the last simulated day (ISO date).")
    )


@dataclass(frozen=True)
class QueueSummary:
    """Training queue of one pool, over jobs that arrived after the warm-up."""

    jobs: int = field(
        metadata=_metric("jobs", "Jobs started", "Jobs arrived after warm-up and started.")
    )
    unstarted_jobs: int = field(
        metadata=_metric("jobs", "Jobs never started", "Jobs still queued at the horizon end.")
    )
    mean_wait_hours: float | None = field(
        metadata=_metric(
            "hours", "Mean wait", "Mean time from arrival to start (null without jobs)."
        )
    )
    p95_wait_hours: float | None = field(
        metadata=_metric("hours", "95th-percentile wait", "95% of jobs started within this wait.")
    )
    utilization: float | None = field(
        metadata=_metric(
            "fraction", "Utilisation", "Busy / installed chip-hours after the warm-up."
        )
    )
    lost_jobs: int = field(
        default=0,
        metadata=_metric(
            "jobs",
            "Jobs lost",
            "Jobs routed here after warm-up that would not wait and found no other pool "
            "(balked or reneged; to another cloud or abandoned).",
        ),
    )


@dataclass(frozen=True)
class TcoBreakdownSummary:
    """The provider's total cost of ownership by component."""

    capital: float = field(metadata=_metric("USD", "Capital", "Annualised chip and server capex."))
    power: float = field(metadata=_metric("USD", "Power", "Electricity at the facility meter."))
    facility: float = field(
        metadata=_metric("USD", "Facility", "Space, power and cooling capacity.")
    )
    maintenance: float = field(
        metadata=_metric("USD", "Maintenance", "Repairs, spares and support.")
    )
    nre: float = field(
        metadata=_metric("USD", "NRE", "In-house chip NRE spent in the horizon (scaled).")
    )
    program_acquisition: float = field(
        metadata=_metric("USD", "Program acquisition", "Up-front cost of the chip-design team.")
    )
    program_fixed: float = field(metadata=_metric("USD", "Program fixed", "Program running cost."))


@dataclass(frozen=True)
class ProviderSummary:
    """The provider's totals over the horizon."""

    tco_usd: float = field(
        metadata=_metric("USD", "Provider TCO", "Total cost of ownership, program included.")
    )
    revenue_usd: float = field(
        metadata=_metric("USD", "Revenue", "What customers paid for chip-hours.")
    )
    margin_usd: float = field(metadata=_metric("USD", "Margin", "Revenue minus TCO."))
    nvidia_spend_usd: float = field(
        metadata=_metric("USD", "Nvidia spend", "Paid for Nvidia chips.")
    )
    nvidia_margin_usd: float = field(
        metadata=_metric(
            "USD", "Nvidia margin", "Nvidia's gross margin on what the provider paid it."
        )
    )
    capex_cash_usd: float = field(
        metadata=_metric("USD", "Capex (cash)", "Chips bought in the horizon.")
    )
    energy_mwh: float = field(metadata=_metric("MWh", "Energy", "Energy at the facility meter."))
    busy_chip_hours: float = field(
        metadata=_metric(
            "chip-hours",
            "Busy chip-hours",
            "Training chip-hours plus serving chip-hours reserved (a reserved serving chip "
            "counts as busy whatever its load).",
        )
    )
    serving_chip_hours: float = field(
        metadata=_metric(
            "chip-hours", "Serving chip-hours", "Chip-hours reserved for serving (busy)."
        )
    )
    loaded_chip_hours: float = field(
        metadata=_metric(
            "chip-hours",
            "Loaded chip-hours",
            "Training chip-hours plus serving chip-hours x load (tokens served / tokens "
            "the reserved chips could serve): the hours at busy power; energy follows these.",
        )
    )
    installed_chip_hours: float = field(
        metadata=_metric(
            "chip-hours", "Installed chip-hours", "Chip-hours installed, overstays included."
        )
    )
    tco_breakdown_usd: TcoBreakdownSummary = field(metadata=_section("TCO by component."))


@dataclass(frozen=True)
class ProgramSummary:
    """The in-house chip program's own costs, at the scale of the modelled world."""

    cost_usd: float = field(
        metadata=_metric("USD", "Program cost", "NRE, acquisition and fixed costs in the horizon.")
    )
    nre_usd: float = field(
        metadata=_metric("USD", "Program NRE", "NRE of every generation spent in the horizon.")
    )
    acquisition_usd: float = field(
        metadata=_metric("USD", "Program acquisition", "Acquisition paid in the horizon.")
    )
    fixed_usd: float = field(
        metadata=_metric("USD", "Program fixed cost", "Running cost of the program's teams.")
    )
    sunk_usd: float = field(
        metadata=_metric(
            "USD",
            "Sunk program cost",
            "Spent before the horizon start (acquisition, earlier NRE); not in the horizon.",
        )
    )
    sunk_at_start_usd: float = field(
        metadata=_metric(
            "USD",
            "Sunk cost at the start",
            "The sunk cost compounded to the horizon start at the discount rate.",
        )
    )
    scale_fraction: float = field(
        metadata=_metric(
            "fraction",
            "Modelled share",
            "Share of the provider's AI business modelled; program costs are charged at it.",
        )
    )
    reference_gpu: str = field(
        metadata=_metric("chip id", "Reference GPU", "The GPU figures draw the chips against.")
    )


@dataclass(frozen=True)
class WaterfallSummary:
    """The program's NPV taken apart: each item's present value at the horizon start, signed
    as its contribution to the value (with the program minus without it)."""

    revenue_price_usd: float = field(
        metadata=_metric(
            "USD",
            "Revenue from price",
            "Work sold with the program at its price per unit of work minus the price without it.",
        )
    )
    revenue_volume_usd: float = field(
        metadata=_metric(
            "USD",
            "Revenue from volume",
            "Work sold with the program minus without it, at the price without it.",
        )
    )
    gpu_capital_avoided_usd: float = field(
        metadata=_metric(
            "USD",
            "GPU capital avoided",
            "Capital charge of merchant GPUs without the program minus with it.",
        )
    )
    nvidia_margin_avoided_usd: float = field(
        metadata=_metric(
            "USD",
            "Nvidia margin avoided",
            "Nvidia's gross margin within the GPU capital avoided (an 'of which': not added "
            "to the total).",
        )
    )
    inhouse_capital_usd: float = field(
        metadata=_metric("USD", "In-house capital", "Capital charge of the in-house chips.")
    )
    nre_usd: float = field(metadata=_metric("USD", "NRE", "Program NRE in the horizon."))
    acquisition_usd: float = field(
        metadata=_metric("USD", "Acquisition", "Program acquisition in the horizon.")
    )
    program_fixed_usd: float = field(
        metadata=_metric("USD", "Program fixed costs", "Running cost of the program's teams.")
    )
    sunk_usd: float = field(
        metadata=_metric(
            "USD",
            "Sunk costs",
            "Costs before the horizon compounded to its start (zero unless included).",
        )
    )
    power_usd: float = field(
        metadata=_metric("USD", "Power", "Electricity cost without the program minus with it.")
    )
    facility_usd: float = field(
        metadata=_metric("USD", "Facility", "Facility cost without the program minus with it.")
    )
    maintenance_usd: float = field(
        metadata=_metric(
            "USD", "Maintenance", "Maintenance cost without the program minus with it."
        )
    )
    total_usd: float = field(
        metadata=_metric("USD", "Program NPV", "The sum of the items above the Nvidia margin.")
    )


@dataclass(frozen=True)
class ProgramValueSummary:
    """The program's value: the provider with its in-house chips minus the same provider
    without them, on the same demand and random numbers (paired replications)."""

    npv_usd: float = field(
        metadata=_metric(
            "USD",
            "Program NPV",
            "Incremental profit (with minus without the program) discounted to the horizon "
            "start; sunk costs only if the scenario includes them.",
        )
    )
    irr_per_year: float | None = field(
        metadata=_metric(
            "fraction/year",
            "Program IRR",
            "Rate at which the NPV is zero (null when none or no unique one exists).",
        )
    )
    irr_note: str = field(
        metadata=_metric("text", "IRR note", "'unique', or why no IRR is reported.")
    )
    payback_years: float | None = field(
        metadata=_metric(
            "years",
            "Payback",
            "Years from the horizon start until cumulative incremental profit stays >= 0.",
        )
    )
    breakeven_years: float | None = field(
        metadata=_metric(
            "years",
            "Break-even (discounted)",
            "Years from the horizon start until cumulative discounted profit stays >= 0.",
        )
    )
    breakeven_date: str | None = field(
        metadata=_metric(
            "date", "Break-even date", "Month of the discounted break-even (null: none)."
        )
    )
    paid_back: float = field(
        metadata=_metric(
            "fraction", "Replications paid back", "Share of replications with a payback."
        )
    )
    incremental_revenue_usd: float = field(
        metadata=_metric("USD", "Incremental revenue", "Revenue with minus without the program.")
    )
    incremental_cost_usd: float = field(
        metadata=_metric(
            "USD", "Incremental cost", "Cost with minus without the program (in the horizon)."
        )
    )
    incremental_profit_usd: float = field(
        metadata=_metric(
            "USD", "Incremental profit", "Profit with minus without the program, undiscounted."
        )
    )
    profit_with_usd: float = field(
        metadata=_metric("USD", "Profit with the program", "Provider revenue minus TCO.")
    )
    profit_without_usd: float = field(
        metadata=_metric(
            "USD", "Profit without the program", "The same in the world without in-house chips."
        )
    )
    nvidia_spend_avoided_usd: float = field(
        metadata=_metric(
            "USD",
            "Nvidia spend avoided",
            "Cash paid to Nvidia for chips bought in the horizon, without minus with.",
        )
    )
    counterfactual_inhouse_chip_hours: float = field(
        metadata=_metric(
            "chip-hours",
            "In-house chip-hours without the program",
            "Installed in-house chip-hours of the world without the program (zero).",
        )
    )
    sunk_costs_included: bool = field(
        metadata=_metric(
            "flag", "Sunk costs included", "Whether the NPV, IRR and payback include them."
        )
    )
    waterfall: WaterfallSummary = field(metadata=_section("The NPV item by item."))


@dataclass(frozen=True)
class QuerySummary:
    """Per-query figures of a segment whose demand states tokens per query."""

    queries_per_day: float = field(
        metadata=_metric("queries/day", "Queries per day", "Queries served a day.")
    )
    provider_cost_per_query_usd: float | None = field(
        metadata=_metric(
            "USD/query", "Provider cost per query", "Provider cost over queries served."
        )
    )
    customer_cost_per_query_usd: float | None = field(
        metadata=_metric(
            "USD/query", "Customer cost per query", "Customer spend over queries served."
        )
    )


@dataclass(frozen=True)
class ServingSummary:
    """One segment's serving, averaged over the horizon."""

    mtok_served_per_day: float = field(
        metadata=_metric("Mtok/day", "Tokens served", "Million tokens a day.")
    )
    peak_chips: float = field(
        metadata=_metric("chips", "Peak chips", "Most chips the segment held at once.")
    )
    fleet_capex_usd: float = field(
        metadata=_metric(
            "USD", "Fleet capex", "Catalog capex (chip + server share) of the peak fleet."
        )
    )
    provider_cost_per_day_usd: float = field(
        metadata=_metric(
            "USD/day", "Provider cost per day", "Share of pools' running cost by busy hours."
        )
    )
    provider_cost_per_year_usd: float = field(
        metadata=_metric("USD/year", "Provider cost per year", "Provider cost per day x 365.")
    )
    customer_spend_per_day_usd: float = field(
        metadata=_metric("USD/day", "Customer spend per day", "What the segment paid a day.")
    )
    provider_usd_per_mtok: float | None = field(
        metadata=_metric("USD/Mtok", "Provider cost per Mtok", "Provider cost over tokens served.")
    )
    queries: QuerySummary | None = field(
        default=None, metadata={**_section("Per-query figures."), "flatten": True}
    )


@dataclass(frozen=True)
class CustomerSummary:
    """What customers spent and did."""

    spend_usd: float = field(
        metadata=_metric("USD", "Customer spend", "Equal to the provider's revenue.")
    )
    porting_spend_usd: float = field(
        metadata=_metric("USD", "Porting spend", "Engineering cost of the ports started.")
    )
    ports_started: float = field(
        metadata=_metric(
            "ports", "Ports started", "Ports customers started (expected number when expected)."
        )
    )
    ports_failed: float = field(
        metadata=_metric("ports", "Ports failed", "Ports that failed (expected number).")
    )
    bypassed_jobs: int = field(
        metadata=_metric("jobs", "Jobs bypassed", "Jobs that went to the vendor's own cloud.")
    )
    bypassed_pflop: float = field(
        metadata=_metric("PFLOP", "Work bypassed", "PFLOP of the bypassed jobs.")
    )
    mtok_demanded: float = field(
        metadata=_metric("Mtok", "Tokens demanded", "Million tokens demanded.")
    )
    mtok_served: float = field(metadata=_metric("Mtok", "Tokens served", "Million tokens served."))
    redirected_jobs: int = field(
        default=0,
        metadata=_metric(
            "jobs",
            "Jobs redirected",
            "Jobs that would not wait on their pool and started at once on another.",
        ),
    )
    lost_jobs: int = field(
        default=0,
        metadata=_metric(
            "jobs", "Jobs lost", "Jobs that would not wait and found no pool (all segments)."
        ),
    )
    lost_pflop: float = field(
        default=0.0, metadata=_metric("PFLOP", "Work lost", "PFLOP of the lost jobs.")
    )
    revenue_lost_usd: float = field(
        default=0.0,
        metadata=_metric(
            "USD",
            "Revenue lost",
            "What the lost jobs of billed segments would have paid: their chip-hours on "
            "the pool they were routed to x that month's price.",
        ),
    )


@dataclass(frozen=True)
class LostDemandSummary:
    """One segment's training jobs that would not wait (its ``training.patience``)."""

    balked_jobs: int = field(
        metadata=_metric(
            "jobs", "Jobs balked", "Expected wait at arrival above patience; no pool had room."
        )
    )
    reneged_jobs: int = field(
        metadata=_metric(
            "jobs", "Jobs reneged", "Waited their patience in the queue; no pool had room."
        )
    )
    redirected_jobs: int = field(
        metadata=_metric(
            "jobs", "Jobs redirected", "Would not wait and started at once on another pool."
        )
    )
    other_cloud_jobs: int = field(
        metadata=_metric("jobs", "Jobs to another cloud", "Lost jobs run on another cloud.")
    )
    abandoned_jobs: int = field(
        metadata=_metric("jobs", "Jobs abandoned", "Lost jobs not run anywhere.")
    )
    lost_pflop: float = field(
        metadata=_metric("PFLOP", "Work lost", "PFLOP of the balked and reneged jobs.")
    )
    revenue_lost_usd: float = field(
        metadata=_metric(
            "USD",
            "Revenue lost",
            "What the lost jobs would have paid at their pool's price that month (0 for "
            "the provider's own segments).",
        )
    )


@dataclass(frozen=True)
class InhouseShareSummary:
    """The in-house chips' share of all customers' use, per year, by each measure."""

    chip_hours: dict[str, float | None] = field(
        metadata=_metric(
            "fraction",
            "In-house share of chip-hours",
            "Of customers' busy chip-hours.",
            key="{year}",
        )
    )
    spend_usd: dict[str, float | None] = field(
        metadata=_metric(
            "fraction",
            "In-house share of spend",
            "Of customers' accelerator spend.",
            key="{year}",
        )
    )
    pflop: dict[str, float | None] = field(
        metadata=_metric(
            "fraction",
            "In-house share of PFLOP",
            "Of the training PFLOP delivered to customers.",
            key="{year}",
        )
    )
    mtok: dict[str, float | None] = field(
        metadata=_metric(
            "fraction",
            "In-house share of tokens",
            "Of the tokens served to customers.",
            key="{year}",
        )
    )


@dataclass(frozen=True)
class UsageSummary:
    """Customers' (billed segments') use of each chip family per year, three ways."""

    chip_hours: dict[str, dict[str, float]] = field(
        metadata=_metric(
            "chip-hours",
            "Customer chip-hours",
            "Busy chip-hours (training and serving).",
            key="{family}.{year}",
        )
    )
    spend_usd: dict[str, dict[str, float]] = field(
        metadata=_metric(
            "USD",
            "Customer spend",
            "What customers paid for the chip-hours.",
            key="{family}.{year}",
        )
    )
    pflop: dict[str, dict[str, float]] = field(
        metadata=_metric(
            "PFLOP",
            "Useful training compute",
            "PFLOP of training delivered.",
            key="{family}.{year}",
        )
    )
    mtok: dict[str, dict[str, float]] = field(
        metadata=_metric(
            "Mtok", "Useful inference compute", "Million tokens served.", key="{family}.{year}"
        )
    )
    inhouse_share: InhouseShareSummary = field(
        metadata=_section("The in-house chips' share of each measure.")
    )


@dataclass(frozen=True)
class EngineSummary:
    """The size of the simulation."""

    events: int = field(metadata=_metric("events", "Events", "Simulation events processed."))
    simulated_jobs: int = field(
        metadata=_metric("jobs", "Jobs simulated", "Training jobs recorded.")
    )


@dataclass(frozen=True)
class RunSummary:
    """The summary of one replication (``summary.json`` before replications are combined)."""

    scenario: str = field(metadata=_metric("name", "Scenario", "The scenario's name."))
    horizon: HorizonSummary = field(metadata=_section("The simulated period."))
    usage_ratio_vs_gpu: dict[str, dict[str, float | None]] = field(
        metadata=_metric(
            "ratio",
            "Usage vs Nvidia GPUs",
            "Customers' busy chip-hours on a chip family over those on Nvidia GPUs, per year.",
            key="{family}.{year}",
        )
    )
    spend_ratio_vs_gpu: dict[str, dict[str, float | None]] = field(
        metadata=_metric(
            "ratio",
            "Spend vs Nvidia GPUs",
            "Customers' spend on a chip family over their spend on Nvidia GPUs, per year.",
            key="{family}.{year}",
        )
    )
    pflop_ratio_vs_gpu: dict[str, dict[str, float | None]] = field(
        metadata=_metric(
            "ratio",
            "Training compute vs Nvidia GPUs",
            "Training PFLOP delivered on a chip family over that on Nvidia GPUs, per year.",
            key="{family}.{year}",
        )
    )
    mtok_ratio_vs_gpu: dict[str, dict[str, float | None]] = field(
        metadata=_metric(
            "ratio",
            "Tokens served vs Nvidia GPUs",
            "Tokens served on a chip family over those served on Nvidia GPUs, per year.",
            key="{family}.{year}",
        )
    )
    inhouse_usage_ratio_vs_gpu: dict[str, float | None] = field(
        metadata=_metric(
            "ratio",
            "In-house usage vs Nvidia GPUs",
            "Customers' busy chip-hours on all in-house chips over those on Nvidia GPUs.",
            key="{year}",
        )
    )
    usage: UsageSummary = field(metadata=_section("Customers' use per family, three ways."))
    queue: dict[str, QueueSummary] = field(
        metadata=_section("Training queues per pool.", key="{pool}")
    )
    provider: ProviderSummary = field(metadata=_section("The provider's totals."))
    inhouse_program: ProgramSummary | None = field(
        metadata={**_section("The in-house chip program's costs."), "omit_if_none": True}
    )
    cost_per_pflop_usd: dict[str, float | None] = field(
        metadata=_metric(
            "USD/PFLOP",
            "Provider cost per PFLOP",
            "Running cost of a pool's training hours over the PFLOP they delivered.",
            key="{pool}",
        )
    )
    cost_per_mtok_usd: dict[str, float | None] = field(
        metadata=_metric(
            "USD/Mtok",
            "Provider cost per Mtok",
            "Running cost of a pool's serving hours over the tokens they served.",
            key="{pool}",
        )
    )
    inhouse_share_of_usage: dict[str, float | None] = field(
        metadata=_metric(
            "fraction",
            "In-house share of usage",
            "Customers' busy chip-hours on in-house chips over all customers' busy "
            "chip-hours, per year.",
            key="{year}",
        )
    )
    training_j_per_pflop: dict[str, float | None] = field(
        metadata=_metric(
            "J/PFLOP",
            "Training energy per PFLOP",
            "Energy at the meter of training chip-hours over the PFLOP they delivered, per "
            "year (all pools).",
            key="{year}",
        )
    )
    serving_j_per_mtok: dict[str, float | None] = field(
        metadata=_metric(
            "J/Mtok",
            "Serving energy per Mtok",
            "Energy at the meter of serving chip-hours (by load) over the million tokens "
            "served, per year (all pools).",
            key="{year}",
        )
    )
    customers: CustomerSummary = field(metadata=_section("What customers spent and did."))
    lost_demand: dict[str, LostDemandSummary] = field(
        metadata=_section("Training jobs that would not wait, per segment.", key="{segment}")
    )
    serving: dict[str, ServingSummary] = field(
        metadata=_section("Serving per segment.", key="{segment}")
    )
    engine: EngineSummary = field(metadata=_section("The size of the simulation."))
    program_value: ProgramValueSummary | None = field(
        default=None,
        metadata={
            **_section("The program against the world without it (added over replications)."),
            "omit_if_none": True,
        },
    )


# --------------------------------------------------------------------------- use


def as_dict(section: Any) -> dict[str, Any]:
    """A summary section as the plain dict written to ``summary.json``."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        value = getattr(section, f.name)
        if value is None and f.metadata.get("omit_if_none"):
            continue
        if f.metadata.get("flatten"):
            if value is not None:
                out.update(as_dict(value))
            continue
        out[f.name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_dict(value)
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


@cache
def metrics() -> tuple[Metric, ...]:
    """Every metric of a run summary, in declaration order."""
    return tuple(_walk(RunSummary, ""))


def _walk(cls: type, prefix: str) -> Iterator[Metric]:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        meta = f.metadata
        key = f.name if meta.get("flatten") else f"{prefix}{f.name}"
        if meta.get("key"):
            key = f"{key}.{meta['key']}"
        if "section" in meta:
            inner = _section_type(hints[f.name])
            yield from _walk(inner, prefix if meta.get("flatten") else f"{key}.")
        else:
            yield Metric(key, meta["unit"], meta["label"], meta["description"])


def _section_type(hint: Any) -> type:
    """The dataclass a section field holds (directly, optionally, or as mapping values)."""
    for arg in (hint, *typing.get_args(hint)):
        if dataclasses.is_dataclass(arg) and isinstance(arg, type):
            return arg
    raise TypeError(f"no section type in {hint!r}")


def find_metric(dotted: str) -> Metric | None:
    """The metric a concrete dotted summary key is an instance of, if any.

    >>> find_metric("provider.tco_usd").unit
    'USD'
    >>> find_metric("queue.h100.p95_wait_hours").label
    '95th-percentile wait'
    >>> find_metric("usage_ratio_vs_gpu.trainium.2023").unit
    'ratio'
    >>> find_metric("no.such.key") is None
    True
    """
    return next((m for m in metrics() if m.matches(dotted)), None)
