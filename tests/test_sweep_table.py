"""``xpusim sweep`` ends with a per-point table of chosen metrics and warns when the
replications are too few for the intervals it prints."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.errors import UserError
from sim.views.sweep_table import interval_warning, points_table
from tests.test_cli import invoke

TINY = Path(__file__).parent / "data" / "sweep" / "tiny.yaml"


def test_sweep_prints_a_row_per_point_in_parameter_order(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "100"})
    out = tmp_path / "sweep"
    args = ["sweep", TINY, "--grid", "economics.pue=1.4,1.1", "--replications", "2"]
    result = invoke(runner, *args, "--out", out, "--metric", "provider.energy_mwh")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert all(len(line) <= 100 for line in lines)
    rows = [line for line in lines if line.startswith(("1.1 ", "1.4 "))]
    assert [r.split()[0] for r in rows] == ["1.1", "1.4"]
    points = pd.read_parquet(out / "points.parquet").sort_values("param.economics.pue")
    energy = points["metric.provider.energy_mwh.mean"].tolist()
    assert energy[0] < energy[1]  # a higher PUE draws more energy
    assert f"{energy[0]:,.0f}" in rows[0] and f"{energy[1]:,.0f}" in rows[1]
    assert "warning: intervals from 2 replications" in result.stderr

    again = invoke(runner, *args, "--out", out, "--format", "json", "--metric", "provider.tco_usd")
    records = json.loads(again.stdout)
    assert len(records) == 2 and {"param.economics.pue", "metric.provider.tco_usd.ci95"} <= set(
        records[0]
    )


def test_unknown_metric_and_warnings() -> None:
    points = pd.DataFrame({"param.x": [1.0], "replications": [1], "metric.a.b.mean": [2.0]})
    with pytest.raises(UserError, match=r"no metric 'provider\.tco_usd'"):
        points_table(points, ["provider.tco_usd"])
    assert interval_warning(1) is not None and "no intervals" in str(interval_warning(1))
    assert interval_warning(3) is not None and interval_warning(4) is None


def test_plot_metric_draws_every_metric_asked_for(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "sweep"
    args = ["sweep", TINY, "--grid", "economics.pue=1.1,1.4", "--replications", "2", "-q"]
    assert invoke(runner, *args, "--out", out).exit_code == 0
    keys = ["provider.energy_mwh", "provider.tco_usd", "customers.spend_usd"]
    metric_args = [a for k in keys for a in ("--metric", k)]
    result = invoke(runner, "plot", out, "--kind", "sweep", "--format", "svg", *metric_args)
    assert result.exit_code == 0, result.output
    svg = (out / "figures" / "sweep.svg").read_text(encoding="utf-8")
    assert len(re.findall(r'<g id="axes_\d+"', svg)) == len(keys)
    bad = invoke(runner, "plot", out, "--kind", "sweep", "--metric", "provider.tco_us")
    assert bad.exit_code == 2 and "did you mean 'provider.tco_usd'" in bad.stderr
