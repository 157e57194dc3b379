"""Figures: structure (axes, titles, units, plotted data), determinism, image baselines.

Most checks draw small synthetic tables whose expected values are computed by hand; one
module-scoped run folder (a shortened baseline run, ~1.5 s) checks that the figures fit
real outputs and that `plot_folder` picks the right ones. Image baselines live in
tests/baseline_images/; after an intended change regenerate them with ``python -m
tests.regenerate images`` and look at them before committing (the test itself never
rewrites them).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.testing.compare import compare_images
from typer.testing import CliRunner

from sim.errors import UserError
from sim.results.folders import Folder
from sim.scenario import load_scenario
from sim.views.adoption import plot_adoption
from sim.views.compare_figure import plot_compare
from sim.views.cost import cost_curves, plot_cost, street_price_band
from sim.views.figures import RUN_KINDS, draw, figure_meta, figure_reasons, plot_folder
from sim.views.labels import chip_label, metric_label
from sim.views.numbers import fmt_usd
from sim.views.program import plot_learning, plot_program
from sim.views.queue import plot_queue
from sim.views.sensitivity import plot_sobol, plot_tornado, sobol_table
from sim.views.style import COMPONENT_LABELS, FAMILY_COLORS, FigureMeta, rc, save_figure
from sim.views.sweep import plot_sweep, sweep_points
from sim.views.tco import TCO_COMPONENTS, plot_tco_breakdown

BASELINES = Path(__file__).parent / "baseline_images"
IMAGE_TOLERANCE = 6.0  # RMS over 0-255 channels: fonts may hint differently elsewhere
META = FigureMeta("test-scenario", 42, "9.9.9")
MONTHS = [f"2024-{m:02d}-01" for m in range(1, 7)]


# --------------------------------------------------------------------------- fixtures


def build_run_folder(out: Path) -> Path:
    """A real run folder: the baseline cut to 2022-2023, 2 replications, a street price.

    Used by test_report.py too.
    """
    from sim.accounting.runner import run
    from sim.results.run_folder import write_run
    from sim.scenario import load_scenario, substitute

    root = Path(__file__).resolve().parent.parent
    loaded = load_scenario(root / "scenarios" / "baseline.yaml")
    end = dt.date(2024, 1, 1)
    changes: dict[str, Any] = {
        "horizon.end": end,
        "replications": 2,
        "vendors.nvidia.street_price_multiplier": [
            {"start": dt.date(2023, 1, 1), "value": 2.0},
            {"start": dt.date(2023, 7, 1), "value": 1.4},
        ],
    }
    for pid, pool in loaded.scenario.provider.pools.items():
        if any(d.date >= end for d in pool.deliveries):
            changes[f"provider.pools.{pid}.deliveries"] = [
                {"date": d.date, "chips": d.chips} for d in pool.deliveries if d.date < end
            ]
    short = substitute(loaded, changes)
    seed = short.scenario.seed
    return write_run(out, short, seed, lambda: run(short.scenario, seed))


_SHARED: dict[str, Path] = {}


def shared_run_folder(factory: pytest.TempPathFactory) -> Path:
    """One run folder per test session, shared with test_report.py (it takes ~1.5 s)."""
    if "run" not in _SHARED:
        _SHARED["run"] = build_run_folder(factory.mktemp("shared") / "run")
    return _SHARED["run"]


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_run_folder(tmp_path_factory)


def timeseries(replications: int = 1) -> pd.DataFrame:
    """Two pools (h100, trainium2) over six months with round numbers."""
    rows = []
    for r in range(replications):
        for i, month in enumerate(MONTHS):
            for pool, family, k in (("h100", "nvidia_gpu", 1.0), ("trainium2", "trainium", 2.0)):
                rows.append(
                    {
                        "replication": r,
                        "month": month,
                        "pool": pool,
                        "family": family,
                        "installed_chip_hours": 1000.0,
                        "busy_chip_hours": 100.0 * k,
                        "training_chip_hours": 60.0 * k,
                        "serving_chip_hours": 40.0 * k,
                        "utilization": 0.1 * k,
                        "pflop_delivered": 300.0,
                        "mtok_delivered": 50.0,
                        "tco_usd": 1000.0 * k,
                        "capital_usd": 600.0 * k,
                        "power_usd": 100.0 * k,
                        "facility_usd": 150.0 * k,
                        "maintenance_usd": 50.0 * k,
                        "nre_usd": 100.0 * k,
                        "price_usd_per_chip_hour": 4.0,
                        "chips_delivered": 10.0 if i == 0 else 0.0,
                        "jobs_started": float(i + r),
                        "mean_wait_hours": 2.0 * i,
                    }
                )
    return pd.DataFrame(rows)


def segments(replications: int = 3) -> pd.DataFrame:
    """Two segments; customer 'a' moves from all-GPU to a Trainium share of 10% x month."""
    rows = []
    for r in range(replications):
        for i, month in enumerate(MONTHS):
            share = 0.1 * i + 0.02 * r
            for seg, trn in (("a", share), ("own", 0.5)):
                rows.append((r, month, seg, "h100", "nvidia_gpu", 100 * (1 - trn), 0.0))
                rows.append((r, month, seg, "trainium2", "trainium", 100 * trn, 0.0))
    return pd.DataFrame(
        rows,
        columns=[
            "replication",
            "month",
            "segment",
            "pool",
            "family",
            "training_chip_hours",
            "serving_chip_hours",
        ],
    )


#: A program value: items (present values) that sum to the NPV, and their half-widths.
WATERFALL = {
    "revenue_price_usd": -200.0e6,
    "revenue_volume_usd": 50.0e6,
    "gpu_capital_avoided_usd": 900.0e6,
    "nvidia_margin_avoided_usd": 400.0e6,
    "inhouse_capital_usd": -300.0e6,
    "nre_usd": -100.0e6,
    "acquisition_usd": 0.0,
    "program_fixed_usd": -150.0e6,
    "sunk_usd": 0.0,
    "power_usd": 10.0e6,
    "facility_usd": -5.0e6,
    "maintenance_usd": 20.0e6,
}
NPV = sum(v for k, v in WATERFALL.items() if k != "nvidia_margin_avoided_usd")


def program_value(replications: int = 2) -> tuple[pd.DataFrame, dict[str, Any]]:
    """program_value.parquet's cumulative columns over 2024-2027, and a summary."""
    rows = []
    for r in range(replications):
        for i, year in enumerate(range(2024, 2028)):
            profit = 100.0e6 * (i * i - 3) + 50.0e6 * r
            rows.append((r, year, profit, 0.9 * profit))
    table = pd.DataFrame(
        rows,
        columns=["replication", "year", "cumulative_profit_usd", "cumulative_present_value_usd"],
    )
    summary = {
        "horizon": {"start": "2024-01-01", "end": "2028-01-01"},
        "replication_count": replications,
        "program_value": {
            "npv_usd": NPV,
            "payback_years": 2.5,
            "paid_back": 1.0,
            "waterfall": {**WATERFALL, "total_usd": NPV},
        },
        "interval95": {
            "program_value": {
                "npv_usd": 80.0e6,
                "waterfall": {k: 10.0e6 for k in WATERFALL} | {"nre_usd": 0.0},
            }
        },
    }
    return table, summary


