"""The world without the in-house chip program: one pure transformation of a scenario.

:func:`without_program` returns the scenario a provider that never built chips would face:
the same customers, demand, prices of the remaining chips, vendors and economics, with

- every pool of an in-house chip removed (its initial fleet, planned deliveries and
  procurement), and the program itself (its generations, NRE, acquisition, fixed costs);
- spill routes from or to those pools removed;
- each segment's initial shares on removed pools given to the pools it keeps, in
  proportion to its shares on them (a segment that keeps its mix: the work it had put on
  in-house chips goes where the rest of its work goes); a segment left with no pool for a
  workload takes the provider's initial fleet mix of the remaining pools that serve it
  (chips installed at the horizon start; equal shares of the procured pools when none
  is installed);
- each segment's permitted pools without the removed ones; a list left empty is dropped, so
  the workload may use every remaining pool (a commitment to in-house chips, such as
  Project Moonshot's or Rainier's, has no object without them);
- likewise a segment's negotiated ``commitment``: each workload's committed shares keep the
  pools that remain, renormalised, and a workload committed only to removed pools leaves the
  commitment (the segment then chooses by the cost comparison).

Customers then choose among what remains, and the forecast procurement buys merchant GPUs
to meet their demand. Nothing random is touched: a run of the result on the same seed draws
the same arrivals and job sizes (the engine's streams are named per segment).
"""

from __future__ import annotations

from typing import Any

from sim.errors import UserError
from sim.model.schema import WORKLOADS, Scenario

__all__ = ["has_program", "inhouse_pools", "without_program"]


def inhouse_pools(s: Scenario) -> list[str]:
    """The provider's pools of in-house chips, in scenario order."""
    return [p for p in s.provider.pools if s.catalog.chips[p].inhouse]


def has_program(s: Scenario) -> bool:
    """Whether ``s`` has an in-house chip program whose value a run should measure."""
    return s.provider.inhouse_program is not None and bool(inhouse_pools(s))


def without_program(s: Scenario) -> Scenario:
    """``s`` without its in-house chips and program (see the module's rules).

    A scenario with neither is returned unchanged. Raises :class:`~sim.errors.UserError`
    when a segment's workload would be left without any pool serving it.
    """
    removed = set(inhouse_pools(s))
    if not removed and s.provider.inhouse_program is None:
        return s
    data = s.model_dump()
    provider = data["provider"]
    provider["pools"] = {p: v for p, v in provider["pools"].items() if p not in removed}
    provider["inhouse_program"] = None
    data["scheduling"]["spill"] = {
        src: kept
        for src, targets in data["scheduling"]["spill"].items()
        if src not in removed and (kept := [t for t in targets if t not in removed])
    }
    for sid, seg in data["segments"].items():
        _reassign(s, sid, seg, removed)
    return Scenario.model_validate(data)


def _reassign(s: Scenario, sid: str, seg: dict[str, Any], removed: set[str]) -> None:
    """A segment's initial shares and permitted pools without the ``removed`` pools."""
    for wl in WORKLOADS:
        shares: dict[str, float] | None = seg["platforms"].get(wl)
        if shares and removed & set(shares):
            kept = {p: v for p, v in shares.items() if p not in removed and v > 0}
            if not kept:
                kept = _fleet_mix(s, wl, removed)
                if not kept:
                    raise UserError(
                        f"segment {sid!r}: without the in-house chips no pool serves its {wl}",
                        key=f"segments.{sid}.platforms.{wl}",
                        hint="give the segment a merchant-GPU pool it may use, or run with "
                        "--no-counterfactual",
                    )
            total = sum(kept.values())
            seg["platforms"][wl] = {p: v / total for p, v in kept.items()}
        permitted: list[str] | None = seg["permitted"].get(wl)
        if permitted is not None and removed & set(permitted):
            left = [p for p in permitted if p not in removed]
            if left:
                seg["permitted"][wl] = left
            else:
                del seg["permitted"][wl]
    commitment: dict[str, Any] | None = seg.get("commitment")
    if commitment is not None:
        committed: dict[str, dict[str, float]] = {}
        for wl, shares in commitment["shares"].items():
            kept = {p: v for p, v in shares.items() if p not in removed and v > 0}
            if kept:
                total = sum(kept.values())
                committed[wl] = {p: v / total for p, v in kept.items()}
        seg["commitment"] = {**commitment, "shares": committed} if committed else None


def _fleet_mix(s: Scenario, workload: str, removed: set[str]) -> dict[str, float]:
    """The remaining pools serving ``workload``, weighted by chips installed at the start
    (or equally over the procured ones when none is)."""
    serving = [
        p
        for p, spec in s.provider.pools.items()
        if p not in removed
        and workload in s.catalog.chips[p].workloads
        and s.catalog.chips[p].launch_date <= s.horizon.start
    ]
    installed = {p: float(s.provider.pools[p].initial_chips) for p in serving}
    installed = {p: v for p, v in installed.items() if v > 0}
    if installed:
        return installed
    procured = [p for p in serving if s.provider.pools[p].procure]
    return dict.fromkeys(procured, 1.0)
