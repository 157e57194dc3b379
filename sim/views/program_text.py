"""The in-house program's value in a few lines of text (the terminal headline of ``run``).

Free of plotting: ``xpusim run`` imports it without matplotlib.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sim.scenario.paths import value_at
from sim.views.numbers import fmt_usd

__all__ = ["value_lines"]


def value_lines(summary: Mapping[str, Any]) -> list[str]:
    """The program's value in a few lines of text (empty without one)."""
    pv = summary.get("program_value")
    if not isinstance(pv, Mapping):
        return []
    half = value_at(summary, "interval95.program_value")
    half = half if isinstance(half, Mapping) else {}
    n = summary.get("replication_count", 1)

    def pm(key: str, fmt: Callable[[float], str] = fmt_usd) -> str:
        value, h = pv.get(key), half.get(key)
        if not isinstance(value, int | float):
            return "none"
        return fmt(value) + (f" +- {fmt(h)}" if isinstance(h, int | float) else "")

    prog = summary.get("inhouse_program") or {}
    sunk = prog.get("sunk_usd") if isinstance(prog, Mapping) else None
    included = "included" if pv.get("sunk_costs_included") else "not included"
    lines = [
        f"Program value: the provider with minus without its in-house chips ({n} paired "
        "replications, 95% intervals)",
        f"  NPV {pm('npv_usd')}; incremental profit {pm('incremental_profit_usd')} "
        f"(revenue {pm('incremental_revenue_usd')}, cost {pm('incremental_cost_usd')})",
        f"  {_irr(pv, pm('irr_per_year', _percent), _count_irr(summary))}; "
        f"{_payback(pv, pm('payback_years', _years))}; "
        f"discounted break-even {pv.get('breakeven_date') or 'not in every replication'}",
    ]
    scale = prog.get("scale_fraction") if isinstance(prog, Mapping) else None
    if isinstance(scale, int | float):
        lines.append(
            f"  scale: this world is {scale:.0%} of the provider's AI business; the program's "
            "acquisition, fixed cost and NRE are charged at that share "
            "(provider.inhouse_program.scale_fraction)"
        )
    if isinstance(sunk, int | float) and sunk:
        lines.append(
            f"  sunk before the horizon: {fmt_usd(sunk)} "
            f"({fmt_usd(float(prog.get('sunk_at_start_usd', 0.0)))} at its start), {included}"
        )
    return lines


def _count_irr(summary: Mapping[str, Any]) -> tuple[int, int] | None:
    """(replications with an IRR, replications), from the per-replication figures."""
    reps = summary.get("replications")
    if not isinstance(reps, list) or not reps:
        return None
    irrs = [value_at(r, "program_value.irr_per_year") for r in reps]
    return sum(isinstance(x, int | float) for x in irrs), len(irrs)


def _irr(pv: Mapping[str, Any], shown: str, count: tuple[int, int] | None) -> str:
    """The IRR, saying when some replications have none (its mean is over those that have
    one; ``irr_note`` is the most common replication's note)."""
    note = pv.get("irr_note")
    if not isinstance(pv.get("irr_per_year"), int | float):
        return f"IRR none ({note})"
    if count is not None and count[0] < count[1]:
        return f"IRR {shown} (mean of the {count[0]} of {count[1]} replications that have one)"
    if note == "unique":
        return f"IRR {shown}"
    return f"IRR {shown} in the replications that have one (most: {note})"


def _payback(pv: Mapping[str, Any], shown: str) -> str:
    """The payback: the mean over the replications that pay back, and their share."""
    if not isinstance(pv.get("payback_years"), int | float):
        return "no payback within the horizon"
    return (
        f"payback {shown} (mean of the {_share(pv.get('paid_back'))} of replications that pay back)"
    )


def _percent(x: float) -> str:
    return f"{x:.1%}"


def _years(x: float) -> str:
    return f"{x:.1f} years"


def _share(x: Any) -> str:
    return f"{x:.0%}" if isinstance(x, int | float) else "-"