TORNADO = [
    {"parameter": "economics.pue", "low_value": 1.1, "high_value": 1.4,
     "metric_low": 9.0e9, "metric_high": 1.2e10, "base": 1.0e10},
    {"parameter": "vendors.nvidia.gross_margin_fraction", "low_value": 0.6,
     "high_value": 0.8, "metric_low": 8.0e9, "metric_high": 1.5e10, "base": 1.0e10},
    {"parameter": "economics.discount_rate_per_year", "low_value": 0.06,
     "high_value": 0.1, "metric_low": 9.8e9, "metric_high": 1.01e10, "base": 1.0e10},
]  # fmt: skip
SOBOL = {
    "S1": {"economics.pue": 0.2, "vendors.nvidia.gross_margin_fraction": 0.6, "x": 0.05},
    "S1_conf": {"economics.pue": 0.05, "vendors.nvidia.gross_margin_fraction": 0.1, "x": 0.02},
    "ST": {"economics.pue": 0.25, "vendors.nvidia.gross_margin_fraction": 0.7, "x": 0.06},
    "ST_conf": {"economics.pue": 0.04, "vendors.nvidia.gross_margin_fraction": 0.08, "x": 0.03},
}


def sweep_runs(grid: bool) -> pd.DataFrame:
    rows = []
    for a in (1.1, 1.2, 1.3):
        for b in (0.6, 0.8) if grid else (0.7,):
            for rep in range(3):
                rows.append(
                    {
                        "param.economics.pue": a,
                        "param.vendors.nvidia.gross_margin_fraction": b,
                        "seed": 7,
                        "replication": rep,
                        "metric.provider.tco_usd": 1e9 * a + 1e8 * b + 1e6 * rep,
                        "metric.queue.h100.mean_wait_hours": 10 * a + rep,
                    }
                )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- helpers


def svg_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    with matplotlib.rc_context(rc()):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    return buf.getvalue()


def check_common(fig: Figure, scenario: str = "test-scenario") -> None:
    """Footnote, a figure title, legends outside the axes, labelled axes with units."""
    foot = fig.get_supxlabel()
    assert "Sources: see manifest.json / xpusim catalog" in foot
    assert f"Scenario {scenario}" in foot
    assert "xpusim" in foot
    assert fig.get_suptitle()
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        assert ax.get_legend() is None, "legends go outside the data"
        assert title(ax), "every panel has a title"
        assert ax.get_ylabel(), "every panel labels its y axis"


