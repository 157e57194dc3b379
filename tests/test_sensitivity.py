"""Sensitivity: Sobol indices on Ishigami's function (known values) through the same code
path as the simulation, the tornado ordering, and the command line end to end."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from sim.cli import app as xpusim_app
from sim.errors import UserError
from sim.sweep.sensitivity import evaluate, resolve_metric, sensitivity_design
from sim.sweep_cli import register
from sim.uncertainty import Normal, Uniform

TINY = Path(__file__).parent / "data" / "sweep" / "tiny.yaml"
REDUCED = os.environ.get("XPUSIM_REDUCED") == "1"

# Ishigami (a = 7, b = 0.1) on [-pi, pi]^3: analytic first-order and total indices.
ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]


def ishigami(values: dict[str, float], seed: int) -> dict[str, Any]:
    """A stand-in task: payload = the point's values, no randomness used."""
    x1, x2, x3 = values["x1"], values["x2"], values["x3"]
    y = math.sin(x1) + 7.0 * math.sin(x2) ** 2 + 0.1 * x3**4 * math.sin(x1)
    return {"y": y, "label": "ishigami"}


def linear(values: dict[str, float], seed: int) -> dict[str, Any]:
    """y = 3 x1 + x2 + 0 x3 plus replication noise (common across points for a seed)."""
    noise = np.random.default_rng(seed).normal()
    return {"y": 3.0 * values["x1"] + values["x2"] + noise}


def uniform_box() -> dict[str, Any]:
    return {f"x{i}": Uniform(dist="uniform", low=-math.pi, high=math.pi) for i in (1, 2, 3)}


def test_sobol_indices_of_ishigami() -> None:
    design = sensitivity_design(uniform_box(), n=1024, replications=1, seed=7)
    assert design.runs_total == 1 + 6 + 1024 * 5
    [result] = evaluate(design, ["y"], build=dict, task=ishigami, workers=1)
    sobol = result["sobol"]
    assert sobol["names"] == ["x1", "x2", "x3"]
    assert sobol["S1"] == pytest.approx(ISHIGAMI_S1, abs=0.06)
    assert sobol["ST"] == pytest.approx(ISHIGAMI_ST, abs=0.06)
    assert all(c is not None and 0 < c < 0.2 for c in sobol["S1_conf"] + sobol["ST_conf"])
    assert sorted(range(3), key=lambda j: -sobol["ST"][j]) == [0, 1, 2]


def test_tornado_orders_by_swing_and_uses_common_random_numbers() -> None:
    params = uniform_box()
    params["x2"] = Normal(dist="normal", mean=0.0, sd=1.0)  # unbounded: 5th/95th percentiles
    design = sensitivity_design(params, n=8, replications=3, seed=1)
    [result] = evaluate(design, ["metric.y"], build=dict, task=linear, workers=1)
    assert result["metric"] == "y"
    names = [row["parameter"] for row in result["tornado"]]
    assert names == ["x1", "x2", "x3"]
    x1 = result["tornado"][0]
    # the replication noise is the same at every point, so it cancels in the swing
    assert x1["metric_high"] - x1["metric_low"] == pytest.approx(6 * math.pi)
    x2 = result["tornado"][1]
    assert x2["low_value"] == pytest.approx(-1.6448536, abs=1e-6)
    assert result["tornado"][2]["metric_high"] == pytest.approx(result["base"])


def test_results_do_not_depend_on_the_worker_count() -> None:
    design = sensitivity_design(uniform_box(), n=16, replications=1, seed=3)
    one = evaluate(design, ["y"], build=dict, task=ishigami, workers=1)
    two = evaluate(design, ["y"], build=dict, task=ishigami, workers=2)
    assert json.dumps(one) == json.dumps(two)


def test_metric_and_design_errors() -> None:
    with pytest.raises(UserError, match=r"did you mean 'provider\.tco_usd'"):
        resolve_metric("provider.tco_us", ["provider.tco_usd", "provider.revenue_usd"])
    assert resolve_metric("metric.provider.tco_usd", ["provider.tco_usd"]) == "provider.tco_usd"
    with pytest.raises(UserError, match="power of two"):
        sensitivity_design(uniform_box(), n=12, replications=1, seed=0)
    with pytest.raises(UserError, match="no distribution"):
        sensitivity_design({}, n=8, replications=1, seed=0)
    design = sensitivity_design(uniform_box(), n=8, replications=1, seed=0)
    with pytest.raises(UserError, match="not a number"):
        evaluate(design, ["label"], build=dict, task=ishigami, workers=1)


def test_constant_output_has_no_indices() -> None:
    design = sensitivity_design(uniform_box(), n=8, replications=1, seed=0)

    [result] = evaluate(design, ["y"], build=dict, task=_constant, workers=1)
    assert result["sobol"]["S1"] == [None, None, None]


def _constant(values: dict[str, float], seed: int) -> dict[str, Any]:
    return {"y": 1.0}


def cli() -> typer.Typer:
    app = typer.Typer(cls=xpusim_app.info.cls, add_completion=False)
    register(app)
    return app


def test_cli_sensitivity_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "sens"
    result = CliRunner().invoke(
        cli(),
        [
            "sensitivity",
            str(TINY),
            "--metric",
            "provider.tco_usd",
            "--n",
            "2" if REDUCED else "4",
            "--workers",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    body = json.loads((out / "sensitivity.json").read_text())
    assert body["metric"] == "provider.tco_usd" and body["base"] > 0
    assert {row["parameter"] for row in body["tornado"]} == {
        "adoption.family_preference.trainium",
        "economics.electricity_usd_per_kwh",
    }
    assert set(body["sobol"]) == {"names", "S1", "S1_conf", "ST", "ST_conf"}
    # the electricity price drives the cost; the swing is positive
    top = body["tornado"][0]
    assert top["parameter"] == "economics.electricity_usd_per_kwh"
    assert top["low_value"] == 0.05 and top["high_value"] == 0.12
    assert top["metric_high"] > top["metric_low"]
    assert "Tornado: provider.tco_usd" in result.output and "Sobol' indices" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sensitivity"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--metric", "provider.tco_us"], "did you mean 'provider.tco_usd'"),
        (["--metric", "provider.tco_usd", "--n", "6"], "power of two"),
        (
            [
                "--metric",
                "provider.tco_usd",
                "--set",
                "economics.electricity_usd_per_kwh=0.08",
                "--set",
                "adoption.family_preference.trainium=-1",
            ],
            "declares no distribution",
        ),
        ([], "Missing option"),
    ],
)
def test_cli_sensitivity_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli(),
        [
            "sensitivity",
            str(TINY),
            *args,
            "--n",
            "2",
            "--workers",
            "1",
            "--out",
            str(tmp_path / "x"),
        ]
        if "--n" not in args
        else ["sensitivity", str(TINY), *args, "--workers", "1", "--out", str(tmp_path / "x")],
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()
