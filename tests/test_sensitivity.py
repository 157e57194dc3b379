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

import sim.api as xs
from sim.cli import app as xpusim_app
from sim.errors import UserError
from sim.experiments.sensitivity import (
    evaluate,
    min_points,
    rank_sample,
    resolve_metric,
    sample_indices,
    sensitivity_design,
)
from sim.scenario.distributions import Normal, Uniform
from sim.views.terminal import sample_ranking_table

TINY = Path(__file__).parent / "data" / "sweep" / "tiny.yaml"
REDUCED = os.environ.get("XPUSIM_REDUCED") == "1"

# Ishigami (a = 7, b = 0.1) on [-pi, pi]^3: analytic first-order and total indices.
ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]


def ishigami(shared: Any, values: dict[str, float], seed: int) -> dict[str, Any]:
    """A stand-in task: payload = the point's values, no randomness used."""
    x1, x2, x3 = values["x1"], values["x2"], values["x3"]
    y = math.sin(x1) + 7.0 * math.sin(x2) ** 2 + 0.1 * x3**4 * math.sin(x1)
    return {"y": y, "label": "ishigami"}


def linear(shared: Any, values: dict[str, float], seed: int) -> dict[str, Any]:
    """y = 3 x1 + x2 + 0 x3 plus replication noise (common across points for a seed)."""
    noise = np.random.default_rng(seed).normal()
    return {"y": 3.0 * values["x1"] + values["x2"] + noise}


def uniform_box() -> dict[str, Any]:
    return {f"x{i}": Uniform(dist="uniform", low=-math.pi, high=math.pi) for i in (1, 2, 3)}


def test_sobol_indices_of_ishigami() -> None:
    design = sensitivity_design(uniform_box(), n=1024, replications=1, seed=7)
    assert design.runs_total == 1 + 6 + 1024 * 5
    [result] = evaluate(design, ["y"], task=ishigami, workers=1)
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
    [result] = evaluate(design, ["metric.y"], task=linear, workers=1)
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
    one = evaluate(design, ["y"], task=ishigami, workers=1)
    two = evaluate(design, ["y"], task=ishigami, workers=2)
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
        evaluate(design, ["label"], task=ishigami, workers=1)


def test_constant_output_has_no_indices() -> None:
    design = sensitivity_design(uniform_box(), n=8, replications=1, seed=0)

    [result] = evaluate(design, ["y"], task=_constant, workers=1)
    assert result["sobol"]["S1"] == [None, None, None]


def _constant(shared: Any, values: dict[str, float], seed: int) -> dict[str, Any]:
    return {"y": 1.0}


def cli() -> typer.Typer:
    """The xpusim app: every command, registered once, with its error handling."""
    return xpusim_app


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
    widest = max(w for k in ("S1_conf", "ST_conf") for w in body["sobol"][k] if w is not None)
    # a tiny base sample: the warning names the widest confidence half-width
    assert (widest > 0.1) == ("warning: Sobol' indices" in result.stderr)
    if widest > 0.1:
        assert f"reach {widest:.3g}" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sensitivity"