def title(ax: Any) -> str:
    """An axes' title wherever it sits (the style puts titles on the left)."""
    return str(ax.get_title("left") or ax.get_title())


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


# --------------------------------------------------------------------------- figures


def test_cost_plots_hand_computed_costs_per_chip() -> None:
    fig = plot_cost(timeseries(), meta=META, freq="MS")
    check_common(fig)
    axes = fig.axes
    assert len(axes) == 4
    assert [title(ax) for ax in axes] == [
        "Provider TCO per PFLOP of training",
        "Provider TCO per million tokens served",
        "Customer price per PFLOP of training",
        "Customer price per million tokens served",
    ]
    assert all("USD per" in ax.get_ylabel() and ax.get_yscale() == "log" for ax in axes)
    assert "Date" in axes[2].get_xlabel()
    # h100: TCO 1000 x 60/100 training share / 300 PFLOP = 2; serving 1000 x 0.4 / 50 = 8
    # trainium2: 2000 x 0.6 / 300 = 4; customers pay 4 USD x 60 h / 300 = 0.8 (x2 for trn2)
    expected = {
        0: {"H100": 2.0, "Trainium2": 4.0},
        1: {"H100": 8.0, "Trainium2": 16.0},
        2: {"H100": 0.8, "Trainium2": 1.6},
        3: {"H100": 3.2, "Trainium2": 6.4},
    }
    for i, ax in enumerate(axes):
        lines = {ln.get_label(): ln for ln in ax.get_lines()}
        assert set(lines) == {"H100", "Trainium2"}
        for chip, value in expected[i].items():
            np.testing.assert_allclose(np.asarray(lines[chip].get_ydata(), float), value)
            assert len(lines[chip].get_xdata()) == len(MONTHS)
    assert legend_texts(fig) == ["H100", "Trainium2"]
    # family colours: the only GPU gets the Nvidia green, Trainium orange
    lines = {ln.get_label(): ln for ln in axes[0].get_lines()}
    assert lines["H100"].get_color() == FAMILY_COLORS["nvidia_gpu"]
    assert lines["Trainium2"].get_color() == FAMILY_COLORS["trainium"]


def test_cost_curves_hide_nearly_idle_pools_and_sum_over_replications() -> None:
    ts = timeseries(replications=2)
    ts.loc[(ts["pool"] == "h100") & (ts["month"] == MONTHS[0]), "training_chip_hours"] = 5.0
    curves = cost_curves(ts, "MS")
    h100 = curves[curves["pool"] == "h100"].reset_index(drop=True)
    assert np.isnan(h100.loc[0, "provider_usd_per_pflop"])  # 5 of 1000 installed hours < 1%
    assert h100.loc[1, "provider_usd_per_pflop"] == pytest.approx(2.0)
    quarterly = cost_curves(timeseries(), "QS")
    assert sorted(set(quarterly["period"].astype(str))) == ["2024-01-01", "2024-04-01"]
    assert quarterly["provider_usd_per_pflop"].tolist() == pytest.approx([2.0, 4.0, 2.0, 4.0])


