"""Sweeps: design correctness, common random numbers, backend-independent results,
crash safety (kill and resume), refusing a changed design, and clean CLI errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from sim.cli import app as xpusim_app
from sim.errors import UserError
from sim.experiments.design import (
    build_design,
    grid_values,
    parse_grid,
    point_id,
    split_values,
    unit_sample,
)
from sim.experiments.execute import Job, execute
from sim.experiments.orchestrate import run_sweep
from sim.experiments.points import flatten_summary, run_point
from sim.model.rng import replication_seeds
from sim.results.journal import JOURNAL, Journal, read_journal
from sim.results.sweep_folder import build_tables
from sim.scenario import load_scenario

HERE = Path(__file__).parent
SMALL = HERE / "data" / "sweep" / "small.yaml"
TINY = HERE / "data" / "sweep" / "tiny.yaml"
ROOT = HERE.parent
REDUCED = os.environ.get("XPUSIM_REDUCED") == "1"


@pytest.fixture(scope="module")
def tiny() -> Any:
    return load_scenario(TINY)


def cli() -> typer.Typer:
    """The xpusim app: every command, registered once, with its error handling."""
    return xpusim_app


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli(), [str(a) for a in args])


# --------------------------------------------------------------------------- design


def test_grid_is_the_cartesian_product_with_values_typed_like_set(tiny: Any) -> None:
    design = build_design(
        tiny,
        grid=["economics.pue=1.1,1.2,1.3", "economics.depreciation_years=4,6"],
        replications=2,
    )
    assert design.parameters == ("economics.pue", "economics.depreciation_years")
    assert len(design.points) == 6
    assert design.runs_total == 12
    values = [dict(p.values) for p in design.points]
    assert values[:3] == [
        {"economics.pue": 1.1, "economics.depreciation_years": 4},
        {"economics.pue": 1.1, "economics.depreciation_years": 6},
        {"economics.pue": 1.2, "economics.depreciation_years": 4},
    ]
    assert all(isinstance(v["economics.depreciation_years"], int) for v in values)
    assert len({p.id for p in design.points}) == 6
    # ids are a stable hash of the values: a second build recognises every point
    again = build_design(
        tiny, grid=["economics.pue=1.1,1.2,1.3", "economics.depreciation_years=4,6"]
    )
    assert [p.id for p in again.points] == [p.id for p in design.points]
    assert design.points[0].id == point_id(values[0])


def test_grid_helpers() -> None:
    assert split_values("1e-3, [1, 2] ,x") == ["1e-3", "[1, 2]", "x"]
    assert parse_grid("economics.pue=1e0,2.5").values == (1.0, 2.5)
    assert len(grid_values([parse_grid("economics.pue=1.1,1.2"), parse_grid("seed=1,2,3")])) == 6


@pytest.mark.parametrize("n", [8, 50])
def test_lhs_hits_every_stratum_once_per_dimension(n: int) -> None:
    u = unit_sample(n, 4, "lhs", np.random.default_rng(3))
    assert u.shape == (n, 4)
    for j in range(4):
        assert sorted(np.floor(u[:, j] * n).astype(int).tolist()) == list(range(n))


def test_sobol_is_balanced() -> None:
    u = unit_sample(64, 3, "sobol", np.random.default_rng(5))
    for j in range(3):  # every 1/64 interval of each dimension holds one point
        assert sorted(np.floor(u[:, j] * 64).astype(int).tolist()) == list(range(64))
    # the first two dimensions form a (0, 6, 2)-net: one point in each cell of an 8 x 8 grid
    cells = np.floor(u[:, 0] * 8).astype(int) * 8 + np.floor(u[:, 1] * 8).astype(int)
    assert sorted(cells.tolist()) == list(range(64))
    with pytest.raises(UserError, match="power of two"):
        unit_sample(48, 2, "sobol", np.random.default_rng(5))


def test_sample_uses_declared_distributions_seeded_by_the_sweep_seed(tiny: Any) -> None:
    a = build_design(tiny, sample=16, method="lhs", seed=11)
    b = build_design(tiny, sample=16, method="lhs", seed=11)
    c = build_design(tiny, sample=16, method="lhs", seed=12)
    assert a.parameters == (
        "adoption.family_preference.trainium",
        "economics.electricity_usd_per_kwh",
    )
    assert [dict(p.values) for p in a.points] == [dict(p.values) for p in b.points]
    assert [dict(p.values) for p in a.points] != [dict(p.values) for p in c.points]
    price = [p.values["economics.electricity_usd_per_kwh"] for p in a.points]
    assert all(0.05 <= x <= 0.12 for x in price)
    # LHS through the triangular law: one value in each probability stratum
    dist = tiny.distributions["economics.electricity_usd_per_kwh"]
    edges = dist.ppf(np.linspace(0, 1, 17))
    assert sorted(np.searchsorted(edges, price).tolist()) == list(range(1, 17))
    mc = build_design(
        tiny, sample=5, method="mc", seed=11, vary=["economics.electricity_usd_per_kwh"]
    )
    assert mc.parameters == ("economics.electricity_usd_per_kwh",)


def test_grid_and_sample_combine(tiny: Any) -> None:
    design = build_design(
        tiny, grid=["economics.electricity_usd_per_kwh=0.07,0.09"], sample=4, method="sobol"
    )
    # the grid fixes the price; only the remaining distribution is sampled
    assert design.parameters == (
        "economics.electricity_usd_per_kwh",
        "adoption.family_preference.trainium",
    )
    assert len(design.points) == 8


def test_common_random_numbers_across_points(tiny: Any) -> None:
    design = build_design(tiny, grid=["economics.pue=1.1,1.4"], replications=3, seed=99)
    assert design.seeds == tuple(replication_seeds(99, 3))
    by_rep: dict[int, set[int]] = {}
    for _, r, seed in design.runs():
        by_rep.setdefault(r, set()).add(seed)
    assert all(len(s) == 1 for s in by_rep.values())
    assert len({next(iter(s)) for s in by_rep.values()}) == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"grid": ["economics.pue"]}, "key.path=v1,v2"),
        ({"grid": ["economics.pue=1.1,,1.2"]}, "empty value"),
        ({"grid": ["economics.pue=1.1,1.1"]}, "given twice"),
        ({"grid": ["economics.pue=1.1", "economics.pue=1.2"]}, "given twice"),
        ({"grid": ["economics.puee=1.1,1.2"]}, "did you mean 'pue'"),
        ({"grid": ["economics.pue=0.5"]}, "pue"),
        ({"sample": 4, "vary": ["economics.pue"]}, "no distribution declared"),
        ({"sample": 4, "vary": ["economics.electricity_usd_per_kw"]}, "did you mean"),
        ({"sample": 6, "method": "sobol"}, "power of two"),
        ({"sample": 4, "method": "halton"}, "unknown sampling method"),
        ({"vary": ["economics.pue"]}, "needs --sample"),
    ],
)
def test_design_errors(tiny: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UserError, match=message):
        build_design(tiny, **kwargs)


def test_sample_needs_declared_distributions() -> None:
    plain = load_scenario(
        TINY, ["economics.electricity_usd_per_kwh=0.08", "adoption.family_preference.trainium=-1"]
    )
    assert not plain.distributions
    with pytest.raises(UserError, match="declares no distribution"):
        build_design(plain, sample=4)


# --------------------------------------------------------------------------- store


def test_flatten_summary_skips_lists_and_run_labels() -> None:
    summary = {"scenario": "x", "provider": {"tco_usd": 1.0, "l": [1]}, "q": {"a": {"w": None}}}
    assert flatten_summary(summary) == {"provider.tco_usd": 1.0, "q.a.w": None}


def test_journal_ignores_a_torn_last_line_and_repairs_it(tmp_path: Path) -> None:
    path = tmp_path / JOURNAL
    with Journal(path) as j:
        for r in range(3):
            j.append(
                {"point": "p", "index": 0, "replication": r, "seed": r, "params": {}, "metrics": {}}
            )
    with path.open("ab") as f:
        f.write(b'{"point":"p","replication":3,"se')
    contents = read_journal(path)
    assert [x["replication"] for x in contents.records] == [0, 1, 2]
    assert contents.torn_bytes > 0 and contents.bad_lines == 0
    read_journal(path, repair=True)
    assert path.read_bytes().endswith(b"}\n")
    with Journal(path) as j:
        j.append(
            {"point": "p", "index": 0, "replication": 3, "seed": 3, "params": {}, "metrics": {}}
        )
    assert [x["replication"] for x in read_journal(path).records] == [0, 1, 2, 3]


def test_points_table_mean_std_and_t_interval() -> None:
    one = {"point": "a", "index": 1, "replication": 0, "seed": 0, "params": {"x": 1}}
    records = [{**one, "metrics": {"m": 5}}] + [
        {
            "point": "b",
            "index": 0,
            "replication": r,
            "seed": r,
            "params": {"x": 2},
            "metrics": {"m": v},
        }
        for r, v in reversed(list(enumerate([1.0, 2.0, 6.0])))
    ]
    runs, points = build_tables(records, ["x"])
    # the design's order (index), not the point ids' nor the order the runs finished in
    assert runs["point"].tolist() == ["b", "b", "b", "a"]
    assert runs["replication"].tolist() == [0, 1, 2, 0]
    assert points["point"].tolist() == ["b", "a"]
    assert list(runs.columns) == ["point", "replication", "seed", "param.x", "metric.m"]
    b = points.set_index("point").loc["b"]
    assert b["metric.m.mean"] == pytest.approx(3.0)
    assert b["metric.m.std"] == pytest.approx(np.std([1, 2, 6], ddof=1))
    assert b["metric.m.ci95"] == pytest.approx(4.302652729911275 * b["metric.m.std"] / np.sqrt(3))
    assert np.isnan(points.set_index("point").loc["a", "metric.m.ci95"])


# --------------------------------------------------------------------------- execution


def _sweep_bytes(folder: Path) -> tuple[bytes, bytes]:
    """The two tables' bytes (after checking their contents, for a readable failure)."""
    for name in ("runs.parquet", "points.parquet"):
        table = pd.read_parquet(folder / name)
        assert not table.empty
    return (folder / "runs.parquet").read_bytes(), (folder / "points.parquet").read_bytes()


