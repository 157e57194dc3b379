"""``xpusim catalog`` and ``xpusim tco``: the chip catalog with its sources, static economics."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer

from sim.cli.common import FormatOption, SetOption, emit, load
from sim.errors import UserError
from sim.model.catalog import (
    catalog_table,
    check_catalog,
    claim_results,
    figure_conflicts,
    provenance_entry,
    ratio_results,
)
from sim.model.schema import Adoption, Catalog
from sim.scenario import load_catalog, load_claims
from sim.views.numbers import HEADLINE, TERMINAL, fmt_value
from sim.views.tables import Column, Tabular, check_format
from sim.views.terminal import console, table, text

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["catalog", "tco"]

_CATALOG_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("vendor", "vendor"),
    ("stack", "stack"),
    ("launch", "launch"),
    ("training TFLOP/s", "training_tflops"),
    ("HBM GB", "hbm_gb"),
    ("mem TB/s", "memory_tb_per_s"),
    ("busy W", "busy_power_w"),
    ("unit USD", "unit_cost_usd"),
    ("USD/chip-h", "cloud_price_usd_per_chip_hour"),
    ("tokens/s", "inference_tokens_per_s"),
    ("MFU", "training_mfu"),
    ("sources", "sources"),
)

_LIFECYCLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "id"),
    ("GA", "launch"),
    ("end of sale", "end_of_sale"),
    ("successor", "successor"),
    ("J/PFLOP", "j_per_pflop"),
    ("J/PFLOP today", "j_per_pflop_today"),
    ("J/Mtok", "j_per_mtok"),
    ("J/Mtok today", "j_per_mtok_today"),
)


def catalog(
    check: Annotated[
        bool,
        typer.Option("--check", help="Report numbers without a source and broken article ratios."),
    ] = False,
    chip: Annotated[
        str | None, typer.Option("--chip", help="Show one chip, each figure with its source.")
    ] = None,
    fmt: FormatOption = "table",
    on: Annotated[
        str | None,
        typer.Option(
            "--on",
            help="Date of the 'today' energy columns (YYYY-MM-DD; default: today): the "
            "stack's maturity then sets its software efficiency.",
        ),
    ] = None,
) -> None:
    """Print the shipped chip catalog with the sources of its numbers.

    --format: the listing as csv, json or md, every source in full. Energy per useful work
    is chip power only (J per useful PFLOP trained, J per million tokens served at full
    load): at maturity (software efficiency 1) and on --on, at the stack's exogenous
    maturity then.

    Example: xpusim catalog --chip trainium2; xpusim catalog --check
    """
    from sim.accounting.tco import energy_per_work_table  # deferred (lazy: `xpusim run`)

    cat, provenance = load_catalog()
    terminal = console()
    if check:
        _check(terminal, cat, provenance)
        return
    if chip is not None:
        _print_chip(terminal, cat, provenance, chip)
        return
    day = _date_option(on)
    chips = catalog_table(cat, provenance)
    chips["training_tflops"] = [cat.chips[c].training_tflops for c in chips["id"]]
    energy = energy_per_work_table(cat, day, Adoption().efficiency_floor).set_index("chip")
    for col in energy.columns:
        chips[col] = [energy.loc[c, col] for c in chips["id"]]
    if check_format(fmt) != "table":
        records = [{str(k): v for k, v in r.items()} for r in chips.to_dict("records")]
        shown = dict(_CATALOG_COLUMNS)
        shown.update((h, c) for h, c in _LIFECYCLE_COLUMNS if c not in shown.values())
        columns = tuple(Column(c, h) for h, c in shown.items())
        emit([Tabular(f"Chip catalog ({len(chips)} chips)", columns, records)], fmt)
        return
    chips["sources"] = [_short_sources(s) for s in chips["sources"]]
    table_rows = chips.to_dict("records")
    terminal.print(
        table(
            f"Chip catalog ({len(chips)} chips)",
            [h for h, _ in _CATALOG_COLUMNS],
            [[row[c] for _, c in _CATALOG_COLUMNS] for row in table_rows],
        )
    )
    terminal.print(
        table(
            "Lifecycles (general availability in a cloud, end of sale) and chip energy per "
            f"useful work, at maturity and today (on {day.isoformat()})",
            [h for h, _ in _LIFECYCLE_COLUMNS],
            # a chip that does not train has no J/PFLOP: shown empty, not as nan
            [[_blank_nan(row[c]) for _, c in _LIFECYCLE_COLUMNS] for row in table_rows],
        )
    )


def _blank_nan(value: Any) -> Any:
    """None for a missing number (NaN), else the value."""
    return None if isinstance(value, float) and value != value else value


def _date_option(text: str | None) -> dt.date:
    """The --on date (today when not given)."""
    if text is None:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--on: {text!r} is not a date", key="--on", hint="write it as YYYY-MM-DD"
        ) from None


def _check(terminal: Console, cat: Catalog, provenance: Mapping[str, Any]) -> None:
    """The catalog's article ratios, published claims, resolved conflicts and unsourced
    numbers; exit status 1 on a problem."""
    claims = load_claims()
    problems = check_catalog(cat, provenance, claims)
    rows = [
        [
            r.name,
            f"{r.numerator}/{r.denominator}",
            r.metric,
            r.expected,
            f"±{r.tolerance:.0%}",
            measured,
            "ok" if ok else "FAIL",
            r.source,
        ]
        for r, measured, ok in ratio_results(cat)
    ]
    terminal.print(
        table(
            "Article ratios",
            ["ratio", "chips", "metric", "expected", "tolerance", "catalog", "", "source"],
            rows,
        )
    )
    terminal.print(
        table(
            "Published claims (a claim the catalog does not reproduce is a resolved conflict)",
            [
                "claim",
                "chips",
                "metric",
                "claimed",
                "catalog",
                "",
                "source",
                "why the catalog differs",
            ],
            [
                [
                    c.name,
                    c.numerator if c.denominator is None else f"{c.numerator}/{c.denominator}",
                    c.metric,
                    f"{c.low:g}..{c.high:g}",
                    value,
                    "holds" if ok else "CONFLICT",
                    c.source,
                    "" if ok else c.reason,
                ]
                for c, value, ok in claim_results(cat, claims)
            ],
        )
    )
    terminal.print(
        table(
            "Conflicting figures: the value chosen and why",
            ["figure", "chosen", "source", "rejected", "reason"],
            [
                [
                    f.path,
                    f.value,
                    f.source,
                    "; ".join(f"{r['value']} ({r['source']}, {r['date']})" for r in f.rejected),
                    f.reason,
                ]
                for f in figure_conflicts(cat, provenance)
            ],
        )
    )
    for problem in problems:
        terminal.print(text(f"problem: {problem}"))
    if problems:
        terminal.print(text(f"{len(problems)} problem(s) in the catalog"))
        raise typer.Exit(1)
    terminal.print(
        text(
            "catalog check passed: every number and date has a source; ratios hold; "
            "every conflict says why"
        )
    )


def _short_sources(sources: str) -> str:
    """Distinct citation keys or web sites of a '; '-separated source list (for the table).

    >>> _short_sources("bnext-2023-12; aws.amazon.com/ec2/pricing (2024); assumption")
    'bnext-2023-12, aws.amazon.com, assumption'
    """
    out: list[str] = []
    for source in sources.split("; "):
        words = source.split()
        key = words[0].split("/")[0] if words else ""
        if key and key not in out:
            out.append(key)
    return ", ".join(out)


def _print_chip(terminal: Console, cat: Any, provenance: Mapping[str, Any], chip: str) -> None:
    if chip not in cat.chips:
        close = difflib.get_close_matches(chip, list(cat.chips), n=1)
        raise UserError(
            f"unknown chip {chip!r}",
            hint=f"did you mean {close[0]!r}?" if close else f"known: {', '.join(cat.chips)}",
        )
    spec = cat.chips[chip]
    rows = []
    for name in type(spec).model_fields:
        value = getattr(spec, name)
        entry = provenance_entry(provenance, f"chips.{chip}.{name}") or {}
        shown = ", ".join(value) if isinstance(value, tuple) else value
        rows.append(
            [
                name,
                shown,
                entry.get("unit", ""),
                entry.get("source", ""),
                entry.get("date", ""),
                entry.get("kind", ""),
                entry.get("note", ""),
            ]
        )
    terminal.print(
        table(
            f"{spec.name} ({chip})",
            ["field", "value", "unit", "source", "date", "kind", "note"],
            rows,
        )
    )


_TCO_COST: tuple[tuple[str, str, str], ...] = (
    ("chip", "chip", ""),
    ("capex", "capex_usd_per_chip", "USD"),
    ("TCO /chip-h", "tco_usd_per_chip_hour", "USD"),
    ("TCO /busy chip-h", "tco_usd_per_busy_chip_hour", "USD"),
    ("cost /PFLOP", "usd_per_pflop", "USD"),
    ("cost /Mtok", "usd_per_mtok", "USD"),
)
_TCO_POLICY: tuple[tuple[str, str, str], ...] = (
    ("chip", "chip", ""),
    ("on-demand", "on_demand_usd_per_chip_hour", "USD"),
    ("list", "list_usd_per_chip_hour", "USD"),
    ("cost_plus", "cost_plus_usd_per_chip_hour", "USD"),
    ("competitive", "competitive_usd_per_chip_hour", "USD"),
    ("billed", "blended_usd_per_chip_hour", "USD"),
)
_TCO_PRICE: tuple[tuple[str, str, str], ...] = (
    ("chip", "chip", ""),
    ("customer /PFLOP", "customer_usd_per_pflop", "USD"),
    ("customer /Mtok", "customer_usd_per_mtok", "USD"),
    ("margin /busy chip-h", "gross_margin_usd_per_busy_chip_hour", "USD"),
)
_TCO_BREAKDOWN: tuple[tuple[str, str, str], ...] = (
    ("chip", "chip", ""),
    ("street x", "street_price_multiplier", ""),
    ("server+net", "server_network_usd_per_chip", "USD"),
    ("capital", "capital_usd_per_chip_hour", "USD"),
    ("power", "power_usd_per_chip_hour", "USD"),
    ("facility", "facility_usd_per_chip_hour", "USD"),
    ("maintenance", "maintenance_usd_per_chip_hour", "USD"),
    ("total", "tco_usd_per_chip_hour", "USD"),
)


def _date(text: str | None) -> dt.date | None:
    """A --date value as a date (a UserError naming the expected form)."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            "not a date", key="--date", expected="YYYY-MM-DD", found=repr(text)
        ) from None