def test_cost_draws_the_street_price_band_of_the_reference_gpu(run_folder: Path) -> None:
    data = Folder(run_folder)
    fig = draw(data, "cost")
    check_common(fig, "baseline")
    assert data.scenario_model is not None
    band = street_price_band(data.scenario_model, sorted(set(data.need("timeseries")["month"])))
    assert band is not None and band["chip"].iloc[0] == "h100"
    doubled = band[band["multiplier"] == 2.0]
    assert not doubled.empty
    assert (band["street_usd_per_pflop"] >= band["list_usd_per_pflop"]).all()
    assert (doubled["street_usd_per_pflop"] > doubled["list_usd_per_pflop"] * 1.3).all()
    labels = [c.get_label() for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert any("list to street price" in x for x in labels)
    assert "H100 at list to street price (static TCO)" in legend_texts(fig)
    ys = np.concatenate(
        [
            np.asarray(c.get_paths()[0].vertices)[:, 1]
            for c in fig.axes[0].collections
            if "street" in str(c.get_label())
        ]
    )
    assert ys.max() == pytest.approx(band["street_usd_per_pflop"].max())
    assert ys.min() == pytest.approx(band["list_usd_per_pflop"].min())


def test_no_band_without_a_street_price_schedule() -> None:
    data = Path(__file__).parent / "data"
    minimal = load_scenario(
        data / "minimal.yaml", catalog_files=[data / "chips.yaml", data / "stacks.yaml"]
    )
    assert not minimal.scenario.vendors["nvidia"].street_price_multiplier
    assert street_price_band(minimal.scenario, MONTHS) is None


def test_learning_curve_passes_through_the_catalog_unit_cost(run_folder: Path) -> None:
    data = Folder(run_folder)
    scn = data.scenario or {}
    assert data.scenario_model is not None
    fig = plot_learning(data.scenario_model, timeseries=data.table("timeseries"), meta=META)
    check_common(fig)
    (ax,) = fig.axes
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert "USD" in ax.get_ylabel() and "chips" in ax.get_xlabel()
    gens = scn["provider"]["inhouse_program"]["generations"]
    curves = [
        ln for ln in ax.get_lines() if ln.get_linestyle() != "None" and len(ln.get_xdata()) > 2
    ]
    assert len(curves) == len(gens)
    for gid, gen in gens.items():
        unit = scn["catalog"]["chips"][gid]["unit_cost_usd"]
        (line,) = [ln for ln in curves if str(ln.get_label()).startswith(chip_label(gid))]
        x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
        at_ref = np.exp(np.interp(np.log(gen["reference_volume_chips"]), np.log(x), np.log(y)))
        assert at_ref == pytest.approx(unit, rel=1e-3)
        # one doubling costs the learning rate
        assert y[-1] / y[0] == pytest.approx(gen["learning_rate"] ** np.log2(x[-1] / x[0]))
    texts = legend_texts(fig)
    assert "catalog unit cost at reference volume" in texts
    assert any("list price" in t for t in texts)


def test_adoption_fans_and_medians_over_replications() -> None:
    fig = plot_adoption(segments(replications=3), internal=["own"], meta=META)
    check_common(fig)
    top, seg_a, seg_own = fig.axes
    assert title(seg_a) == "a"
    assert "internal work excluded" in title(top)
    assert title(seg_own) == "own (internal)"
    assert "%" in top.get_ylabel() and "Date" in top.get_xlabel()
    lines = {ln.get_label(): ln for ln in top.get_lines()}
    assert set(lines) == {"Nvidia GPU", "Trainium"}
    # customers only (the internal segment is left out): Trainium share 0.1 i + 0.02 r,
    # median over r = 0, 1, 2 is 0.1 i + 0.02
    want = [0.1 * i + 0.02 for i in range(len(MONTHS))]
    np.testing.assert_allclose(np.asarray(lines["Trainium"].get_ydata(), float), want)
    fans = [c for c in top.collections if isinstance(c, PolyCollection)]
    assert len(fans) == 2  # one per family
    fan_y = np.asarray(fans[1].get_paths()[0].vertices)[:, 1]
    assert fan_y.max() == pytest.approx(0.1 * 5 + 0.02 * (0.95 * 2))
    assert "5th-95th percentile over replications" in legend_texts(fig)
    own = {ln.get_label(): ln for ln in seg_own.get_lines()}
    np.testing.assert_allclose(np.asarray(own["Trainium"].get_ydata(), float), 0.5)


def test_adoption_without_replications_has_no_fan() -> None:
    fig = plot_adoption(segments(replications=1), meta=META)
    assert not [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    assert "5th-95th percentile over replications" not in legend_texts(fig)


def test_tco_breakdown_stacks_components_to_the_total() -> None:
    ts = timeseries(replications=2)
    fig = plot_tco_breakdown(ts, meta=META)
    check_common(fig)
    ax_tot, ax_unit = fig.axes
    assert "USD" in ax_tot.get_ylabel() and "USD per busy chip-hour" in ax_unit.get_ylabel()
    assert [t.get_text() for t in ax_tot.get_xticklabels()] == ["H100", "Trainium2"]
    tops = {}
    for patch in ax_tot.patches:
        x = round(patch.get_x() + patch.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), patch.get_y() + patch.get_height())
    # six months x (600 + 100 + 150 + 50 + 100) = 6,000 (h100), twice that for trainium2
    assert tops == {0: pytest.approx(6000.0), 1: pytest.approx(12000.0)}
    unit_tops = {}
    for patch in ax_unit.patches:
        x = round(patch.get_x() + patch.get_width() / 2)
        unit_tops[x] = max(unit_tops.get(x, 0.0), patch.get_y() + patch.get_height())
    assert unit_tops == {0: pytest.approx(10.0), 1: pytest.approx(10.0)}
    assert legend_texts(fig) == [COMPONENT_LABELS[c] for c in TCO_COMPONENTS]


def test_program_waterfall_adds_up_to_the_npv() -> None:
    fig = plot_program(*program_value(), meta=META)
    check_common(fig)
    top, bottom = fig.axes[:2]
    # one bar per non-zero item, the hatched Nvidia margin, then the NPV
    bars = [p for p in top.patches if p.get_hatch() is None]
    items = [v for k, v in WATERFALL.items() if v and k != "nvidia_margin_avoided_usd"]
    assert [b.get_width() for b in bars] == pytest.approx([*items, NPV])
    running = np.cumsum([0.0, *items[:-1]])
    assert [b.get_x() for b in bars[:-1]] == pytest.approx(running.tolist())
    assert bars[-1].get_x() == 0.0
    (margin,) = [p for p in top.patches if p.get_hatch()]
    assert margin.get_width() == pytest.approx(400.0e6)
    labels = [t.get_text() for t in top.get_yticklabels()]
    assert labels[0] == "Revenue from price" and labels[-1] == "Program NPV"
    assert "Acquisition" not in labels  # a zero item is left out
    texts = [t.get_text() for t in top.texts]
    assert "$225M +- $80M" in texts and "-$100M" in texts  # no half-width: shown bare
    assert "USD" in top.get_xlabel() and "USD" in bottom.get_ylabel()


def test_program_cumulative_cash_flow_and_band() -> None:
    table, summary = program_value(replications=3)
    fig = plot_program(table, summary, meta=META)
    bottom = fig.axes[1]
    mean = {str(ln.get_label()): ln for ln in bottom.get_lines()}
    line = mean["Cumulative profit (mean)"]
    expected = table.groupby("year")["cumulative_profit_usd"].mean().to_numpy()
    # nothing at the horizon start (no sunk costs in the table), then each year's end
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), [0.0, *expected])
    np.testing.assert_allclose(np.asarray(line.get_xdata(), float), [2024, 2025, 2026, 2027, 2028])
    assert "95% interval\nof the mean" in [str(c.get_label()) for c in bottom.collections]
    # 2.5 years after 2024-01-01 is July 2026, drawn on the same time axis as the points
    payback = mean["Mean payback (100% of\nreplications pay back):\nJul 2026"]
    assert payback.get_xdata()[0] == pytest.approx(2026.5, abs=0.01)
    ticks = [t.get_text() for t in bottom.get_xticklabels()]
    assert ticks == ["2024", "2025", "2026", "2027", "2028"]


