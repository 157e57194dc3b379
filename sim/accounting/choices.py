"""Why customers chose: a segment's choice between CUDA and the in-house option, decomposed.

The engine records, at every review, the size-weighted mean of each utility term of every
option a segment's customers saw (the ``choices`` table; see
:class:`sim.engine.records.ChoiceRecord`). For a year, :func:`decompose` averages them over
the year's reviews (and replications), takes the best CUDA option and the best in-house
option of each segment and workload, and splits the utility gap between them into its
terms: the price per useful unit at CUDA-equal software, the software-efficiency penalty,
the porting cost, the risk of a failed or late port, the switching hurdle and the residual
constants. Imitation acts on the hazard of considering a new stack, not on utility: its
part is log((p + q F) / p), the log of how much the installed share F among peers raises
that hazard over innovation alone, in the same log-odds units as the utility terms. Each
term's *share* is its magnitude over the sum of all magnitudes. A segment whose in-house
option was held back by a feature gate has no utility gap: the gate explains all of it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from sim.model.adoption import UTILITY_TERMS

__all__ = ["EXPLAIN_TERMS", "decompose", "residual_bound_problems"]

EXPLAIN_TERMS: tuple[str, ...] = (*UTILITY_TERMS, "imitation")
"""The terms a choice is decomposed into (gates are reported apart)."""

_MEAN_COLUMNS = (
    *UTILITY_TERMS,
    "total",
    "probability",
    "considered",
    "innovation",
    "imitation",
    "installed",
)


def _year_rows(choices: pd.DataFrame, year: int) -> pd.DataFrame:
    return choices[choices["date"].astype(str).str.startswith(f"{year}-")]


def _imitation_part(innovation: float, imitation: float) -> float:
    """log((p + q F) / p): how much imitation raises the hazard of considering the stack.

    >>> round(_imitation_part(0.5, 0.19), 4), _imitation_part(math.nan, math.nan)
    (0.3221, 0.0)
    """
    if not (math.isfinite(innovation) and math.isfinite(imitation)) or innovation <= 0:
        return 0.0
    return math.log((innovation + imitation) / innovation)


def _gap_row(seg: str, wl: str, cuda: pd.Series, inhouse: pd.Series) -> dict[str, Any]:
    row: dict[str, Any] = {
        "segment": seg,
        "workload": wl,
        "cuda_option": cuda.name,
        "inhouse_option": inhouse.name,
        "gated": "",
    }
    for term in EXPLAIN_TERMS[:-1]:
        row[term] = float(inhouse[term] - cuda[term])
    row["imitation"] = _imitation_part(float(inhouse["innovation"]), float(inhouse["imitation"]))
    row["gap"] = float(inhouse["total"] - cuda["total"])
    row["inhouse_probability"] = float(inhouse["probability"])
    row["considered"] = float(inhouse["considered"])
    row["installed"] = float(inhouse["installed"])
    return row


def _gated_row(seg: str, wl: str, rows: pd.DataFrame) -> dict[str, Any]:
    features = sorted({f for g in rows["gated"] for f in str(g).split(",") if f})
    row: dict[str, Any] = {
        "segment": seg,
        "workload": wl,
        "cuda_option": "",
        "inhouse_option": ",".join(sorted(set(rows["pool"]))),
        "gated": ",".join(features),
        "gap": math.nan,
        "inhouse_probability": 0.0,
        "considered": 0.0,
        "installed": 0.0,
    }
    row.update({term: math.nan for term in EXPLAIN_TERMS})
    return row


def decompose(choices: pd.DataFrame, year: int) -> pd.DataFrame:
    """One row per segment, workload and in-house family: the family's best option against
    the best CUDA option in ``year``.

    Columns: the options compared, each term of the utility gap (in-house minus CUDA, so a
    negative term pushes customers away from the in-house chip), ``gap`` (their sum without
    imitation, which acts on the hazard), the in-house choice probability, the chance a
    customer considers the stack at a review, the installed share among peers, the features
    that gated it, and ``share_<term>`` for every term (gated rows: ``share_gate`` = 1).
    """
    rows = _year_rows(choices, year)
    out: list[dict[str, Any]] = []
    for (seg, wl), group in rows.groupby(["segment", "workload"], sort=False):
        offered = group[group["gated"].astype(str) == ""]
        means = offered.groupby("pool")[list(_MEAN_COLUMNS)].mean()
        kinds = offered.groupby("pool")[["stack", "inhouse", "family"]].first()
        cuda = means[kinds["stack"] == "cuda"]
        inhouse = kinds[kinds["inhouse"].astype(bool)]
        if len(cuda) and len(inhouse):
            best_cuda = cuda.sort_values("total", kind="stable").iloc[-1]
            # one row per in-house family (its best option), so that each family's
            # residual constant shows
            for fam in dict.fromkeys(inhouse["family"].tolist()):
                options = means.loc[inhouse.index[inhouse["family"] == fam]]
                best = options.sort_values("total", kind="stable").iloc[-1]
                out.append(_gap_row(str(seg), str(wl), best_cuda, best) | {"family": fam})
            continue
        held = group[(group["gated"].astype(str) != "") & group["inhouse"].astype(bool)]
        if len(held):
            families = ",".join(sorted(set(held["family"])))
            out.append(_gated_row(str(seg), str(wl), held) | {"family": families})
    table = pd.DataFrame(out)
    if table.empty:
        return table
    magnitudes = table[list(EXPLAIN_TERMS)].abs()
    total = magnitudes.sum(axis=1).replace(0.0, np.nan)
    for term in EXPLAIN_TERMS:
        table[f"share_{term}"] = magnitudes[term] / total
    table["share_gate"] = np.where(table["gated"] != "", 1.0, 0.0)
    return table


def residual_bound_problems(table: pd.DataFrame, bound: float) -> list[str]:
    """The segments whose residual constants carry more than ``bound`` of their utility gap.

    >>> t = pd.DataFrame({"segment": ["a", "b"], "workload": ["training"] * 2,
    ...     "constants": [-0.1, -0.5], "gap": [-2.0, -1.0], "gated": ["", ""]})
    >>> residual_bound_problems(t, 0.25)
    ['b training: residual constants -0.5 are 50% of the utility gap -1 (bound 25%)']
    """
    problems = []
    columns = ("segment", "workload", "constants", "gap", "gated")
    families = table["family"].tolist() if "family" in table else [""] * len(table)
    cols = [table[c].tolist() for c in columns]
    for fam, seg, wl, const, gap, gated in zip(families, *cols, strict=True):
        if gated or not math.isfinite(gap) or gap == 0:
            continue
        share = abs(const) / abs(gap)
        if share > bound:
            problems.append(
                f"{seg} {wl}{' ' + fam if fam else ''}: residual constants {const:.3g} are "
                f"{share:.0%} of the utility gap {gap:.3g} (bound {bound:.0%})"
            )
    return problems