def test_cli_sensitivity_of_dated_metrics_ends_the_runs_with_their_year(tmp_path: Path) -> None:
    """Every metric names 2022: the runs end at 2023-01-01 (the resolved scenario says so),
    the command says so once, and the base matches a run of the whole horizon."""
    out = tmp_path / "sens"
    metric = "usage.chip_hours.nvidia_gpu.2022"
    longer = ["--set", "horizon.end=2023-03-01"]
    small = ["--n", "2", "--workers", "1"]
    result = CliRunner().invoke(
        cli(), ["sensitivity", str(TINY), "--metric", metric, *longer, *small, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count("note: every metric names a year") == 1
    assert "ended at 2023-01-01, not 2023-03-01" in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert str(manifest["scenario"]["horizon"]["end"]) == "2023-01-01"
    base = json.loads((out / "sensitivity.json").read_text())["base"]
    whole = xs.run(xs.load(TINY, [s for s in longer if s != "--set"]), seed=manifest["seed"])
    assert base == pytest.approx(whole.metric(metric).mean, rel=1e-9)
    # a metric of the whole run (no year) among them keeps the horizon
    both = ["--metric", metric, "--metric", "provider.tco_usd"]
    mixed = CliRunner().invoke(
        cli(), ["sensitivity", str(TINY), *both, *longer, *small, "--out", str(tmp_path / "m")]
    )
    assert mixed.exit_code == 0, mixed.output
    assert "note: every metric names a year" not in mixed.stderr


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
        ([], "missing option --metric"),
        (["--metric", "usage.chip_hours.nvidia_gpu.9999"], "unknown"),
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


# --------------------------------------------------------------------------- from a sweep


def test_rbd_fast_on_a_latin_hypercube_of_ishigami() -> None:
    """First-order indices from a plain LHS (no Saltelli design) match Ishigami's."""
    from scipy.stats import qmc

    unit = qmc.LatinHypercube(d=3, seed=np.random.default_rng(11)).random(4000)
    x = -math.pi + 2 * math.pi * unit
    y = [ishigami(None, {"x1": a, "x2": b, "x3": c}, 0)["y"] for a, b, c in x]
    res = sample_indices(["x1", "x2", "x3"], x, y, seed=5)
    assert res["S1"] == pytest.approx(ISHIGAMI_S1, abs=0.05)
    assert all(c is not None and 0 < c < 0.1 for c in res["S1_conf"])
    assert sorted(range(3), key=lambda j: -(res["S1"][j] or 0.0)) == [1, 0, 2]
    rho = res["spearman_rho"]
    assert rho[0] is not None and rho[0] > 0.3  # sin(x1) rises over most of its range
    assert rho[1] is not None and abs(rho[1]) < 0.1  # sin(x2)^2 is symmetric: no direction


def test_rank_sample_reports_short_samples_and_constant_metrics() -> None:
    values = {"a": np.linspace(0, 1, 10), "b": np.linspace(1, 0, 10)}
    outputs = {"y": np.linspace(0, 1, 10), "flat": np.ones(10)}
    short, flat = rank_sample(values, outputs, ["y", "flat"], seed=1)
    assert short["points"] == 10 and short["sobol"]["S1"] == [None, None]  # < min_points()
    assert short["spearman"]["rho"] == pytest.approx([1.0, -1.0])
    assert flat["spearman"]["rho"] == [None, None]
    with pytest.raises(UserError, match="did you mean 'y'"):
        rank_sample(values, outputs, ["yy"], seed=1)


@pytest.fixture(scope="module")
def finished_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ranked") / "sweep"
    result = CliRunner().invoke(
        xpusim_app,
        [
            "sweep",
            str(TINY),
            "--sample",
            str(min_points() + 3),
            "--replications",
            "1",
            "--workers",
            "1",
            "--quiet",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    return out


def test_cli_ranks_a_finished_sweep_without_running(finished_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "ranking"
    journal = (finished_sweep / "runs.jsonl").read_bytes()
    result = CliRunner().invoke(
        cli(),
        [
            "sensitivity",
            str(finished_sweep),
            "--metric",
            "provider.tco_usd",
            "--metric",
            "provider.energy_mwh",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (finished_sweep / "runs.jsonl").read_bytes() == journal  # nothing ran
    tco, energy = json.loads((out / "sensitivity.json").read_text())
    names = ["adoption.family_preference.trainium", "economics.electricity_usd_per_kwh"]
    for body in (tco, energy):
        assert body["points"] == min_points() + 3 and body["tornado"] == []
        assert body["sobol"]["method"] == "rbd-fast" and body["sobol"]["names"] == names
        assert body["sobol"]["ST"] == [None, None]
    # the electricity price raises the power bill, so the TCO, monotonically; over one
    # quarter the preference for Trainium moves no work, so it explains next to nothing
    s1 = tco["sobol"]["S1"]
    assert s1[1] > 0.8 and abs(s1[0]) < 0.1
    assert tco["spearman"]["rho"][1] > 0.9
    # the fleet's energy does not depend on either parameter here: no indices, no ranks
    assert energy["sobol"]["S1"] == [None, None] and energy["spearman"]["rho"] == [None, None]
    assert "First-order indices (RBD-FAST" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "sensitivity" and manifest["sweep_folder"] == str(finished_sweep)
    # the report reads the ranking: first-order indices and rank correlations, largest first
    report = CliRunner().invoke(xpusim_app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    text = (out / "report.md").read_text()
    assert "First-order indices (RBD-FAST), ranked by S1, the largest first" in text
    table = text[text.index("| Parameter | S1 |") :]
    assert table.index("economics.electricity_usd_per_kwh") < table.index("adoption.family")


def test_cli_sweep_ranking_errors_exit_2(finished_sweep: Path, tmp_path: Path) -> None:
    def invoke(folder: Path, *extra: str) -> str:
        result = CliRunner().invoke(
            cli(), ["sensitivity", str(folder), "--metric", "provider.tco_usd", *extra]
        )
        assert result.exit_code == 2, result.output
        return result.output

    assert "not a sweep folder" in invoke(tmp_path)
    assert "--set applies to a scenario" in invoke(finished_sweep, "--set", "economics.pue=1.2")
    unfinished = tmp_path / "unfinished"
    unfinished.mkdir()
    manifest = json.loads((finished_sweep / "manifest.json").read_text())
    manifest.update(status="running", runs_done=3)
    (unfinished / "manifest.json").write_text(json.dumps(manifest))
    assert "not finished (3 of" in invoke(unfinished)
    grid_only = tmp_path / "grid"
    grid_only.mkdir()
    manifest.update(status="complete", runs_done=manifest["runs_total"])
    manifest["design"]["sample"] = None
    (grid_only / "manifest.json").write_text(json.dumps(manifest))
    assert "samples no distribution" in invoke(grid_only)


def test_cli_ranking_as_json_holds_the_indices(finished_sweep: Path, tmp_path: Path) -> None:
    out = tmp_path / "ranking"
    args = ["sensitivity", str(finished_sweep), "--metric", "provider.tco_usd", "--out", str(out)]
    result = CliRunner().invoke(cli(), [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)  # stdout holds only the table; the folder is on stderr
    body = json.loads((out / "sensitivity.json").read_text())
    assert rows[0]["parameter"] == "economics.electricity_usd_per_kwh"
    top = rows[0]
    j = body["sobol"]["names"].index(top["parameter"])
    assert top["S1"] == body["sobol"]["S1"][j] and top["rho"] == body["spearman"]["rho"][j]
    assert top["metric"] == "provider.tco_usd" and top["rank"] == 1


def _short_ranking(rho: list[float | None]) -> dict[str, Any]:
    """A ranked sampled sweep of 8 points (too few for S1) with the rank correlations
    ``rho`` of parameters named a, b, c ... in alphabetical order."""
    names = [chr(ord("a") + j) for j in range(len(rho))]
    none: list[float | None] = [None] * len(rho)
    return {
        "metric": "provider.tco_usd",
        "points": 8,
        "sobol": {"method": "rbd-fast", "names": names, "S1": none, "S1_conf": none},
        "spearman": {"names": names, "rho": rho, "p": [0.5] * len(rho)},
    }


def test_a_short_sweep_is_ranked_by_the_rank_correlations_it_has() -> None:
    """Under min_points() a sampled sweep has no S1: its rank follows |Spearman rho| (not
    the parameters' alphabetical order), and the table says so."""
    result = _short_ranking([-0.33, 0.05, None, 0.62, -0.8])
    table = sample_ranking_table(result)
    ranked = [(r["rank"], r["parameter"], r["rank_by"]) for r in table.rows]
    assert [p for _, p, _ in ranked] == ["e", "d", "a", "b", "c"]
    assert [r for r, _, _ in ranked] == [1, 2, 3, 4, 5]
    assert {by for _, _, by in ranked} == {"|Spearman rho|"}
    assert "rank: by |Spearman rho|" in table.caption and "needs 120 points" in table.caption
    # with S1, the rank is by S1 and says so
    result["sobol"]["S1"] = [0.1, 0.5, None, 0.2, 0.05]
    table = sample_ranking_table(result)
    assert [r["parameter"] for r in table.rows][:2] == ["b", "d"]
    assert table.caption == "rank: by S1, the largest first"
    # nothing computed: no rank at all rather than an alphabetical one
    flat = sample_ranking_table(_short_ranking([None, None]))
    assert [r["rank"] for r in flat.rows] == [None, None] and "no rank" in flat.caption


def test_the_report_ranks_a_short_sweep_by_its_rank_correlations() -> None:
    from sim.views.report.blocks import Table
    from sim.views.report.headline import _headline_ranked_sweep

    result = _short_ranking([-0.33, 0.05, None, 0.62, -0.8])
    table = next(b for b in _headline_ranked_sweep(result, result["sobol"]) if isinstance(b, Table))
    assert [row[0] for row in table.rows] == ["e", "d", "a", "b", "c"]
    assert "ranked by |Spearman rho|" in table.caption


def _widths(d: int, widest: float) -> dict[str, Any]:
    """A sensitivity result over ``d`` parameters whose widest confidence half-width is
    ``widest``."""
    names = [f"p{j}" for j in range(d)]
    return {"metric": "m", "sobol": {"names": names, "S1_conf": [widest] + [0.01] * (d - 1)}}


@pytest.mark.parametrize(
    ("n", "widest", "replications", "advised"),
    [
        (2, 1.58, 2, 512),  # 6,165 points x 2: under the cap, runs as advised
        (64, 2.53, 2, 65536),  # 786,453 points: over the cap whatever the replications
        (2048, 0.2, 2, 8192),  # 98,325 points x 2 = 196,650 runs: over it by replications
        (2048, 0.2, 1, 8192),  # ... and under it with one replication
    ],
)
def test_the_advised_n_comes_with_what_it_takes_to_run(
    n: int, widest: float, replications: int, advised: int
) -> None:
    """The warning's advice is a runnable command: where the advised --n passes the run cap
    (sim.experiments.design.MAX_RUNS), it says to add --allow-large, and only there."""
    from sim.experiments.design import MAX_RUNS
    from sim.experiments.sensitivity import check_design_size, design_points
    from sim.views.sweep_table import sobol_warning

    d = 10
    warning = sobol_warning(_widths(d, widest), n, replications=replications)
    assert warning is not None and f"about --n {advised} brings them to 0.1" in warning
    runs = design_points(d, advised) * replications
    if runs <= MAX_RUNS:
        assert "--allow-large" not in warning
        assert check_design_size(d, advised, replications) == runs
    else:
        assert f"over the {MAX_RUNS:,}-run cap: add --allow-large" in warning
        assert f"{design_points(d, advised):,} points x {replications} replication" in warning
        with pytest.raises(UserError, match="too large"):
            check_design_size(d, advised, replications)
        assert check_design_size(d, advised, replications, allow_large=True) == runs


def test_advice_beyond_this_machine_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.experiments.design as design
    from sim.views.sweep_table import sobol_warning

    monkeypatch.setattr(design, "physical_memory_bytes", lambda: 2**20)
    warning = sobol_warning(_widths(10, 2.53), 64, replications=2)
    assert warning is not None and "about --n 65536" in warning
    assert "more than this machine's memory holds even with --allow-large" in warning
    assert "add --allow-large" not in warning