def tco(
    scenario: Annotated[Path, typer.Argument(help="Scenario YAML file.", show_default=False)],
    set_: SetOption = None,
    utilization: Annotated[
        float | None,
        typer.Option(
            "--utilization",
            "-u",
            min=0.0,
            max=1.0,
            help="Busy fraction of installed hours (default: procurement target_utilization).",
        ),
    ] = None,
    all_chips: Annotated[
        bool, typer.Option("--all-chips", help="Every catalog chip, not only the pools.")
    ] = False,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            metavar="YYYY-MM-DD",
            help="Prices, street multipliers and price changes on this date (default: the "
            "horizon start).",
        ),
    ] = None,
    fmt: FormatOption = "table",
) -> None:
    """Print the static per-chip TCO, unit costs, customer prices and margin.

    In-house chips are priced at their catalog unit cost (the learning-curve position
    depends on the volume a run builds). csv and json hold every column of both tables.

    Example: xpusim tco scenarios/baseline.yaml --date 2026-01-01 --utilization 0.6
    """
    from sim.accounting.tco import static_tco_table  # deferred (lazy: `xpusim run`)

    fmt = check_format(fmt)
    on = _date(date)
    loaded = load(scenario, set_)
    when = on or loaded.scenario.horizon.start
    frame: pd.DataFrame = static_tco_table(loaded.scenario, utilization, all_chips=all_chips, on=on)
    u = float(frame["utilization"].iloc[0]) if len(frame) else utilization
    records = [
        {"date": when, **{str(k): v for k, v in r.items()}} for r in frame.to_dict("records")
    ]
    if fmt in ("csv", "json"):
        columns = tuple(Column(c) for c in ("date", *frame.columns))
        emit([Tabular(title="tco", columns=columns, rows=records)], fmt)
        return

    def view_columns(view: tuple[tuple[str, str, str], ...]) -> tuple[Column, ...]:
        return tuple(Column(c, h, unit=unit, text=c == "chip") for h, c, unit in view)

    at = f"on {when.isoformat()} at utilisation {fmt_value(u, style=TERMINAL)}"
    cost = Tabular(
        title=f"Provider cost per chip {at} ({loaded.scenario.name}; USD)",
        columns=view_columns(_TCO_COST),
        rows=records,
        style=HEADLINE,
        name="cost",
    )
    billed = loaded.scenario.provider.pricing.policy
    policy = Tabular(
        title=f"Customer price per chip-hour under each pricing policy {at} (USD; the "
        f"scenario bills '{billed}')",
        columns=view_columns(_TCO_POLICY),
        rows=records,
        style=HEADLINE,
        name="policy",
    )
    price = Tabular(
        title=f"What customers pay for useful work and the provider's margin, billed "
        f"'{billed}' (USD)",
        columns=view_columns(_TCO_PRICE),
        rows=records,
        style=HEADLINE,
        name="price",
    )
    breakdown = Tabular(
        title="Provider TCO per installed chip-hour by component (USD)",
        columns=tuple(Column(c, h, unit=unit, text=c == "chip") for h, c, unit in _TCO_BREAKDOWN),
        rows=records,
        style=HEADLINE,
        name="breakdown",
        caption="In-house chips at their catalog unit cost (the learning-curve position "
        "depends on the volume a run builds).",
    )
    emit([cost, policy, price, breakdown], fmt)