def test_program_cumulative_starts_at_minus_the_sunk_costs_when_included() -> None:
    table, summary = program_value(replications=2)
    sunk = -5.0e8
    table = table.assign(sunk_usd=np.where(table["year"] == 2024, sunk, 0.0))
    fig = plot_program(table, summary, meta=META)
    lines = {str(ln.get_label()): ln for ln in fig.axes[1].get_lines()}
    y = np.asarray(lines["Cumulative profit (mean)"].get_ydata(), float)
    assert y[0] == sunk


def test_program_without_a_value_says_so() -> None:
    table, summary = program_value()
    fig = plot_program(table.iloc[0:0], {"program_value": None}, meta=META)
    assert any("no program value" in t.get_text() for t in fig.axes[0].texts)
    del summary


def test_queue_weights_waits_by_jobs() -> None:
    ts = timeseries(replications=2)
    fig = plot_queue(ts, meta=META)
    check_common(fig)
    ax_w, ax_u = fig.axes
    assert ax_w.get_ylabel() == "Mean wait (hours)" and "%" in ax_u.get_ylabel()
    wait = {ln.get_label(): ln for ln in ax_w.get_lines()}["H100"]
    # month i: jobs i (rep 0) and i + 1 (rep 1), both with mean wait 2 i
    y = np.asarray(wait.get_ydata(), float)
    assert np.isnan(y[0]) is False or y[0] == 0.0
    np.testing.assert_allclose(y, [2.0 * i for i in range(6)])
    util = {ln.get_label(): ln for ln in ax_u.get_lines()}
    np.testing.assert_allclose(np.asarray(util["Trainium2"].get_ydata(), float), 0.2)


def test_tornado_puts_the_widest_swing_on_top() -> None:
    fig = plot_tornado(TORNADO, metric="provider.tco_usd", meta=META)
    check_common(fig)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Provider TCO (USD)"
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1].startswith("vendors.nvidia.gross_margin_fraction")  # top row
    assert labels[0].startswith("economics.discount_rate_per_year")
    assert len(ax.patches) == 2 * len(TORNADO)
    lows = sorted(p.get_x() + p.get_width() for p in ax.patches[:3])
    assert lows == pytest.approx([8.0e9, 9.0e9, 9.8e9])
    assert "base: $10B" in legend_texts(fig)


def test_sobol_bars_with_confidence_whiskers() -> None:
    fig = plot_sobol(SOBOL, metric="provider.tco_usd", meta=META)
    check_common(fig)
    (ax,) = fig.axes
    assert "fraction of output variance" in ax.get_xlabel()
    assert ax.get_yticklabels()[-1].get_text() == "vendors.nvidia.gross_margin_fraction"
    widths = sorted(round(p.get_width(), 6) for p in ax.patches)
    assert widths == sorted([0.2, 0.6, 0.05, 0.25, 0.7, 0.06])
    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errorbars) == 2 and all(c.has_xerr for c in errorbars)
    # SALib's list form with names gives the same table
    listed = {"names": list(SOBOL["S1"]), **{k: list(v.values()) for k, v in SOBOL.items()}}
    pd.testing.assert_frame_equal(sobol_table(listed), sobol_table(SOBOL))


