"""Cost of useful work: provider TCO and customer price per PFLOP and per million tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.model import economics as ec
from sim.model.pricing import street_price_multiplier
from sim.model.schema import Scenario
from sim.views.axes import (
    as_dates,
    chip_colors,
    chip_marker,
    chip_order,
    date_axis,
    legend_outside,
    no_data,
    usd_axis,
)
from sim.views.labels import chip_label
from sim.views.style import FAMILY_COLORS, FigureMeta, new_figure, styled

__all__ = ["COST_MIN_ACTIVITY", "cost_curves", "plot_cost", "reference_gpu", "street_price_band"]

COST_MIN_ACTIVITY = 0.01
"""A pool's cost per unit is drawn for a period only if that work filled at least this
fraction of its installed chip-hours (a nearly idle pool's cost per unit is not a price)."""


def cost_curves(timeseries: pd.DataFrame, freq: str = "QS") -> pd.DataFrame:
    """Provider TCO and customer price per PFLOP and per million tokens, per pool and period.

    Sums over replications and over the months of each period (``freq``: "MS" monthly,
    "QS" quarterly), then divides. Provider cost of training = tco_usd x training
    chip-hours / busy chip-hours (serving likewise); customer cost = price per chip-hour x
    the chip-hours. A value is NaN where that work filled less than
    :data:`COST_MIN_ACTIVITY` of the installed chip-hours, or is not positive.
    """
    t = timeseries
    busy = t["busy_chip_hours"].to_numpy(float)
    train = t["training_chip_hours"].to_numpy(float)
    serve = t["serving_chip_hours"].to_numpy(float)
    tco = t["tco_usd"].to_numpy(float)
    price = t["price_usd_per_chip_hour"].to_numpy(float)
    has_busy = busy > 0
    safe = np.where(has_busy, busy, 1.0)
    period = as_dates(t["month"]).to_period(freq.removesuffix("S")).start_time
    frame = pd.DataFrame(
        {
            "period": period,
            "pool": t["pool"].astype(str).to_numpy(),
            "family": t["family"].astype(str).to_numpy(),
            "provider_train_usd": np.where(has_busy, tco * train / safe, 0.0),
            "provider_serve_usd": np.where(has_busy, tco * serve / safe, 0.0),
            "customer_train_usd": price * train,
            "customer_serve_usd": price * serve,
            "pflop": t["pflop_delivered"].to_numpy(float),
            "mtok": t["mtok_delivered"].to_numpy(float),
            "training_chip_hours": train,
            "serving_chip_hours": serve,
            "installed_chip_hours": t["installed_chip_hours"].to_numpy(float),
        }
    )
    g = frame.groupby(["period", "pool", "family"], sort=True).sum().reset_index()
    inst = g["installed_chip_hours"].to_numpy(float)
    out = g[["period", "pool", "family"]].copy()
    for work, hours, unit in (
        ("train", "training_chip_hours", "pflop"),
        ("serve", "serving_chip_hours", "mtok"),
    ):
        amount = g[unit].to_numpy(float)
        ok = (amount > 0) & (g[hours].to_numpy(float) >= COST_MIN_ACTIVITY * inst)
        denom = np.where(ok, amount, 1.0)
        for who in ("provider", "customer"):
            value = np.where(ok, g[f"{who}_{work}_usd"].to_numpy(float) / denom, np.nan)
            out[f"{who}_usd_per_{unit}"] = np.where(value > 0, value, np.nan)
    return out


def reference_gpu(scenario: Scenario) -> str | None:
    """The in-house program's reference GPU, else the first Nvidia pool (None if neither)."""
    prog = scenario.provider.inhouse_program
    ref_id = prog.reference_gpu if prog is not None else None
    if ref_id is None:
        chips = scenario.catalog.chips
        nvidia = (p for p in scenario.provider.pools if p in chips and chips[p].vendor == "nvidia")
        ref_id = next(nvidia, None)
    return ref_id if ref_id is not None and ref_id in scenario.catalog.chips else None


def street_price_band(scenario: Scenario, months: Sequence[Any]) -> pd.DataFrame | None:
    """Reference GPU's provider cost per PFLOP and per Mtok at list and at street price.

    Costs are the model's cost of a busy chip-hour (:func:`sim.model.economics.
    chip_usd_per_busy_hour`, as ``xpusim tco`` computes it) at the procurement target
    utilisation, with capex = unit cost (list) or unit cost x the vendor's street-price
    multiplier in force that month (:func:`sim.model.pricing.street_price_multiplier`).
    None when the scenario has no reference GPU or no street-price schedule for its vendor.
    """
    ref_id = reference_gpu(scenario)
    if ref_id is None:
        return None
    ref = scenario.catalog.chips[ref_id]
    vendor = scenario.vendors.get(ref.vendor)
    if vendor is None or not vendor.street_price_multiplier:
        return None
    index = as_dates(months)
    mult = np.array([street_price_multiplier(scenario, ref, d.date()) for d in index])
    u = scenario.provider.procurement.target_utilization

    def per_busy_hour(capex: np.ndarray) -> np.ndarray:
        cost = ec.chip_usd_per_busy_hour(ref, scenario.economics, capex, u)
        return np.asarray(cost, dtype=float)

    list_h = per_busy_hour(np.full(len(index), ref.unit_cost_usd))
    street_h = per_busy_hour(ref.unit_cost_usd * mult)
    pf = float(ec.pflop_per_chip_hour(ref.training_tflops, ref.training_mfu))
    mt = float(ec.mtok_per_chip_hour(ref.inference_tokens_per_s))
    return pd.DataFrame(
        {
            "month": index,
            "chip": ref_id,
            "multiplier": mult,
            "list_usd_per_pflop": list_h / pf,
            "street_usd_per_pflop": street_h / pf,
            "list_usd_per_mtok": list_h / mt,
            "street_usd_per_mtok": street_h / mt,
        }
    )


@styled
def plot_cost(
    timeseries: pd.DataFrame,
    *,
    scenario: Scenario | None = None,
    meta: FigureMeta | None = None,
    freq: str = "QS",
) -> Figure:
    """Provider TCO (top) and customer price (bottom) per PFLOP (left) and per Mtok (right).

    One line per chip (family colour), quarterly by default, on log axes (see
    :func:`cost_curves`); with the reference GPU's list-to-street price band on the
    provider panels when the scenario has a street-price schedule.
    """
    curves = cost_curves(timeseries, freq)
    order = chip_order(timeseries, scenario)
    styles = chip_colors(order)
    fig = new_figure(meta, "Cost of useful work by chip over time", (12.0, 7.5))
    axes = fig.subplots(2, 2, sharex=True, sharey="col")
    panels = (
        (axes[0, 0], "provider_usd_per_pflop", "Provider TCO per PFLOP of training"),
        (axes[0, 1], "provider_usd_per_mtok", "Provider TCO per million tokens served"),
        (axes[1, 0], "customer_usd_per_pflop", "Customer price per PFLOP of training"),
        (axes[1, 1], "customer_usd_per_mtok", "Customer price per million tokens served"),
    )
    band = street_price_band(scenario, sorted(set(timeseries["month"]))) if scenario else None
    handles: dict[str, Any] = {}
    for ax, column, title in panels:
        unit = column.rsplit("_", 1)[-1]
        ax.set_title(title)
        ax.set_ylabel(
            "USD per PFLOP (log scale)" if unit == "pflop" else "USD per million tokens (log scale)"
        )
        drawn = False
        for chip, _family in order:
            sel = curves[curves["pool"] == chip]
            y = sel[column].to_numpy(float)
            if not np.isfinite(y).any():
                continue
            color, ls = styles[chip]
            (line,) = ax.plot(
                sel["period"].to_numpy(),
                y,
                color=color,
                linestyle=ls,
                marker=chip_marker(order, chip),
                markersize=3.0,
                label=chip_label(chip),
            )
            handles.setdefault(chip, line)
            drawn = True
        if band is not None and column.startswith("provider"):
            ref = chip_label(str(band["chip"].iloc[0]))
            poly = ax.fill_between(
                band["month"].to_numpy(),
                band[f"list_usd_per_{unit}"].to_numpy(float),
                band[f"street_usd_per_{unit}"].to_numpy(float),
                step="post",
                color=FAMILY_COLORS["nvidia_gpu"],
                alpha=0.18,
                linewidth=0.8,
                label=f"{ref} at list to street price (static TCO)",
            )
            handles.setdefault("band", poly)
            drawn = True
        if drawn:
            ax.set_yscale("log")
            usd_axis(ax)
        else:
            no_data(ax, "no chip did enough of this work")
        date_axis(ax)
    for ax in axes[1]:
        ax.set_xlabel("Date (quarter)" if freq == "QS" else "Date (month)")
    ordered = [handles[c] for c, _ in order if c in handles]
    if "band" in handles:
        ordered.append(handles["band"])
    legend_outside(fig, ordered, title="Chip")
    return fig
