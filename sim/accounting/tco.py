"""Static per-chip economics of a scenario: TCO, unit costs, customer prices and margin.

One row per chip at a fixed utilisation, computed with the pure functions of
:mod:`sim.model.economics` and :mod:`sim.model.pricing` on the scenario's economics section,
without simulating anything.
Prices and street multipliers are taken on one date (default: the horizon start). An
in-house chip's unit cost is the catalog's, at its reference volume: its position on the
learning curve depends on the volume the simulation builds. Every column names its unit.

Columns (per chip):

- ``street_price_multiplier``: vendor street price / list price on the date
  (merchant chips; 1 for in-house chips and where the scenario gives none);
- ``capex_usd_per_chip``: unit cost x street multiplier x the vendor's margin factor
  (merchant chips; :func:`sim.model.pricing.replacement_capex_usd`);
  ``server_network_usd_per_chip``;
- ``utilization``: fraction of installed hours that are busy;
- ``capital_``, ``power_``, ``facility_``, ``maintenance_`` and
  ``tco_usd_per_chip_hour``: provider cost per installed chip-hour;
- ``tco_usd_per_busy_chip_hour``: the same per busy hour (divided by utilisation);
- ``pflop_per_busy_chip_hour`` and ``usd_per_pflop``: useful compute at the catalog's
  training TFLOP/s and reference MFU (software efficiency 1) and the provider's cost of it;
- ``mtok_per_busy_chip_hour`` and ``usd_per_mtok``: inference output at the catalog's
  reference tokens/s and the provider's cost per million tokens;
- ``on_demand_usd_per_chip_hour``: the chip's public on-demand price on the date (catalog
  schedule) x the pool's price multiplier;
- ``list_usd_per_chip_hour``, ``cost_plus_usd_per_chip_hour``,
  ``competitive_usd_per_chip_hour``: the customer price each pricing policy gives
  (:mod:`sim.model.pricing`; competitive is NaN without a reference GPU);
  ``blended_usd_per_chip_hour``: the scenario's policy's;
- ``customer_usd_per_pflop`` and ``customer_usd_per_mtok``: what a customer pays for the
  same work at the blended price;
- ``gross_margin_usd_per_busy_chip_hour``: blended price - provider TCO per busy hour, and
  ``gross_margin_fraction`` of the blended price.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from sim.errors import UserError
from sim.model import economics as econ
from sim.model.adoption import exogenous_maturity, software_efficiency
from sim.model.catalog import chip_metric
from sim.model.pricing import (
    PRICING_POLICIES,
    pricing_policy,
    replacement_capex_usd,
    street_price_multiplier,
)
from sim.model.schema import Catalog, Scenario
from sim.model.timeline import multiplier_at

__all__ = ["ENERGY_COLUMNS", "TCO_COLUMNS", "energy_per_work_table", "static_tco_table"]

TCO_COLUMNS: tuple[str, ...] = (
    "chip",
    "name",
    "vendor",
    "family",
    "in_pool",
    "street_price_multiplier",
    "capex_usd_per_chip",
    "server_network_usd_per_chip",
    "utilization",
    "capital_usd_per_chip_hour",
    "power_usd_per_chip_hour",
    "facility_usd_per_chip_hour",
    "maintenance_usd_per_chip_hour",
    "tco_usd_per_chip_hour",
    "tco_usd_per_busy_chip_hour",
    "pflop_per_busy_chip_hour",
    "usd_per_pflop",
    "mtok_per_busy_chip_hour",
    "usd_per_mtok",
    "on_demand_usd_per_chip_hour",
    "list_usd_per_chip_hour",
    "cost_plus_usd_per_chip_hour",
    "competitive_usd_per_chip_hour",
    "blended_usd_per_chip_hour",
    "customer_usd_per_pflop",
    "customer_usd_per_mtok",
    "gross_margin_usd_per_busy_chip_hour",
    "gross_margin_fraction",
)
"""Columns of :func:`static_tco_table`, in order."""


def static_tco_table(
    scenario: Scenario,
    utilization: float | None = None,
    *,
    all_chips: bool = False,
    on: dt.date | None = None,
) -> pd.DataFrame:
    """Per-chip static economics at ``utilization`` (default: procurement target), with
    prices and street multipliers on ``on`` (default: the horizon start).

    Rows are the provider's pools in scenario order, or with ``all_chips`` every catalog
    chip (``in_pool`` tells which). See the module docstring for the columns.
    """
    u = scenario.provider.procurement.target_utilization if utilization is None else utilization
    if not 0.0 < u <= 1.0:
        raise UserError(f"utilization must be in (0, 1]; found {u:g}", key="utilization")
    chips = scenario.catalog.chips
    pools = scenario.provider.pools
    ids = list(chips) if all_chips else [c for c in pools if c in chips]
    start = scenario.horizon.start if on is None else on
    eco = scenario.economics

    specs = [chips[c] for c in ids]
    street = np.array([street_price_multiplier(scenario, c, start) for c in specs], dtype=float)

    def col(attr: str) -> econ.FloatArray:
        return np.array([float(getattr(s, attr)) for s in specs], dtype=np.float64)

    capex = np.array([replacement_capex_usd(scenario, c, start) for c in ids], dtype=float)
    server = col("server_network_usd_per_chip")
    tflops = np.array([s.training_tflops for s in specs], dtype=np.float64)
    mfu = col("training_mfu")
    tokens = col("inference_tokens_per_s")
    price_multiplier = np.array(
        [multiplier_at(pools[c].price_changes, start) if c in pools else 1.0 for c in ids],
        dtype=np.float64,
    )
    on_demand = np.array([s.list_price_usd_per_chip_hour(start) for s in specs]) * price_multiplier
    parts = [econ.chip_tco(c, eco, x, u) for c, x in zip(specs, capex, strict=True)]
    by_policy = {
        name: _policy_prices(scenario, name, ids, capex, start) for name in PRICING_POLICIES
    }

    def part(name: str) -> econ.FloatArray:
        return np.array([float(getattr(t, name)) for t in parts], dtype=np.float64)

    total = part("total_usd")
    per_busy = _vec(econ.usd_per_busy_chip_hour(total, u), len(ids))
    blended = by_policy[pricing_policy(scenario).name]
    margin = blended - per_busy
    with np.errstate(divide="ignore", invalid="ignore"):
        margin_fraction = np.where(blended > 0, margin / np.where(blended > 0, blended, 1.0), 0.0)

    columns: dict[str, object] = {
        "chip": ids,
        "name": [s.name for s in specs],
        "vendor": [s.vendor for s in specs],
        "family": [s.family for s in specs],
        "in_pool": [c in pools for c in ids],
        "street_price_multiplier": street,
        "capex_usd_per_chip": capex,
        "server_network_usd_per_chip": server,
        "utilization": np.full(len(ids), u, dtype=np.float64),
        "capital_usd_per_chip_hour": part("capital_usd"),
        "power_usd_per_chip_hour": part("power_usd"),
        "facility_usd_per_chip_hour": part("facility_usd"),
        "maintenance_usd_per_chip_hour": part("maintenance_usd"),
        "tco_usd_per_chip_hour": total,
        "tco_usd_per_busy_chip_hour": per_busy,
        "pflop_per_busy_chip_hour": _vec(econ.pflop_per_chip_hour(tflops, mfu), len(ids)),
        "usd_per_pflop": _vec(econ.usd_per_pflop(per_busy, tflops, mfu), len(ids)),
        "mtok_per_busy_chip_hour": _vec(econ.mtok_per_chip_hour(tokens), len(ids)),
        "usd_per_mtok": _vec(econ.usd_per_mtok(per_busy, tokens), len(ids)),
        "on_demand_usd_per_chip_hour": on_demand,
        **{f"{name}_usd_per_chip_hour": v for name, v in by_policy.items()},
        "blended_usd_per_chip_hour": blended,
        "customer_usd_per_pflop": _vec(econ.usd_per_pflop(blended, tflops, mfu), len(ids)),
        "customer_usd_per_mtok": _vec(econ.usd_per_mtok(blended, tokens), len(ids)),
        "gross_margin_usd_per_busy_chip_hour": margin,
        "gross_margin_fraction": margin_fraction,
    }
    return pd.DataFrame(columns, columns=list(TCO_COLUMNS))


def _policy_prices(
    scenario: Scenario, name: str, ids: list[str], capex: econ.FloatArray, start: dt.date
) -> econ.FloatArray:
    """Customer price per chip-hour of each chip under policy ``name`` on ``start`` (NaN
    where the policy cannot price it: competitive without a reference GPU)."""
    policy = PRICING_POLICIES[name]
    out = np.full(len(ids), np.nan)
    for i, (cid, x) in enumerate(zip(ids, capex, strict=True)):
        try:
            out[i] = policy.usd_per_chip_hour(scenario, cid, start, float(x))
        except ValueError:
            continue
    return out


def _vec(value: econ.ArrayLike, n: int) -> econ.FloatArray:
    """``value`` as a float64 array of length ``n`` (scalars from empty inputs broadcast)."""
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()


ENERGY_COLUMNS: tuple[str, ...] = (
    "chip",
    "j_per_pflop",
    "j_per_pflop_today",
    "j_per_mtok",
    "j_per_mtok_today",
    "software_efficiency_today",
)
"""Columns of :func:`energy_per_work_table`, in order."""


def energy_per_work_table(catalog: Catalog, on: dt.date, efficiency_floor: float) -> pd.DataFrame:
    """Chip-level energy per unit of useful work, at maturity and on ``on``.

    ``j_per_pflop`` = busy W / (peak at the training precision x MFU) x 1000: joules per
    useful PFLOP trained at the catalog's figures (software efficiency 1, i.e. at the
    stack's maturity); ``j_per_mtok`` = busy W / reference tokens/s x 1e6: joules per
    million tokens at full load. The ``_today`` columns divide by the stack's software
    efficiency on ``on`` from its exogenous maturity (a run's flywheel adds to it) and the
    efficiency floor. Chip power only: x (1 + host overhead) x PUE gives the meter's figure.
    """
    rows = []
    for cid, chip in catalog.chips.items():
        year = on.year + (on.timetuple().tm_yday - 1) / 365.0
        m = exogenous_maturity(catalog.stacks[chip.stack], year)
        eff = software_efficiency(m, efficiency_floor)
        per_pflop = chip_metric(chip, "energy_per_pflop")
        per_mtok = chip_metric(chip, "energy_per_mtok")
        rows.append(
            {
                "chip": cid,
                "j_per_pflop": math.nan if per_pflop is None else per_pflop,
                "j_per_pflop_today": math.nan if per_pflop is None else per_pflop / eff,
                "j_per_mtok": math.nan if per_mtok is None else per_mtok,
                "j_per_mtok_today": math.nan if per_mtok is None else per_mtok / eff,
                "software_efficiency_today": eff,
            }
        )
    return pd.DataFrame(rows, columns=list(ENERGY_COLUMNS))