def test_first_order_only_indices_from_a_sweep() -> None:
    names = ["a.b", "c.d"]
    ranked = {"method": "rbd-fast", "names": names, "S1": [0.1, 0.8], "S1_conf": [0.02, 0.03]}
    fig = plot_sobol(ranked | {"ST": [None, None], "ST_conf": [None, None]}, metric="m")
    (ax,) = fig.axes
    assert "RBD-FAST" in fig.texts[0].get_text() or "RBD-FAST" in str(fig.get_suptitle())
    assert sorted(round(p.get_width(), 6) for p in ax.patches) == [0.1, 0.8]
    assert [t.get_text() for t in ax.get_yticklabels()] == names  # ranked by S1, largest last
    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errorbars) == 1


def test_sweep_one_parameter_mean_and_confidence_band() -> None:
    runs = sweep_runs(grid=False)
    fig = plot_sweep(runs, meta=META)
    check_common(fig)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "economics.pue"
    assert ax.get_ylabel() == "Provider TCO (USD)"
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [1.1, 1.2, 1.3])
    want = [1e9 * a + 1e8 * 0.7 + 1e6 for a in (1.1, 1.2, 1.3)]
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), want)
    (band,) = [c for c in ax.collections if isinstance(c, PolyCollection)]
    points = sweep_points(runs, ["param.economics.pue"], "metric.provider.tco_usd")
    half = float(points["ci_high"].iloc[0] - points["mean"].iloc[0])
    assert half == pytest.approx(4.303 * 1e6 / np.sqrt(3), rel=1e-3)  # t(0.975, 2) x s / sqrt n
    ys = np.asarray(band.get_paths()[0].vertices)[:, 1]
    assert ys.max() == pytest.approx(want[-1] + half)
    assert fig.axes[1].get_ylabel() == "Mean wait: H100 (hours)"
    assert any(t.startswith("95% confidence interval") for t in legend_texts(fig))


@pytest.mark.parametrize(
    ("metric", "cut"), [("metric.provider.tco_usd", True), ("metric.program_value.npv_usd", False)]
)
def test_sweep_band_of_a_cost_stops_at_zero_but_a_difference_keeps_its_sign(
    metric: str, cut: bool
) -> None:
    # two runs a point, far apart: the t-interval of the mean reaches well below 0
    runs = pd.DataFrame(
        {
            "param.economics.pue": [1.1, 1.1, 1.3, 1.3],
            "replication": [0, 1, 0, 1],
            metric: [1.0e6, 9.0e6, 2.0e6, 8.0e6],
        }
    )
    fig = plot_sweep(runs, metrics=[metric], meta=META)
    (band,) = [c for c in fig.axes[0].collections if isinstance(c, PolyCollection)]
    low = float(np.asarray(band.get_paths()[0].vertices)[:, 1].min())
    assert (low == 0.0) if cut else (low < -1.0e7)


def test_sweep_grid_of_two_parameters_is_a_heatmap() -> None:
    runs = sweep_runs(grid=True)
    fig = plot_sweep(runs, meta=META)
    check_common(fig)
    ax = fig.axes[0]
    (image,) = [im for im in ax.get_images() if isinstance(im, AxesImage)]
    z = np.asarray(image.get_array())
    assert z.shape == (2, 3)
    assert z[1, 2] == pytest.approx(1e9 * 1.3 + 1e8 * 0.8 + 1e6)
    assert ax.get_xlabel() == "economics.pue"
    assert ax.get_ylabel() == "vendors.nvidia.gross_margin_fraction"
    colorbars = [a for a in fig.axes if a.get_label() == "<colorbar>"]
    assert colorbars and "(USD)" in colorbars[0].get_ylabel()


def test_sampled_sweep_scatters_one_dot_per_run() -> None:
    rng = np.random.default_rng(1)
    runs = pd.DataFrame(
        {
            "param.a": rng.uniform(0, 1, 80),
            "param.b": rng.uniform(0, 1, 80),
            "metric.provider.margin_usd": rng.normal(1e9, 1e8, 80),
        }
    )
    fig = plot_sweep(runs, meta=META)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 2
    assert len(visible[0].collections[0].get_offsets()) == 80


