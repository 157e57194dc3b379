"""``xpusim catalog`` and ``xpusim tco``: the chip catalog with its sources, static economics."""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console

from sim.accounting.tco import energy_per_work_table, static_tco_table
from sim.cli.common import SetOption, load
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
from sim.views.numbers import TERMINAL, fmt_value
from sim.views.terminal import console, table, text

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

    Energy per useful work is chip power only (J per useful PFLOP trained, J per million
    tokens served at full load): at maturity (software efficiency 1) and on --on, at the
    stack's exogenous maturity then.

    Example: xpusim catalog --chip trainium2; xpusim catalog --check
    """
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
    chips["sources"] = [_short_sources(s) for s in chips["sources"]]
    energy = energy_per_work_table(cat, day, Adoption().efficiency_floor).set_index("chip")
    for col in energy.columns:
        chips[col] = [energy.loc[c, col] for c in chips["id"]]
    records = chips.to_dict("records")
    terminal.print(
        table(
            f"Chip catalog ({len(chips)} chips)",
            [h for h, _ in _CATALOG_COLUMNS],
            [[row[c] for _, c in _CATALOG_COLUMNS] for row in records],
        )
    )
    terminal.print(
        table(
            "Lifecycles (general availability in a cloud, end of sale) and chip energy per "
            f"useful work, at maturity and today (on {day.isoformat()})",
            [h for h, _ in _LIFECYCLE_COLUMNS],
            # a chip that does not train has no J/PFLOP: shown empty, not as nan
            [[_blank_nan(row[c]) for _, c in _LIFECYCLE_COLUMNS] for row in records],
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


_TCO_VIEW: tuple[tuple[str, str], ...] = (
    ("chip", "chip"),
    ("capex USD", "capex_usd_per_chip"),
    ("TCO USD/chip-h", "tco_usd_per_chip_hour"),
    ("TCO USD/busy chip-h", "tco_usd_per_busy_chip_hour"),
    ("USD/PFLOP", "usd_per_pflop"),
    ("USD/Mtok", "usd_per_mtok"),
    ("on-demand USD/chip-h", "on_demand_usd_per_chip_hour"),
    ("list USD/chip-h", "list_usd_per_chip_hour"),
    ("cost_plus USD/chip-h", "cost_plus_usd_per_chip_hour"),
    ("competitive USD/chip-h", "competitive_usd_per_chip_hour"),
    ("customer USD/PFLOP", "customer_usd_per_pflop"),
    ("customer USD/Mtok", "customer_usd_per_mtok"),
    ("margin USD/busy chip-h", "gross_margin_usd_per_busy_chip_hour"),
)
_TCO_BREAKDOWN: tuple[tuple[str, str], ...] = (
    ("chip", "chip"),
    ("street x", "street_price_multiplier"),
    ("server+net USD", "server_network_usd_per_chip"),
    ("capital", "capital_usd_per_chip_hour"),
    ("power", "power_usd_per_chip_hour"),
    ("facility", "facility_usd_per_chip_hour"),
    ("maintenance", "maintenance_usd_per_chip_hour"),
    ("total", "tco_usd_per_chip_hour"),
)


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
) -> None:
    """Print the static per-chip TCO, unit costs, customer prices and margin.

    Example: xpusim tco scenarios/baseline.yaml --utilization 0.6 --all-chips
    """
    loaded = load(scenario, set_)
    frame: pd.DataFrame = static_tco_table(loaded.scenario, utilization, all_chips=all_chips)
    u = float(frame["utilization"].iloc[0]) if len(frame) else utilization
    terminal = console()
    records = frame.to_dict("records")
    policy = loaded.scenario.provider.pricing.policy
    terminal.print(
        table(
            f"Static economics per chip at utilisation {fmt_value(u, style=TERMINAL)} "
            f"({loaded.scenario.name}; customer prices by policy, blended; the scenario "
            f"bills '{policy}', which the customer and margin columns use)",
            [h for h, _ in _TCO_VIEW],
            [[row[c] for _, c in _TCO_VIEW] for row in records],
        )
    )
    terminal.print(
        table(
            "Provider TCO per installed chip-hour by component (USD)",
            [h for h, _ in _TCO_BREAKDOWN],
            [[row[c] for _, c in _TCO_BREAKDOWN] for row in records],
        )
    )
