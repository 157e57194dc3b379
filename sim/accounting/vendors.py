"""Money to and from the merchant vendor: Nvidia spend, its margin, and margin avoided."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sim.accounting.fleet import Fleet
from sim.accounting.grid import Grid
from sim.model import economics as ec
from sim.model.pricing import capex_usd_per_chip
from sim.model.schema import ChipSpec

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class VendorFlows:
    """Per (pool, month): paid to Nvidia, Nvidia's gross margin on it, margin avoided."""

    nvidia_spend_usd: FloatArray
    nvidia_margin_usd: FloatArray
    nvidia_margin_avoided_usd: FloatArray


def vendor_flows(grid: Grid, fleet: Fleet) -> VendorFlows:
    """Nvidia's share of purchases, and the margin in-house chips avoided.

    Margin avoided: each in-house chip delivered displaces the reference GPUs that do its
    work (:func:`equivalent_ref_chips`), bought at that month's street price with Nvidia's
    gross margin on it.
    """
    s = grid.scenario
    shape = (grid.n_pools, grid.n_months)
    spend, margin, avoided = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    nv = s.vendors.get("nvidia")
    prog = s.provider.inhouse_program
    ref_id = prog.reference_gpu if prog is not None else None
    ref = s.catalog.chips[ref_id] if ref_id else None
    for i, c in enumerate(grid.chips):
        if c.vendor == "nvidia":
            spend[i] = fleet.capex_cash_usd[i]
            margin[i] = fleet.capex_cash_usd[i] * (nv.gross_margin_fraction if nv else 0.0)
        elif c.inhouse and ref_id is not None and ref is not None and nv is not None:
            gpu_price = np.array(
                [
                    capex_usd_per_chip(s, ref_id, max(d, s.horizon.start), 0.0)
                    for d in grid.clock.month_starts
                ]
            )
            avoided[i] = ec.nvidia_margin_avoided_usd(
                fleet.delivered[i] * equivalent_ref_chips(c, ref),
                gpu_price,
                nv.gross_margin_fraction,
            )
    return VendorFlows(spend, margin, avoided)


def equivalent_ref_chips(chip: ChipSpec, ref: ChipSpec) -> float:
    """Reference GPUs one chip replaces, by training speed (or inference throughput)."""
    if "training" in chip.workloads:
        return float(
            ec.equivalent_chips(
                chip.training_tflops * chip.training_mfu, ref.training_tflops * ref.training_mfu
            )
        )
    return float(ec.equivalent_chips(chip.inference_tokens_per_s, ref.inference_tokens_per_s))