def test_same_tables_on_one_worker_two_workers_and_dask(tiny: Any, tmp_path: Path) -> None:
    from distributed import LocalCluster

    design = build_design(
        tiny, grid=["economics.pue=1.1,1.3"], sample=2, method="lhs", replications=2, seed=5
    )
    one = run_sweep(tiny, design, tmp_path / "one", workers=1)
    two = run_sweep(tiny, design, tmp_path / "two", workers=2)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        dask = run_sweep(tiny, design, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert one.complete and two.complete and dask.complete
    assert _sweep_bytes(one.folder) == _sweep_bytes(two.folder) == _sweep_bytes(dask.folder)
    runs = pd.read_parquet(one.folder / "runs.parquet")
    assert len(runs) == 8 and not runs.duplicated(["point", "replication"]).any()
    # in the design's order of points, then by replication
    expected = [(q.id, r) for q in sorted(design.points, key=lambda q: q.index) for r in (0, 1)]
    assert list(zip(runs["point"], runs["replication"], strict=True)) == expected
    # common random numbers: replication r has the same seed at every point
    assert runs.groupby("replication")["seed"].nunique().eq(1).all()
    assert sorted(runs["seed"].unique().tolist()) == sorted(replication_seeds(5, 2))
    assert "metric.provider.tco_usd" in runs and "param.economics.pue" in runs
    manifest = json.loads((one.folder / "manifest.json").read_text())
    assert manifest["kind"] == "sweep" and manifest["status"] == "complete"
    assert manifest["design_sha256"] == one.design_sha256
    assert manifest["seed"] == 5 and manifest["scenario"]["name"] == "sweep-tiny"
    points = pd.read_parquet(one.folder / "points.parquet")
    assert len(points) == 4 and points["replications"].eq(2).all()


def _identity_task(shared: Any, payload: Any, seed: int) -> dict[str, Any]:
    return {"shared": shared, "payload": payload, "seed": seed}


def test_execute_yields_every_job_once_on_each_backend() -> None:
    jobs = [Job(key=i, payload=i * 10, seed=i) for i in range(9)]
    for workers in (1, 2):
        got = sorted(
            (j.key, r["shared"], r["payload"])
            for j, r in execute(_identity_task, jobs, shared={"base": 1}, workers=workers)
        )
        assert got == [(i, {"base": 1}, i * 10) for i in range(9)]


def test_a_point_runs_as_its_values_substituted_into_the_base(tiny: Any) -> None:
    from sim.accounting.runner import run_one
    from sim.scenario import substitute

    values = {"economics.pue": 1.3}
    metrics = run_point(tiny, values, 5)
    expected = run_one(substitute(tiny, values).scenario, 5).summary
    # the point's own world is run_one's; its program value (against the world without
    # the program, same seed) comes on top
    own = {k: v for k, v in metrics.items() if not k.startswith("program_value.")}
    assert own == flatten_summary(expected)
    assert isinstance(metrics["program_value.npv_usd"], float)
    assert metrics["program_value.counterfactual_inhouse_chip_hours"] == 0.0
    lower = run_point(tiny, {"economics.pue": 1.1}, 5)
    assert metrics["provider.energy_mwh"] > lower["provider.energy_mwh"]
    plain = {k: v for k, v in run_point(tiny, {}, 5).items() if not k.startswith("program_value.")}
    assert plain == flatten_summary(run_one(tiny.scenario, 5).summary)


# --------------------------------------------------------------------------- crash safety


def _cli_command(out: Path, n: int) -> list[str]:
    code = "import sys; from sim.cli import app; app(sys.argv[1:])"
    return [
        sys.executable,
        "-c",
        code,
        "sweep",
        str(TINY),
        "--sample",
        str(n),
        "--method",
        "lhs",
        "--replications",
        "2",
        "--seed",
        "3",
        "--workers",
        "1",
        "--quiet",
        "--out",
        str(out),
    ]


def _journal_lines(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


def test_kill_and_resume_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    n = 30 if REDUCED else 60
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(_cli_command(killed, n), cwd=ROOT, env=env)
    _signal_when(
        proc,
        lambda: _journal_lines(killed / JOURNAL) >= 10,
        "the sweep ended before it could be killed",
    )
    contents = read_journal(killed / JOURNAL)
    assert contents.bad_lines == 0 and contents.duplicates == 0
    finished = len(contents.records)
    assert 10 <= finished < 2 * n
    # a torn write (a kill in the middle of a line) is detected and dropped
    with (killed / JOURNAL).open("ab") as f:
        f.write(b'{"point":"0123","repl')
    assert len(read_journal(killed / JOURNAL).records) == finished
    # resume with the same command: only the missing runs are done
    done = subprocess.run(
        _cli_command(killed, n), cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    after = read_journal(killed / JOURNAL)
    assert after.torn_bytes == 0 and after.bad_lines == 0 and after.duplicates == 0
    assert len(after.records) == 2 * n
    assert [r for r in after.records[:finished]] == contents.records  # nothing lost
    # the final tables equal those of an uninterrupted sweep
    tiny = load_scenario(TINY)
    design = build_design(tiny, sample=n, method="lhs", replications=2, seed=3)
    clean = run_sweep(tiny, design, tmp_path / "clean", workers=2)
    for name in ("runs.parquet", "points.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(killed / name), pd.read_parquet(clean.folder / name)
        )
    assert _sweep_bytes(killed) == _sweep_bytes(clean.folder)
    runs = pd.read_parquet(killed / "runs.parquet")
    assert len(runs) == 2 * n and not runs.duplicated(["point", "replication"]).any()
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "complete" and len(manifest["resumed_utc"]) == 1


def test_a_changed_design_is_refused(tiny: Any, tmp_path: Path) -> None:
    out = tmp_path / "s"
    design = build_design(tiny, grid=["economics.pue=1.1,1.2"], seed=1)
    first = run_sweep(tiny, design, out, workers=1)
    assert first.runs_done == 2
    again = run_sweep(tiny, design, out, workers=1)  # same design: nothing left to run
    assert again.runs_resumed == 2 and again.runs_done == 2
    other = build_design(tiny, grid=["economics.pue=1.1,1.3"], seed=1)
    with pytest.raises(UserError, match="different design"):
        run_sweep(tiny, other, out, workers=1)
    reseeded = build_design(tiny, grid=["economics.pue=1.1,1.2"], seed=2)
    with pytest.raises(UserError, match="different design"):
        run_sweep(tiny, reseeded, out, workers=1)
    result = invoke("sweep", TINY, "--grid", "economics.pue=1.1,1.3", "--seed", "1", "--out", out)
    assert result.exit_code == 2


# --------------------------------------------------------------------------- CLI


def test_cli_sweep_happy_path(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = CliRunner().invoke(
        cli(),
        [
            "sweep",
            str(TINY),
            "--grid",
            "economics.pue=1.1,1.2",
            "--workers",
            "1",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 points x 1 replications = 2 runs" in result.output
    assert {"manifest.json", "runs.jsonl", "runs.parquet", "points.parquet"} <= {
        p.name for p in out.iterdir()
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "nothing to sweep"),
        (["--grid", "economics.pue"], "key.path=v1,v2"),
        (["--grid", "economics.puee=1,2"], "did you mean"),
        (["--grid", "economics.pue=abc"], "economics.pue"),
        (["--sample", "4", "--vary", "economics.pue"], "no distribution declared"),
        (["--sample", "6", "--method", "sobol"], "power of two"),
        (["--sample", "4", "--method", "grid"], "unknown sampling method"),
    ],
)
def test_cli_sweep_errors_exit_2(args: list[str], message: str, tmp_path: Path) -> None:
    result = invoke("sweep", TINY, *args, "--out", tmp_path / "x")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()


def test_cli_refuses_a_folder_that_is_not_a_sweep(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "notes.txt").write_text("mine")
    result = invoke("sweep", TINY, "--grid", "economics.pue=1.1", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "holds no sweep" in result.output


def test_cli_sample_without_distributions_exit_2(tmp_path: Path) -> None:
    result = invoke(
        "sweep",
        TINY,
        "--set",
        "economics.electricity_usd_per_kwh=0.08",
        "--set",
        "adoption.family_preference.trainium=-1",
        "--sample",
        "4",
        "--out",
        tmp_path / "x",
    )
    assert result.exit_code == 2 and "declares no distribution" in result.output


# --------------------------------------------------------------------------- sizes and seeds


def _one_error_line(result: Any) -> str:
    """The single 'error:' line a refused command prints (and nothing like a traceback)."""
    lines = [x for x in result.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def nothing_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make building any part of a design fail: a refusal must come before it."""
    import sim.experiments.design as design_module
    import sim.experiments.sensitivity as sensitivity_module

    def built(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a part of the design was built before its size was checked")

    for name in ("unit_sample", "grid_values", "replication_seeds", "_validate_points"):
        monkeypatch.setattr(design_module, name, built)
    monkeypatch.setattr(sensitivity_module, "replication_seeds", built)
    monkeypatch.setattr("SALib.sample.sobol.sample", built)


GRID_60 = "economics.pue=" + ",".join(f"1.{i:02d}" for i in range(1, 61))


@pytest.mark.parametrize(
    ("args", "flag", "requested"),
    [
        (["--sample", "100000000"], "--sample", "100,000,000 runs"),
        (["--sample", "100", "--replications", "1000000000"], "--replications", "100,000,000,000"),
        (  # 60 x 60 x 30 = 108,000 grid points
            [
                "--grid",
                GRID_60,
                "--grid",
                GRID_60.replace("economics.pue", "economics.discount_rate_per_year").replace(
                    "=1.", "=0."
                ),
                "--grid",
                "economics.depreciation_years=" + ",".join(str(y) for y in range(1, 31)),
            ],
            "--grid",
            "108,000 grid points",
        ),
        (["--sample", "1000", "--replications", "101"], "--sample", "101,000 runs"),
    ],
)
def test_sweep_sizes_are_refused_before_anything_is_built(
    args: list[str], flag: str, requested: str, tmp_path: Path, nothing_built: None
) -> None:
    result = invoke("sweep", TINY, *args, "--out", tmp_path / "x")
    assert result.exit_code == 2
    line = _one_error_line(result)
    assert line.startswith(f"error: {flag}: the sweep is too large")
    assert requested in line and "at most 100,000 runs" in line and "--allow-large" in line
    assert not (tmp_path / "x").exists()


def test_sensitivity_sizes_are_refused_before_anything_is_built(
    tmp_path: Path, nothing_built: None
) -> None:
    base = ["sensitivity", TINY, "--metric", "provider.tco_usd", "--out", tmp_path / "x"]
    # d = 2 parameters: 1 + 2d + N (d + 2) points
    line = _one_error_line(invoke(*base, "--n", str(2**30)))
    assert line.startswith("error: --n: the sensitivity analysis is too large")
    assert f"{1 + 4 + 2**30 * 4:,} runs" in line and "at most 100,000" in line
    line = _one_error_line(invoke(*base, "--n", "64", "--replications", "1000000"))
    assert line.startswith("error: --replications:") and "at most 100,000" in line
    assert not (tmp_path / "x").exists()


def test_allow_large_lifts_the_cap_but_not_the_machines_memory(
    tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.experiments.design as design_module

    monkeypatch.setattr(design_module, "MAX_RUNS", 3)
    args = ["sweep", TINY, "--grid", "economics.pue=1.1,1.2", "--replications", "2"]
    refused = invoke(*args, "--workers", "1", "--out", tmp_path / "a")
    assert "4 runs" in _one_error_line(refused) and "at most 3 runs" in refused.output
    allowed = invoke(*args, "--workers", "1", "--allow-large", "--out", tmp_path / "b")
    assert allowed.exit_code == 0, allowed.output
    assert len(pd.read_parquet(tmp_path / "b" / "runs.parquet")) == 4
    # above the cap, a request the machine cannot hold is refused even with the flag
    monkeypatch.setattr(design_module, "physical_memory_bytes", lambda: 10**9)
    with pytest.raises(UserError, match="too large for this machine even with --allow-large"):
        build_design(tiny, sample=10**6, allow_large=True)


def test_more_workers_than_the_cap_are_refused(tmp_path: Path) -> None:
    from sim.experiments.execute import MAX_WORKERS_PER_CORE, default_workers

    too_many = MAX_WORKERS_PER_CORE * default_workers() + 1
    result = invoke("sweep", TINY, "--grid", "economics.pue=1.1", "--workers", str(too_many))
    assert _one_error_line(result).startswith("error: --workers: too many local worker processes")
    assert result.exit_code == 2


@pytest.mark.parametrize("seed", [2**63, 2**64, -1])
def test_seeds_outside_the_generators_range_are_refused(seed: int, tmp_path: Path) -> None:
    out = tmp_path / "x"
    sweep = invoke("sweep", TINY, "--grid", "economics.pue=1.1", "--seed", str(seed), "--out", out)
    sens = invoke("sensitivity", TINY, "--metric", "provider.tco_usd", "--seed", str(seed))
    for result in (sweep, sens):
        assert result.exit_code == 2
        if seed >= 0:  # (a negative one is refused by the option's own check)
            line = _one_error_line(result)
            assert line.startswith("error: --seed: the seed is out of range")
            assert "9,223,372,036,854,775,807 (2**63 - 1)" in line
    assert not out.exists()


def test_the_largest_seed_runs_and_is_stored(tiny: Any, tmp_path: Path) -> None:
    from sim.model.rng import MAX_SEED

    with pytest.raises(UserError, match="out of range"):
        build_design(tiny, grid=["economics.pue=1.1"], seed=MAX_SEED + 1)
    design = build_design(tiny, grid=["economics.pue=1.1"], replications=2, seed=MAX_SEED)
    outcome = run_sweep(tiny, design, tmp_path / "s", workers=1)
    assert outcome.complete
    runs = pd.read_parquet(tmp_path / "s" / "runs.parquet")
    assert runs["seed"].tolist() == list(replication_seeds(MAX_SEED, 2))
    assert runs["seed"].iloc[0] == MAX_SEED


# --------------------------------------------------------------------------- journal checks


def _record(**fields: Any) -> dict[str, Any]:
    base = {"point": "p", "index": 0, "replication": 0, "seed": 1, "params": {}, "metrics": {}}
    return {**base, **fields}


@pytest.mark.parametrize(
    ("record", "problem"),
    [
        (_record(metrics=None), "malformed: 'metrics' is not dict"),
        ({k: v for k, v in _record().items() if k != "seed"}, "malformed: no 'seed'"),
        (_record(params=[1, 2]), "malformed: 'params' is not dict"),
        (_record(point=7), "malformed: 'point' is not text"),
        (_record(replication=True), "malformed: 'replication' is not int"),
        (_record(replication=-1), "malformed: negative replication or index"),
        (_record(seed=2**63), "malformed: 'seed' out of range"),
        (_record(metrics={"m": [1]}), "malformed: a value in 'metrics' is not a plain value"),
        ([1, 2], "malformed: not an object"),
        (_record(), None),
    ],
)
def test_record_problem(record: Any, problem: str | None) -> None:
    from sim.results.journal import record_problem

    assert record_problem(record) == problem


def _lines_of(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def test_journal_lines_outside_the_design_or_malformed_are_ignored_and_reported(
    tiny: Any, tmp_path: Path
) -> None:
    design = build_design(tiny, grid=["economics.pue=1.1,1.2"], replications=2, seed=4)
    clean = run_sweep(tiny, design, tmp_path / "clean", workers=1)
    out = tmp_path / "s"
    run_sweep(tiny, design, out, workers=1)
    journal = out / JOURNAL
    lines = _lines_of(journal)
    good = [json.loads(x) for x in lines]
    a, b, c = good[0], good[1], good[2]
    other = dict(c["metrics"], **{"provider.tco_usd": -1.0})
    hostile = [
        {**a, "point": "0000000000000000"},  # a point outside the design
        {**a, "replication": 2},  # a replication outside it
        {**a, "metrics": None},
        {k: v for k, v in a.items() if k != "seed"},
        {**a, "params": [1.1]},
        {**b, "seed": b["seed"] + 1},  # not the design's seed for the replication
        {**a, "params": {"economics.pue": 9.9}},  # not the point's values
        {**c, "metrics": other},  # a second record of a finished run
    ]
    # the first run's line is corrupt (its run must be redone), garbage and a torn tail
    corrupt = lines[0][: len(lines[0]) // 2] + b"\n"
    body = [corrupt, *lines[1:]]
    body += [(json.dumps(h) + "\n").encode() for h in hostile]
    body += [b"not json\n", b"\xff\xfe\n", b'{"point": "p", "repl']
    journal.write_bytes(b"".join(body))

    result = invoke("sweep", TINY, "--grid", "economics.pue=1.1,1.2", "-r", "2", "--seed", "4",
                    "--workers", "1", "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    notes = [x for x in result.output.splitlines() if x.startswith("note: ")]
    assert len(notes) == 1, result.output
    assert "4 unreadable lines (their runs are redone)" in notes[0]
    assert "8 records ignored" in notes[0] and "2 outside the design" in notes[0]
    assert "1 duplicate" in notes[0] and "1 malformed: no 'seed'" in notes[0]
    assert "1 run now, 3 already done" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["runs_done"] == 4
    assert manifest["journal_problems"].startswith("4 unreadable lines")
    # no extra row: the tables are those of the clean sweep, the duplicate's values unused
    assert _sweep_bytes(out) == _sweep_bytes(clean.folder)
    # a journal that holds only such lines never crashes a resume either
    again = invoke("sweep", TINY, "--grid", "economics.pue=1.1,1.2", "-r", "2", "--seed", "4",
                   "--workers", "1", "--out", out)  # fmt: skip
    assert again.exit_code == 0 and "0 run now, 4 already done" in again.output


def test_an_overlong_journal_line_is_unreadable_not_held(tmp_path: Path) -> None:
    import sim.results.journal as store

    path = tmp_path / JOURNAL
    line = (json.dumps(_record(replication=1)) + "\n").encode()
    path.write_bytes(
        line + b"[" * (store.MAX_LINE_BYTES * 2 + 5) + b"\n" + line.replace(b"1,", b"2,")
    )
    contents = read_journal(path)
    assert contents.bad_lines == 1 and contents.torn_bytes == 0
    assert [r["replication"] for r in contents.records] == [1, 2]


# --------------------------------------------------------------------------- full disk


def _no_space(*args: Any, **kwargs: Any) -> None:
    import errno

    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("where", ["journal", "tables"])
def test_a_full_disk_marks_the_sweep_interrupted_and_it_resumes(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.results.journal as journal_module
    import sim.results.sweep_folder as sweep_folder_module

    out = tmp_path / "s"
    args = ["sweep", TINY, "--grid", "economics.pue=1.1,1.2", "-r", "2", "--workers", "1"]
    with monkeypatch.context() as patch:
        if where == "journal":  # the disk fills after two runs
            real = journal_module.Journal.append
            calls = []

            def append(self: Any, record: Any) -> None:
                calls.append(1)
                if len(calls) > 2:
                    _no_space()
                real(self, record)

            patch.setattr(journal_module.Journal, "append", append)
        else:  # every run is journalled, the parquet tables cannot be written
            patch.setattr(sweep_folder_module, "write_parquet", _no_space)
        result = invoke(*args, "--out", out)
    assert result.exit_code != 0
    line = _one_error_line(result)
    assert "the disk is full" in line and str(out) in line and "resume" in line
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "interrupted"
    assert "the disk is full" in manifest["interruption"] and str(out) in manifest["interruption"]
    assert manifest["runs_done"] == (2 if where == "journal" else 4)
    assert not list(out.glob(".*tmp-*"))  # no temporary table left behind
    resumed = invoke(*args, "--out", out)
    assert resumed.exit_code == 0, resumed.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["interruption"] is None
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 4 and not runs.duplicated(["point", "replication"]).any()
    assert _journal_lines(out / JOURNAL) == 4


class _FailsOnThird:
    """A task whose third call raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.calls = 0
        self.error = error

    def __call__(self, shared: Any, payload: Any, seed: int) -> dict[str, Any]:
        self.calls += 1
        if self.calls == 3:
            raise self.error
        return {"m": float(seed % 7)}


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (KeyboardInterrupt(), "stopped by the user"),
        (ValueError("model blew up"), "ValueError: model blew up"),
    ],
)
def test_an_interrupted_sweep_says_so_and_why(
    error: BaseException, reason: str, tiny: Any, tmp_path: Path
) -> None:
    design = build_design(tiny, grid=["economics.pue=1.1,1.2"], replications=2, seed=1)
    with pytest.raises(type(error)):
        run_sweep(tiny, design, tmp_path / "s", task=_FailsOnThird(error), workers=1)
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["runs_done"] == 2
    assert manifest["interruption"].startswith(reason)
    assert len(pd.read_parquet(tmp_path / "s" / "runs.parquet")) == 2
    from sim.results.lock import LOCK

    assert (tmp_path / "s" / LOCK).read_bytes() == b""  # the lock was released


# --------------------------------------------------------------------------- one writer


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_stale_lock_is_taken_over_with_a_note(tiny: Any, tmp_path: Path) -> None:
    import socket

    from sim.results.lock import LOCK

    out = tmp_path / "s"
    out.mkdir()
    pid = _dead_pid()
    stale = {"pid": pid, "host": socket.gethostname(), "started_utc": "2026-01-01T00:00:00Z"}
    (out / LOCK).write_text(json.dumps(stale))
    notes: list[str] = []
    design = build_design(tiny, grid=["economics.pue=1.1"], seed=1)
    outcome = run_sweep(tiny, design, out, workers=1, note=notes.append)
    assert outcome.complete
    assert len(notes) == 1 and f"left by pid {pid}" in notes[0]
    assert "is no longer running" in notes[0]
    assert (out / LOCK).read_bytes() == b""  # released: emptied, left in place
    # a lock left on another machine cannot be checked from here: refused, with the remedy
    (out / LOCK).write_text(json.dumps({**stale, "host": "elsewhere.example"}))
    with pytest.raises(UserError, match=r"locked by pid \d+ on host elsewhere.example.*delete"):
        run_sweep(tiny, design, out, workers=1)


def test_one_process_cannot_hold_a_folder_twice(tmp_path: Path) -> None:
    from sim.results.lock import FolderBusyError, FolderLock

    first = FolderLock(tmp_path)
    assert first.acquire("t0") is None
    try:
        with pytest.raises(FolderBusyError, match="in use by another sweep"):
            FolderLock(tmp_path).acquire("t1")
    finally:
        first.release()
    second = FolderLock(tmp_path)
    assert second.acquire("t2") is None  # released cleanly: nothing stale
    second.release()


def _children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid``: its children, theirs, and so on (Linux /proc)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        kids = _children(todo.pop()) - found
        found |= kids
        todo.extend(kids)
    return found


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie), from Linux /proc."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _signal_when(
    proc: subprocess.Popen[Any],
    ready: Callable[[], bool],
    what: str,
    sig: signal.Signals = signal.SIGKILL,
) -> None:
    """Send ``sig`` to ``proc`` alone once ``ready()`` holds (``what``: the failure if it
    ends before), and reap it; killed all the same if anything fails on the way."""
    try:
        while not ready():
            assert proc.poll() is None, what
            time.sleep(0.02)
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _still_running_after(pids: set[int], seconds: float = 30.0) -> set[int]:
    """The processes of ``pids`` still running once they all ended or ``seconds`` passed."""
    deadline = time.monotonic() + seconds
    while any(_running(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return {p for p in pids if _running(p)}


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_two_sweeps_on_one_folder_one_refused_and_a_killed_sweeps_lock_taken_over(
    tmp_path: Path,
) -> None:
    import socket

    n = 10 if REDUCED else 20
    out = tmp_path / "s"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = _cli_command(out, n)
    command[command.index("--workers") + 1] = "2"
    first = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        while _journal_lines(out / JOURNAL) < 2:
            assert first.poll() is None, "the first sweep ended before the second started"
            time.sleep(0.01)
        # stopped, the first sweep still holds its folder but cannot finish meanwhile
        first.send_signal(signal.SIGSTOP)
        workers = _children(first.pid)
        assert workers, "the first sweep has no pool workers"
        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        assert second.returncode == 2
        assert second.stdout == ""
        assert second.stderr.count("\n") == 1 and "Traceback" not in second.stderr
        assert second.stderr.startswith(f"error: output folder {out} is in use by another sweep")
        assert f"pid {first.pid} on host {socket.gethostname()}, started 20" in second.stderr
    finally:
        _signal_when(first, lambda: True, "")  # killed, the sweep cannot release its lock
    # the killed sweep's pool workers see it gone and exit
    assert not _still_running_after(workers), "orphaned pool workers are still running"
    lines_before = _journal_lines(out / JOURNAL)
    third = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert third.returncode == 0, third.stderr
    assert f"note: took over the lock of {out} left by pid {first.pid}" in third.stderr
    after = read_journal(out / JOURNAL)
    assert after.duplicates == 0 and after.unreadable == 0 and not after.ignored
    assert len(after.records) == 2 * n and _journal_lines(out / JOURNAL) == 2 * n
    assert lines_before < 2 * n
    runs = pd.read_parquet(out / "runs.parquet")
    assert len(runs) == 2 * n and not runs.duplicated(["point", "replication"]).any()


# --------------------------------------------------------------------------- dask


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["worker killed", "cluster restarted"])
def test_dask_sweep_survives_the_loss_of_its_only_worker(
    loss: str, tiny: Any, tmp_path: Path
) -> None:
    import threading

    from distributed import Client, LocalCluster

    reps = 3 if REDUCED else 5
    design = build_design(tiny, grid=["economics.pue=1.1,1.3"], replications=reps, seed=8)
    reference = run_sweep(tiny, design, tmp_path / "ref", workers=1)
    out = tmp_path / "dask"
    happened: list[str] = []

    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:

        def strike() -> None:
            # strike mid-sweep: after the second run, while the shared scenario and queued
            # runs live only on the one worker
            while _journal_lines(out / JOURNAL) < 2:
                time.sleep(0.005)
            with Client(cluster.scheduler_address, set_as_default=False) as client:
                if loss == "worker killed":
                    for pid in client.run(os.getpid).values():
                        os.kill(pid, signal.SIGKILL)  # its nanny starts a new one
                else:
                    client.restart()
            happened.append(f"at {_journal_lines(out / JOURNAL)} runs")

        thread = threading.Thread(target=strike, daemon=True)
        thread.start()
        outcome = run_sweep(tiny, design, out, scheduler=cluster.scheduler_address)
        thread.join(timeout=120)
    assert happened and int(happened[0].split()[1]) < design.runs_total, happened
    assert outcome.complete and outcome.runs_done == design.runs_total
    contents = read_journal(out / JOURNAL)
    assert _journal_lines(out / JOURNAL) == design.runs_total  # every run exactly once
    assert not contents.ignored and contents.unreadable == 0
    assert _sweep_bytes(out) == _sweep_bytes(reference.folder)


def _garbage_server() -> tuple[str, Any]:
    """A TCP server that answers every connection with bytes that are not Dask's protocol."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\n\r\n" + b"\xff" * 64)

    threading.Thread(target=serve, daemon=True).start()
    return f"tcp://127.0.0.1:{server.getsockname()[1]}", server


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_bad_scheduler_address_fails_with_one_line_and_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.experiments.execute as execute_module

    monkeypatch.setattr(execute_module, "CONNECT_TIMEOUT_S", 0.5)
    garbage, server = _garbage_server()
    try:
        cases = {
            "nonsense": "missing port number",
            f"tcp://127.0.0.1:{_free_port()}": "no answer within 0.5 s",  # nothing listens
            garbage: "the process there is not a Dask scheduler",
        }
        for address, why in cases.items():
            out = tmp_path / "x"
            result = invoke(
                "sweep", TINY, "--grid", "economics.pue=1.1", "--scheduler", address, "--out", out
            )
            assert result.exit_code == 2
            line = _one_error_line(result)
            assert line.startswith(
                f"error: --scheduler: cannot connect to the dask scheduler at {address}: "
            )
            assert why in line
            assert not out.exists()
        sens = invoke("sensitivity", TINY, "--metric", "provider.tco_usd", "--scheduler", garbage)
        assert "not a Dask scheduler" in _one_error_line(sens)
    finally:
        server.close()


def _kill_own_worker(shared: Any, payload: Any, seed: int) -> dict[str, Any]:
    """A run that kills the process running it (as an out-of-memory kill would)."""
    if payload == "fatal":
        os._exit(1)
    return {"m": float(seed)}


@pytest.mark.slow
def test_a_run_that_keeps_killing_its_worker_stops_the_sweep_in_one_line() -> None:
    import dask
    from distributed import Client, LocalCluster

    from sim.experiments.execute import ClusterError

    jobs = [Job(key=i, payload="fatal" if i == 2 else "ok", seed=i) for i in range(4)]
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster.scheduler_address, set_as_default=False) as client,
    ):
        done = []
        with pytest.raises(ClusterError, match="a run killed every Dask worker it was given"):
            for job, result in execute(_kill_own_worker, jobs, client=client, window=1):
                done.append((job.key, result["m"]))
    assert done == [(0, 0.0), (1, 1.0)]  # what finished before it is handed on


def test_a_file_system_without_locks_still_sweeps_with_a_note(
    tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno
    import fcntl

    def no_locks(*args: Any) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "lockf", no_locks)
    notes: list[str] = []
    design = build_design(tiny, grid=["economics.pue=1.1"], seed=1)
    outcome = run_sweep(tiny, design, tmp_path / "s", workers=1, note=notes.append)
    assert outcome.complete
    assert len(notes) == 1 and "has no file locks" in notes[0]