@pytest.mark.parametrize("kind", ["program", "tornado", "sweep"])
def test_drawing_twice_gives_identical_bytes(kind: str) -> None:
    def draw() -> Figure:
        if kind == "program":
            return plot_program(*program_value(2), meta=META)
        if kind == "tornado":
            return plot_tornado(TORNADO, metric="provider.tco_usd", meta=META)
        return plot_sweep(sweep_runs(grid=True), meta=META)

    first, second = svg_bytes(draw()), svg_bytes(draw())
    assert first == second
    assert b"<dc:date>" not in first
    if kind == "tornado":
        pngs = []
        for _ in range(2):
            buf = io.BytesIO()
            with matplotlib.rc_context(rc()):
                draw().savefig(buf, format="png", metadata={"Software": None})
            pngs.append(buf.getvalue())
        assert pngs[0] == pngs[1]


def test_style_is_not_left_in_global_state() -> None:
    before = dict(matplotlib.rcParams)
    plot_tornado(TORNADO, metric="provider.tco_usd", meta=META)
    assert dict(matplotlib.rcParams) == before


def test_formatters() -> None:
    assert fmt_usd(2.5e9) == "$2.5B"
    assert metric_label("metric.program_value.npv_usd") == "Program NPV (USD)"
    assert chip_label("inferentia2") == "Inferentia2"


# --------------------------------------------------------------------------- image baselines


def compare_runs() -> list[tuple[str, dict[str, Any]]]:
    """The baseline summary (tests/data) and two variants: +5% TCO under the same seeds
    (paired), -3% under other seeds (unpaired)."""
    import copy

    base = json.loads((Path(__file__).parent / "data" / "baseline_summary.json").read_text())
    up, down = copy.deepcopy(base), copy.deepcopy(base)
    for summary, factor in ((up, 1.05), (down, 0.97)):
        summary["provider"]["tco_usd"] *= factor
        for rep in summary["replications"]:
            rep["provider"]["tco_usd"] *= factor
    for rep in down["replications"]:
        rep["seed"] += 1
    return [("base", base), ("tco +5%", up), ("tco -3%", down)]


BASELINE_FIGURES: tuple[str, ...] = ("tco_breakdown", "tornado", "program", "compare")
"""The figures compared with an image in tests/baseline_images/."""


def baseline_figure(name: str) -> Figure:
    """The figure that tests/baseline_images/<name>.png shows."""
    if name == "tco_breakdown":
        return plot_tco_breakdown(timeseries(), meta=META)
    if name == "tornado":
        return plot_tornado(TORNADO, metric="provider.tco_usd", meta=META)
    if name == "compare":
        return plot_compare(compare_runs(), meta=META)
    return plot_program(*program_value(replications=2), meta=META)


@pytest.mark.parametrize("name", BASELINE_FIGURES)
def test_image_baseline(name: str, tmp_path: Path) -> None:
    (actual,) = save_figure(baseline_figure(name), tmp_path / name, ["png"])
    expected = BASELINES / f"{name}.png"
    assert expected.is_file(), f"no baseline {expected}: run `python -m tests.regenerate images`"
    problem = compare_images(str(expected), str(actual), tol=IMAGE_TOLERANCE)
    assert problem is None, problem


# --------------------------------------------------------------------------- folders


def test_plot_folder_fits_the_figures_to_a_run_folder(run_folder: Path) -> None:
    # every run figure fits (test_report.py draws them all through write_report)
    data = Folder(run_folder)
    assert [k for k, why in figure_reasons(data).items() if why is None] == list(RUN_KINDS)
    assert data.describe() == "run folder"
    meta = figure_meta(data)
    assert meta.scenario == "baseline" and isinstance(meta.seed, int)
    written = plot_folder(run_folder, kinds=["tco-breakdown", "program"], formats=["png"])
    assert [p.name for p in written] == ["tco_breakdown.png", "program.png"]
    assert all(p.parent == run_folder / "figures" and p.stat().st_size > 10_000 for p in written)
    svg = plot_folder(run_folder, kinds=["queue"], formats=["svg"])
    assert [p.name for p in svg] == ["queue.svg"]
    assert b"Sources: see manifest.json" in svg[0].read_bytes()  # footnote (as a comment)
    reasons = figure_reasons(Folder(run_folder))
    assert reasons["tornado"] and "sensitivity" in reasons["tornado"]


