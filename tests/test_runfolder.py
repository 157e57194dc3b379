"""The run folder: atomic, complete, deterministic, and clear about bad output locations."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

import sim
from sim.accounting.runner import RunOutput
from sim.errors import UserError
from sim.results.jsonio import run_hash, scenario_sha256
from sim.results.manifest import KEY_PACKAGES, git_commit
from sim.results.run_folder import write_run
from sim.results.tables import write_parquet

DATA: dict[str, Any] = {
    "name": "tiny",
    "seed": 3,
    "horizon": {"start": dt.date(2024, 1, 1), "end": dt.date(2025, 1, 1)},
    "economics": {"pue": 1.2, "electricity_usd_per_kwh": 0.08},
}


def _loaded(data: dict[str, Any] | None = None) -> Any:
    """A stand-in for sim.scenario.LoadedScenario with the attributes write_run reads."""
    data = DATA if data is None else data
    return SimpleNamespace(
        scenario=SimpleNamespace(name=data["name"], seed=data["seed"]),
        data=data,
        path=Path("scenarios/tiny.yaml"),
        files=[Path("scenarios/tiny.yaml")],
        provenance={"economics.pue": {"source": "assumption", "kind": "assumed"}},
        distributions={},
    )


def _output() -> RunOutput:
    timeseries = pd.DataFrame(
        {
            "month": pd.date_range("2024-01-01", periods=4, freq="MS"),
            "pool": ["h100", "h100", "trainium2", "trainium2"],
            "busy_chip_hours": np.array([1.5, 2.5, 3.0, 0.0]),
            "chips": np.array([10, 10, 12, 12], dtype=np.int64),
        }
    )
    summary = {
        "provider": {"tco_usd": np.float64(1.5e9), "margin_usd": 2.0},
        "count": np.int64(7),
        "zeta": [1, 2.5],
        "breakeven_date": None,
        "npv_usd": float("nan"),
        "flag": np.bool_(True),
    }
    return RunOutput(summary=summary, tables={"timeseries": timeseries})


def _leftovers(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_writes_every_file_and_the_manifest(tmp_path: Path) -> None:
    out = tmp_path / "run"
    folder = write_run(out, _loaded(), 11, _output)
    assert folder == out
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["manifest.json", "scenario.yaml", "summary.json", "timeseries.parquet"]
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["xpusim_version"] == sim.__version__
    assert manifest["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert set(manifest["packages"]) == set(KEY_PACKAGES)
    assert manifest["packages"]["numpy"] == np.__version__
    assert manifest["scenario_path"] == "scenarios/tiny.yaml"
    assert manifest["seed"] == 11
    assert manifest["scenario"]["horizon"]["start"] == "2024-01-01"
    assert manifest["scenario_sha256"] == scenario_sha256(DATA)
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["scenario_sha256"])
    commit = manifest["git_commit"]
    assert commit is None or re.fullmatch(r"[0-9a-f]{40}", commit)
    started = dt.datetime.fromisoformat(manifest["started_utc"].replace("Z", "+00:00"))
    finished = dt.datetime.fromisoformat(manifest["finished_utc"].replace("Z", "+00:00"))
    assert started <= finished
    assert manifest["wall_seconds"] >= 0
    assert manifest["files"] == files
    assert manifest["provenance"]["economics.pue"]["source"] == "assumption"
    assert "tiny" in (folder / "scenario.yaml").read_text()
    assert _leftovers(tmp_path) == ["run", *[f"run/{f}" for f in files]]


def test_summary_is_strict_sorted_json_with_numpy_converted(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", _loaded(), 0, _output)
    text = (folder / "summary.json").read_text()
    summary = json.loads(text)
    assert summary["count"] == 7 and summary["flag"] is True
    assert summary["npv_usd"] is None  # NaN is not JSON
    assert summary["provider"]["tco_usd"] == 1.5e9
    assert list(summary) == sorted(summary)
    assert text.startswith('{\n  "breakeven_date": null,')
    table = pd.read_parquet(folder / "timeseries.parquet")
    pd.testing.assert_frame_equal(table, _output().tables["timeseries"], check_dtype=False)


def test_same_scenario_and_seed_give_identical_bytes(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", _loaded(), 5, _output)
    b = write_run(tmp_path / "b", _loaded(), 5, _output)
    for name in ("summary.json", "timeseries.parquet", "scenario.yaml"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    ma = json.loads((a / "manifest.json").read_text())
    mb = json.loads((b / "manifest.json").read_text())
    for key in ("started_utc", "finished_utc", "wall_seconds"):
        ma.pop(key), mb.pop(key)
    assert ma == mb


def test_parquet_is_deterministic_and_keeps_a_meaningful_index(tmp_path: Path) -> None:
    frame = pd.DataFrame({"pool": ["a", "b"], "x": [1.0, 2.0]}).set_index("pool")
    write_parquet(frame, tmp_path / "1.parquet")
    write_parquet(frame, tmp_path / "2.parquet")
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()
    back = pd.read_parquet(tmp_path / "1.parquet")
    assert list(back.columns) == ["pool", "x"]
    assert isinstance(back.index, pd.RangeIndex)


def test_default_folder_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    folder = write_run(None, _loaded(), 9, _output)
    after = dt.datetime.now(dt.UTC)
    assert folder.parent == Path("results") / "tiny"
    match = re.fullmatch(r"(\d{8}T\d{6}Z)-([0-9a-f]{8})", folder.name)
    assert match, folder.name
    stamp = dt.datetime.strptime(match.group(1), "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert before <= stamp <= after
    assert match.group(2) == run_hash(scenario_sha256(DATA), 9)
    assert match.group(2) != run_hash(scenario_sha256(DATA), 10)
    # a second run in the same second gets its own folder
    again = write_run(None, _loaded(), 9, _output)
    assert again != folder and again.is_dir()


@pytest.mark.parametrize("error", [RuntimeError("engine failed"), KeyboardInterrupt()])
def test_failure_leaves_nothing_behind(tmp_path: Path, error: BaseException) -> None:
    def produce() -> RunOutput:
        raise error

    with pytest.raises(type(error)):
        write_run(tmp_path / "deep" / "run", _loaded(), 0, produce)
    assert _leftovers(tmp_path) == []


def test_failure_while_writing_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bad_table() -> RunOutput:
        return RunOutput(summary={"x": object()}, tables={})

    monkeypatch.chdir(tmp_path)
    with pytest.raises(TypeError):
        write_run(None, _loaded(), 0, bad_table)
    assert _leftovers(tmp_path) == []


def test_interrupt_during_manifest_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sim.results.manifest as manifest_module

    def interrupted(*args: Any) -> dict[str, str]:
        raise KeyboardInterrupt

    monkeypatch.setattr(manifest_module, "package_versions", interrupted)
    (tmp_path / "keep.txt").write_text("x")
    with pytest.raises(KeyboardInterrupt):
        write_run(tmp_path / "run", _loaded(), 0, _output)
    assert _leftovers(tmp_path) == ["keep.txt"]


def test_existing_out_folder_is_a_user_error(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "old.txt").write_text("precious")
    called = []

    def produce() -> RunOutput:
        called.append(1)
        return _output()

    with pytest.raises(UserError, match="already exists; choose another --out or remove it"):
        write_run(out, _loaded(), 0, produce)
    assert not called
    assert _leftovers(tmp_path) == ["run", "run/old.txt"]


def test_existing_empty_out_folder_is_used(tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    assert (write_run(out, _loaded(), 0, _output) / "summary.json").is_file()


def test_out_that_is_a_file_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(UserError, match="not a folder"):
        write_run(tmp_path / "f", _loaded(), 0, _output)
    with pytest.raises(UserError, match="not a folder"):
        write_run(tmp_path / "f" / "run", _loaded(), 0, _output)


def test_unwritable_location_is_a_user_error(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running with privileges that ignore directory permissions (root)")
        with pytest.raises(UserError, match=re.escape(str(locked))):
            write_run(locked / "run", _loaded(), 0, _output)
        with pytest.raises(UserError, match=re.escape(str(locked))):
            write_run(locked / "a" / "b", _loaded(), 0, _output)
        assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_bad_table_name_is_rejected(tmp_path: Path) -> None:
    def produce() -> RunOutput:
        return RunOutput(summary={}, tables={"../escape": pd.DataFrame({"a": [1]})})

    with pytest.raises(ValueError, match="plain file name"):
        write_run(tmp_path / "run", _loaded(), 0, produce)
    assert _leftovers(tmp_path) == []


def test_git_commit_never_fails(tmp_path: Path) -> None:
    assert git_commit(tmp_path) is None  # not a repository
    assert git_commit(tmp_path / "missing") is None


def test_permission_error_is_a_user_error_even_as_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_mkdir = Path.mkdir

    def refuse(self: Path, *args: Any, **kwargs: Any) -> None:
        if self.name.startswith(".run.tmp-"):
            raise PermissionError(13, "Permission denied", str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refuse)
    with pytest.raises(
        UserError, match=f"cannot write to output folder {re.escape(str(tmp_path / 'new'))}"
    ):
        write_run(tmp_path / "new" / "run", _loaded(), 0, _output)
    assert _leftovers(tmp_path) == []


# --------------------------------------------------------------------------- saved scenario

ROOT = Path(__file__).resolve().parents[1]
#: Every shipped scenario; all but two (the baseline, and one at the end of an extends
#: chain) are marked slow, so that the quick subset stays quick while CI checks them all.
QUICK = ("baseline", "chatgpt-inhouse")
SHIPPED = [
    pytest.param(p, id=p.stem, marks=[] if p.stem in QUICK else [pytest.mark.slow])
    for p in sorted((ROOT / "scenarios").glob("*.yaml"))
]


def _stub_producer(monkeypatch: pytest.MonkeyPatch) -> None:
    """`xpusim run` without the simulation: the saved scenario is what these tests check."""
    import sim.cli.scenarios

    monkeypatch.setattr(
        sim.cli.scenarios, "producer", lambda loaded, seed, workers=None, **_: _output
    )


def _cli(*args: str) -> Any:
    from typer.testing import CliRunner

    from sim.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize("path", SHIPPED)
def test_saved_scenario_runs_again_unchanged(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _stub_producer(monkeypatch)
    first = _cli("run", str(path), "--out", str(tmp_path / "a"), "-q")
    assert first.exit_code == 0, first.output
    saved = tmp_path / "a" / "scenario.yaml"
    assert "&id" not in saved.read_text() and "*id" not in saved.read_text()
    check = _cli("validate", str(saved))
    assert check.exit_code == 0 and check.output == f"ok {saved}\n", check.output
    again = _cli("run", str(saved), "--out", str(tmp_path / "b"), "-q")
    assert again.exit_code == 0, again.output
    # a fixed point: the re-run resolves to the very same scenario, byte for byte
    assert (tmp_path / "b" / "scenario.yaml").read_bytes() == saved.read_bytes()
    sha = [json.loads((tmp_path / f / "manifest.json").read_text()) for f in "ab"]
    assert sha[0]["scenario_sha256"] == sha[1]["scenario_sha256"]
    # the header comment of the scenario file is kept for the report
    assert "QUESTION:" in sha[0]["scenario_header"]


def _with_description(tmp_path: Path, chars: int) -> Path:
    """The baseline with a description of about ``chars`` characters (words and spaces)."""
    words = ("lorem ipsum dolor sit amet " * (chars // 27 + 1))[:chars].strip()
    path = tmp_path / "big.yaml"
    path.write_text(
        f"extends: {(ROOT / 'scenarios' / 'baseline.yaml').as_posix()}\n"
        f"name: big\ndescription: '{words}'\n",
        encoding="utf-8",
    )
    return path


def test_large_but_valid_scenario_saves_one_that_loads_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.scenario.marks import MAX_FILE_BYTES

    _stub_producer(monkeypatch)
    # three quarters of the input limit: the resolved file (catalog and sources merged in,
    # long text folded) is larger, yet within the limit
    path = _with_description(tmp_path, MAX_FILE_BYTES * 3 // 4)
    result = _cli("run", str(path), "--out", str(tmp_path / "run"), "-q")
    assert result.exit_code == 0, result.output
    saved = tmp_path / "run" / "scenario.yaml"
    assert path.stat().st_size < saved.stat().st_size <= MAX_FILE_BYTES
    check = _cli("validate", str(saved))
    assert check.exit_code == 0, check.output


def test_scenario_whose_saved_form_would_be_too_large_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.scenario.marks import MAX_FILE_BYTES

    called: list[int] = []
    import sim.cli.scenarios

    monkeypatch.setattr(
        sim.cli.scenarios,
        "producer",
        lambda loaded, seed, workers=None, **_: lambda: called.append(1),
    )
    # within the input limit itself, but not once the baseline it extends is merged in
    path = _with_description(tmp_path, MAX_FILE_BYTES - 200)
    assert path.stat().st_size <= MAX_FILE_BYTES
    for args in (["run", str(path), "--out", str(tmp_path / "run")], ["validate", str(path)]):
        result = _cli(*args)
        assert result.exit_code == 2, result.output
        assert result.output.count("\n") == 1 and "Traceback" not in result.output
        assert result.output.startswith(f"error: {path}: the resolved scenario")
        assert "too large to save as the run folder's scenario.yaml" in result.output
        assert f"expected at most {MAX_FILE_BYTES:,} bytes of YAML" in result.output
    assert not called and not (tmp_path / "run").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.yaml"]


def test_saved_yaml_has_no_aliases_even_for_shared_objects() -> None:
    from sim.scenario import saved_yaml
    from sim.scenario.marks import parse_document

    day = dt.date(2024, 1, 1)
    shared = [1.0, 2.0]
    data = {"name": "x", "horizon": {"start": day, "end": day}, "a": shared, "b": shared}
    text = saved_yaml(data, "x.yaml")
    assert "&" not in text and "*" not in text
    doc, _ = parse_document(text, "x.yaml")  # the loader refuses anchors and aliases
    assert doc["horizon"] == {"start": day, "end": day} and doc["a"] == doc["b"] == shared


def test_saved_yaml_over_the_value_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import sim.scenario.marks
    from sim.errors import ScenarioError

    monkeypatch.setattr(sim.scenario.marks, "MAX_NODES", 10)
    data = {"name": "x", "segments": {f"s{i}": {"share": i} for i in range(10)}}
    with pytest.raises(ScenarioError, match=r"does not load again \(the file has too many values"):
        sim.scenario.saved_yaml(data, "x.yaml")
