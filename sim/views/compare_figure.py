"""``xpusim plot A B [C ...] --kind compare``: each headline metric's relative difference
from the first run, with the 95% interval of the difference as a whisker (paired over
shared seeds where the runs stored the metric per replication, else unpaired)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from sim.errors import UserError
from sim.experiments.compare import compare_metric
from sim.views.headline import group_title, headline_rows
from sim.views.style import MARKERS, FigureMeta, new_figure, styled

__all__ = ["plot_compare"]

#: One colour per compared run (colour-blind safe, Okabe-Ito).
RUN_COLORS: tuple[str, ...] = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


@styled
def plot_compare(
    named: Sequence[tuple[str, Mapping[str, Any]]], *, meta: FigureMeta | None = None
) -> Figure:
    """Horizontal dots with whiskers: per numeric headline metric of the first run and per
    later run, (run - first) / |first| and its 95% interval; groups as in the headline."""
    if len(named) < 2:
        raise UserError("the compare figure needs two run folders or more")
    base_name, base = named[0]
    rows = [
        r
        for r in headline_rows(base)
        if isinstance(r.value, int | float) and not isinstance(r.value, bool) and r.value != 0
    ]
    others = list(named[1:])
    rel = np.full((len(rows), len(others)), np.nan)
    half = np.full((len(rows), len(others)), np.nan)
    kinds: list[set[str]] = [set() for _ in others]
    for i, r in enumerate(rows):
        for j, (_, summary) in enumerate(others):
            d = compare_metric(base, summary, r.key)
            if d.relative is not None:
                rel[i, j] = 100 * d.relative
                if d.relative_half_width is not None:
                    half[i, j] = 100 * d.relative_half_width
                    kinds[j].add(d.pairing)
    finite = np.abs(rel[np.isfinite(rel)])
    limit = float(np.clip(2.5 * (finite.max() if finite.size else 1.0), 2.0, 100.0))
    height = 1.2 + 0.28 * len(rows)
    fig = new_figure(meta, f"Compared with {base_name}: relative difference", (9.0, height))
    ax = fig.subplots()
    y = np.arange(len(rows))[::-1].astype(float)
    offsets = (np.arange(len(others)) - (len(others) - 1) / 2) * 0.22
    for j, (name, _) in enumerate(others):
        color = RUN_COLORS[j % len(RUN_COLORS)]
        yy = y + offsets[j]
        lo = np.clip(rel[:, j] - half[:, j], -limit, limit)
        hi = np.clip(rel[:, j] + half[:, j], -limit, limit)
        ax.hlines(yy, lo, hi, color=color, linewidth=1.6, alpha=0.8)
        shown = np.clip(rel[:, j], -limit, limit)
        how = _how(kinds[j])
        label = f"{name} ({how})" if how else name
        ax.plot(shown, yy, MARKERS[j % len(MARKERS)], color=color, label=label, markersize=5)
        cut_hi = np.isfinite(half[:, j]) & (rel[:, j] + half[:, j] > limit)
        cut_lo = np.isfinite(half[:, j]) & (rel[:, j] - half[:, j] < -limit)
        ax.plot(np.full(cut_hi.sum(), limit), yy[cut_hi], ">", color=color, markersize=6)
        ax.plot(np.full(cut_lo.sum(), -limit), yy[cut_lo], "<", color=color, markersize=6)
    ax.axvline(0.0, color="#333333", linewidth=0.8)
    ax.set_yticks(y, [r.label for r in rows])
    ax.set_xlim(-limit * 1.05, limit * 1.05)
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set_xlabel(f"difference from {base_name} (% of its mean)")
    for i, r in enumerate(rows):  # a rule and a title above each group
        if i == 0 or r.group != rows[i - 1].group:
            if i:
                ax.axhline(y[i] + 0.5, color="#bbbbbb", linewidth=0.6)
            ax.text(
                1.0,
                y[i] + 0.3,
                group_title(r.group),
                transform=ax.get_yaxis_transform(),
                ha="right",
                va="bottom",
                fontsize=8,
                color="#555555",
            )
    note = (
        f"whiskers: 95% interval of the difference (◂ ▸: it goes beyond ±{limit:.0f}%);\n"
        "paired over shared seeds for metrics stored per replication, else unpaired"
    )
    ax.set_title(note, loc="left", fontsize=8.5, color="#333333")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), title="run (interval)")
    ax.grid(axis="x", alpha=0.3)
    return fig


def _how(kinds: set[str]) -> str:
    """How a run's intervals were found, for its legend entry.

    >>> _how({"paired"}), _how({"paired", "unpaired"}), _how(set())
    ('paired', 'partly paired', '')
    """
    if kinds == {"paired"}:
        return "paired"
    if kinds == {"unpaired"}:
        return "unpaired"
    return "partly paired" if "paired" in kinds else ""