def test_plot_folder_on_sweep_and_sensitivity_folders(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    sweep_runs(grid=False).to_parquet(sweep / "runs.parquet")
    (sweep / "manifest.json").write_text(
        json.dumps({"kind": "sweep", "scenario_name": "baseline", "runs": 9})
    )
    assert [p.name for p in plot_folder(sweep, formats=["png"])] == ["sweep.png"]
    assert figure_meta(Folder(sweep)).extra == "9 runs"

    sens = tmp_path / "sens"
    sens.mkdir()
    (sens / "sensitivity.json").write_text(
        json.dumps({"metric": "provider.tco_usd", "tornado": TORNADO, "sobol": SOBOL})
    )
    written = plot_folder(sens, formats=["png"])
    assert [p.name for p in written] == ["tornado.png", "sobol.png"]


def test_plot_folder_errors(tmp_path: Path, run_folder: Path) -> None:
    with pytest.raises(UserError, match="no such folder"):
        plot_folder(tmp_path / "missing")
    with pytest.raises(UserError, match="not a run, sweep or sensitivity folder"):
        plot_folder(tmp_path)
    with pytest.raises(UserError, match="did you mean 'adoption'"):
        plot_folder(run_folder, kinds=["adoptoin"])
    with pytest.raises(UserError, match=r"cannot draw 'sobol'.*run folder"):
        plot_folder(run_folder, kinds=["sobol"])
    with pytest.raises(UserError, match="unknown figure format 'pdf'"):
        plot_folder(run_folder, kinds=["cost"], formats=["pdf"])
    (tmp_path / "sensitivity.json").write_text("{not json")
    with pytest.raises(UserError, match="cannot read"):
        plot_folder(tmp_path)


def test_cli_commands(run_folder: Path, tmp_path: Path) -> None:
    from sim.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["plot", str(run_folder), "--kind", "program", "--format", "png"])
    assert ok.exit_code == 0, ok.output
    assert ok.output.strip() == str(run_folder / "figures" / "program.png")
    bad = runner.invoke(app, ["plot", str(run_folder), "--kind", "tornadoo"])
    assert bad.exit_code == 2
    assert "did you mean 'tornado'" in bad.output
    missing = runner.invoke(app, ["report", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such folder" in missing.output


def test_only_the_edges_import_matplotlib() -> None:
    code = (
        "import sys\n"
        "import sim.accounting.runner, sim.accounting.ledger, sim.engine.core\n"
        "import sim.results.run_folder, sim.scenario\n"
        "assert 'matplotlib' not in sys.modules, 'the core imported matplotlib'\n"
        "import sim.views.figures, sim.views.report, sim.cli\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_sensitivity_json_as_the_sensitivity_command_writes_it(tmp_path: Path) -> None:
    # a list of results (one per --metric), base at the top, SALib lists with names
    rows = [{k: v for k, v in r.items() if k != "base"} for r in TORNADO]
    rows[2]["metric_high"] = None  # a failed point
    names = list(SOBOL["S1"])
    result = {
        "metric": "provider.tco_usd",
        "base": 1.1e10,
        "tornado": rows,
        "sobol": {"names": names, **{k: list(v.values()) for k, v in SOBOL.items()}},
    }
    other = {**result, "metric": "provider.margin_usd"}
    (tmp_path / "sensitivity.json").write_text(json.dumps([result, other]))
    (tmp_path / "manifest.json").write_text(json.dumps({"kind": "sensitivity", "runs": 40}))
    data = Folder(tmp_path)
    assert data.metric == "provider.tco_usd" and len(data.sensitivities) == 2
    fig = draw(data, "tornado")
    (ax,) = fig.axes
    base_line = [ln for ln in ax.get_lines() if str(ln.get_label()).startswith("base")]
    assert base_line[0].get_xdata()[0] == pytest.approx(1.1e10)
    assert "40 runs" in fig.get_supxlabel()
    # one figure per metric: the first under the kind's name (the report's), then each other
    assert [p.name for p in plot_folder(tmp_path, formats=["png"])] == [
        "tornado.png",
        "tornado-provider-margin_usd.png",
        "sobol.png",
        "sobol-provider-margin_usd.png",
    ]
    figures = tmp_path / "figures"
    assert (figures / "tornado.png").read_bytes() != (
        figures / "tornado-provider-margin_usd.png"
    ).read_bytes()


def test_compare_figure_draws_each_metric_with_its_interval() -> None:
    runs = compare_runs()
    fig = plot_compare(runs, meta=META)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert "Provider TCO" in labels and len(labels) >= 20
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["tco +5% (partly paired)", "tco -3% (unpaired)"]
    # the TCO dot of the +5% run sits at +5% (markers are the Line2D with one marker style)
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    y_tco = len(labels) - 1 - labels.index("Provider TCO")
    (x_tco,) = [x for x, y in zip(*dots[0].get_data(), strict=True) if abs(y - y_tco) < 0.5]
    assert x_tco == pytest.approx(5.0)
    with pytest.raises(UserError):
        plot_compare(runs[:1], meta=META)


def test_plot_compare_cli(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tests.test_cli import invoke

    folders = []
    for name, summary in compare_runs():
        folder = tmp_path / name.replace(" ", "_").replace("%", "pct").replace("+", "up")
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        folders.append(folder)
    result = invoke(CliRunner(), "plot", *folders, "--kind", "compare", "--format", "png")
    assert result.exit_code == 0, result.output
    assert (folders[0] / "figures" / "compare.png").is_file()
    bad = invoke(CliRunner(), "plot", *folders, "--kind", "cost")
    assert bad.exit_code == 2 and "--kind compare" in bad.stderr
