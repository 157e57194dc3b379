"""Sweeps: design correctness, common random numbers, backend-independent results,
crash safety (kill and resume), refusing a changed design, and clean CLI errors."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from hypothesis import example, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from sim.cli import app as xpusim_app
from sim.errors import UserError
from sim.loader import load_scenario
from sim.model.rng import replication_seeds
from sim.sweep.design import (
    build_design,
    grid_values,
    parse_grid,
    point_id,
    split_values,
    unit_sample,
)
from sim.sweep.execute import Job, execute, flatten_summary
from sim.sweep.orchestrate import run_sweep
from sim.sweep.store import JOURNAL, Journal, build_tables, read_journal
from sim.sweep_cli import register

HERE = Path(__file__).parent
SMALL = HERE / "data" / "sweep" / "small.yaml"
TINY = HERE / "data" / "sweep" / "tiny.yaml"
ROOT = HERE.parent
REDUCED = os.environ.get("XPUSIM_REDUCED") == "1"


@pytest.fixture(scope="module")
def tiny() -> Any:
    return load_scenario(TINY)


def cli() -> typer.Typer:
    """An app with the xpusim error handling (one line, exit 2) and the sweep commands."""
    app = typer.Typer(cls=xpusim_app.info.cls, add_completion=False)
    register(app)
    return app


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
            j.append({"point": "p", "replication": r, "seed": r, "params": {}, "metrics": {}})
    with path.open("ab") as f:
        f.write(b'{"point":"p","replication":3,"se')
    contents = read_journal(path)
    assert [x["replication"] for x in contents.records] == [0, 1, 2]
    assert contents.torn_bytes > 0 and contents.bad_lines == 0
    read_journal(path, repair=True)
    assert path.read_bytes().endswith(b"}\n")
    with Journal(path) as j:
        j.append({"point": "p", "replication": 3, "seed": 3, "params": {}, "metrics": {}})
    assert [x["replication"] for x in read_journal(path).records] == [0, 1, 2, 3]


def test_points_table_mean_std_and_t_interval() -> None:
    records = [
        {"point": "b", "replication": r, "seed": r, "params": {"x": 2}, "metrics": {"m": v}}
        for r, v in enumerate([1.0, 2.0, 6.0])
    ] + [{"point": "a", "replication": 0, "seed": 0, "params": {"x": 1}, "metrics": {"m": 5}}]
    runs, points = build_tables(records, ["x"])
    assert runs["point"].tolist() == ["a", "b", "b", "b"]
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
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        dask = run_sweep(tiny, design, tmp_path / "dask", scheduler=cluster.scheduler_address)
    assert one.complete and two.complete and dask.complete
    assert _sweep_bytes(one.folder) == _sweep_bytes(two.folder) == _sweep_bytes(dask.folder)
    runs = pd.read_parquet(one.folder / "runs.parquet")
    assert len(runs) == 8 and not runs.duplicated(["point", "replication"]).any()
    assert runs[["point", "replication"]].equals(
        runs.sort_values(["point", "replication"])[["point", "replication"]]
    )
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


def _identity_task(payload: Any, seed: int) -> dict[str, Any]:
    return {"payload": payload, "seed": seed}


def test_execute_yields_every_job_once_on_each_backend() -> None:
    jobs = [Job(key=i, payload=i * 10, seed=i) for i in range(9)]
    for workers in (1, 2):
        got = sorted(
            (j.key, r["payload"]) for j, r in execute(_identity_task, jobs, workers=workers)
        )
        assert got == [(i, i * 10) for i in range(9)]


# --------------------------------------------------------------------------- crash safety


def _cli_command(out: Path, n: int) -> list[str]:
    code = (
        "import sys; from sim.cli import app; from sim.sweep_cli import register; "
        "register(app); app(sys.argv[1:])"
    )
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
    try:
        while _journal_lines(killed / JOURNAL) < 10:
            assert proc.poll() is None, "the sweep ended before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
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


_leaves = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=3), st.none())
_trees = st.recursive(
    _leaves | st.lists(_leaves, max_size=3),
    lambda kids: st.dictionaries(st.sampled_from("abcd"), kids, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@example(base={"a": 0.0}, payload={"a": -0.0})
@given(base=_trees, payload=_trees)
def test_payload_delta_round_trips(base: Any, payload: Any) -> None:
    """Dask tasks carry only differences from a shared base; rebuilding must be exact."""
    from sim.sweep.execute import apply_delta, payload_delta

    frozen = json.dumps(base, sort_keys=True)
    rebuilt = apply_delta(base, payload_delta(base, payload))
    assert json.dumps(rebuilt, sort_keys=True) == json.dumps(payload, sort_keys=True)
    assert json.dumps(base, sort_keys=True) == frozen  # the shared base is never modified
    assert payload_delta(payload, payload) == []
